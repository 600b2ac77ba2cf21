"""Publish one structured JSON message per workflow outcome to the SNS topic.

Payload::

    {"playbook": str, "execution_id": str, "outcome": str, "resource_id": optional str,
     "attempt": optional int, "dry_run": bool, "error": optional {"Error": str, "Cause": str}}

The topic is ``$HEALSTACK_TOPIC_ARN`` (unset -> ``InvalidInput`` naming it). The message
body is JSON with ``playbook, outcome, resource_id, attempts, dry_run, execution_arn,
execution_url, error`` (``error`` is null when there is none; a Lambda error's JSON
``Cause`` is reduced to its ``errorType``/``errorMessage``). Free text is capped so the
message stays far below SNS's 256 KB limit. Returns ``{"message_id", "outcome"}``.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from . import aws
from .errors import InvalidInput, aws_errors, one_line
from .step import optional_int, require_bool, require_str, run_logged

TOPIC_ENV = "HEALSTACK_TOPIC_ARN"
SUBJECT_MAX = 99  # SNS: "less than 100 characters"
OUTCOME_MAX = 64
TEXT_MAX = 4000
MESSAGE_MAX = 64 * 1024
EXECUTION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):states:(?P<region>[a-z0-9-]+):\d{12}:execution:[^:]+:[^:]+$"
)


def execution_url(execution_arn: str) -> str | None:
    """Console link for a Step Functions execution (None for a non-ARN or non-aws partition)."""
    match = EXECUTION_ARN.match(execution_arn)
    if match is None or match.group("partition") != "aws":
        return None
    region = match.group("region")
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def _cap(text: str, limit: int = TEXT_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 15] + "...[truncated]"


def parse_error(error: Any) -> dict[str, Any] | None:
    """Normalise a Step Functions error object; parse a Lambda error's JSON ``Cause``."""
    if error is None:
        return None
    if not isinstance(error, dict):
        raise InvalidInput(f"payload field 'error' must be an object, got {type(error).__name__}")
    name = error.get("Error")
    cause = error.get("Cause")
    result: dict[str, Any] = {"Error": _cap(str(name), 256) if name is not None else None}
    if isinstance(cause, str):
        parsed: Any = None
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and ("errorType" in parsed or "errorMessage" in parsed):
            result["Cause"] = {
                "errorType": _cap(str(parsed.get("errorType", "")), 256),
                "errorMessage": _cap(str(parsed.get("errorMessage", ""))),
            }
        else:
            result["Cause"] = _cap(cause)
    elif cause is not None:
        result["Cause"] = _cap(json.dumps(cause, default=str))
    else:
        result["Cause"] = None
    return result


def subject_line(playbook: str, outcome: str, resource_id: str | None, attempts: int | None) -> str:
    """``healstack <playbook>: <outcome> <resource> (<n> attempts)``, SNS-safe, <= 99 chars."""
    parts = [f"healstack {playbook}: {outcome}"]
    if resource_id:
        parts.append(resource_id)
    if attempts is not None:
        parts.append(f"({attempts} attempt{'s' if attempts != 1 else ''})")
    text = " ".join(parts)
    text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 3] + "..."


def build_message(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate the payload and build the JSON document that is published."""
    playbook = require_str(payload, "playbook")
    execution_arn = require_str(payload, "execution_id")
    outcome = require_str(payload, "outcome")
    if len(outcome) > OUTCOME_MAX or "\n" in outcome:
        raise InvalidInput(f"payload field 'outcome' must be a short one-line string: {outcome!r}")
    resource_id = payload.get("resource_id")
    if resource_id is not None and not isinstance(resource_id, str):
        raise InvalidInput(
            f"payload field 'resource_id' must be a string, got {type(resource_id).__name__}"
        )
    return {
        "playbook": playbook,
        "outcome": outcome,
        "resource_id": resource_id or None,
        "attempts": optional_int(payload, "attempt", None),
        "dry_run": require_bool(payload, "dry_run"),
        "execution_arn": execution_arn,
        "execution_url": execution_url(execution_arn),
        "error": parse_error(payload.get("error")),
    }


def encode(message: dict[str, Any]) -> str:
    """JSON text of ``message``; if still too large, the error detail is dropped to a note."""
    text = json.dumps(message, default=str, sort_keys=False)
    if len(text.encode()) <= MESSAGE_MAX:
        return text
    smaller = dict(message)
    smaller["error"] = {"Error": (message.get("error") or {}).get("Error"), "Cause": "[too large]"}
    return json.dumps(smaller, default=str)


def _notify(payload: Any, fields: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput(f"payload must be a JSON object, got {type(payload).__name__}")
    message = build_message(payload)
    fields.update(
        execution_id=message["execution_arn"],
        resource_id=message["resource_id"],
        playbook=message["playbook"],
        dry_run=message["dry_run"],
        step=fields.get("step") or "Notify",
    )
    topic_arn = os.environ.get(TOPIC_ENV, "").strip()
    if not topic_arn:
        raise InvalidInput(f"environment variable {TOPIC_ENV} is not set; no topic to notify")
    subject = subject_line(
        message["playbook"], message["outcome"], message["resource_id"], message["attempts"]
    )
    with aws_errors(topic_arn):
        response = aws.client("sns").publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=encode(message),
            MessageAttributes={
                "outcome": {"DataType": "String", "StringValue": message["outcome"]},
                "playbook": {"DataType": "String", "StringValue": message["playbook"]},
            },
        )
    fields["subject"] = one_line(subject)
    return {"message_id": str(response["MessageId"]), "outcome": message["outcome"]}


def notify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: publish the outcome of one workflow execution."""
    return run_logged("notify.notify", event, context, lambda f: _notify(event, f))
