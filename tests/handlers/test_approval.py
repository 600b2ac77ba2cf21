"""The approval function: a request is recorded and told (no token anywhere), and only a
decision recorded by the decide function moves the workflow on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from healstack_lambda import approvals, decide
from healstack_lambda.approval import handle
from healstack_lambda.errors import ApprovalPending, ApprovalRejected, InvalidInput
from tests.handlers.conftest import create_store

Reader = Callable[[], list[dict[str, Any]]]
TABLE = "healstack-approvals-test"
ALICE = "arn:aws:sts::123456789012:assumed-role/oncall/alice"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HEALSTACK_TARGET_KIND", "ec2_instance")
    monkeypatch.setenv("HEALSTACK_TABLE", TABLE)
    client = create_store(TABLE)
    return client


def ask(step_event: Callable[..., dict[str, Any]], phase: str, **params: Any) -> dict[str, Any]:
    return step_event(
        "i-0a1b2c3d4e5f67890",
        state="ApproveStop" if phase == "request" else "AwaitStopDecision",
        attempt=2,
        params={"phase": phase, "action": "stop", **params},
    )


def decided_by_alice(monkeypatch: pytest.MonkeyPatch, approval_id: str, decision: str) -> None:
    monkeypatch.setenv("HEALSTACK_APPROVERS", "arn:aws:iam::123456789012:role/oncall")
    answer = decide.decide(
        {
            "requestContext": {
                "http": {"method": "POST"},
                "authorizer": {"iam": {"userArn": ALICE}},
            },
            "body": json.dumps({"approval_id": approval_id, "decision": decision}),
        },
        None,
    )
    assert answer["statusCode"] == 200, answer


def test_a_request_is_recorded_pending_and_told_without_any_token(
    store: Any, topic_queue: Reader, step_event: Callable[..., dict[str, Any]]
) -> None:
    result = handle(ask(step_event, "request", timeout_seconds=1800), None)

    assert result["requested"] is True
    approval_id = result["approval_id"]
    assert approval_id.endswith("/stop/2")
    key = approvals.parse_id(approval_id)
    item = store.get_item(TableName=TABLE, Key=key.item_key())["Item"]
    assert item["status"]["S"] == "pending" and item["resource_id"]["S"] == "i-0a1b2c3d4e5f67890"
    assert int(item["expires_at"]["N"]) - int(item["requested_at"]["N"]) == 1800
    (envelope,) = topic_queue()
    assert envelope["Subject"].startswith("healstack ec2-status-check-recovery: approve stop?")
    message = json.loads(envelope["Message"])
    assert message["approval_id"] == approval_id
    assert message["approve"].startswith(f"healstack approve {approval_id} ")
    assert message["reject"].startswith(f"healstack reject {approval_id} ")
    text = envelope["Message"].lower()
    assert "token" not in text and "send-task" not in text


def test_a_retried_request_is_not_told_twice(
    store: Any, topic_queue: Reader, step_event: Callable[..., dict[str, Any]]
) -> None:
    event = ask(step_event, "request", timeout_seconds=600)
    first, again = handle(event, None), handle(event, None)
    assert first["approval_id"] == again["approval_id"] and again["message_id"] is None
    assert len(topic_queue()) == 1


def test_await_is_pending_until_an_approver_decides(
    store: Any,
    topic_queue: Reader,
    step_event: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    approval_id = handle(ask(step_event, "request", timeout_seconds=600), None)["approval_id"]
    with pytest.raises(ApprovalPending):
        handle(ask(step_event, "await"), None)
    decided_by_alice(monkeypatch, approval_id, "approve")
    assert handle(ask(step_event, "await"), None) == {
        "approved": True,
        "approval_id": approval_id,
        "decided_by": ALICE,
    }


def test_a_rejection_stops_the_action_and_names_who(
    store: Any,
    topic_queue: Reader,
    step_event: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    approval_id = handle(ask(step_event, "request", timeout_seconds=600), None)["approval_id"]
    decided_by_alice(monkeypatch, approval_id, "reject")
    with pytest.raises(ApprovalRejected, match="rejected by arn:aws:sts::123456789012:"):
        handle(ask(step_event, "await"), None)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"phase": "grant"}, 'params.phase must be "request" or "await"'),
        ({"phase": "request", "action": "stop"}, "timeout_seconds"),
        ({"phase": "request", "action": "stop", "timeout_seconds": 5}, "60 to 86400"),
        ({"phase": "await", "action": "stop", "token": "x"}, "unknown params ['token']"),
    ],
)
def test_a_bad_payload_is_refused(
    store: Any,
    topic_queue: Reader,
    step_event: Callable[..., dict[str, Any]],
    params: dict[str, Any],
    message: str,
) -> None:
    event = step_event("i-0a1b2c3d4e5f67890", params=params)
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        handle(event, None)
