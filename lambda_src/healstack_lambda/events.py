"""Resolve the target resource id from a raw EventBridge event.

Payload::

    {"event": <raw EventBridge event>, "target_kind": a registered kind (healstack_lambda.kinds),
     "id_path": optional str, "execution_id": str, "playbook": str,
     "window_seconds": optional positive int, "max_event_age_seconds": optional positive int}

Returns ``{"resource_id", "target_kind", "region", "event_type", "now", "window"}``
(``event_type`` is the event's detail-type; ``region`` is the function's own region, the
only one an accepted event can name).

Refused events (``EventRefused``, checked before the id is looked for, and for an id that
is an ARN once it is found). The message is a short text plus ``(code: ...)``:

- ``foreign_account``: the event's ``account`` is missing or not the function's own
  (``sts:GetCallerIdentity``, asked once per process), or the id is an ARN (ECS service
  ARN; EC2/RDS ARN before it is reduced to the id) of another account;
- ``foreign_region``: the event's ``region`` is missing or not the function's own
  (``AWS_REGION``), or the id is an ARN of another region;
- ``no_event_time``: ``time`` is missing or not an RFC 3339 time with an offset;
- ``stale_event``: the event is older than ``max_event_age_seconds`` (default 600);
- ``future_event``: the event's time is more than 300 s ahead of our clock.

A hub (``$HEALSTACK_MEMBER_ACCOUNTS``, and ``$HEALSTACK_MEMBER_REGIONS``, comma-separated,
set by the hub's deployment) takes events of its member accounts and regions instead of its
own: ``foreign_account`` / ``foreign_region`` then mean "not a listed member account /
region" (an ARN id must name the event's own account and region), and the result also
carries the event's ``account`` and its ``region`` (where the steps act).

``resolve(..., check_age=False)`` skips the three time checks (notify re-resolves the
original event of an execution that timed out, long after it arrived).

With ``id_path`` (see ``healstack_lambda.jsonpath``) the id is read from there and any
source/detail-type is accepted. Without it the id is found in the event shapes the kind's
unit declares (``healstack_lambda.kinds.<kind>``; the extractors are in
``healstack_lambda.shapes``): e.g. a CloudWatch Alarm State Change's metric dimensions
(several different ids -> refused), an EC2 state change's ``detail.instance-id``, an AWS
Health event's ``detail.affectedEntities[0].entityValue``, an ECS event's ``resources[0]``,
an RDS event's ARN in ``resources[0]`` before its ``detail.SourceIdentifier``.

Every flaw in the event raises ``MalformedEvent`` naming the field and the detail-type; a
flaw in the payload around it raises ``InvalidInput``. The id must fit the kind. Messages
never echo event values that failed validation: such a value is described by its type,
length and a short sha256 (``errors.describe_value``); a detail-type or source is named
only when it is one this module knows, else described the same way.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Any

from . import aws, ids, jsonpath, kinds, shapes
from .errors import EventRefused, InvalidInput, MalformedEvent, aws_errors, describe_value
from .step import optional_int, require_str, run_logged

DEFAULT_MAX_EVENT_AGE = 600
MAX_CLOCK_SKEW = 300
TIME_TEXT_MAX = 64
KNOWN_DETAIL_TYPES = frozenset(detail_type for _, detail_type in shapes.KNOWN)
KNOWN_SOURCES = frozenset(source for source, _ in shapes.KNOWN)
MEMBER_ACCOUNTS_ENV = "HEALSTACK_MEMBER_ACCOUNTS"
MEMBER_REGIONS_ENV = "HEALSTACK_MEMBER_REGIONS"


def members() -> tuple[frozenset[str], frozenset[str]] | None:
    """A hub's member accounts and regions (from its environment); None in a single account."""
    accounts = os.environ.get(MEMBER_ACCOUNTS_ENV, "").strip()
    if not accounts:
        return None
    regions = os.environ.get(MEMBER_REGIONS_ENV, "").strip()
    if not regions:
        raise InvalidInput(f"{MEMBER_ACCOUNTS_ENV} is set without {MEMBER_REGIONS_ENV}")
    return (
        frozenset(a.strip() for a in accounts.split(",") if a.strip()),
        frozenset(r.strip() for r in regions.split(",") if r.strip()),
    )


def _refuse_non_member(
    event: dict[str, Any], accounts: frozenset[str], regions: frozenset[str]
) -> tuple[str, str]:
    """``EventRefused`` unless the event names a member account and region: those two."""
    account = event.get("account")
    if not _non_empty_str(account):
        raise _refuse("event has no account", "foreign_account")
    if account not in accounts:
        raise _refuse("event account is not one of the hub's member accounts", "foreign_account")
    region = event.get("region")
    if not _non_empty_str(region):
        raise _refuse("event has no region", "foreign_region")
    if region not in regions:
        raise _refuse("event region is not one of the hub's member regions", "foreign_region")
    return str(account), str(region)


def fits(kind: str) -> tuple[shapes.Shape, ...]:
    """The event shapes that name ``kind`` (its unit's), for ResolveTarget without id_path."""
    return tuple(kinds.get(kind).shapes)


def _name(value: str) -> str:
    """A detail-type for a message: quoted when known, else described (never echoed)."""
    return repr(value) if value in KNOWN_DETAIL_TYPES else f"detail-type {describe_value(value)}"


def _source_name(value: str) -> str:
    return repr(value) if value in KNOWN_SOURCES else describe_value(value)


_non_empty_str = shapes.non_empty_str


def _auto_detect(event: dict[str, Any], kind: str, detail_type: str) -> tuple[str, str]:
    source = event.get("source")
    if not _non_empty_str(source):
        raise MalformedEvent(f"{detail_type} event has no 'source'")
    shape = (str(source), str(event["detail-type"]))
    extractors = kinds.get(kind).shapes
    if shape not in extractors:
        expected = "; ".join(f"{s} / {d}" for s, d in extractors)
        raise MalformedEvent(
            f"event source {_source_name(str(source))} with {detail_type} does not fit target "
            f"kind {kind!r} (expected one of: {expected}; or set id_path)"
        )
    return extractors[shape](event, detail_type)


def _from_path(event: dict[str, Any], id_path: str, detail_type: str) -> tuple[str, str]:
    try:
        steps = jsonpath.parse(id_path)
    except jsonpath.PathSyntaxError as err:
        raise InvalidInput(str(err)) from err
    value, failed_at = jsonpath.lookup(event, steps)
    if jsonpath.is_missing(value):
        raise MalformedEvent(f"{detail_type} event has nothing at {failed_at} (id_path {id_path})")
    if not _non_empty_str(value):
        raise MalformedEvent(
            f"{detail_type} event value at id_path {id_path} {describe_value(value)} is not a "
            "non-empty string"
        )
    return str(value), id_path


def _refuse(message: str, code: str) -> EventRefused:
    return EventRefused(f"{message} (code: {code})")


def _refuse_foreign(event: dict[str, Any], own_account: str, own_region: str) -> None:
    """``EventRefused`` unless the event names our own account and region."""
    account = event.get("account")
    if not _non_empty_str(account):
        raise _refuse("event has no account", "foreign_account")
    if account != own_account:
        raise _refuse("event account does not match this account", "foreign_account")
    region = event.get("region")
    if not _non_empty_str(region):
        raise _refuse("event has no region", "foreign_region")
    if region != own_region:
        raise _refuse("event region does not match this function's region", "foreign_region")


def event_time(value: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 ``time`` with an offset; None if unusable."""
    if not isinstance(value, str) or not 0 < len(value) <= TIME_TEXT_MAX:
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None or "T" not in text.upper():
            return None
        return moment.timestamp()
    except (ValueError, OverflowError):
        return None


def _refuse_stale(event: dict[str, Any], max_age: int, now: float) -> None:
    """``EventRefused`` for an event without a usable time, too old, or from the future."""
    moment = event_time(event.get("time"))
    if moment is None:
        raise _refuse("event has no valid RFC 3339 time", "no_event_time")
    age = now - moment
    if age > max_age:
        raise _refuse(f"event is {int(age)} s old; the limit is {max_age} s", "stale_event")
    if -age > MAX_CLOCK_SKEW:
        raise _refuse(
            f"event time is {int(-age)} s ahead of this clock; at most {MAX_CLOCK_SKEW} s is "
            "accepted",
            "future_event",
        )


def _refuse_foreign_arn(raw_id: str, where: str, own_account: str, own_region: str) -> None:
    """``EventRefused`` when the id is an ARN of another account or region."""
    parts = ids.arn_account_and_region(raw_id)
    if parts is None:
        return
    account, region = parts
    if account != own_account:
        raise _refuse(f"the ARN at {where} belongs to another account", "foreign_account")
    if region != own_region:
        raise _refuse(f"the ARN at {where} belongs to another region", "foreign_region")


def _own_account() -> str:
    with aws_errors("sts:GetCallerIdentity"):
        return aws.own_account()


def resolve(
    payload: Any, fields: dict[str, Any], *, check_age: bool = True, check_origin: bool = True
) -> dict[str, Any]:
    """Validate the payload and return the resolved target (see module docstring).

    ``check_age=False`` leaves out the event-time checks (for notify's re-resolution of an
    execution's original event, which may be hours old by then). ``check_origin=False``
    leaves out the account and region checks: only for finding the id an event names
    outside any function (the simulator seeds that resource; the workflow's own
    ResolveTarget still checks everything).
    """
    if not isinstance(payload, dict):
        raise InvalidInput(f"payload must be a JSON object, got {type(payload).__name__}")
    event = payload.get("event")
    if not isinstance(event, dict):
        raise InvalidInput("payload field 'event' must be the raw EventBridge event object")
    kind = require_str(payload, "target_kind")
    kinds.get(kind)  # InvalidInput for a kind no unit defines
    id_path = payload.get("id_path")
    if id_path is not None and not _non_empty_str(id_path):
        raise InvalidInput("payload field 'id_path' must be a non-empty string when given")
    fields["execution_id"] = require_str(payload, "execution_id")
    fields["playbook"] = require_str(payload, "playbook")
    fields["step"] = fields.get("step") or "ResolveTarget"
    window_seconds = optional_int(payload, "window_seconds", None)
    max_age = optional_int(payload, "max_event_age_seconds", DEFAULT_MAX_EVENT_AGE)
    own_region = aws.default_region()
    if not own_region:
        raise InvalidInput("no region configured (AWS_REGION); cannot tell our own events")
    now = time.time()

    # whose event is it, and is it still news? Decided before anything in it is parsed
    hub = members()
    where_from: dict[str, str] = {}
    if hub is not None:
        if check_origin:
            own_account, own_region = _refuse_non_member(event, *hub)
        else:
            own_account, own_region = str(event.get("account")), str(event.get("region"))
        where_from = {"account": own_account, "region": own_region}
    else:
        own_account = _own_account() if check_origin else ""
    if check_origin and hub is None:
        _refuse_foreign(event, own_account, own_region)
    if check_age:
        _refuse_stale(event, max_age or DEFAULT_MAX_EVENT_AGE, now)

    raw_detail_type = event.get("detail-type")
    if not _non_empty_str(raw_detail_type):
        raise MalformedEvent("event has no 'detail-type' field")
    detail_type = _name(str(raw_detail_type))
    if not isinstance(event.get("detail"), dict):
        raise MalformedEvent(f"{detail_type} event has no 'detail' object")

    if id_path is not None:
        raw_id, where = _from_path(event, str(id_path), detail_type)
    else:
        raw_id, where = _auto_detect(event, kind, detail_type)
    raw_id = raw_id.strip()
    if check_origin:
        _refuse_foreign_arn(raw_id, where, own_account, own_region)
    resource_id = ids.normalize(kind, raw_id)
    if not ids.is_valid(kind, resource_id):
        raise MalformedEvent(
            f"value at {where} {describe_value(raw_id)} in {detail_type} event is not "
            f"{ids.expected(kind)}"
        )
    fields["resource_id"] = resource_id
    clock = int(now)
    return {
        "resource_id": resource_id,
        "target_kind": kind,
        "region": own_region,
        "event_type": str(raw_detail_type),
        # the workflow's clock: lock expiry, anti-flap window, history order
        "now": clock,
        "window": clock // window_seconds if window_seconds else 0,
        **where_from,
    }


def resolve_target(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: resolve the target of a raw EventBridge event."""
    return run_logged("events.resolve_target", event, context, lambda f: resolve(event, f))
