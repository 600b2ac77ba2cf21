"""The simulation result and the step-by-step trace built from the execution history.

The history says what the interpreter did; the simulator's own records (invocations and
fast-forwards, in the order they happened per state) add what the history cannot: the
invocation number, whether it was mocked, and the simulated time.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from healstack.simulate.clock import FastForward
from healstack.simulate.lambda_runtime import InvocationRecord

_SCHEDULED = {"LambdaFunctionScheduled", "TaskScheduled", "ActivityScheduled"}
_SUCCEEDED = {"LambdaFunctionSucceeded", "TaskSucceeded", "ActivitySucceeded"}
_FAILED = {
    "LambdaFunctionFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut",
    "TaskFailed",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "TaskTimedOut",
    "ActivityFailed",
    "ActivityTimedOut",
}
_EXECUTION_END = {
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
}
SUMMARY_WIDTH = 72
# Same in every call of one execution (healstack_lambda.step payload contract): left out of
# payload summaries so the fields that change stay visible.
_BOOKKEEPING_KEYS = frozenset({"state", "execution_id", "playbook"})
_MISSING = object()


@dataclass(frozen=True)
class Attempt:
    """One try of a Task state: a Lambda invocation (or another integration's call).

    ``invocation`` is the state's 1-based invocation number (None if not a Lambda), ``mocked``
    whether a scenario outcome replaced the handler, ``payload`` a summary of what the function
    was called with (without the bookkeeping keys ``state``, ``execution_id``, ``playbook``).
    ``retry_delay_s`` is the fast-forwarded delay before the next try (None if there was none);
    ``retry_nominal_s`` is that delay before jitter.
    """

    invocation: int | None
    function: str | None
    mocked: bool
    payload: str | None = None
    result: str | None = None
    error: str | None = None
    cause: str | None = None
    duration_s: float = 0.0
    retry_delay_s: float | None = None
    retry_nominal_s: float | None = None


@dataclass(frozen=True)
class TraceStep:
    """One state entered, in history order.

    ``entered_at`` is the simulated time (seconds since start) when the state was entered;
    ``result`` summarizes a Task's last result, or for other states the fields they changed;
    ``fast_forwarded_s`` the wait and retry time skipped inside it; ``error``/``cause`` the last
    error the state saw (``caught`` when a Catch routed it to ``next_state``).
    """

    index: int
    state: str
    type: str
    entered_at: float
    input: str
    result: str | None
    error: str | None
    cause: str | None
    next_state: str | None
    caught: bool
    attempts: tuple[Attempt, ...]
    waited_s: float | None
    fast_forwarded_s: float


@dataclass(frozen=True)
class SimulationResult:
    """What a simulated execution did. ``history`` holds the raw events (JSON-safe)."""

    status: str
    error: str | None
    cause: str | None
    input: Any
    output: Any
    execution_name: str
    execution_arn: str
    state_machine_arn: str
    scenario: str | None
    steps: tuple[TraceStep, ...]
    state_transitions: int
    lambda_invocations: Mapping[str, int]
    state_invocations: Mapping[str, int]
    simulated_seconds: float
    fast_forwarded_seconds: float
    wall_seconds: float
    invocations: tuple[InvocationRecord, ...] = ()
    fast_forwards: tuple[FastForward, ...] = ()
    history: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def steps_for(self, state: str) -> list[TraceStep]:
        """Every time ``state`` was entered, in order."""
        return [step for step in self.steps if step.state == state]

    def retry_delays(self, state: str | None = None) -> list[FastForward]:
        """The fast-forwarded retry delays, optionally only those of ``state``."""
        return [ff for ff in self.fast_forwards if ff.kind == "retry" and state in (None, ff.state)]

    def waits(self, state: str | None = None) -> list[FastForward]:
        """The fast-forwarded Wait states, optionally only those of ``state``."""
        return [ff for ff in self.fast_forwards if ff.kind == "wait" and state in (None, ff.state)]


@dataclass
class _AttemptDraft:
    record: InvocationRecord | None
    payload: str | None = None
    result: str | None = None
    error: str | None = None
    cause: str | None = None
    retry: FastForward | None = None

    def freeze(self) -> Attempt:
        record = self.record
        return Attempt(
            invocation=record.number if record else None,
            function=record.function if record else None,
            mocked=record.mocked if record else False,
            payload=self.payload,
            result=self.result,
            error=self.error,
            cause=self.cause,
            duration_s=record.duration_s if record else 0.0,
            retry_delay_s=self.retry.seconds if self.retry else None,
            retry_nominal_s=self.retry.nominal_seconds if self.retry else None,
        )


@dataclass
class _StepDraft:
    index: int
    state: str
    type: str
    entered_at: float
    input: str
    raw_input: Any = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    next_state: str | None = None
    exited: bool = False
    attempts: list[_AttemptDraft] = field(default_factory=list)
    wait: FastForward | None = None

    def freeze(self) -> TraceStep:
        attempts = tuple(a.freeze() for a in self.attempts)
        skipped = sum((a.retry_delay_s or 0.0) for a in attempts) + (
            self.wait.seconds if self.wait else 0.0
        )
        result = attempts[-1].result if attempts and attempts[-1].error is None else self.output
        return TraceStep(
            index=self.index,
            state=self.state,
            type=self.type,
            entered_at=self.entered_at,
            input=self.input,
            result=None if self.error is not None and not self.exited else result,
            error=self.error,
            cause=self.cause,
            next_state=self.next_state,
            caught=self.error is not None and self.exited and self.type != "Fail",
            attempts=attempts,
            waited_s=self.wait.seconds if self.wait else None,
            fast_forwarded_s=skipped,
        )


class TraceBuilder:
    """Walks the history once, pairing it with the simulator's per-state records."""

    def __init__(
        self, invocations: Sequence[InvocationRecord], fast_forwards: Sequence[FastForward]
    ) -> None:
        self._invocations: dict[str | None, deque[InvocationRecord]] = defaultdict(deque)
        for record in invocations:
            self._invocations[record.state].append(record)
        self._waits: dict[str, deque[FastForward]] = defaultdict(deque)
        self._retries: dict[str, deque[FastForward]] = defaultdict(deque)
        for ff in fast_forwards:
            (self._waits if ff.kind == "wait" else self._retries)[ff.state].append(ff)
        self._steps: list[_StepDraft] = []
        self._owner: dict[int, _StepDraft] = {}
        self._exits: dict[int, _StepDraft] = {}
        self._clock = 0.0

    def build(self, history: Sequence[Mapping[str, Any]]) -> list[TraceStep]:
        for event in history:
            self._add(event)
        self._attach_leftover_retries()
        return [draft.freeze() for draft in self._steps]

    def _add(self, event: Mapping[str, Any]) -> None:
        kind: str = event["type"]
        event_id: int = event["id"]
        previous: int = event.get("previousEventId", 0)
        if kind.endswith("StateEntered"):
            self._enter(event_id, previous, kind.removesuffix("StateEntered"), event)
            return
        details = _details(event)
        step = self._owner.get(previous)
        if kind.endswith("StateExited"):  # a Parallel/Map exit follows its branches' events
            step = self._open_step(details.get("name")) or step
        if step is None:
            return
        self._owner[event_id] = step
        if kind in _SCHEDULED:
            self._schedule(step, kind, details)
        elif kind in _SUCCEEDED and step.attempts:
            step.attempts[-1].result = summarize(_task_result(details.get("output")))
            step.error = step.cause = None  # earlier attempts' errors were retried away
        elif kind in _FAILED:
            error, cause = details.get("error"), details.get("cause")
            if step.attempts:
                step.attempts[-1].error, step.attempts[-1].cause = error, cause
            step.error, step.cause = error, cause
        elif kind.endswith("StateExited"):
            step.exited = True
            step.output = summarize(_changes(step.raw_input, _json(details.get("output"))))
            self._exits[event_id] = step
        elif kind in _EXECUTION_END and step.type == "Fail":
            step.error, step.cause = details.get("error"), details.get("cause")

    def _open_step(self, name: Any) -> _StepDraft | None:
        """The latest entered, not yet exited step of state ``name``."""
        for step in reversed(self._steps):
            if step.state == name and not step.exited:
                return step
        return None

    def _enter(
        self, event_id: int, previous: int, state_type: str, event: Mapping[str, Any]
    ) -> None:
        details = event.get("stateEnteredEventDetails", {})
        name = details.get("name", "?")
        step = _StepDraft(
            index=len(self._steps) + 1,
            state=name,
            type=state_type,
            entered_at=self._clock,
            input=summarize(_json(details.get("input"))),
            raw_input=_json(details.get("input")),
        )
        before = self._exits.get(previous)  # the state this transition came from
        if before is not None:
            before.next_state = name
        self._owner[event_id] = step
        self._steps.append(step)
        if state_type == "Wait" and self._waits[name]:
            step.wait = self._waits[name].popleft()
            self._clock += step.wait.seconds

    def _schedule(self, step: _StepDraft, kind: str, details: Mapping[str, Any]) -> None:
        if step.attempts and self._retries[step.state]:
            retry = self._retries[step.state].popleft()
            step.attempts[-1].retry = retry
            self._clock += retry.seconds
        is_lambda = kind == "LambdaFunctionScheduled" or details.get("resourceType") == "lambda"
        queue = self._invocations[step.state]
        record = queue.popleft() if is_lambda and queue else None
        if record is not None:
            self._clock += record.duration_s
        step.attempts.append(_AttemptDraft(record, payload=summarize(_payload(kind, details))))

    def _attach_leftover_retries(self) -> None:
        """A retry delay cut short by TimeoutSeconds has no next attempt in the history."""
        for step in reversed(self._steps):
            retries = self._retries[step.state]
            if retries and step.attempts and step.attempts[-1].retry is None:
                step.attempts[-1].retry = retries.popleft()


def execution_outcome(history: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """(error, cause) of the execution's final event, if it failed, timed out or was aborted."""
    for event in reversed(history):
        key = _EXECUTION_END.get(event["type"])
        if key is not None:
            details = event.get(key) or {}
            return details.get("error"), details.get("cause")
    return None, None


def summarize(value: Any, width: int = SUMMARY_WIDTH) -> str:
    """One short line with the key fields: ``attempt=2 last.healthy=false target.id=i-0abc``."""
    if isinstance(value, Mapping):
        parts = [f"{key}={text}" for key, text in _flatten(value, depth=2)]
        text = " ".join(parts) if parts else "{}"
    else:
        text = _scalar(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _flatten(value: Mapping[str, Any], depth: int, prefix: str = "") -> list[tuple[str, str]]:
    parts: list[tuple[str, str]] = []
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and item and depth > 1:
            parts.extend(_flatten(item, depth - 1, f"{path}."))
        else:
            parts.append((path, _scalar(item)))
    return parts


def _scalar(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{…}" if value else "{}"
    if isinstance(value, list):
        return f"[{len(value)} items]" if len(value) != 1 else "[1 item]"
    if isinstance(value, str):
        return value if value and not any(c.isspace() for c in value) else json.dumps(value)
    return json.dumps(value)


def _changes(before: Any, after: Any) -> Any:
    """The top-level fields a state added or changed (the whole output if not both objects)."""
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return after
    changed = {key: value for key, value in after.items() if before.get(key, _MISSING) != value}
    removed = [key for key in before if key not in after]
    if removed and not changed:
        return {"removed": removed}
    return changed


def _task_result(output: Any) -> Any:
    """The Lambda's own result: ``Payload`` of a ``lambda:invoke`` response, else the output."""
    parsed = _json(output)
    if isinstance(parsed, Mapping) and "Payload" in parsed and "StatusCode" in parsed:
        return parsed["Payload"]
    return parsed


def _payload(kind: str, details: Mapping[str, Any]) -> Any:
    """What the function was called with, without healstack's bookkeeping keys."""
    if kind == "LambdaFunctionScheduled":
        payload = _json(details.get("input"))
    else:
        parameters = _json(details.get("parameters"))
        payload = (
            parameters.get("Payload", parameters) if isinstance(parameters, Mapping) else parameters
        )
    payload = _json(payload)
    if isinstance(payload, Mapping):
        return {key: value for key, value in payload.items() if key not in _BOOKKEEPING_KEYS}
    return payload


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text
