"""notify publishes one structured message, read back through an SQS subscription."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from healstack_lambda.errors import InvalidInput
from healstack_lambda.notify import notify

EXECUTION_ARN = (
    "arn:aws:states:us-east-1:123456789012:execution:healstack-ec2-recovery:"
    "ec2-status-check-recovery-8f3a"
)


def notify_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "playbook": "ec2-status-check-recovery",
        "execution_id": EXECUTION_ARN,
        "outcome": "gave_up",
        "resource_id": "i-0a1b2c3d4e5f67890",
        "attempt": 3,
        "dry_run": False,
    }
    body.update(overrides)
    return body


def test_notify_publishes_one_structured_message_with_subject_and_attributes(
    topic_queue: Callable[[], list[dict[str, Any]]],
) -> None:
    result = notify(notify_payload(), None)

    envelopes = topic_queue()
    assert len(envelopes) == 1
    envelope = envelopes[0]
    assert result == {"message_id": envelope["MessageId"], "outcome": "gave_up"}
    assert envelope["Subject"] == (
        "healstack ec2-status-check-recovery: gave_up i-0a1b2c3d4e5f67890 (3 attempts)"
    )
    assert envelope["MessageAttributes"]["outcome"] == {"Type": "String", "Value": "gave_up"}
    assert envelope["MessageAttributes"]["playbook"] == {
        "Type": "String",
        "Value": "ec2-status-check-recovery",
    }
    assert json.loads(envelope["Message"]) == {
        "playbook": "ec2-status-check-recovery",
        "outcome": "gave_up",
        "resource_id": "i-0a1b2c3d4e5f67890",
        "attempts": 3,
        "dry_run": False,
        "execution_arn": EXECUTION_ARN,
        "execution_url": (
            "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
            f"#/v2/executions/details/{EXECUTION_ARN}"
        ),
        "error": None,
        "duplicates": 0,
        "note": None,
        "reason": None,
    }


def test_lambda_error_cause_is_reduced_to_error_type_and_message(
    topic_queue: Callable[[], list[dict[str, Any]]],
) -> None:
    cause = json.dumps(
        {
            "errorMessage": "DescribeInstances on i-0a1b2c3d4e5f67890 failed: AccessDenied",
            "errorType": "NotPermitted",
            "requestId": "5f0c1e2a-0b7d-4c2e-9a51-3e8f6d2c1b0a",
            "stackTrace": ['  File "/var/task/healstack_lambda/ec2.py", line 42\n'] * 50,
        }
    )

    notify(notify_payload(outcome="failed", error={"Error": "NotPermitted", "Cause": cause}), None)

    message = json.loads(topic_queue()[0]["Message"])
    assert message["error"] == {
        "Error": "NotPermitted",
        "Cause": {
            "errorType": "NotPermitted",
            "errorMessage": "DescribeInstances on i-0a1b2c3d4e5f67890 failed: AccessDenied",
        },
    }


def test_plain_text_cause_is_kept_as_text(topic_queue: Callable[[], list[dict[str, Any]]]) -> None:
    error = {"Error": "States.Timeout", "Cause": "Task timed out after 10.00 seconds"}

    notify(notify_payload(outcome="failed", error=error), None)

    assert json.loads(topic_queue()[0]["Message"])["error"] == error


def test_huge_cause_and_long_names_stay_within_sns_limits(
    topic_queue: Callable[[], list[dict[str, Any]]],
) -> None:
    error = {"Error": "States.TaskFailed", "Cause": "x" * 500_000}
    playbook = "a-very-long-playbook-name-" * 6

    notify(notify_payload(playbook=playbook, error=error), None)

    envelope = topic_queue()[0]
    assert len(envelope["Subject"]) <= 100
    assert len(envelope["Message"].encode()) < 256 * 1024 // 4
    assert json.loads(envelope["Message"])["error"]["Cause"].endswith("[truncated]")


def test_subject_without_resource_or_attempt_is_still_readable(
    topic_queue: Callable[[], list[dict[str, Any]]],
) -> None:
    notify(notify_payload(outcome="dry_run", resource_id=None, attempt=None, dry_run=True), None)

    envelope = topic_queue()[0]
    assert envelope["Subject"] == "healstack ec2-status-check-recovery: dry_run"
    assert json.loads(envelope["Message"])["dry_run"] is True


def test_execution_url_uses_the_region_of_the_execution_arn(
    topic_queue: Callable[[], list[dict[str, Any]]],
) -> None:
    arn = EXECUTION_ARN.replace("us-east-1", "eu-central-1")

    notify(notify_payload(execution_id=arn, attempt=1), None)

    envelope = topic_queue()[0]
    assert json.loads(envelope["Message"])["execution_url"].startswith(
        "https://eu-central-1.console.aws.amazon.com/states/home?region=eu-central-1#"
    )
    assert envelope["Subject"].endswith("(1 attempt)")


def test_missing_topic_environment_variable_is_invalid_input_naming_it() -> None:
    with pytest.raises(InvalidInput, match="HEALSTACK_TOPIC_ARN"):
        notify(notify_payload(), None)


@pytest.mark.parametrize(
    ("field", "value"),
    [("dry_run", "no"), ("attempt", "3"), ("outcome", ""), ("error", "boom"), ("playbook", None)],
)
def test_wrong_payload_types_are_invalid_input_naming_the_field(
    topic_queue: Callable[[], list[dict[str, Any]]], field: str, value: Any
) -> None:
    with pytest.raises(InvalidInput, match=field):
        notify(notify_payload(**{field: value}), None)
    assert topic_queue() == []


# --- the skipped and refused outcomes -------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("stopped_on_purpose", "stopped on purpose"),
        ("not_in_scope", "not in scope"),
        ("changing", "changing"),
    ],
)
def test_skipped_outcome_tells_why_in_subject_and_message(
    topic_queue: Callable[[], list[dict[str, Any]]], reason: str, words: str
) -> None:
    result = notify(notify_payload(outcome="skipped", reason=reason, attempt=1), None)

    envelope = topic_queue()[0]
    assert result["outcome"] == "skipped"
    assert envelope["Subject"] == (
        f"healstack ec2-status-check-recovery: skipped i-0a1b2c3d4e5f67890: {words} (1 attempt)"
    )
    message = json.loads(envelope["Message"])
    assert (message["outcome"], message["reason"]) == ("skipped", reason)


@pytest.mark.parametrize("reason", ["", "Stopped", "x" * 41, "a b", "a\nb", 3])
def test_a_reason_that_is_not_a_short_code_is_invalid_input(
    topic_queue: Callable[[], list[dict[str, Any]]], reason: Any
) -> None:
    with pytest.raises(InvalidInput, match="reason"):
        notify(notify_payload(outcome="skipped", reason=reason), None)
    assert topic_queue() == []


def test_refused_outcome_carries_the_event_refused_error_without_a_resource(
    topic_queue: Callable[[], list[dict[str, Any]]],
) -> None:
    cause = json.dumps(
        {
            "errorType": "EventRefused",
            "errorMessage": "event is 3720 s old; the limit is 600 s (code: stale_event)",
        }
    )

    notify(
        notify_payload(
            outcome="refused",
            resource_id=None,
            attempt=None,
            error={"Error": "EventRefused", "Cause": cause},
        ),
        None,
    )

    envelope = topic_queue()[0]
    assert envelope["Subject"] == "healstack ec2-status-check-recovery: refused"
    assert json.loads(envelope["Message"])["error"] == {
        "Error": "EventRefused",
        "Cause": {
            "errorType": "EventRefused",
            "errorMessage": "event is 3720 s old; the limit is 600 s (code: stale_event)",
        },
    }
