"""notify finishes an execution: lock released (only its own), outcome recorded, then published;
and an execution that timed out reaches it through the finalizer rule's event."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from healstack_lambda import aws
from healstack_lambda.errors import TransientError
from healstack_lambda.notify import notify
from tests.handlers.conftest import create_store, fresh
from tests.handlers.test_notify import EXECUTION_ARN, notify_payload

TABLE = "healstack-ec2-status-check-recovery"
INSTANCE = "i-0a1b2c3d4e5f67890"
Reader = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> str:
    create_store(TABLE)
    monkeypatch.setenv("HEALSTACK_TABLE", TABLE)
    monkeypatch.setenv("HEALSTACK_HISTORY_DAYS", "7")
    return TABLE


def lock(holder: str) -> None:
    aws.client("dynamodb").put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": f"lock#{INSTANCE}"},
            "sk": {"S": "lock"},
            "execution": {"S": holder},
            "expires_at": {"N": "9999999999"},
        },
    )


def items() -> list[dict[str, Any]]:
    raw = aws.client("dynamodb").scan(TableName=TABLE)["Items"]
    return sorted(
        ({k: next(iter(v.values())) for k, v in i.items()} for i in raw), key=lambda i: i["pk"]
    )


def test_finishing_releases_its_own_lock_and_records_the_outcome(
    table: str, topic_queue: Reader
) -> None:
    lock(EXECUTION_ARN)
    notify(notify_payload(outcome="recovered", attempt=2, started_at=1_800_000_000), None)
    (record,) = items()
    assert record["pk"] == f"history#{INSTANCE}"
    assert record["sk"] == "1800000000#ec2-status-check-recovery-8f3a#outcome"
    assert (record["outcome"], record["attempts"], record["kind"]) == ("recovered", "2", "outcome")
    assert record["expires_at"] == str(1_800_000_000 + 7 * 86400)
    assert len(topic_queue()) == 1


def test_another_executions_lock_is_left_alone(table: str, topic_queue: Reader) -> None:
    other = EXECUTION_ARN.replace("8f3a", "other")
    lock(other)
    notify(notify_payload(outcome="gave_up", started_at=1_800_000_000), None)
    assert [i["execution"] for i in items() if i["pk"].startswith("lock#")] == [other]


def test_already_recovering_never_releases_the_lock(table: str, topic_queue: Reader) -> None:
    lock(EXECUTION_ARN)  # even if (somehow) it names this execution
    notify(notify_payload(outcome="already_recovering", started_at=1_800_000_000), None)
    assert any(i["pk"].startswith("lock#") for i in items())


# --- duplicate events (M5) --------------------------------------------------------------------

HOLDER = EXECUTION_ARN.replace("8f3a", "holder")


def duplicate(n: int) -> dict[str, Any]:
    """The notify payload of the n-th duplicate event's own execution."""
    return notify_payload(
        outcome="already_recovering",
        execution_id=EXECUTION_ARN.replace("8f3a", f"dup-{n}"),
        attempt=None,
        started_at=1_800_000_000 + n,
    )


def test_five_duplicate_events_cost_one_message_and_the_holder_reports_the_other_four(
    table: str, topic_queue: Reader
) -> None:
    lock(HOLDER)

    results = [notify(duplicate(n), None) for n in range(1, 6)]

    (first,) = topic_queue()
    assert results[0] == {"message_id": first["MessageId"], "outcome": "already_recovering"}
    assert (
        results[1:]
        == [{"message_id": None, "outcome": "already_recovering", "suppressed": True}] * 4
    )
    summary = json.loads(first["Message"])
    assert summary["outcome"] == "already_recovering"
    assert summary["duplicates"] is None
    assert "later duplicates are counted" in summary["note"].lower()
    (lock_item,) = [i for i in items() if i["pk"].startswith("lock#")]
    assert lock_item["duplicates"] == "5"

    notify(notify_payload(outcome="recovered", execution_id=HOLDER, started_at=1_800_000_000), None)

    (final,) = topic_queue()
    message = json.loads(final["Message"])
    assert (message["outcome"], message["duplicates"]) == ("recovered", 4)
    assert not any(i["pk"].startswith("lock#") for i in items())
    history = [i for i in items() if i["pk"].startswith("history#")]
    assert [i["outcome"] for i in history].count("already_recovering") == 1  # the first only
    (record,) = [i for i in history if i["outcome"] == "recovered"]
    assert record["duplicates"] == "4"


def test_a_first_duplicate_whose_publish_failed_still_sends_its_summary_on_the_retry(
    table: str, topic_queue: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock(HOLDER)
    sns = aws.client("sns")
    real_publish = sns.publish
    failures = iter([True])

    def flaky(**kwargs: Any) -> Any:
        if next(failures, False):
            raise TransientError("SNS had a moment")
        return real_publish(**kwargs)

    monkeypatch.setattr(sns, "publish", flaky)
    with pytest.raises(TransientError):
        notify(duplicate(1), None)
    retried = notify(duplicate(1), None)  # the workflow retries the same execution's notify
    later = notify(duplicate(2), None)
    assert retried["message_id"] is not None and later.get("suppressed") is True
    (summary,) = topic_queue()
    assert json.loads(summary["Message"])["outcome"] == "already_recovering"


def test_a_duplicate_after_the_holder_finished_is_published_as_before(
    table: str, topic_queue: Reader
) -> None:
    result = notify(duplicate(1), None)  # no lock item: its holder just released it

    (envelope,) = topic_queue()
    assert result == {"message_id": envelope["MessageId"], "outcome": "already_recovering"}
    assert json.loads(envelope["Message"])["note"] is None
    assert not any(i["pk"].startswith("lock#") for i in items())  # the count made no item


def test_a_recovery_without_duplicates_reports_zero(table: str, topic_queue: Reader) -> None:
    lock(EXECUTION_ARN)
    notify(notify_payload(outcome="gave_up", started_at=1_800_000_000), None)
    assert json.loads(topic_queue()[0]["Message"])["duplicates"] == 0


def test_a_single_duplicate_is_told_by_its_own_message_not_again_by_the_holder(
    table: str, topic_queue: Reader
) -> None:
    lock(HOLDER)
    notify(duplicate(1), None)
    notify(notify_payload(outcome="recovered", execution_id=HOLDER), None)

    first, final = topic_queue()
    assert json.loads(first["Message"])["outcome"] == "already_recovering"
    assert json.loads(final["Message"])["duplicates"] == 0


def status_change(status: str, original: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-11-26T12:00:00Z",
        "region": "us-east-1",
        "resources": [EXECUTION_ARN],
        "detail": {
            "executionArn": EXECUTION_ARN,
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:healstack-ec2-recovery",
            "name": "ec2-status-check-recovery-8f3a",
            "status": status,
            "startDate": 1_800_000_000_000,
            "stopDate": 1_800_003_600_000,
            "input": json.dumps(original),
            "output": None,
        },
    }


def test_a_timed_out_execution_hours_after_its_event_still_names_the_resource(
    table: str,
    topic_queue: Reader,
    monkeypatch: pytest.MonkeyPatch,
    sample_event: Callable[[str], dict[str, Any]],
) -> None:
    monkeypatch.setenv("HEALSTACK_PLAYBOOK", "ec2-status-check-recovery")
    monkeypatch.setenv("HEALSTACK_TARGET_KIND", "ec2_instance")
    original = fresh(sample_event("cloudwatch-alarm-ec2-status-check.json"), seconds_ago=7200)

    notify(status_change("TIMED_OUT", original), None)

    assert json.loads(topic_queue()[0]["Message"])["resource_id"] == INSTANCE


def test_a_timed_out_execution_is_finished_by_the_finalizer_event(
    table: str,
    topic_queue: Reader,
    monkeypatch: pytest.MonkeyPatch,
    sample_event: Callable[[str], dict[str, Any]],
) -> None:
    monkeypatch.setenv("HEALSTACK_PLAYBOOK", "ec2-status-check-recovery")
    monkeypatch.setenv("HEALSTACK_TARGET_KIND", "ec2_instance")
    lock(EXECUTION_ARN)
    original = sample_event("cloudwatch-alarm-ec2-status-check.json")

    notify(status_change("TIMED_OUT", original), None)

    assert not any(i["pk"].startswith("lock#") for i in items())
    (envelope,) = topic_queue()
    message = json.loads(envelope["Message"])
    assert (message["outcome"], message["resource_id"]) == ("timed_out", INSTANCE)
    assert message["error"]["Error"] == "States.TimedOut"
    (record,) = items()
    assert record["sk"].startswith("1800000000#") and record["outcome"] == "timed_out"


def test_a_finalizer_event_with_an_unparseable_input_still_notifies(
    table: str, topic_queue: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALSTACK_TARGET_KIND", "ec2_instance")
    notify(status_change("ABORTED", {"detail-type": "nonsense"}), None)
    (envelope,) = topic_queue()
    message = json.loads(envelope["Message"])
    assert (message["outcome"], message["resource_id"]) == ("aborted", None)
