"""Fault injection on every step of the default workflow: a throttle is retried and the
recovery succeeds; a refused or timed-out step ends in a clear failure notification.
Never a hung execution, never a silent end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from healstack.loader import load_playbook, shipped_playbook_path
from healstack.simulate.runner import (
    PlaybookRun,
    SynthesizedRecovery,
    run_playbook,
    synthesized_recovery,
)
from tests.conftest import REPO

EVENT = json.loads(
    (REPO / "examples" / "events" / "cloudwatch-alarm-ec2-status-check.json").read_text()
)
RECOVERS_ON_2 = REPO / "examples" / "scenarios" / "ec2-recovers-on-attempt-2.yaml"
#: every Lambda step the attempt-2 recovery passes through (the notify steps aside)
STEPS = (
    "ResolveTarget",
    "CheckBeforeAction",
    "Reboot",
    "CheckAfterAction",
    "Stop",
    "WaitUntilStopped",
    "Start",
)


@pytest.fixture(scope="module")
def recovery(synthesized: Path) -> SynthesizedRecovery:
    return synthesized_recovery(
        synthesized / "stacks" / "ec2-status-check-recovery" / "cdk.tf.json"
    )


def base_mocks() -> dict[str, Any]:
    import yaml

    return dict(yaml.safe_load(RECOVERS_ON_2.read_text())["mocks"])


def run(recovery: SynthesizedRecovery, mocks: dict[str, Any]) -> PlaybookRun:
    return run_playbook(
        load_playbook(shipped_playbook_path()),
        EVENT,
        synthesized=recovery,
        scenario={"mocks": mocks},
    )


def test_throttling_on_every_step_is_retried_and_the_recovery_still_succeeds(
    recovery: SynthesizedRecovery,
) -> None:
    mocks = base_mocks()
    throttle = {
        "throw": {"error": "TransientError", "cause": "ThrottlingException (Rate exceeded)"}
    }
    for step in STEPS:
        ranges = dict(mocks.get(step, {}))
        # the first two calls of the step are throttled; then its usual behaviour
        shifted = {"1-2": throttle}
        for spec, outcome in ranges.items():
            first, _, rest = spec.partition("-")
            plus = first.endswith("+")
            n = int(first.rstrip("+")) + 2
            shifted[f"{n}+" if plus else (f"{n}-{int(rest) + 2}" if rest else str(n))] = outcome
        mocks[step] = shifted
    result = run(recovery, mocks)
    assert result.result.status == "SUCCEEDED", result.result.cause
    assert result.outcome == "recovered"
    for step in STEPS:
        assert len(result.result.retry_delays(step)) >= 2, step


@pytest.mark.parametrize("step", STEPS)
def test_access_denied_on_any_step_fails_with_a_notification(
    recovery: SynthesizedRecovery, step: str
) -> None:
    mocks = base_mocks()
    denied = {"throw": {"error": "NotPermitted", "cause": "AccessDenied: not authorized"}}
    mocks[step] = {"1+": denied}
    result = run(recovery, mocks)
    assert result.result.status == "FAILED", step
    (note,) = result.notifications
    assert note["message"]["outcome"] == "failed"
    assert note["message"]["error"]["Error"] == "NotPermitted"
    assert result.locks() == []


def test_a_step_that_times_out_fails_with_a_notification(recovery: SynthesizedRecovery) -> None:
    mocks = base_mocks()
    mocks["Reboot"] = {
        "1": {"throw": {"error": "Sandbox.Timedout", "cause": "Task timed out after 10.00 seconds"}}
    }
    result = run(recovery, mocks)
    assert result.result.status == "FAILED"
    (note,) = result.notifications
    assert note["message"]["error"]["Error"] == "Sandbox.Timedout"
