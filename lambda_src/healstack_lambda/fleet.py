"""A playbook's fleet-wide budget (the entry point is ``fleet_budget``; notify gives slots back): at most N recoveries acting at once, at most M started per
clock hour, across every resource (and, in a hub, every member account and region).

Payload (sent by the state machine before an action, after the per-resource anti-flap count)::

    {"playbook": str, "execution_id": str, "now": int}

Configuration (the function's environment): ``HEALSTACK_FLEET_MAX_IN_FLIGHT``,
``HEALSTACK_FLEET_MAX_PER_HOUR``, ``HEALSTACK_FLEET_SLOT_SECONDS`` (how long a slot is held
at most: the workflow's timeout and a margin), ``HEALSTACK_TABLE``.

The store holds two kinds of item under ``fleet#<playbook>``:

- ``in-flight``: a map ``holders`` of execution name -> the time its slot expires. A slot is
  taken with one conditional update (``size(holders) < N``, or this execution already holds
  one: taking it again is a no-op, so every action of a recovery counts once); notify gives
  it back when the recovery ends (``release``). A slot whose holder never gave it back (its
  notify failed for good) is not lost: when the map is full, expired holders are removed
  (each with a condition on its own expiry, so a renewed slot is never removed) and the
  update is tried once more;
- ``hour-<epoch hour>``: a string set ``started`` of the executions that started acting in
  that hour (``size(started) < M``, or this execution is in it), expiring after two hours.

Full (either budget): ``StateNotReached`` (code ``fleet_in_flight`` or ``fleet_per_hour``),
which the workflow polls a few times and then escalates as ``fleet_limit_reached``; a slot
taken before the hour's budget refused is given back first. Returns ``{"in_flight",
"started_this_hour"}``: the counts after this execution's.
"""

from __future__ import annotations

import os
import time
from typing import Any

from botocore.exceptions import ClientError

from . import aws
from .errors import InvalidInput, StateNotReached, aws_errors
from .step import optional_int, require_str

TABLE_ENV = "HEALSTACK_TABLE"
MAX_IN_FLIGHT_ENV = "HEALSTACK_FLEET_MAX_IN_FLIGHT"
MAX_PER_HOUR_ENV = "HEALSTACK_FLEET_MAX_PER_HOUR"
SLOT_SECONDS_ENV = "HEALSTACK_FLEET_SLOT_SECONDS"
IN_FLIGHT = "in-flight"
HOUR = 3600
#: an hour's item outlives its hour by this much (then the store's expiry removes it)
HOUR_KEPT_SECONDS = 2 * HOUR


def enabled() -> bool:
    """Does this function's recovery have a fleet budget? (notify releases slots only then)"""
    return bool(os.environ.get(MAX_IN_FLIGHT_ENV, "").strip())


def _setting(name: str) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(f"environment variable {name} must be a positive integer")
    return int(raw)


def _key(playbook: str, sort: str) -> dict[str, Any]:
    return {"pk": {"S": f"fleet#{playbook}"}, "sk": {"S": sort}}


def _failed_condition(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def execution_name(execution_arn: str) -> str:
    return execution_arn.rsplit(":", 1)[-1]


def _take_slot(table: str, playbook: str, me: str, limit: int, expires: int) -> int | None:
    """This execution's slot (kept if it holds one): the holders after it, None when full."""
    dynamodb = aws.client("dynamodb")
    try:
        with aws_errors(table):  # the map must exist before a path in it can be set
            dynamodb.put_item(
                TableName=table,
                Item={**_key(playbook, IN_FLIGHT), "holders": {"M": {}}},
                ConditionExpression="attribute_not_exists(pk)",
            )
    except ClientError as err:
        if not _failed_condition(err):
            raise
    try:
        with aws_errors(table):
            response = dynamodb.update_item(
                TableName=table,
                Key=_key(playbook, IN_FLIGHT),
                UpdateExpression="SET holders.#me = :expires",
                ConditionExpression="attribute_exists(holders.#me) OR size(holders) < :limit",
                ExpressionAttributeNames={"#me": me},
                ExpressionAttributeValues={
                    ":expires": {"N": str(expires)},
                    ":limit": {"N": str(limit)},
                },
                ReturnValues="ALL_NEW",
            )
    except ClientError as err:
        if _failed_condition(err):
            return None
        raise
    return len(response["Attributes"].get("holders", {}).get("M", {}))


def _remove_expired(table: str, playbook: str, now: int) -> int:
    """Remove the holders whose slot expired (their recovery ended without giving it back);
    each removal is conditional on the expiry read, so a live slot is never taken away."""
    dynamodb = aws.client("dynamodb")
    with aws_errors(table):
        item = dynamodb.get_item(
            TableName=table, Key=_key(playbook, IN_FLIGHT), ConsistentRead=True
        ).get("Item", {})
    removed = 0
    for holder, expiry in sorted(item.get("holders", {}).get("M", {}).items()):
        if int(expiry.get("N", "0")) >= now:
            continue
        try:
            with aws_errors(table):
                dynamodb.update_item(
                    TableName=table,
                    Key=_key(playbook, IN_FLIGHT),
                    UpdateExpression="REMOVE holders.#gone",
                    ConditionExpression="holders.#gone = :expiry",
                    ExpressionAttributeNames={"#gone": holder},
                    ExpressionAttributeValues={":expiry": expiry},
                )
            removed += 1
        except ClientError as err:
            if not _failed_condition(err):
                raise
    return removed


def release(table: str, playbook: str, execution_arn: str) -> None:
    """Give this execution's slot back (nothing when it holds none): notify, at the end."""
    try:
        with aws_errors(table):
            aws.client("dynamodb").update_item(
                TableName=table,
                Key=_key(playbook, IN_FLIGHT),
                UpdateExpression="REMOVE holders.#me",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#me": execution_name(execution_arn)},
            )
    except ClientError as err:
        if not _failed_condition(err):  # no item: no recovery ever took a slot
            raise


def _count_hour(table: str, playbook: str, me: str, now: int, limit: int) -> int | None:
    hour = now // HOUR
    try:
        with aws_errors(table):
            response = aws.client("dynamodb").update_item(
                TableName=table,
                Key=_key(playbook, f"hour-{hour}"),
                UpdateExpression="ADD started :me SET expires_at = :expires",
                ConditionExpression=(
                    "attribute_not_exists(started) OR contains(started, :one) "
                    "OR size(started) < :limit"
                ),
                ExpressionAttributeValues={
                    ":me": {"SS": [me]},
                    ":one": {"S": me},
                    ":limit": {"N": str(limit)},
                    ":expires": {"N": str((hour + 1) * HOUR + HOUR_KEPT_SECONDS)},
                },
                ReturnValues="ALL_NEW",
            )
    except ClientError as err:
        if _failed_condition(err):
            return None
        raise
    return len(response["Attributes"].get("started", {}).get("SS", []))


def take(payload: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """Take this execution's place in both budgets, or raise ``StateNotReached``."""
    if not isinstance(payload, dict):
        raise InvalidInput(f"payload must be a JSON object, got {type(payload).__name__}")
    playbook = require_str(payload, "playbook")
    execution_arn = require_str(payload, "execution_id")
    fields.update(playbook=playbook, execution_id=execution_arn, step=fields.get("step") or "Fleet")
    now = optional_int(payload, "now", None) or int(time.time())
    table = os.environ.get(TABLE_ENV, "").strip()
    if not table:
        raise InvalidInput(f"environment variable {TABLE_ENV} is not set; no store")
    in_flight, per_hour = _setting(MAX_IN_FLIGHT_ENV), _setting(MAX_PER_HOUR_ENV)
    expires = now + _setting(SLOT_SECONDS_ENV)
    me = execution_name(execution_arn)
    holders = _take_slot(table, playbook, me, in_flight, expires)
    if holders is None and _remove_expired(table, playbook, now):
        holders = _take_slot(table, playbook, me, in_flight, expires)
    if holders is None:
        raise StateNotReached(
            f"fleet budget: {in_flight} recoveries of {playbook} are acting; waiting for one "
            "to end (code: fleet_in_flight)"
        )
    started = _count_hour(table, playbook, me, now, per_hour)
    if started is None:
        release(table, playbook, execution_arn)  # never hold a slot while waiting
        raise StateNotReached(
            f"fleet budget: {per_hour} recoveries of {playbook} started acting this hour "
            "(code: fleet_per_hour)"
        )
    fields.update(in_flight=holders, started_this_hour=started)
    return {"in_flight": holders, "started_this_hour": started}
