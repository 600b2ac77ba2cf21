"""The shipped Auto Scaling group playbook, executed by moto with the real handlers: one
replacement, a dry run, a group out of scope, and storms of events for one group that must
never take it below its minimum."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from healstack.loader import load_playbook, playbook_from_dict, shipped_playbook_path
from healstack.playbook import Playbook
from healstack.simulate.runner import (
    PlaybookRun,
    SynthesizedRecovery,
    run_playbook,
    run_playbook_many,
    synthesize_for_simulation,
    synthesized_recovery,
)
from tests.conftest import REPO
from tests.emulator.ec2_health import ImpairedUntilRecovered

NAME = "asg-instance-recovery"
SAMPLE = REPO / "examples" / "events" / "cloudwatch-alarm-asg-instance-status-check.json"
REPLACED = REPO / "examples" / "scenarios" / "asg-instance-replaced.yaml"
#: the simulator's group (providers/aws/kinds/asg_instance.py seeds it)
GROUP = "healstack-simulated-asg"
IMPAIRED = {"return": {"healthy": False, "state": "in_service", "skip": None}}


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return load_playbook(shipped_playbook_path(f"{NAME}.yaml"))


@pytest.fixture(scope="module")
def recovery(synthesized: Path) -> SynthesizedRecovery:
    return synthesized_recovery(synthesized / "stacks" / NAME / "cdk.tf.json")


def event(instance_id: str | None = None) -> dict[str, Any]:
    text = SAMPLE.read_text()
    if instance_id is not None:
        text = text.replace("i-0b2c3d4e5f6a7b8c9", instance_id)
    return dict(json.loads(text))


def calls(run: PlaybookRun, suffix: str) -> int:
    return sum(n for fn, n in run.result.lambda_invocations.items() if fn.endswith(suffix))


def autoscaling() -> Any:
    return boto3.client("autoscaling", region_name="us-east-1")


def test_the_group_replaces_an_impaired_instance_and_the_recovery_sees_it_whole(
    playbook: Playbook, recovery: SynthesizedRecovery
) -> None:
    run = run_playbook(playbook, event(), synthesized=recovery, scenario=REPLACED)
    assert run.result.status == "SUCCEEDED", run.result.cause
    assert (run.outcome, run.attempts) == ("recovered", 1)
    assert calls(run, "-replace") == 1
    assert run.target_state_before == "inservice" and run.target_state_after == "terminated"
    poll = run.result.steps_for("WaitUntilReplaced")[0]
    assert "state=replaced" in (poll.attempts[-1].result or "")
    assert run.locks() == []


def test_a_healthy_instance_is_left_alone(
    playbook: Playbook, recovery: SynthesizedRecovery
) -> None:
    run = run_playbook(playbook, event(), synthesized=recovery)
    assert run.outcome == "already_healthy"
    assert calls(run, "-replace") == 0 and run.target_state_after == "inservice"


def test_a_dry_run_reports_the_replacement_and_terminates_nothing(
    playbook: Playbook, tmp_path: Path
) -> None:
    data = playbook.model_dump(mode="json")
    data["dry_run"] = True
    dry = playbook_from_dict(data)
    run = run_playbook(
        dry, event(), synthesized=synthesize_for_simulation(dry, tmp_path), scenario=REPLACED
    )
    assert calls(run, "-replace") == 1
    assert run.target_state_after == "inservice"  # still in its group
    assert all(n["message"]["dry_run"] for n in run.notifications)


def test_a_group_without_the_tag_is_skipped_and_untouched(
    playbook: Playbook, recovery: SynthesizedRecovery
) -> None:
    def untag(_recovery: SynthesizedRecovery, _target: str) -> None:
        autoscaling().delete_tags(
            Tags=[{"ResourceId": GROUP, "ResourceType": "auto-scaling-group", "Key": "healstack"}]
        )

    run = run_playbook(playbook, event(), synthesized=recovery, prepare=untag)
    assert run.outcome == "skipped"
    assert run.notifications[-1]["message"]["reason"] == "not_in_scope"
    assert calls(run, "-replace") == 0 and run.target_state_after == "inservice"


STORM = ["i-0b2c3d4e5f6a7b8c9", "i-0c3d4e5f6a7b8c9d0", "i-0d4e5f6a7b8c9d0e1"]


def test_a_storm_for_one_group_at_its_minimum_replaces_nothing_and_says_why(
    playbook: Playbook, recovery: SynthesizedRecovery
) -> None:
    """Every instance of a group (3 of 4, MinSize raised to 4) fails at once: each recovery is
    refused before acting, and the group keeps all its instances."""

    def at_minimum(_recovery: SynthesizedRecovery, _targets: list[str]) -> None:
        autoscaling().update_auto_scaling_group(AutoScalingGroupName=GROUP, MinSize=4)

    runs = run_playbook_many(
        playbook,
        [event(i) for i in STORM],
        synthesized=recovery,
        prepare=at_minimum,
        scenario={"mocks": {"CheckBeforeReplace": {"1": IMPAIRED}}},
    )
    assert [r.outcome for r in runs] == ["failed"] * 3
    for run in runs:
        error = run.notifications[-1]["message"]["error"]
        assert error["Error"] == "ReplaceRefused"
        assert "below its floor 4 (MinSize 4)" in json.dumps(error)
    assert [calls(r, "-replace") for r in runs] == [1, 1, 1]
    assert [r.target_state_after for r in runs] == ["inservice"] * 3  # none terminated


def test_a_storm_for_one_group_above_its_minimum_never_goes_below_it(
    playbook: Playbook, recovery: SynthesizedRecovery
) -> None:
    """MinSize 3 of 4: each replace finds the group whole (moto brings the replacement in
    service at once), keeps 3 others in service, and acts; the group ends whole."""

    def min_three(_recovery: SynthesizedRecovery, _targets: list[str]) -> None:
        autoscaling().update_auto_scaling_group(AutoScalingGroupName=GROUP, MinSize=3)

    runs = run_playbook_many(
        playbook,
        [event(i) for i in STORM],
        synthesized=recovery,
        prepare=min_three,
        scenario={"mocks": {"CheckBeforeReplace": {"1": IMPAIRED}}},
    )
    assert [r.outcome for r in runs] == ["recovered"] * 3
    assert [r.target_state_after for r in runs] == ["terminated"] * 3
    for run in runs:  # each replace found 3 others in service, the floor, and kept them
        history = json.dumps(run.result.history)
        assert "3 other InService and Healthy, floor 3 (MinSize 3)" in history
        (after,) = run.result.steps_for("CheckAfterReplace")
        assert "state=replaced" in str(after.attempts[-1].result)


@pytest.fixture
def impaired() -> Iterator[ImpairedUntilRecovered]:
    """moto reports the instances it is told about with their status checks impaired."""
    with ImpairedUntilRecovered().installed() as health:
        yield health


def test_an_impaired_instance_is_replaced_with_every_step_real(
    playbook: Playbook, recovery: SynthesizedRecovery, impaired: ImpairedUntilRecovered
) -> None:
    def impair(_recovery: SynthesizedRecovery, target: str) -> None:
        impaired.impair(target)

    run = run_playbook(playbook, event(), synthesized=recovery, prepare=impair)
    assert run.outcome == "recovered", run.notifications
    assert calls(run, "-replace") == 1 and run.target_state_after == "terminated"


def test_an_impaired_instance_of_a_group_at_its_minimum_is_skipped_and_kept(
    playbook: Playbook, recovery: SynthesizedRecovery, impaired: ImpairedUntilRecovered
) -> None:
    """The real check finds it impaired, and that replacing it would leave the group (2 of
    2, MinSize raised to 2) below its minimum: skipped, told why, nothing replaced."""

    def impair_at_minimum(_recovery: SynthesizedRecovery, target: str) -> None:
        autoscaling().update_auto_scaling_group(AutoScalingGroupName=GROUP, MinSize=2)
        impaired.impair(target)

    run = run_playbook(playbook, event(), synthesized=recovery, prepare=impair_at_minimum)
    assert run.outcome == "skipped"
    assert run.notifications[-1]["message"]["reason"] == "at_minimum_capacity"
    assert calls(run, "-replace") == 0 and run.target_state_after == "inservice"
