"""Scenarios: forced Lambda outcomes per Task state and per invocation of that state.

Inspired by Step Functions Local's mock configuration (``MockedResponses``), but keyed by the
Task **state name** and applied on top of the real handlers. A scenario is YAML or JSON::

    name: recovers-on-attempt-2                  # optional (default: file stem or "scenario")
    description: the check fails until the second attempt's re-check   # optional
    mocks:                                       # optional; unlisted states run the real handler
      CheckHealth:                               # a Task state name in the definition
        "1-3": {return: {healthy: false, state: running}}
      Reboot:
        "1": {throw: {error: TransientError, cause: "Rate exceeded"}}
        "2+": real
    approvals:                                   # optional; who decides each approval request
      ApproveStop:                               # the playbook's approval state (Approve<Step>)
        "1": {approve: "arn:aws:iam::123456789012:role/oncall"}
        "2+": {reject: "arn:aws:iam::123456789012:role/oncall", reason: "not now"}

Invocation ranges count the calls of that state's Lambda in one execution, from 1, retries and
loop iterations included: ``3`` (only the 3rd), ``2-4`` (2nd to 4th), ``5+`` (5th onwards).
Ranges of one state must not overlap. Outcomes:

- ``real``: run the real handler (also what happens for every call no range covers).
- ``{return: VALUE}``: the call returns ``VALUE`` (any JSON) without running the handler. A
  check's result may leave out ``skip`` (then null: the resource is a recovery case).
- ``{throw: {error: NAME, cause: TEXT}}``: the call fails with error ``NAME``. A name starting
  with ``Lambda.`` (``Lambda.ServiceException``, ``Lambda.TooManyRequestsException``, ...) is a
  Lambda *service* error, as if the Invoke API call failed; any other name is a *function* error,
  as if the handler raised an exception of class ``NAME`` with message ``TEXT``. ``cause`` is
  optional. ``States.*`` names are reserved for Step Functions and rejected.

Approvals: ranges count the requests of that approval state in one execution (one per
attempt that reaches it). ``{approve: PRINCIPAL}`` or ``{reject: PRINCIPAL, reason: TEXT}``:
right after the request is recorded, that principal (an IAM role or user ARN; a role decides
as a session of it) calls the recovery's real decide function, which checks it against the
playbook's approvers like on AWS (a principal that is not one is refused and nothing is
decided). ``timeout``, and every request no range covers: **nobody answers**, and the
workflow's wait runs out (fast-forwarded) into ``approval_timed_out``, as on AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from healstack.simulate.errors import ScenarioError

OutcomeKind = Literal["real", "return", "throw"]

_RANGE_HINT = "not an invocation range (use 1, 2-3 or 4+)"
_SINGLE = re.compile(r"^(\d+)$")
_SPAN = re.compile(r"^(\d+)-(\d+)$")
_OPEN = re.compile(r"^(\d+)\+$")
_TOP_LEVEL_FIELDS = ("name", "description", "mocks", "approvals")
_DECISIONS = ("approve", "reject")


@dataclass(frozen=True)
class Outcome:
    """What one Lambda invocation does: run the real handler, return a value, or fail."""

    kind: OutcomeKind
    value: Any = None
    error: str = ""
    cause: str = ""

    @property
    def is_service_error(self) -> bool:
        """True for ``Lambda.*`` throws: the Invoke API fails, the handler never runs."""
        return self.kind == "throw" and self.error.startswith("Lambda.")

    def to_dict(self) -> Any:
        if self.kind == "real":
            return "real"
        if self.kind == "return":
            return {"return": self.value}
        return {"throw": {"error": self.error, "cause": self.cause}}


REAL = Outcome(kind="real")


@dataclass(frozen=True)
class InvocationRange:
    """Invocations ``first`` to ``last`` (inclusive, 1-based); ``last`` None means open-ended."""

    first: int
    last: int | None

    @property
    def label(self) -> str:
        if self.last is None:
            return f"{self.first}+"
        if self.last == self.first:
            return str(self.first)
        return f"{self.first}-{self.last}"

    def contains(self, invocation: int) -> bool:
        return invocation >= self.first and (self.last is None or invocation <= self.last)

    def first_overlap(self, other: InvocationRange) -> int | None:
        """The lowest invocation number both ranges cover, or None."""
        low = max(self.first, other.first)
        ends = [end for end in (self.last, other.last) if end is not None]
        high = min(ends) if ends else None
        return low if high is None or low <= high else None


@dataclass(frozen=True)
class ApprovalDecision:
    """Who decides one approval request, and how (``timeout``: nobody)."""

    decision: Literal["approve", "reject", "timeout"]
    principal: str = ""
    reason: str = ""

    def to_dict(self) -> Any:
        if self.decision == "timeout":
            return "timeout"
        out: dict[str, str] = {self.decision: self.principal}
        if self.reason:
            out["reason"] = self.reason
        return out


NOBODY = ApprovalDecision("timeout")


@dataclass(frozen=True)
class Scenario:
    """A named set of forced outcomes, per Task state name and invocation range."""

    name: str = "scenario"
    description: str = ""
    mocks: Mapping[str, tuple[tuple[InvocationRange, Outcome], ...]] = field(default_factory=dict)
    approvals: Mapping[str, tuple[tuple[InvocationRange, ApprovalDecision], ...]] = field(
        default_factory=dict
    )

    def approval_for(self, state_name: str, request: int) -> ApprovalDecision:
        """Who decides the ``request``-th request (1-based) of approval state ``state_name``."""
        for request_range, decision in self.approvals.get(state_name, ()):
            if request_range.contains(request):
                return decision
        return NOBODY

    def outcome_for(self, state_name: str | None, invocation: int) -> Outcome:
        """The outcome for the ``invocation``-th call (1-based) of ``state_name``'s Lambda."""
        if state_name is None:
            return REAL
        for invocation_range, outcome in self.mocks.get(state_name, ()):
            if invocation_range.contains(invocation):
                return outcome
        return REAL

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "mocks": {
                state: {rng.label: outcome.to_dict() for rng, outcome in ranges}
                for state, ranges in self.mocks.items()
            },
            "approvals": {
                state: {rng.label: decision.to_dict() for rng, decision in ranges}
                for state, ranges in self.approvals.items()
            },
        }

    @classmethod
    def from_dict(cls, data: object, *, default_name: str = "scenario") -> Scenario:
        """Validate ``data`` (parsed YAML/JSON); raise ``ScenarioError`` naming the field."""
        if not isinstance(data, Mapping):
            raise ScenarioError("scenario", f"must be a mapping, got {_kind(data)}")
        for key in data:
            if key not in _TOP_LEVEL_FIELDS:
                expected = ", ".join(_TOP_LEVEL_FIELDS)
                raise ScenarioError("scenario", f"unknown field {key!r} (expected {expected})")
        name = _optional_text(data, "name", default_name)
        description = _optional_text(data, "description", "")
        raw_mocks = data.get("mocks")
        if raw_mocks is None:
            raw_mocks = {}
        if not isinstance(raw_mocks, Mapping):
            raise ScenarioError(
                "scenario.mocks", f"must be a mapping of state names, got {_kind(raw_mocks)}"
            )
        mocks: dict[str, tuple[tuple[InvocationRange, Outcome], ...]] = {}
        for state_name, ranges in raw_mocks.items():
            if not isinstance(state_name, str) or not state_name:
                raise ScenarioError(
                    "scenario.mocks", f"state name {state_name!r} must be a non-empty string"
                )
            mocks[state_name] = _parse_ranges(state_path(state_name), ranges)
        raw_approvals = data.get("approvals") or {}
        if not isinstance(raw_approvals, Mapping):
            raise ScenarioError(
                "scenario.approvals",
                f"must be a mapping of approval state names, got {_kind(raw_approvals)}",
            )
        approvals: dict[str, tuple[tuple[InvocationRange, ApprovalDecision], ...]] = {}
        for state_name, ranges in raw_approvals.items():
            if not isinstance(state_name, str) or not state_name:
                raise ScenarioError(
                    "scenario.approvals", f"state name {state_name!r} must be a non-empty string"
                )
            approvals[state_name] = _parse_approval_ranges(
                state_path(state_name).replace("scenario.mocks", "scenario.approvals", 1), ranges
            )
        return cls(name=name, description=description, mocks=mocks, approvals=approvals)


def load_scenario(source: Scenario | Mapping[str, Any] | str | Path) -> Scenario:
    """A scenario from a ``Scenario``, a dict, or a ``.yaml``/``.yml``/``.json`` file path."""
    if isinstance(source, Scenario):
        return source
    if isinstance(source, Mapping):
        return Scenario.from_dict(source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"scenario file {path}", f"cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())
        raise ScenarioError(
            f"scenario file {path}", f"is not valid {_syntax(path)}: {detail}"
        ) from None
    return Scenario.from_dict(data, default_name=path.stem)


def state_path(state_name: str) -> str:
    """The field path of a state's mocks: ``scenario.mocks.Reboot``, ``scenario.mocks["a b"]``."""
    if state_name.isidentifier():
        return f"scenario.mocks.{state_name}"
    return f"scenario.mocks[{json.dumps(state_name)}]"


def _parse_ranges(path: str, ranges: object) -> tuple[tuple[InvocationRange, Outcome], ...]:
    if not isinstance(ranges, Mapping) or not ranges:
        raise ScenarioError(path, 'must map invocation ranges to outcomes, e.g. {"1": real}')
    parsed: list[tuple[InvocationRange, Outcome]] = []
    for key, raw_outcome in ranges.items():
        key_text = (
            str(key).strip()
            if isinstance(key, int | str) and not isinstance(key, bool)
            else repr(key)
        )
        key_path = f"{path}[{json.dumps(key_text)}]"
        invocation_range = _parse_range(key_path, key)
        for earlier, _ in parsed:
            overlap = invocation_range.first_overlap(earlier)
            if overlap is not None:
                raise ScenarioError(
                    key_path,
                    f"overlaps {json.dumps(earlier.label)} (both cover invocation {overlap})",
                )
        parsed.append((invocation_range, _parse_outcome(key_path, raw_outcome)))
    parsed.sort(key=lambda item: item[0].first)
    return tuple(parsed)


def _parse_approval_ranges(
    path: str, ranges: object
) -> tuple[tuple[InvocationRange, ApprovalDecision], ...]:
    if not isinstance(ranges, Mapping) or not ranges:
        raise ScenarioError(
            path, "must map request ranges to a decision (e.g. '1': {approve: ARN})"
        )
    parsed: list[tuple[InvocationRange, ApprovalDecision]] = []
    for key, raw in ranges.items():
        request_range = _parse_range(path, key)
        where = f"{path}[{json.dumps(str(key))}]"
        for earlier, _ in parsed:
            if request_range.first_overlap(earlier) is not None:
                raise ScenarioError(where, f"overlaps range {earlier.label}")
        parsed.append((request_range, _parse_decision(where, raw)))
    return tuple(parsed)


def _parse_decision(path: str, raw: object) -> ApprovalDecision:
    if raw == "timeout":
        return NOBODY
    hint = "use {approve: ARN}, {reject: ARN, reason: TEXT} or timeout"
    if not isinstance(raw, Mapping):
        raise ScenarioError(path, f"is not a decision ({hint})")
    decisions = [d for d in _DECISIONS if d in raw]
    unknown = sorted(set(raw) - {*_DECISIONS, "reason"})
    if len(decisions) != 1 or unknown:
        raise ScenarioError(path, f"is not a decision ({hint})")
    (decision,) = decisions
    principal, reason = raw[decision], raw.get("reason", "")
    if not isinstance(principal, str) or not principal.startswith("arn:"):
        raise ScenarioError(f"{path}.{decision}", "must be a principal ARN (the approver)")
    if not isinstance(reason, str):
        raise ScenarioError(f"{path}.reason", "must be text")
    return ApprovalDecision("approve" if decision == "approve" else "reject", principal, reason)


def _parse_range(path: str, key: object) -> InvocationRange:
    if isinstance(key, bool) or not isinstance(key, int | str):
        raise ScenarioError(path, _RANGE_HINT)
    text = str(key).strip()
    if match := _SINGLE.match(text):
        first = last = int(match.group(1))
    elif match := _SPAN.match(text):
        first, last = int(match.group(1)), int(match.group(2))
    elif match := _OPEN.match(text):
        first, open_last = int(match.group(1)), None
        if first < 1:
            raise ScenarioError(path, "invocations are numbered from 1")
        return InvocationRange(first, open_last)
    else:
        raise ScenarioError(path, _RANGE_HINT)
    if first < 1:
        raise ScenarioError(path, "invocations are numbered from 1")
    if last < first:
        raise ScenarioError(path, f"empty range (write {last}-{first})")
    return InvocationRange(first, last)


def _parse_outcome(path: str, raw: object) -> Outcome:
    if raw == "real":
        return REAL
    hint = "use real, {return: VALUE} or {throw: {error: NAME, cause: TEXT}}"
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise ScenarioError(path, f"not an outcome ({hint})")
    ((kind, body),) = raw.items()
    if kind == "return":
        try:
            json.dumps(body, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"{path}.return", f"must be plain JSON ({exc})") from None
        return Outcome(kind="return", value=body)
    if kind == "throw":
        return _parse_throw(f"{path}.throw", body)
    raise ScenarioError(path, f"unknown outcome {kind!r} ({hint})")


def _parse_throw(path: str, body: object) -> Outcome:
    if not isinstance(body, Mapping):
        raise ScenarioError(path, "must be a mapping {error: NAME, cause: TEXT}")
    unknown = [key for key in body if key not in ("error", "cause")]
    if unknown:
        raise ScenarioError(path, f"unknown field {unknown[0]!r} (expected error, cause)")
    error = body.get("error")
    if not isinstance(error, str) or not error.strip():
        raise ScenarioError(f"{path}.error", "must be a non-empty error name, e.g. TransientError")
    if error != error.strip() or any(char.isspace() for char in error):
        raise ScenarioError(f"{path}.error", f"{error!r} must not contain spaces")
    if error.startswith("States."):
        raise ScenarioError(
            f"{path}.error", f"{error} is reserved for Step Functions; a Lambda cannot throw it"
        )
    if error == "Lambda.":
        raise ScenarioError(f"{path}.error", "name the Lambda error, e.g. Lambda.ServiceException")
    cause = body.get("cause", "")
    if not isinstance(cause, str):
        raise ScenarioError(f"{path}.cause", f"must be text, got {_kind(cause)}")
    return Outcome(kind="throw", error=error, cause=cause)


def _optional_text(data: Mapping[str, Any], key: str, default: str) -> str:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ScenarioError(f"scenario.{key}", f"must be text, got {_kind(value)}")
    return value


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _syntax(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "YAML"
