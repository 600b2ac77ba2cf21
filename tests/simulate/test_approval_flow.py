"""Approval in the real workflow: the request is recorded, a named approver decides through
the real decide function, and only that moves the execution on. No token exists anywhere.

Scenarios name who decides (``approvals:``); by default nobody answers and the wait runs
out (fast-forwarded), as it would on AWS.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from healstack.loader import load_playbook, playbook_from_dict, shipped_playbook_path
from healstack.playbook import Playbook
from healstack.simulate.runner import (
    PlaybookRun,
    SynthesizedRecovery,
    run_playbook,
    synthesize_for_simulation,
)
from tests.conftest import REPO

EVENT = json.loads(
    (REPO / "examples" / "events" / "cloudwatch-alarm-ec2-status-check.json").read_text()
)
UNHEALTHY = {"return": {"healthy": False, "state": "running"}}
ONCALL = "arn:aws:iam::123456789012:role/oncall"
DEVELOPER = "arn:aws:iam::123456789012:role/developer"


@pytest.fixture(scope="module")
def careful(tmp_path_factory: pytest.TempPathFactory) -> tuple[Playbook, SynthesizedRecovery]:
    data = load_playbook(shipped_playbook_path()).model_dump(mode="json")
    data["name"] = "ec2-careful"
    data["approval"] = {"before": ["reboot"], "timeout": "10m", "approvers": [ONCALL]}
    playbook = playbook_from_dict(data)
    return playbook, synthesize_for_simulation(playbook, tmp_path_factory.mktemp("careful"))


def run(careful: tuple[Playbook, SynthesizedRecovery], **approvals: Any) -> PlaybookRun:
    playbook, recovery = careful
    scenario: dict[str, Any] = {"mocks": {"CheckBeforeAction": {"1": UNHEALTHY}}}
    if approvals:
        scenario["approvals"] = {"ApproveReboot": {"1": approvals}}
    return run_playbook(playbook, EVENT, synthesized=recovery, scenario=scenario)


def states(run: PlaybookRun) -> list[str]:
    return [s.state for s in run.result.steps]


def approval_records(run: PlaybookRun) -> list[dict[str, Any]]:
    return [i for i in run.history() if i.get("kind") == "approval"]


def test_an_action_a_named_approver_approved_runs_and_who_is_recorded(
    careful: tuple[Playbook, SynthesizedRecovery],
) -> None:
    done = run(careful, approve=ONCALL)
    assert done.result.status == "SUCCEEDED" and done.outcome == "recovered"
    order = states(done)
    assert order.index("ApproveReboot") < order.index("AwaitRebootDecision") < order.index("Reboot")
    subjects = [n["subject"] for n in done.notifications]
    assert any("approve reboot?" in s for s in subjects)
    (record,) = approval_records(done)
    assert record["outcome"] == "approved"
    assert record["decided_by"] == "arn:aws:sts::123456789012:assumed-role/oncall/simulation"


def test_a_rejected_action_never_runs(careful: tuple[Playbook, SynthesizedRecovery]) -> None:
    done = run(careful, reject=ONCALL, reason="not during the sale")
    assert done.result.status == "FAILED" and done.result.error == "ApprovalRejected"
    assert "Reboot" not in states(done)
    assert done.outcome == "approval_rejected"
    (record,) = approval_records(done)
    assert (record["outcome"], record["reason"]) == ("rejected", "not during the sale")
    assert done.locks() == []


def test_when_nobody_answers_the_wait_runs_out_fast_forwarded(
    careful: tuple[Playbook, SynthesizedRecovery],
) -> None:
    done = run(careful)  # the default: nobody answers
    assert done.result.status == "FAILED" and done.result.error == "ApprovalTimedOut"
    assert done.outcome == "approval_timed_out"
    assert "Reboot" not in states(done)
    polls = done.result.retry_delays("AwaitRebootDecision")
    assert len(polls) == 40 and sum(p.nominal_seconds for p in polls) == 600  # 15 s x 40
    assert done.result.wall_seconds < 60  # never slept for real


def test_a_decision_by_someone_who_is_not_an_approver_does_not_count(
    careful: tuple[Playbook, SynthesizedRecovery],
) -> None:
    done = run(careful, approve=DEVELOPER)
    assert done.result.error == "ApprovalTimedOut"  # refused, so still nobody decided
    assert "Reboot" not in states(done)
    assert approval_records(done) == []


def test_no_token_is_anywhere_a_person_or_a_log_could_read_it(
    careful: tuple[Playbook, SynthesizedRecovery],
) -> None:
    done = run(careful, approve=ONCALL)
    assert "Task.Token" not in json.dumps(careful[1].definition)
    assert "token" not in json.dumps(done.notifications).lower()
    assert "token" not in json.dumps(list(done.result.history), default=str).lower()
