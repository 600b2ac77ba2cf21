"""Present a ``SimulationResult``: ``render_text`` for people, ``to_json`` for machines."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from healstack.simulate.trace import Attempt, SimulationResult, TraceStep, summarize

_GAP = "  "


def render_text(result: SimulationResult) -> str:
    """A readable step-by-step account, one state per line, times on the simulated clock."""
    lines = [f"Simulation {result.execution_name!r}: {result.status}"]
    facts: list[tuple[str, str]] = []
    if result.scenario:
        facts.append(("scenario", result.scenario))
    facts.append(
        (
            "simulated",
            f"{_duration(result.simulated_seconds)} "
            f"({_duration(result.fast_forwarded_seconds)} of waits and retries fast-forwarded, "
            f"{result.wall_seconds:.1f}s real time)",
        )
    )
    facts.append(("transitions", str(result.state_transitions)))
    calls = ", ".join(f"{name} x{count}" for name, count in result.lambda_invocations.items())
    facts.append(("lambdas", calls or "none invoked"))
    if result.error or result.cause:
        facts.append(("error", _error(result.error, result.cause)))
    if result.output is not None:
        facts.append(("output", summarize(result.output, width=100)))
    lines += [f"{_GAP}{key:<12}{value}" for key, value in facts]
    lines.append("")
    rows = [("TIME", "TYPE", "STATE", "WHAT HAPPENED")]
    for step in result.steps:
        rows.extend(_step_rows(step))
    widths = [max(len(row[col]) for row in rows) for col in range(3)]
    for row in rows:
        cells = [row[col].ljust(widths[col]) for col in range(3)]
        lines.append((_GAP + _GAP.join([*cells, row[3]])).rstrip())
    return "\n".join(lines) + "\n"


def to_json(result: SimulationResult, *, include_history: bool = False) -> dict[str, Any]:
    """A JSON-safe dict with a fixed key order (real wall time and raw history left out)."""
    data: dict[str, Any] = {
        "status": result.status,
        "error": result.error,
        "cause": result.cause,
        "scenario": result.scenario,
        "execution_name": result.execution_name,
        "simulated_seconds": _round(result.simulated_seconds),
        "fast_forwarded_seconds": _round(result.fast_forwarded_seconds),
        "state_transitions": result.state_transitions,
        "lambda_invocations": dict(sorted(result.lambda_invocations.items())),
        "state_invocations": dict(sorted(result.state_invocations.items())),
        "input": result.input,
        "output": result.output,
        "steps": [_plain(dataclasses.asdict(step)) for step in result.steps],
        "fast_forwards": [_plain(dataclasses.asdict(ff)) for ff in result.fast_forwards],
        "invocations": [_plain(dataclasses.asdict(record)) for record in result.invocations],
    }
    if include_history:
        data["history"] = [_plain(event) for event in result.history]
    return data


def _step_rows(step: TraceStep) -> list[tuple[str, str, str, str]]:
    head = (_clock(step.entered_at), step.type, step.state)
    if step.type == "Task" and step.attempts:
        return _task_rows(step, head)
    if step.type == "Wait":
        what = f"waited {_duration(step.waited_s or 0)} (fast-forwarded)"
    elif step.type == "Choice":
        what = f"-> {step.next_state}" if step.next_state else "no branch matched"
    elif step.type == "Fail":
        what = f"failed: {_error(step.error, step.cause)}"
    elif step.type == "Succeed":
        what = "succeeded"
    elif step.error:
        what = f"failed: {_error(step.error, step.cause)}"
    else:
        what = f"set {step.result}" if step.result and step.result != "{}" else "no change"
    return [(*head, what)]


def _task_rows(step: TraceStep, head: tuple[str, str, str]) -> list[tuple[str, str, str, str]]:
    rows = [(*head, f"in: {step.attempts[0].payload or step.input}")]
    at = step.entered_at
    for attempt in step.attempts:
        rows.append((_clock(at), "", "", _attempt(attempt)))
        at += attempt.duration_s
        if attempt.retry_delay_s is not None:
            rows.append((_clock(at), "", "", _retry(attempt)))
            at += attempt.retry_delay_s
    if step.caught:
        rows.append(("", "", "", f"caught -> {step.next_state}"))
    return rows


def _attempt(attempt: Attempt) -> str:
    if attempt.invocation is None:
        call = "call"
    else:
        how = "mocked" if attempt.mocked else "real"
        call = f"{attempt.function} call #{attempt.invocation} ({how})"
    if attempt.error is not None:
        return f"{call} failed: {_error(attempt.error, attempt.cause)}"
    return f"{call} -> {attempt.result}" if attempt.result else call


def _retry(attempt: Attempt) -> str:
    delay = attempt.retry_delay_s or 0.0
    nominal = attempt.retry_nominal_s
    jitter = (
        f", {_seconds(nominal)} before jitter" if nominal is not None and nominal != delay else ""
    )
    return f"retry after {_seconds(delay)}{jitter} (fast-forwarded)"


def _error(error: str | None, cause: str | None) -> str:
    """``Error: message``; a Lambda error's JSON cause is reduced to its ``errorMessage``."""
    text = cause or ""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping) and "errorMessage" in parsed:
        text = str(parsed["errorMessage"])
    text = " ".join(text.split(" (Service: AWSLambda;")[0].split())
    if len(text) > 90:
        text = text[:89] + "…"
    return f"{error}: {text}" if text else str(error)


def _clock(seconds: float) -> str:
    return "+" + _duration(seconds, pad=True)


def _duration(seconds: float, *, pad: bool = False) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes or pad:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _seconds(value: float) -> str:
    return f"{value:.0f}s" if float(value).is_integer() else f"{value:.1f}s"


def _round(value: float) -> float:
    return round(value, 3)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return _round(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
