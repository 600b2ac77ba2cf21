"""The step payload contract shared by every check and action handler, and the run wrapper.

Payload (sent by the state machine)::

    {"playbook": str, "execution_id": str, "state": str, "resource_id": str,
     "attempt": int, "dry_run": bool, "params": {}}

``resource_id``, ``playbook``, ``execution_id`` and ``dry_run`` are required (a missing
``dry_run`` is refused rather than guessed as false). ``state`` defaults to ``""``,
``attempt`` to 1 and ``params`` to ``{}``; each handler names the params it accepts and
refuses any other key. Unknown top-level keys are ignored.

Every check accepts ``params.expect_state`` (a ``wait_until`` poll): when the check's
``state`` differs it raises ``StateNotReached`` (the workflow's poll retries on it), else it
returns the check result as usual. In a dry run it never raises: the action it waits for
was only reported, so the poll would never succeed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .errors import HealstackError, InvalidInput, StateNotReached
from .log import log


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

    def log_fields(self) -> dict[str, Any]:
        """The correlation fields every log line of this step carries."""
        return {
            "execution_id": self.execution_id,
            "resource_id": self.resource_id,
            "playbook": self.playbook,
            "step": self.state,
            "dry_run": self.dry_run,
        }


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
        raise InvalidInput(f"resource_id {resource_id!r} is not {ids.EXPECTED[kind]}")
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
    return StepRequest(
        playbook=require_str(event, "playbook"),
        execution_id=require_str(event, "execution_id"),
        state=state,
        resource_id=resource_id,
        attempt=attempt if attempt is not None else 1,
        dry_run=require_bool(event, "dry_run"),
        params=dict(params),
    )


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


def check_result(healthy: bool, state: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The check contract: ``{"healthy", "state", "detail"}``."""
    return {"healthy": healthy, "state": state, "detail": detail}


def action_result(action: str, request: StepRequest, changed: bool, message: str) -> dict[str, Any]:
    """The action contract: ``{"action", "resource_id", "changed", "dry_run", "message"}``."""
    return {
        "action": action,
        "resource_id": request.resource_id,
        "changed": changed,
        "dry_run": request.dry_run,
        "message": message,
    }
