"""The real synthesized workflows, executed by moto with the real handlers.

Each test synthesizes nothing itself: the shipped playbooks are synthesized once (session
fixture) and their definitions read from cdk.tf.json, as ``healstack simulate`` does.
Assertions are on the execution history, the notifications, the store and the moto
resources, never on log text.
"""

from __future__ import annotations

import json
import time
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
    synthesize_for_simulation,
    synthesized_recovery,
)
from tests.conftest import REPO

EVENTS = REPO / "examples" / "events"
SCENARIOS = REPO / "examples" / "scenarios"
EC2 = "ec2-status-check-recovery"


def event(name: str = "cloudwatch-alarm-ec2-status-check.json") -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def simulate(playbook: Playbook, recovery: SynthesizedRecovery, **kwargs: Any) -> PlaybookRun:
    return run_playbook(
        playbook, kwargs.pop("event", None) or event(), synthesized=recovery, **kwargs
    )


def entered(run: PlaybookRun, state: str) -> int:
    return len(run.result.steps_for(state))


def calls(run: PlaybookRun, suffix: str) -> int:
    return sum(n for fn, n in run.result.lambda_invocations.items() if fn.endswith(suffix))


UNHEALTHY = {"return": {"healthy": False, "state": "running"}}


def test_recovered_on_attempt_1_by_a_real_reboot(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    run = simulate(
        ec2_playbook, ec2_recovery, scenario={"mocks": {"CheckBeforeAction": {"1": UNHEALTHY}}}
    )
    assert run.result.status == "SUCCEEDED"
    assert (run.outcome, run.attempts) == ("recovered", 1)
    assert calls(run, "-reboot") == 1 and calls(run, "-stop") == 0
    assert run.result.waits("WaitForStatusChecks")[0].seconds == 180
    assert run.target_state_after == "running"
    assert run.locks() == []  # released


def test_recovered_on_attempt_2_by_stop_and_start(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    run = simulate(
        ec2_playbook, ec2_recovery, scenario=SCENARIOS / "ec2-recovers-on-attempt-2.yaml"
    )
    assert run.result.status == "SUCCEEDED"
    assert (run.outcome, run.attempts) == ("recovered", 2)
    assert [calls(run, s) for s in ("-reboot", "-stop", "-start")] == [1, 1, 1]
    # the real stop reached moto: the poll saw "stopped" before the start
    poll = run.result.steps_for("WaitUntilStopped")[0]
    assert "state=stopped" in (poll.attempts[-1].result or "")
    assert run.target_state_after == "running"
    kinds = [(h["kind"], h["outcome"]) for h in run.history()]
    assert kinds == [("attempt", "unhealthy"), ("outcome", "recovered")]


def test_gives_up_after_max_attempts_and_notifies(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    run = simulate(ec2_playbook, ec2_recovery, scenario=SCENARIOS / "ec2-never-recovers.yaml")
    assert run.result.status == "FAILED"
    assert run.result.error == "RecoveryGaveUp"
    assert entered(run, "CheckAfterAction") == 3  # exactly attempts.max
    assert entered(run, "NextAttempt") == 2
    assert [n["message"]["outcome"] for n in run.notifications] == ["gave_up"]
    assert run.attempts == 3
    assert [h["sk"].rsplit("#", 1)[-1] for h in run.history()] == [
        "attempt-1",
        "attempt-2",
        "attempt-3",
        "outcome",
    ]
    assert run.locks() == []
    # 3 x 3 min of checks + 2 x 1 min between attempts, all fast-forwarded
    assert sum(w.seconds for w in run.result.waits()) == 11 * 60


def test_a_throttled_step_is_retried_with_backoff_then_succeeds(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    run = simulate(ec2_playbook, ec2_recovery, scenario=SCENARIOS / "ec2-throttled-reboot.yaml")
    assert run.result.status == "SUCCEEDED"
    reboot = run.result.steps_for("Reboot")[0]
    assert [a.error for a in reboot.attempts[:2]] == ["Throttled", "Throttled"]
    assert reboot.attempts[2].error is None
    delays = run.result.retry_delays("Reboot")
    assert [d.nominal_seconds for d in delays] == [5, 10]  # the throttle policy: 5 s, x2
    assert all(d.seconds <= d.nominal_seconds for d in delays)  # full jitter


def test_a_transient_error_is_retried_on_the_short_policy(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery, tmp_path: Path
) -> None:
    """Not every retried error waits like a throttle: a 5xx keeps the 2 s, x2 policy."""
    scenario = tmp_path / "transient.yaml"
    scenario.write_text(
        (SCENARIOS / "ec2-throttled-reboot.yaml")
        .read_text()
        .replace("error: Throttled", "error: TransientError")
    )
    run = simulate(ec2_playbook, ec2_recovery, scenario=scenario)
    assert run.result.status == "SUCCEEDED"
    reboot = run.result.steps_for("Reboot")[0]
    assert [a.error for a in reboot.attempts[:2]] == ["TransientError", "TransientError"]
    delays = run.result.retry_delays("Reboot")
    assert [d.nominal_seconds for d in delays] == [2, 4]  # IntervalSeconds 2, BackoffRate 2


def test_a_non_retryable_error_is_caught_notified_and_fails(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    run = simulate(ec2_playbook, ec2_recovery, scenario=SCENARIOS / "ec2-access-denied.yaml")
    assert run.result.status == "FAILED"
    assert run.result.error == "RecoveryStepFailed"
    assert calls(run, "-reboot") == 1  # NotPermitted is not retried
    (note,) = run.notifications
    assert note["message"]["outcome"] == "failed"
    assert note["message"]["error"]["Error"] == "NotPermitted"
    assert run.locks() == []  # released on the error path too


def test_a_malformed_event_fails_fast_and_acts_on_nothing(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    bad = event()
    del bad["detail"]["configuration"]
    run = simulate(ec2_playbook, ec2_recovery, event=bad)
    assert run.result.status == "FAILED"
    assert run.result.error == "EventNotResolved"
    assert [s.state for s in run.result.steps] == [
        "ResolveTarget",
        "NotifyUnresolvedEvent",
        "EventNotResolved",
    ]
    (note,) = run.notifications
    assert note["message"]["error"]["Error"] == "MalformedEvent"
    assert "configuration" in note["message"]["error"]["Cause"]["errorMessage"]


def test_dry_run_runs_every_check_and_changes_nothing(
    ec2_recovery: SynthesizedRecovery, tmp_path: Path
) -> None:
    data = load_playbook(shipped_playbook_path()).model_dump(mode="json")
    data["dry_run"] = True
    playbook = playbook_from_dict(data)
    recovery = synthesize_for_simulation(playbook, tmp_path)
    run = run_playbook(
        playbook, event(), synthesized=recovery, scenario=SCENARIOS / "ec2-never-recovers.yaml"
    )
    assert run.result.status == "FAILED" and run.attempts == 3
    assert [calls(run, s) for s in ("-reboot", "-stop", "-start")] == [1, 2, 2]
    assert run.target_state_after == "running"  # nothing was stopped
    assert all(n["message"]["dry_run"] for n in run.notifications)


def future(seconds: int) -> str:
    return str(int(time.time()) + seconds)


def put_lock(recovery: SynthesizedRecovery, target: str, *, holder: str, expires_in: int) -> None:
    """A lock item exactly as TakeLock writes it, held by ``holder``."""
    assert recovery.table is not None
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName=recovery.table["name"],
        Item={
            "pk": {"S": f"lock#{target}"},
            "sk": {"S": "lock"},
            "execution": {"S": holder},
            "expires_at": {"N": future(expires_in)},
        },
    )


def test_an_event_for_a_resource_already_recovering_ends_quickly_without_acting(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    other = "arn:aws:states:us-east-1:123456789012:execution:x:the-other-one"

    def hold_lock(recovery: SynthesizedRecovery, target: str) -> None:
        put_lock(recovery, target, holder=other, expires_in=600)

    run = simulate(ec2_playbook, ec2_recovery, prepare=hold_lock)
    assert run.result.status == "SUCCEEDED"
    assert run.outcome == "already_recovering"
    assert calls(run, "-check-status") == 0 and calls(run, "-reboot") == 0
    assert [lock["execution"] for lock in run.locks()] == [other]  # untouched


def test_an_expired_lock_is_taken_over(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    def stale_lock(recovery: SynthesizedRecovery, target: str) -> None:
        put_lock(recovery, target, holder="old", expires_in=-5)

    run = simulate(
        ec2_playbook,
        ec2_recovery,
        prepare=stale_lock,
        scenario={"mocks": {"CheckBeforeAction": {"1": UNHEALTHY}}},
    )
    assert run.outcome == "recovered"
    assert run.locks() == []


def test_the_recovery_limit_stops_the_next_recovery_and_escalates(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    window = ec2_playbook.guard.window

    def three_already(recovery: SynthesizedRecovery, target: str) -> None:
        assert recovery.table is not None
        boto3.client("dynamodb", region_name="us-east-1").put_item(
            TableName=recovery.table["name"],
            Item={
                "pk": {"S": f"limit#{target}"},
                "sk": {"S": f"window-{int(time.time()) // window}"},
                # as many other recoveries as the budget allows, each counted once
                "executions": {
                    "SS": [f"earlier-{n}" for n in range(ec2_playbook.guard.max_recoveries)]
                },
                "expires_at": {"N": future(window)},
            },
        )

    run = simulate(
        ec2_playbook,
        ec2_recovery,
        prepare=three_already,
        scenario={"mocks": {"CheckBeforeAction": {"1": UNHEALTHY}}},
    )
    assert run.result.status == "FAILED"
    assert run.result.error == "RecoveryLimitReached"
    assert run.outcome == "recovery_limit_reached"
    # checked (a healthy resource would use none of the budget), refused before acting
    assert calls(run, "-check-status") == 1 and calls(run, "-reboot") == 0
    assert run.locks() == []  # the escalation released the lock it took


def test_every_sample_event_of_the_kind_resolves_in_the_workflow(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    for name in ("ec2-instance-state-change.json", "aws-health-ec2-issue.json"):
        run = simulate(ec2_playbook, ec2_recovery, event=event(name))
        assert run.result.status == "SUCCEEDED", name
        assert run.outcome == "already_healthy"  # moto's instance passes its checks


@pytest.mark.parametrize(
    ("playbook", "sample"),
    [
        ("ecs-deployment-failure-recovery", "ecs-deployment-state-change.json"),
        ("rds-failure-recovery", "rds-db-instance-event.json"),
    ],
)
def test_ecs_and_rds_playbooks_recover_in_simulation(
    synthesized: Path, playbook: str, sample: str
) -> None:
    pb = load_playbook(shipped_playbook_path(f"{playbook}.yaml"))
    recovery = synthesized_recovery(synthesized / "stacks" / playbook / "cdk.tf.json")
    first_check = pb.steps[0].name
    run = run_playbook(
        pb, event(sample), synthesized=recovery, scenario={"mocks": {first_check: {"1": UNHEALTHY}}}
    )
    assert run.result.status == "SUCCEEDED", run.result.cause
    assert run.outcome == "recovered"
    assert run.locks() == []
