"""A hub and two member accounts in one moto world (moto keeps a backend per account, and
``sts:AssumeRole`` into a member's role acts there): the hub's real workflow and handlers
recover a member's instance in the member's account, refuse an event of a stranger account,
and hold a storm across both members to the playbook's fleet budget."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from healstack.loader import load_playbook, playbook_from_dict, shipped_playbook_path
from healstack.playbook import Playbook
from healstack.providers.interfaces import DeploymentSettings, Hub
from healstack.simulate.runner import (
    PlaybookRun,
    SynthesizedRecovery,
    run_playbook_many,
    synthesize_for_simulation,
)
from tests.conftest import REPO

A, B, STRANGER = "111111111111", "222222222222", "333333333333"
HUB = Hub((A, B), ("us-east-1",))
EVENT = json.loads((REPO / "examples/events/cloudwatch-alarm-ec2-status-check.json").read_text())
UNHEALTHY = {"return": {"healthy": False, "state": "running"}}
#: the first check finds it broken; the real reboot (in the member) and recheck follow
RECOVERS = {"mocks": {"CheckBeforeAction": {"1": UNHEALTHY}}}


def event_of(account: str, instance: str = "i-0a1b2c3d4e5f67890") -> dict[str, Any]:
    event = copy.deepcopy(EVENT)
    text = json.dumps(event).replace("123456789012", account)
    return dict(json.loads(text.replace("i-0a1b2c3d4e5f67890", instance)))


@pytest.fixture(scope="module")
def hub_recovery(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedRecovery:
    return synthesize_for_simulation(
        load_playbook(shipped_playbook_path()),
        tmp_path_factory.mktemp("hub"),
        DeploymentSettings(hub=HUB),
    )


def test_an_event_of_member_a_recovers_as_instance_in_a(hub_recovery: SynthesizedRecovery) -> None:
    playbook = load_playbook(shipped_playbook_path())
    (run,) = run_playbook_many(
        playbook, [event_of(A)], synthesized=hub_recovery, scenario=RECOVERS, hub=HUB
    )
    assert run.outcome == "recovered", run.result.status
    assert run.target_state_after == "running"
    (note,) = run.notifications
    assert note["message"]["account"] == A and note["message"]["region"] == "us-east-1"
    keys = [item["pk"] for item in run.store_items]
    assert f"history#{A}/us-east-1/{run.target_id}" in keys
    assert run.locks() == []


def test_an_event_of_an_account_that_is_no_member_is_refused(
    hub_recovery: SynthesizedRecovery,
) -> None:
    playbook = load_playbook(shipped_playbook_path())
    (run,) = run_playbook_many(playbook, [event_of(STRANGER)], synthesized=hub_recovery, hub=HUB)
    assert run.outcome == "refused"
    (note,) = run.notifications
    assert "foreign_account" in json.dumps(note["message"]["error"])
    assert run.result.lambda_invocations.get("healstack-ec2-status-check-recovery-reboot", 0) == 0


def fleet_playbook() -> Playbook:
    import yaml

    data = yaml.safe_load(Path(shipped_playbook_path()).read_text())
    data["guard"] = {"fleet": {"max_in_flight": 2, "max_per_hour": 3}}
    return playbook_from_dict(data)


def test_a_storm_across_members_is_held_by_the_fleet_budget(tmp_path: Path) -> None:
    playbook = fleet_playbook()
    instances = [f"i-0a1b2c3d4e5f6789{n}" for n in range(6)]
    events = [event_of(A if n % 2 else B, instance) for n, instance in enumerate(instances)]
    runs = run_playbook_many(playbook, events, scenario=RECOVERS, hub=HUB, timeout_s=600)
    told = Counter(run.outcome for run in runs)
    assert told["recovered"] == 3, told  # the hour's budget
    assert told["fleet_limit_reached"] == 3, told
    assert all(len(run.notifications) == 1 for run in runs)
    limited = [run for run in runs if run.outcome == "fleet_limit_reached"]
    assert all(run.result.status == "FAILED" for run in limited)
    assert all(run.target_state_after == "running" for run in runs)
    store = {(i["pk"], i["sk"]): i for i in runs[0].store_items}
    in_flight = store[(f"fleet#{playbook.name}", "in-flight")]
    assert in_flight["holders"] == {}  # every slot was given back
    (hour,) = [i for (pk, sk), i in store.items() if sk.startswith("hour-")]
    assert len(hour["started"]) == 3
    # each recovery was told with its own member's account
    for run, event in zip(runs, events, strict=True):
        assert run.notifications[0]["message"]["account"] == event["account"]
    _at_most_two_acting_at_once(runs)


def _at_most_two_acting_at_once(runs: list[PlaybookRun]) -> None:
    """From each trace: between entering its first action and its end, a recovery holds a
    slot; no moment has three."""
    spans = []
    for run in runs:
        steps = run.result.steps
        acting = [s for s in steps if s.state in ("Reboot", "Stop", "Start")]
        if acting:
            spans.append((acting[0].entered_at, steps[-1].entered_at))
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start <= e) <= 2, spans


def test_the_simulate_command_simulates_the_hub_its_config_names(tmp_path: Path) -> None:
    """``healstack simulate --config healstack.toml`` with ``[hub]``: a member's event is
    recovered through the member role (``--expect`` guards it), a stranger's is refused."""
    import subprocess
    import sys

    import yaml

    config = tmp_path / "healstack.toml"
    config.write_text(f'[hub]\nmembers = ["{A}"]\nregions = ["us-east-1"]\n')
    scenario = tmp_path / "recovers.yaml"
    scenario.write_text(yaml.safe_dump({"name": "recovers", **RECOVERS}))

    def simulate(account: str, expect: str) -> subprocess.CompletedProcess[str]:
        event = tmp_path / f"event-{account}.json"
        event.write_text(json.dumps(event_of(account)))
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "healstack.cli",
                "simulate",
                "--event",
                str(event),
                "--scenario",
                str(scenario),
                "--config",
                str(config),
                "--expect",
                expect,
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )

    member = simulate(A, "recovered")
    assert member.returncode == 0, member.stdout[-1500:] + member.stderr
    stranger = simulate(STRANGER, "recovered")
    assert stranger.returncode == 3
    assert stranger.stderr.strip() == "healstack: expected outcome recovered, got refused"
