"""Render the neutral workflow graph as Amazon States Language (JSONPath flavour).

Pure: no bindings, so tests, the linter and the simulator use it directly. Function
ARNs come in as strings (Terraform tokens at synth time, moto ARNs in simulation).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from healstack.providers.workflow import (
    Assign,
    Catch,
    Choice,
    Condition,
    Context,
    ErrorCategory,
    Fail,
    Increment,
    IsTrue,
    NumberBelow,
    NumberBetween,
    Ref,
    ResultRef,
    RetryPolicy,
    State,
    Succeed,
    Task,
    TextEquals,
    Value,
    Wait,
    Workflow,
)

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"

#: neutral error categories -> the error names Step Functions reports
ERROR_NAMES: dict[ErrorCategory, tuple[str, ...]] = {
    ErrorCategory.PLATFORM_TRANSIENT: (
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ),
    # the handlers' own exception class names (lambda_src/healstack_lambda/errors.py)
    ErrorCategory.STEP_TRANSIENT: ("TransientError",),
    ErrorCategory.NOT_READY: ("StateNotReached",),
    ErrorCategory.ANY: ("States.ALL",),
}

_CONTEXT = {Context.EXECUTION_ID: "$$.Execution.Id", Context.STATE_NAME: "$$.State.Name"}


def render(workflow: Workflow, function_arns: Mapping[str, str]) -> dict[str, Any]:
    """The ASL document as a dict, keys in a stable order."""
    return {
        "Comment": workflow.comment,
        "StartAt": workflow.start_at,
        "TimeoutSeconds": workflow.timeout_seconds,
        "States": {s.name: _state(s, function_arns) for s in workflow.states},
    }


def render_json(workflow: Workflow, function_arns: Mapping[str, str]) -> str:
    return json.dumps(render(workflow, function_arns), indent=2)


def _path(ref: Ref, root: str = "$") -> str:
    return root + "".join(f".{part}" for part in ref.path)


def _fields(values: Mapping[str, Value], result_root: str = "$") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Ref):
            out[f"{key}.$"] = _path(value)
        elif isinstance(value, ResultRef):
            out[f"{key}.$"] = _path(Ref(value.path), result_root)
        elif isinstance(value, Context):
            out[f"{key}.$"] = _CONTEXT[value]
        elif isinstance(value, Increment):
            out[f"{key}.$"] = f"States.MathAdd({_path(value.ref)}, {value.by})"
        elif isinstance(value, Mapping):
            out[key] = _fields(value, result_root)
        else:
            out[key] = value
    return out


def _errors(categories: tuple[ErrorCategory, ...]) -> list[str]:
    return [name for c in categories for name in ERROR_NAMES[c]]


def _retry(policy: RetryPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ErrorEquals": _errors(policy.errors),
        "IntervalSeconds": policy.interval_seconds,
        "MaxAttempts": policy.max_attempts,
        "BackoffRate": policy.backoff_rate,
    }
    if policy.max_delay_seconds is not None:
        out["MaxDelaySeconds"] = policy.max_delay_seconds
    if policy.jitter:
        out["JitterStrategy"] = "FULL"
    return out


def _catch(catch: Catch) -> dict[str, Any]:
    return {
        "ErrorEquals": _errors(catch.errors),
        "ResultPath": f"$.{catch.result_at}",
        "Next": catch.next,
    }


def _flow(state_next: str | None) -> dict[str, Any]:
    return {"Next": state_next} if state_next else {"End": True}


def _task(task: Task, arns: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"Type": "Task"}
    if task.comment:
        out["Comment"] = task.comment
    out["Resource"] = LAMBDA_INVOKE
    out["Parameters"] = {"FunctionName": arns[task.function], "Payload": _fields(task.payload)}
    if task.result is not None:
        out["ResultSelector"] = _fields(task.result, result_root="$.Payload")
    out["ResultPath"] = f"$.{task.result_at}" if task.result_at else None
    out["TimeoutSeconds"] = task.timeout_seconds
    if task.retry:
        out["Retry"] = [_retry(r) for r in task.retry]
    if task.catch:
        out["Catch"] = [_catch(c) for c in task.catch]
    out.update(_flow(task.next))
    return out


def _condition(condition: Condition) -> dict[str, Any]:
    if isinstance(condition, IsTrue):
        return {"Variable": _path(condition.ref), "BooleanEquals": True}
    if isinstance(condition, TextEquals):
        return {"Variable": _path(condition.ref), "StringEquals": condition.value}
    if isinstance(condition, NumberBelow):
        return {"Variable": _path(condition.ref), "NumericLessThan": condition.value}
    assert isinstance(condition, NumberBetween)
    variable = _path(condition.ref)
    if condition.low == condition.high:
        return {"Variable": variable, "NumericEquals": condition.low}
    return {
        "And": [
            {"Variable": variable, "NumericGreaterThanEquals": condition.low},
            {"Variable": variable, "NumericLessThanEquals": condition.high},
        ]
    }


def _state(state: State, arns: Mapping[str, str]) -> dict[str, Any]:
    if isinstance(state, Task):
        return _task(state, arns)
    text = getattr(state, "comment", "")
    comment = {"Comment": text} if text else {}
    if isinstance(state, Choice):
        return {
            "Type": "Choice",
            **comment,
            "Choices": [{**_condition(r.when), "Next": r.next} for r in state.rules],
            "Default": state.default,
        }
    if isinstance(state, Wait):
        return {"Type": "Wait", **comment, "Seconds": state.seconds, "Next": state.next}
    if isinstance(state, Assign):
        return {
            "Type": "Pass",
            **comment,
            "Parameters": _fields(state.values),
            "ResultPath": f"$.{state.at}",
            "Next": state.next,
        }
    if isinstance(state, Succeed):
        return {"Type": "Succeed", **comment}
    assert isinstance(state, Fail)
    return {"Type": "Fail", "Error": state.error, "Cause": state.cause}
