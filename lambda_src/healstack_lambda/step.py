"""The step payload contract shared by every check and action handler, and the run wrapper.

Payload (sent by the state machine)::

    {"playbook": str, "execution_id": str, "state": str, "resource_id": str,
     "attempt": int, "dry_run": bool, "params": {}}

``resource_id``, ``playbook``, ``execution_id`` and ``dry_run`` are required (a missing
``dry_run`` is refused rather than guessed as false). ``state`` defaults to ``""``,
``attempt`` to 1 and ``params`` to ``{}``; each handler names the params it accepts and
refuses any other key. Unknown top-level keys are ignored.

A hub's step (``$HEALSTACK_MEMBER_ROLE`` set: see ``aws.member_role``) also needs
``account`` and ``region``, the event's (ResolveTarget checked them against the members):
every cloud call of the step then acts there through the member's execution role. Without
them such a step is refused (``InvalidInput``), never run in the hub's own account.

Every check accepts ``params.expect_state`` (a ``wait_until`` poll): when the check's
``state`` differs it raises ``StateNotReached`` (the workflow's poll retries on it), else it
returns the check result as usual. In a dry run it never raises: the action it waits for
was only reported, so the poll would never succeed.

Check result: ``{"healthy", "state", "detail", "skip"}``. ``skip`` is always present:
``None`` (the resource is a recovery case), or why it is not one (``SKIP_CODES``):

- ``not_in_scope``: ``HEALSTACK_REQUIRE_TAG`` (``key=value``; unset or empty: no tag is
  required) names a tag the resource does not carry with exactly that value;
- ``stopped_on_purpose``: someone stopped or scaled it down (see each kind's module);
- ``changing``: someone else is changing it right now (see each kind's module);
- ``at_minimum_capacity``: acting would take its group below the group's minimum healthy
  capacity (see each kind's module).

``healthy`` is always False when ``skip`` is set. A ``wait_until`` poll compares ``state``
as before and only reports ``skip``. Mutating actions check the same tag on the resource
they re-read and raise ``NotInScope`` before any call that changes it, in dry runs too.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import aws, ids
from .errors import HealstackError, InvalidInput, NotInScope, StateNotReached, aws_errors
from .log import log

REQUIRE_TAG_ENV = "HEALSTACK_REQUIRE_TAG"
NOT_IN_SCOPE = "not_in_scope"
STOPPED_ON_PURPOSE = "stopped_on_purpose"
CHANGING = "changing"
AT_MINIMUM_CAPACITY = "at_minimum_capacity"
SKIP_CODES = (NOT_IN_SCOPE, STOPPED_ON_PURPOSE, CHANGING, AT_MINIMUM_CAPACITY)


@dataclass(frozen=True)
class StepRequest:
    """A validated step payload."""

    playbook: str
    execution_id: str
    state: str
    resource_id: str
    attempt: int
    dry_run: bool
    params: dict[str, Any] = field(default_factory=dict)
    #: a hub's step: the member account and region the target lives in (else None)
    account: str | None = None
    region: str | None = None

    def log_fields(self) -> dict[str, Any]:
        """The correlation fields every log line of this step carries."""
        fields = {
            "execution_id": self.execution_id,
            "resource_id": self.resource_id,
            "playbook": self.playbook,
            "step": self.state,
            "dry_run": self.dry_run,
        }
        if self.account is not None:
            fields.update(account=self.account, region=self.region)
        return fields


def require_str(payload: Mapping[str, Any], key: str, *, where: str = "payload") -> str:
    """Return the non-empty string at ``key`` or raise ``InvalidInput`` naming it."""
    if key not in payload or payload[key] is None:
        raise InvalidInput(f"{where} is missing required field '{key}'")
    value = payload[key]
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"{where} field '{key}' must be a non-empty string, got {type(value).__name__}"
        )
    return value


def require_bool(payload: Mapping[str, Any], key: str, *, where: str = "payload") -> bool:
    """Return the boolean at ``key`` or raise ``InvalidInput`` naming it."""
    if key not in payload:
        raise InvalidInput(f"{where} is missing required field '{key}'")
    value = payload[key]
    if not isinstance(value, bool):
        raise InvalidInput(f"{where} field '{key}' must be a boolean, got {type(value).__name__}")
    return value


def optional_int(payload: Mapping[str, Any], key: str, default: int | None) -> int | None:
    """Return the positive integer at ``key`` (booleans refused) or ``default`` when absent."""
    value = payload.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"payload field '{key}' must be a positive integer, got {value!r}")
    return value


def parse_step(event: Any, kind: str, allowed_params: Collection[str] = ()) -> StepRequest:
    """Validate a step payload for a resource of ``kind``; raise ``InvalidInput`` on any flaw."""
    if not isinstance(event, dict):
        raise InvalidInput(f"step payload must be a JSON object, got {type(event).__name__}")
    resource_id = require_str(event, "resource_id")
    if not ids.is_valid(kind, resource_id):
        raise InvalidInput(f"resource_id {resource_id!r} is not {ids.expected(kind)}")
    state = event.get("state", "")
    if not isinstance(state, str):
        raise InvalidInput(f"payload field 'state' must be a string, got {type(state).__name__}")
    params = event.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidInput(f"payload field 'params' must be an object, got {type(params).__name__}")
    unknown = sorted(set(params) - set(allowed_params))
    if unknown:
        accepted = ", ".join(sorted(allowed_params)) or "none"
        raise InvalidInput(f"unknown params {unknown} (accepted: {accepted})")
    attempt = optional_int(event, "attempt", 1)
    account, region = _where(event)
    return StepRequest(
        playbook=require_str(event, "playbook"),
        execution_id=require_str(event, "execution_id"),
        state=state,
        resource_id=resource_id,
        attempt=attempt if attempt is not None else 1,
        dry_run=require_bool(event, "dry_run"),
        params=dict(params),
        account=account,
        region=region,
    )


def _where(event: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The payload's ``account`` and ``region``: both or neither (a hub's step needs both)."""
    if event.get("account") is None and event.get("region") is None:
        if os.environ.get(aws.MEMBER_ROLE_ENV, "").strip():
            raise InvalidInput(
                "payload is missing 'account' and 'region': a hub's step acts only in the "
                "event's member account and region"
            )
        return None, None
    account = require_str(event, "account")
    region = require_str(event, "region")
    if not account.isdigit() or len(account) != 12:
        raise InvalidInput("payload field 'account' must be a 12-digit account id")
    return account, region


def target_key(
    prefix: str, resource_id: str, account: str | None = None, region: str | None = None
) -> str:
    """A store key of a target, as the workflow writes it: ``<prefix><id>``; a hub's
    ``<prefix><account>/<region>/<id>`` (two members' resources may share an id)."""
    if account:
        return f"{prefix}{account}/{region}/{resource_id}"
    return f"{prefix}{resource_id}"


def partial_fields(event: Any) -> dict[str, Any]:
    """Best-effort correlation fields from a payload that may be invalid (for error logs)."""
    source = event if isinstance(event, dict) else {}
    return {
        "execution_id": source.get("execution_id"),
        "resource_id": source.get("resource_id"),
        "playbook": source.get("playbook"),
        "step": source.get("state"),
        "dry_run": source.get("dry_run"),
    }


def run_logged(
    handler: str,
    event: Any,
    context: Any,
    body: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """Run ``body(fields)`` logging its result or error as JSON; re-raise errors unchanged.

    ``body`` may update ``fields`` in place (e.g. once the payload is validated) so the
    closing log line carries the validated correlation fields.
    """
    fields = partial_fields(event)
    fields["handler"] = handler
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        fields["aws_request_id"] = request_id
    started = time.monotonic()
    try:
        result = body(fields)
    except HealstackError as err:
        elapsed = round((time.monotonic() - started) * 1000)
        log(
            logging.INFO if isinstance(err, StateNotReached) else logging.WARNING,
            str(err),
            {**fields, "error_type": type(err).__name__, "duration_ms": elapsed},
        )
        raise
    except Exception as err:
        elapsed = round((time.monotonic() - started) * 1000)
        error_fields = {**fields, "error_type": type(err).__name__, "duration_ms": elapsed}
        log(logging.ERROR, f"{handler} failed: {err}", error_fields)
        raise
    elapsed = round((time.monotonic() - started) * 1000)
    log(logging.INFO, f"{handler} done", {**fields, "result": result, "duration_ms": elapsed})
    return result


def run_step(
    handler: str,
    event: Any,
    context: Any,
    kind: str,
    body: Callable[[StepRequest], dict[str, Any]],
    allowed_params: Collection[str] = (),
) -> dict[str, Any]:
    """Validate a step payload for ``kind`` and run ``body`` with structured logging."""

    def run(fields: dict[str, Any]) -> dict[str, Any]:
        request = parse_step(event, kind, allowed_params)
        fields.update(request.log_fields())
        if request.account is not None and request.region is not None:
            role = aws.member_role(request.account, request.region)
            if role is not None:
                with aws_errors(role):  # assumed once per account and region and process
                    aws.member_session(request.account, request.region)
                with aws.acting_in(request.account, request.region):
                    return body(request)
        return body(request)

    return run_logged(handler, event, context, run)


def run_check(
    handler: str,
    event: Any,
    context: Any,
    kind: str,
    body: Callable[[StepRequest], dict[str, Any]],
) -> dict[str, Any]:
    """``run_step`` for a check, honouring ``params.expect_state`` (see module docstring)."""

    def checked(request: StepRequest) -> dict[str, Any]:
        expected = request.params.get("expect_state")
        if expected is not None and (not isinstance(expected, str) or not expected.strip()):
            raise InvalidInput(f"params.expect_state must be a non-empty string, got {expected!r}")
        result = body(request)
        # in a dry run the action never happened, so waiting for its effect would only
        # exhaust the poll: report the state and let the workflow go on
        if expected is not None and result["state"] != expected and not request.dry_run:
            raise StateNotReached(
                f"{request.resource_id} is {result['state']}, waiting for {expected}"
            )
        return result

    return run_step(handler, event, context, kind, checked, allowed_params=("expect_state",))


def required_tag() -> tuple[str, str] | None:
    """The ``(key, value)`` in ``HEALSTACK_REQUIRE_TAG``, or None when no tag is required.

    A value without ``=`` or with an empty key is a configuration error (``InvalidInput``):
    a scope that cannot be read must stop the step, never widen it to everything.
    """
    raw = os.environ.get(REQUIRE_TAG_ENV, "")
    if not raw.strip():
        return None
    key, sep, value = raw.partition("=")
    if not sep or not key:
        raise InvalidInput(f"environment variable {REQUIRE_TAG_ENV} must be key=value")
    return key, value


def tag_map(tags: Any, key_field: str = "Key", value_field: str = "Value") -> dict[str, str]:
    """A ``[{"Key": k, "Value": v}, ...]`` tag list (ECS spells them ``key``/``value``)."""
    found: dict[str, str] = {}
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, dict) and isinstance(tag.get(key_field), str):
            found[tag[key_field]] = str(tag.get(value_field) or "")
    return found


def in_scope(tags: Mapping[str, str]) -> bool:
    """True when no tag is required, or ``tags`` carries the required tag with its value."""
    tag = required_tag()
    return tag is None or (tag[0] in tags and tags[tag[0]] == tag[1])


def require_scope(tags: Mapping[str, str], what: str) -> None:
    """Raise ``NotInScope`` (before any mutating call) when ``what`` lacks the required tag."""
    tag = required_tag()
    if tag is not None and not in_scope(tags):
        raise NotInScope(
            f"{what} does not carry the tag {tag[0]}={tag[1]} this playbook requires; "
            "nothing done (code: not_in_scope)"
        )


def check_result(
    healthy: bool, state: str, detail: dict[str, Any], skip: str | None = None
) -> dict[str, Any]:
    """The check contract: ``{"healthy", "state", "detail", "skip"}`` (see module docstring)."""
    if skip is not None and skip not in SKIP_CODES:
        raise ValueError(f"unknown skip code {skip!r}")
    return {
        "healthy": healthy and skip is None,
        "state": state,
        "detail": detail,
        "skip": skip,
    }


def action_result(action: str, request: StepRequest, changed: bool, message: str) -> dict[str, Any]:
    """The action contract: ``{"action", "resource_id", "changed", "dry_run", "message"}``."""
    return {
        "action": action,
        "resource_id": request.resource_id,
        "changed": changed,
        "dry_run": request.dry_run,
        "message": message,
    }
