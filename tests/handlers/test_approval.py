"""request-approval publishes what a person needs to approve or reject, and nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from healstack_lambda.approval import request
from healstack_lambda.errors import InvalidInput

Reader = Callable[[], list[dict[str, Any]]]
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAd/token+with=odd'chars"


@pytest.fixture
def kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALSTACK_TARGET_KIND", "ec2_instance")


def test_the_request_names_the_action_and_how_to_answer(
    kind: None, topic_queue: Reader, step_event: Callable[..., dict[str, Any]]
) -> None:
    event = step_event(
        "i-0a1b2c3d4e5f67890",
        state="ApproveStop",
        params={"action": "stop", "timeout_seconds": 1800},
    )
    event["callback_token"] = TOKEN

    result = request(event, None)

    assert result["requested"] is True
    (envelope,) = topic_queue()
    assert envelope["Subject"].startswith("healstack ec2-status-check-recovery: approve stop?")
    message = json.loads(envelope["Message"])
    assert (message["action"], message["resource_id"], message["expires_in_seconds"]) == (
        "stop",
        "i-0a1b2c3d4e5f67890",
        1800,
    )
    assert message["approve"].startswith("aws stepfunctions send-task-success --task-token ")
    assert "--error ApprovalRejected" in message["reject"]
    assert (
        "'AQCEAAAAKgAAAAMAAAAAAAAAAd/token+with=odd'\"'\"'chars'" in message["approve"]
    )  # shell-quoted


def test_no_token_is_invalid_input(
    kind: None, topic_queue: Reader, step_event: Callable[..., dict[str, Any]]
) -> None:
    event = step_event("i-0a1b2c3d4e5f67890", params={"action": "stop"})
    with pytest.raises(InvalidInput, match="callback_token"):
        request(event, None)
    assert topic_queue() == []
