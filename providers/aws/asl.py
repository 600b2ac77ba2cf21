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
    IsText,
    IsTrue,
    NumberBelow,
    NumberBetween,
    Ref,
    ResultRef,
    RetryPolicy,
    State,
    StoreWrite,
    Succeed,
    Task,
    Template,
    TextEquals,
    Value,
    Wait,
    Workflow,
)

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
DYNAMODB = {"lock": "putItem", "record": "putItem", "count": "updateItem", "release": "deleteItem"}

#: neutral error categories -> the error names Step Functions reports
ERROR_NAMES: dict[ErrorCategory, tuple[str, ...]] = {
    ErrorCategory.PLATFORM_TRANSIENT: (
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
    ),
    # the handlers' own exception class names (lambda_src/healstack_lambda/errors.py)
    ErrorCategory.STEP_TRANSIENT: ("TransientError",),
    # a throttled invoke (a storm used up the functions' reserved concurrency) rides out
    # the storm like a throttled cloud API call, instead of ending a real event unresolved
    ErrorCategory.THROTTLED: ("Throttled", "Lambda.TooManyRequestsException"),
    ErrorCategory.NOT_READY: ("StateNotReached",),
    ErrorCategory.CONDITION_FAILED: ("DynamoDB.ConditionalCheckFailedException",),
    ErrorCategory.STORE_TRANSIENT: (
        "DynamoDB.ProvisionedThroughputExceededException",
        "DynamoDB.ThrottlingException",
        "DynamoDB.RequestLimitExceededException",
        "DynamoDB.InternalServerErrorException",
    ),
    ErrorCategory.TIMEOUT: ("States.Timeout",),
    # the error an approver sends with SendTaskFailure to reject
    ErrorCategory.REJECTED: ("ApprovalRejected",),
    ErrorCategory.DECISION_PENDING: ("ApprovalPending",),
    # the handlers' EventRefused (lambda_src/healstack_lambda/errors.py)
    ErrorCategory.REFUSED: ("EventRefused",),
    ErrorCategory.NOT_IN_SCOPE: ("NotInScope",),
    ErrorCategory.ANY: ("States.ALL",),
}

_CONTEXT = {
    Context.EXECUTION_ID: "$$.Execution.Id",
    Context.EXECUTION_NAME: "$$.Execution.Name",
    Context.STATE_NAME: "$$.State.Name",
}

#: the store's attribute names (DynamoDB table: pk/sk strings, TTL on expires_at)
PARTITION_KEY = "pk"
SORT_KEY = "sk"
EXPIRY_ATTRIBUTE = "expires_at"
#: the set of executions counted against a resource's anti-flap budget in one window
COUNTER_ATTRIBUTE = "executions"
#: the attribute naming the execution that holds a lock
HOLDER_ATTRIBUTE = "execution"


def render(
    workflow: Workflow, function_arns: Mapping[str, str], store_name: str | None = None
) -> dict[str, Any]:
    """The ASL document as a dict, keys in a stable order."""
    return {
        "Comment": workflow.comment,
        "StartAt": workflow.start_at,
        "TimeoutSeconds": workflow.timeout_seconds,
        "States": {s.name: _state(s, function_arns, store_name) for s in workflow.states},
    }


def render_json(
    workflow: Workflow, function_arns: Mapping[str, str], store_name: str | None = None
) -> str:
    return json.dumps(render(workflow, function_arns, store_name), indent=2)


def _path(ref: Ref, root: str = "$") -> str:
    return root + "".join(f".{part}" for part in ref.path)


def _expression(value: Ref | Context | Increment | Template) -> str:
    """A JSONPath or intrinsic-function expression for a dynamic value."""
    if isinstance(value, Ref):
        return _path(value)
    if isinstance(value, Context):
        return _CONTEXT[value]
    if isinstance(value, Increment):
        return f"States.MathAdd({_path(value.ref)}, {value.by})"
    text = value.text.replace("\\", "\\\\").replace("'", "\\'")
    args = "".join(f", {_expression(a)}" for a in value.args)
    return f"States.Format('{text}'{args})"


def _fields(values: Mapping[str, Value], result_root: str = "$") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, ResultRef):
            out[f"{key}.$"] = _path(Ref(value.path), result_root)
        elif isinstance(value, Ref | Context | Increment | Template):
            out[f"{key}.$"] = _expression(value)
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


def _text_attribute(value: Value) -> dict[str, Any]:
    """A DynamoDB string attribute (numbers and flags stored as text too)."""
    if isinstance(value, Template | Context):  # already text
        return {"S.$": _expression(value)}
    if isinstance(value, Ref | Increment):  # may be a number: format it as text
        return {"S.$": f"States.Format('{{}}', {_expression(value)})"}
    if isinstance(value, bool):
        return {"S": "true" if value else "false"}
    return {"S": str(value)}


def _number_attribute(value: Value) -> dict[str, Any]:
    if isinstance(value, Ref | Increment):
        return {"N.$": f"States.Format('{{}}', {_expression(value)})"}
    assert isinstance(value, int) and not isinstance(value, bool)
    return {"N": str(value)}


def _store_write(write: StoreWrite, store_name: str | None) -> dict[str, Any]:
    if store_name is None:
        raise ValueError(f"state {write.name} writes to a store, but the workflow has none")
    key = {PARTITION_KEY: _text_attribute(write.key), SORT_KEY: _text_attribute(write.sort)}
    params: dict[str, Any] = {"TableName": store_name}
    if write.kind == "count":
        assert write.limit is not None and write.member is not None
        params["Key"] = key
        params["UpdateExpression"] = (
            f"ADD {COUNTER_ATTRIBUTE} :me SET {EXPIRY_ATTRIBUTE} = if_not_exists({EXPIRY_ATTRIBUTE}, :expires)"
        )
        params["ConditionExpression"] = (
            f"attribute_not_exists({COUNTER_ATTRIBUTE}) OR size({COUNTER_ATTRIBUTE}) < :limit "
            f"OR contains({COUNTER_ATTRIBUTE}, :member)"
        )
        params["ExpressionAttributeValues"] = {
            ":me": {"SS.$": f"States.Array({_expression(_dynamic(write.member))})"},
            ":member": _text_attribute(write.member),
            ":limit": {"N": str(write.limit)},
            ":expires": _number_attribute(write.expires_at),
        }
    elif write.kind == "release":
        assert write.member is not None
        params["Key"] = key
        params["ConditionExpression"] = f"{HOLDER_ATTRIBUTE} = :me"
        params["ExpressionAttributeValues"] = {":me": _text_attribute(write.member)}
    else:
        item = dict(key)
        item.update({name: _text_attribute(v) for name, v in write.fields.items()})
        item[EXPIRY_ATTRIBUTE] = _number_attribute(write.expires_at)
        params["Item"] = item
        if write.kind == "lock":
            params["ConditionExpression"] = (
                f"attribute_not_exists({PARTITION_KEY}) OR {EXPIRY_ATTRIBUTE} < :now"
            )
            params["ExpressionAttributeValues"] = {":now": _number_attribute(write.now)}
    out: dict[str, Any] = {"Type": "Task"}
    if write.comment:
        out["Comment"] = write.comment
    out["Resource"] = f"arn:aws:states:::dynamodb:{DYNAMODB[write.kind]}"
    out["Parameters"] = params
    out["ResultPath"] = None
    out["TimeoutSeconds"] = write.timeout_seconds
    if write.retry:
        out["Retry"] = [_retry(r) for r in write.retry]
    catches = []
    if write.refused:
        # a release refused (the lock is someone else's, or gone) keeps the error it follows
        refusal = "refusal" if write.kind == "release" else "error"
        catches.append(_catch(Catch((ErrorCategory.CONDITION_FAILED,), write.refused, refusal)))
    catches.extend(_catch(c) for c in write.catch)
    if catches:
        out["Catch"] = catches
    out["Next"] = write.next
    return out


def _dynamic(value: Value) -> Ref | Context | Increment | Template:
    assert isinstance(value, Ref | Context | Increment | Template), value
    return value


def _condition(condition: Condition) -> dict[str, Any]:
    if isinstance(condition, IsTrue):
        return {"Variable": _path(condition.ref), "BooleanEquals": True}
    if isinstance(condition, IsText):
        return {"Variable": _path(condition.ref), "IsString": True}
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


def _state(state: State, arns: Mapping[str, str], store_name: str | None) -> dict[str, Any]:
    if isinstance(state, Task):
        return _task(state, arns)
    if isinstance(state, StoreWrite):
        return _store_write(state, store_name)
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
