"""The decide function: only a named approver's signed call decides, once, and is recorded."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from healstack_lambda import approvals, decide
from tests.handlers.conftest import create_store

TABLE = "healstack-test-recoveries"
ONCALL = "arn:aws:iam::123456789012:role/oncall"
ALICE = "arn:aws:sts::123456789012:assumed-role/oncall/alice"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:healstack-x:run-1"
KEY = approvals.key_for(EXECUTION, "stop", 2)


@pytest.fixture(autouse=True)
def store(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HEALSTACK_TABLE", TABLE)
    monkeypatch.setenv("HEALSTACK_APPROVERS", f"{ONCALL},arn:aws:iam::123456789012:user/bob")
    monkeypatch.setenv("HEALSTACK_RECOVERY", "healstack-x")
    return create_store(TABLE)


def pending(store: Any, *, expires_in: int = 600) -> None:
    now = int(time.time())
    store.put_item(
        TableName=TABLE,
        Item={
            **KEY.item_key(),
            "status": {"S": "pending"},
            "resource_id": {"S": "i-0123456789abcdef0"},
            "action": {"S": "stop"},
            "attempt": {"N": "2"},
            "playbook": {"S": "x"},
            "execution": {"S": EXECUTION},
            "requested_at": {"N": str(now)},
            "expires_at": {"N": str(now + expires_in)},
        },
    )


def call(caller: str | None, body: Any) -> tuple[int, dict[str, Any]]:
    event: dict[str, Any] = {
        "version": "2.0",
        "requestContext": {"http": {"method": "POST"}},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }
    if caller is not None:
        event["requestContext"]["authorizer"] = {"iam": {"userArn": caller}}
    answer = decide.decide(event, None)
    return answer["statusCode"], json.loads(answer["body"])


def status(store: Any) -> dict[str, Any]:
    item = store.get_item(TableName=TABLE, Key=KEY.item_key())["Item"]
    return {k: next(iter(v.values())) for k, v in item.items()}


def test_a_named_approver_approves_and_the_decision_is_recorded(store: Any) -> None:
    pending(store)
    code, body = call(ALICE, {"approval_id": KEY.id, "decision": "approve", "reason": "ok"})
    assert code == 200, body
    assert body == {
        "action": "stop",
        "approval_id": "run-1/stop/2",
        "decided_by": ALICE,
        "decision": "approved",
        "resource_id": "i-0123456789abcdef0",
    }
    assert status(store)["status"] == "approved" and status(store)["decided_by"] == ALICE
    history = store.scan(TableName=TABLE)["Items"]
    (record,) = [i for i in history if i["pk"]["S"].startswith("history#")]
    assert record["decided_by"]["S"] == ALICE and record["outcome"]["S"] == "approved"


def test_an_iam_user_approver_may_reject(store: Any) -> None:
    pending(store)
    code, _ = call(
        "arn:aws:iam::123456789012:user/bob", {"approval_id": KEY.id, "decision": "reject"}
    )
    assert code == 200 and status(store)["status"] == "rejected"


@pytest.mark.parametrize(
    "caller",
    [
        "arn:aws:sts::123456789012:assumed-role/developer/mallory",
        "arn:aws:sts::999999999999:assumed-role/oncall/alice",  # same name, other account
        "arn:aws:sts::123456789012:assumed-role/healstack-x-sfn/execution",  # healstack itself
        "arn:aws:iam::123456789012:root",
    ],
    ids=["not-an-approver", "other-account", "healstack-own-role", "root"],
)
def test_anyone_else_is_refused_and_nothing_changes(store: Any, caller: str) -> None:
    pending(store)
    code, body = call(caller, {"approval_id": KEY.id, "decision": "approve"})
    assert code == 403 and body["error"] == "NotPermitted"
    assert status(store)["status"] == "pending"


def test_healstack_own_roles_are_refused_even_when_listed_as_approvers(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALSTACK_APPROVERS", "arn:aws:iam::123456789012:role/healstack-x-sfn")
    pending(store)
    code, _ = call(
        "arn:aws:sts::123456789012:assumed-role/healstack-x-sfn/s",
        {"approval_id": KEY.id, "decision": "approve"},
    )
    assert code == 403


def test_an_unsigned_call_is_refused(store: Any) -> None:
    pending(store)
    code, body = call(None, {"approval_id": KEY.id, "decision": "approve"})
    assert code == 401 and body["error"] == "Unauthenticated"


def test_a_request_is_decided_once(store: Any) -> None:
    pending(store)
    assert call(ALICE, {"approval_id": KEY.id, "decision": "reject"})[0] == 200
    code, body = call(ALICE, {"approval_id": KEY.id, "decision": "approve"})
    assert code == 409 and "already rejected" in body["message"]
    assert status(store)["status"] == "rejected"


def test_an_expired_request_cannot_be_decided(store: Any) -> None:
    pending(store, expires_in=-1)
    code, body = call(ALICE, {"approval_id": KEY.id, "decision": "approve"})
    assert code == 409 and "expired" in body["message"]


def test_an_unknown_request_is_not_found(store: Any) -> None:
    code, _ = call(ALICE, {"approval_id": "run-2/stop/1", "decision": "approve"})
    assert code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"approval_id": "run-1/stop/2", "decision": "maybe"},
        {"approval_id": "$(curl evil)/stop/2", "decision": "approve"},
        {"approval_id": KEY.id, "decision": "approve", "reason": "x" * 201},
        {"approval_id": KEY.id, "decision": "approve", "reason": "two\nlines"},
        "not an object",
    ],
    ids=["bad-decision", "bad-id", "long-reason", "multi-line-reason", "not-an-object"],
)
def test_a_bad_request_is_refused_without_echoing_it(store: Any, body: Any) -> None:
    pending(store)
    code, answer = call(ALICE, body)
    assert code == 400
    assert "curl" not in answer["message"]
    assert status(store)["status"] == "pending"
