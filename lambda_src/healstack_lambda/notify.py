"""Finish a workflow: release its lock, record its outcome, publish one message.

Runs on every terminal path of the workflow, and (through an EventBridge rule on
"Step Functions Execution Status Change") for executions that timed out or were aborted,
which run no state of their own. Order matters: the lock release and the history record
are idempotent and come first; the message is published last, so a retry after a
transient failure never publishes twice.

Payload::

    {"playbook": str, "execution_id": str, "outcome": str, "resource_id": optional str,
     "attempt": optional int, "dry_run": bool, "reason": optional str,
     "error": optional {"Error": str, "Cause": str}}

``reason`` is a short code (``[a-z_]{1,40}``): for the ``skipped`` outcome, the check's
``skip`` (``not_in_scope``, ``stopped_on_purpose``, ``changing``). The ``refused`` outcome
carries ResolveTarget's ``EventRefused`` in ``error``.

A hub's recovery (see ``events``) also sends ``account`` and ``region``, the event's: its
store keys carry them (``lock#<account>/<region>/<resource_id>``, the same for ``history#``),
and so does the message (two more fields, only then).

The topic is ``$HEALSTACK_TOPIC_ARN`` (unset -> ``InvalidInput`` naming it). The message
body is JSON with ``playbook, outcome, reason, resource_id, attempts, dry_run,
execution_arn, execution_url, error, duplicates, note`` (``error`` is null when there is none; a
Lambda error's JSON ``Cause`` is reduced to its ``errorType``/``errorMessage``). Free text
is capped so the message stays far below SNS's 256 KB limit. Returns
``{"message_id", "outcome"}``.

Duplicate events (``already_recovering``: another execution holds the resource's lock)
cost one message per recovery, not one per event. notify adds 1 to ``duplicates`` on the
lock item (``lock#<resource_id>``/``lock``, only while it exists); the first duplicate
publishes one message saying later ones are counted, every later one publishes nothing
and returns ``{"message_id": None, "outcome": "already_recovering", "suppressed": True}``
(and writes no history record). If the lock is already gone (its holder just finished),
the duplicate is published as before. With a fleet budget (``fleet``), every outcome but
``already_recovering`` gives the execution's slot back first. Every other outcome releases its lock reading the
item it deletes, and its message reports ``duplicates``: the duplicates that were counted
but not sent, i.e. the lock's count less the first one, which had its own message (0 when
none). So every duplicate event is told exactly once: 5 duplicates give one message for
the first and ``duplicates: 4`` in the holder's outcome. The message of an
``already_recovering`` outcome has ``duplicates: null``.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

from botocore.exceptions import ClientError

from . import aws, events, fleet
from .errors import HealstackError, InvalidInput, aws_errors, one_line
from .messages import TOPIC_ENV, execution_url, subject_line
from .step import optional_int, require_bool, require_str, run_logged, target_key

TABLE_ENV = "HEALSTACK_TABLE"
STATUS_CHANGE = "Step Functions Execution Status Change"
NOT_HOLDING_THE_LOCK = "already_recovering"
DEFAULT_HISTORY_DAYS = 90
OUTCOME_MAX = 64
TEXT_MAX = 4000
MESSAGE_MAX = 64 * 1024
REASON = re.compile(r"^[a-z_]{1,40}$")
DUPLICATES_NOTE = (
    "another execution is recovering this resource; this event and later duplicates of it "
    "change nothing. Later duplicates are counted, not sent one by one: their number comes "
    "with that recovery's own outcome message."
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
    reason = payload.get("reason")
    if reason is not None and (not isinstance(reason, str) or not REASON.match(reason)):
        raise InvalidInput("payload field 'reason' must be a short code matching [a-z_]{1,40}")
    where: dict[str, str] = {}
    if payload.get("account") is not None or payload.get("region") is not None:
        where = {
            "account": require_str(payload, "account"),
            "region": require_str(payload, "region"),
        }
    return {
        "playbook": playbook,
        "outcome": outcome,
        "reason": reason,
        "resource_id": resource_id or None,
        "attempts": optional_int(payload, "attempt", None),
        "dry_run": require_bool(payload, "dry_run"),
        "execution_arn": execution_arn,
        "execution_url": execution_url(execution_arn),
        "error": parse_error(payload.get("error")),
        "duplicates": None if outcome == NOT_HOLDING_THE_LOCK else 0,
        "note": None,
        **where,
    }


def encode(message: dict[str, Any]) -> str:
    """JSON text of ``message``; if still too large, the error detail is dropped to a note."""
    text = json.dumps(message, default=str, sort_keys=False)
    if len(text.encode()) <= MESSAGE_MAX:
        return text
    smaller = dict(message)
    smaller["error"] = {"Error": (message.get("error") or {}).get("Error"), "Cause": "[too large]"}
    return json.dumps(smaller, default=str)


def payload_from_status_change(event: dict[str, Any]) -> dict[str, Any]:
    """The notify payload for an execution that ended without a terminal state.

    The resource is found again in the execution's input (the original event) with the
    same parser ResolveTarget uses; if that fails, the message still goes out without it.
    """
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidInput(f"{STATUS_CHANGE!r} event has no 'detail' object")
    execution_arn = require_str(detail, "executionArn", where="event detail")
    status = str(detail.get("status", "ENDED")).lower()
    playbook = os.environ.get("HEALSTACK_PLAYBOOK", "") or "unknown"
    payload: dict[str, Any] = {
        "playbook": playbook,
        "execution_id": execution_arn,
        "outcome": status,
        "dry_run": False,
        "error": {
            "Error": f"States.{status.title().replace('_', '')}",
            "Cause": f"execution {status}",
        },
    }
    start = detail.get("startDate")
    if isinstance(start, int) and not isinstance(start, bool):
        payload["started_at"] = start // 1000
    try:
        original = json.loads(detail.get("input") or "null")
        resolved = events.resolve(
            {
                "event": original,
                "target_kind": os.environ.get("HEALSTACK_TARGET_KIND", ""),
                "id_path": os.environ.get("HEALSTACK_ID_PATH") or None,
                "execution_id": execution_arn,
                "playbook": playbook,
            },
            {},
            check_age=False,  # the event is as old as the execution that timed out
        )
        payload["resource_id"] = resolved["resource_id"]
        if "account" in resolved:  # a hub's: the member the recovery acted in
            payload["account"], payload["region"] = resolved["account"], resolved["region"]
    except (HealstackError, ValueError):
        pass  # the message matters more than the resource id
    return payload


def _target_key(prefix: str, message: dict[str, Any]) -> str:
    return target_key(prefix, message["resource_id"], message.get("account"), message.get("region"))


def _lock_key(message: dict[str, Any]) -> dict[str, Any]:
    return {"pk": {"S": _target_key("lock#", message)}, "sk": {"S": "lock"}}


def _condition_failed(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _release_lock(table: str, message: dict[str, Any], execution_arn: str) -> tuple[bool, int]:
    """Delete the resource's lock if this execution holds it: ``(released, duplicates)``,
    the second being the duplicate events counted on the lock while it was held and not
    told by a message of their own (all but the first)."""
    try:
        with aws_errors(table):
            response = aws.client("dynamodb").delete_item(
                TableName=table,
                Key=_lock_key(message),
                ConditionExpression="execution = :me",
                ExpressionAttributeValues={":me": {"S": execution_arn}},
                ReturnValues="ALL_OLD",
            )
    except ClientError as err:
        if _condition_failed(err):
            return False, 0  # another execution holds it, or it already expired
        raise
    counted = _number(response.get("Attributes", {}).get("duplicates"))
    return True, max(counted - 1, 0)  # the first duplicate had a message of its own


def _count_duplicate(
    table: str, message: dict[str, Any], execution_arn: str
) -> tuple[int, bool] | None:
    """Add 1 to ``duplicates`` on the resource's lock and note the first duplicate's
    execution: ``(count, this execution is the first)``, or None when the lock is gone (its
    holder finished meanwhile). Keyed on the execution, not on the count, so a retried first
    duplicate (its publish failed) still publishes its summary; a retry only over-counts."""
    try:
        with aws_errors(table):
            response = aws.client("dynamodb").update_item(
                TableName=table,
                Key=_lock_key(message),
                UpdateExpression=(
                    "ADD duplicates :one SET first_duplicate = if_not_exists(first_duplicate, :me)"
                ),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":one": {"N": "1"}, ":me": {"S": execution_arn}},
                ReturnValues="ALL_NEW",
            )
    except ClientError as err:
        if _condition_failed(err):
            return None
        raise
    attributes = response.get("Attributes", {})
    first = attributes.get("first_duplicate", {}).get("S") == execution_arn
    return _number(attributes.get("duplicates")), first


def _number(attribute: Any) -> int:
    try:
        return int(attribute["N"]) if isinstance(attribute, dict) else 0
    except (KeyError, ValueError):
        return 0


def _record_outcome(table: str, message: dict[str, Any], started_at: int) -> None:
    days = int(os.environ.get("HEALSTACK_HISTORY_DAYS") or DEFAULT_HISTORY_DAYS)
    execution_name = message["execution_arn"].rsplit(":", 1)[-1]
    error = message.get("error") or {}
    item = {
        "pk": {"S": _target_key("history#", message)},
        "sk": {"S": f"{started_at}#{execution_name}#outcome"},
        "kind": {"S": "outcome"},
        "outcome": {"S": message["outcome"]},
        "attempts": {"S": str(message["attempts"] or 0)},
        "dry_run": {"S": "true" if message["dry_run"] else "false"},
        "execution": {"S": message["execution_arn"]},
        "playbook": {"S": message["playbook"]},
        "expires_at": {"N": str(started_at + days * 86400)},
    }
    if message.get("reason"):
        item["reason"] = {"S": str(message["reason"])}
    if message.get("account"):
        item["account"] = {"S": str(message["account"])}
        item["region"] = {"S": str(message["region"])}
    if message.get("duplicates"):
        item["duplicates"] = {"N": str(message["duplicates"])}
    if error.get("Error"):
        item["error"] = {"S": str(error["Error"])}
    with aws_errors(table):
        aws.client("dynamodb").put_item(TableName=table, Item=item)


def _notify(payload: Any, fields: dict[str, Any]) -> dict[str, Any]:
    if isinstance(payload, dict) and payload.get("detail-type") == STATUS_CHANGE:
        payload = payload_from_status_change(payload)
    if not isinstance(payload, dict):
        raise InvalidInput(f"payload must be a JSON object, got {type(payload).__name__}")
    message = build_message(payload)
    fields.update(
        execution_id=message["execution_arn"],
        resource_id=message["resource_id"],
        playbook=message["playbook"],
        dry_run=message["dry_run"],
        step=fields.get("step") or "Notify",
        # the dashboard's "attempts per recovery" is a metric filter on these two
        outcome=message["outcome"],
        attempts=message["attempts"],
    )
    if message.get("account"):  # a hub's: the dashboards and log queries see the member
        fields.update(account=message["account"], region=message["region"])
    topic_arn = os.environ.get(TOPIC_ENV, "").strip()
    if not topic_arn:
        raise InvalidInput(f"environment variable {TOPIC_ENV} is not set; no topic to notify")
    table = os.environ.get(TABLE_ENV, "").strip()
    resource_id = message["resource_id"]
    if table and fleet.enabled() and message["outcome"] != NOT_HOLDING_THE_LOCK:
        # the recovery ends: its place in the fleet budget too (none taken: nothing to do)
        fleet.release(table, message["playbook"], message["execution_arn"])
    if table and resource_id:
        if message["outcome"] != NOT_HOLDING_THE_LOCK:
            released, duplicates = _release_lock(table, message, message["execution_arn"])
            fields["lock_released"] = released
            message["duplicates"] = duplicates
        else:
            counted = _count_duplicate(table, message, message["execution_arn"])
            fields["duplicate_number"] = counted[0] if counted else None
            if counted is not None and not counted[1]:
                fields["suppressed"] = True
                return {"message_id": None, "outcome": message["outcome"], "suppressed": True}
            if counted is not None:
                message["note"] = DUPLICATES_NOTE
        started = optional_int(payload, "started_at", None) or int(time.time())
        _record_outcome(table, message, started)
    subject = subject_line(
        message["playbook"],
        message["outcome"],
        message["resource_id"],
        message["attempts"],
        reason=message["reason"],
    )
    attributes = {
        "outcome": {"DataType": "String", "StringValue": message["outcome"]},
        "playbook": {"DataType": "String", "StringValue": message["playbook"]},
    }
    for where in ("account", "region"):  # a hub's: subscribers may filter on the member
        if message.get(where):
            attributes[where] = {"DataType": "String", "StringValue": message[where]}
    with aws_errors(topic_arn):
        response = aws.client("sns").publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=encode(message),
            MessageAttributes=attributes,
        )
    fields["subject"] = one_line(subject)
    return {"message_id": str(response["MessageId"]), "outcome": message["outcome"]}


def notify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: publish the outcome of one workflow execution."""
    return run_logged("notify.notify", event, context, lambda f: _notify(event, f))
