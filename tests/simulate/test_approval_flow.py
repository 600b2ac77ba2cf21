"""Approval in the real workflow: the execution waits on the task token, and only an answer
moves it: approve -> the action runs; reject -> notified and failed, the action never runs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

import healstack_lambda.approval as approval
from healstack.loader import load_playbook, playbook_from_dict, shipped_playbook_path
from healstack.playbook import Playbook
from healstack.simulate.runner import SynthesizedRecovery, run_playbook, synthesize_for_simulation
from tests.conftest import REPO

EVENT = json.loads(
    (REPO / "examples" / "events" / "cloudwatch-alarm-ec2-status-check.json").read_text()
)
UNHEALTHY = {"return": {"healthy": False, "state": "running"}}


@pytest.fixture(scope="module")
def careful(tmp_path_factory: pytest.TempPathFactory) -> tuple[Playbook, SynthesizedRecovery]:
    data = load_playbook(shipped_playbook_path()).model_dump(mode="json")
    data["name"] = "ec2-careful"
    data["approval"] = {"before": ["reboot"], "timeout": "10m"}
    playbook = playbook_from_dict(data)
    return playbook, synthesize_for_simulation(playbook, tmp_path_factory.mktemp("careful"))


def answering(monkeypatch: pytest.MonkeyPatch, answer: Callable[[Any, str], None]) -> list[str]:
    """Wrap the real approval handler: after it published, a 'person' answers the token."""
    tokens: list[str] = []
    real = approval.request

    def request(event: dict[str, Any], context: Any) -> dict[str, Any]:
        result = real(event, context)
        token = event["callback_token"]
        tokens.append(token)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")

        def later() -> None:
            # answer as soon as the task accepts the token (bounded: 5 s)
            deadline = time.monotonic() + 5
            while True:
                try:
                    answer(sfn, token)
                    return
                except sfn.exceptions.TaskDoesNotExist:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

        threading.Thread(target=later, daemon=True).start()
        return result

    monkeypatch.setattr(approval, "request", request)
    return tokens


def test_an_approved_action_runs(
    careful: tuple[Playbook, SynthesizedRecovery], monkeypatch: pytest.MonkeyPatch
) -> None:
    playbook, recovery = careful
    tokens = answering(
        monkeypatch, lambda sfn, t: sfn.send_task_success(taskToken=t, output='{"approved": true}')
    )
    run = run_playbook(
        playbook,
        EVENT,
        synthesized=recovery,
        scenario={"mocks": {"CheckBeforeAction": {"1": UNHEALTHY}}},
    )
    assert len(tokens) == 1
    assert run.result.status == "SUCCEEDED" and run.outcome == "recovered"
    states = [s.state for s in run.result.steps]
    assert states.index("ApproveReboot") < states.index("Reboot")
    subjects = [n["subject"] for n in run.notifications]
    assert any("approve reboot?" in s for s in subjects)


def test_a_rejected_action_never_runs(
    careful: tuple[Playbook, SynthesizedRecovery], monkeypatch: pytest.MonkeyPatch
) -> None:
    playbook, recovery = careful
    answering(
        monkeypatch,
        lambda sfn, t: sfn.send_task_failure(
            taskToken=t, error="ApprovalRejected", cause="not now"
        ),
    )
    run = run_playbook(
        playbook,
        EVENT,
        synthesized=recovery,
        scenario={"mocks": {"CheckBeforeAction": {"1": UNHEALTHY}}},
    )
    assert run.result.status == "FAILED" and run.result.error == "ApprovalRejected"
    assert "Reboot" not in [s.state for s in run.result.steps]
    assert run.outcome == "approval_rejected"
    assert run.locks() == []
