"""Read-only facts about an Amazon States Language definition that the simulator checks up front.

moto only parses a definition; these checks turn the likely mistakes (a handler missing for a
function, a scenario naming a state that does not exist) into one clear line before running.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from healstack.simulate.errors import SimulationError

_LAMBDA_INVOKE_RESOURCE = re.compile(r"^arn:aws[\w-]*:states:::lambda:invoke(\.waitForTaskToken)?$")
_LAMBDA_ARN = re.compile(
    r"^arn:aws[\w-]*:lambda:(?P<region>[\w-]+):(?P<account>\d{12}):function:(?P<name>[\w-]+)(:[\w$-]+)?$"
)
_PARTIAL_ARN = re.compile(r"^(?P<account>\d{12}):function:(?P<name>[\w-]+)(:[\w$-]+)?$")
_NAME = re.compile(r"^(?P<name>[\w-]+)(:[\w$-]+)?$")


@dataclass(frozen=True)
class LambdaTask:
    """A Task state that invokes a Lambda function.

    ``function`` is None when the function is chosen at run time (``FunctionName.$``).
    """

    state: str
    function: str | None
    region: str | None
    account: str | None


def check_definition(definition: object) -> Mapping[str, Any]:
    """The definition as a mapping, or a ``SimulationError`` if it is not a state machine."""
    if not isinstance(definition, Mapping):
        raise SimulationError(f"definition must be a mapping, got {type(definition).__name__}")
    if not isinstance(definition.get("States"), Mapping) or not isinstance(
        definition.get("StartAt"), str
    ):
        raise SimulationError("definition must have StartAt and States (an ASL state machine)")
    if definition.get("QueryLanguage") == "JSONata":
        raise SimulationError("definition uses JSONata, which moto cannot evaluate; use JSONPath")
    return definition


def iter_states(definition: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every (name, state), including those nested in Parallel branches and Map processors."""
    for name, state in definition.get("States", {}).items():
        if not isinstance(state, Mapping):
            continue
        yield name, state
        for branch in state.get("Branches", []) or []:
            if isinstance(branch, Mapping):
                yield from iter_states(branch)
        for key in ("ItemProcessor", "Iterator"):
            nested = state.get(key)
            if isinstance(nested, Mapping):
                yield from iter_states(nested)


def lambda_tasks(definition: Mapping[str, Any]) -> dict[str, LambdaTask]:
    """The Task states that invoke a Lambda, by state name."""
    tasks: dict[str, LambdaTask] = {}
    for name, state in iter_states(definition):
        if state.get("Type") != "Task":
            continue
        resource = str(state.get("Resource", ""))
        if _LAMBDA_INVOKE_RESOURCE.match(resource):
            parameters = state.get("Parameters") or state.get("Arguments") or {}
            target = parameters.get("FunctionName") if isinstance(parameters, Mapping) else None
            tasks[name] = _task(name, target if isinstance(target, str) else None)
        elif _LAMBDA_ARN.match(resource):
            tasks[name] = _task(name, resource)
    return tasks


def function_name(reference: str) -> str | None:
    """The function name in a full ARN, partial ARN or (qualified) name; None if unrecognized."""
    for pattern in (_LAMBDA_ARN, _PARTIAL_ARN, _NAME):
        match = pattern.match(reference)
        if match:
            return match.group("name")
    return None


def _task(state: str, reference: str | None) -> LambdaTask:
    if reference is None:
        return LambdaTask(state, None, None, None)
    match = _LAMBDA_ARN.match(reference)
    if match:
        return LambdaTask(state, match.group("name"), match.group("region"), match.group("account"))
    partial = _PARTIAL_ARN.match(reference)
    if partial:
        return LambdaTask(state, partial.group("name"), None, partial.group("account"))
    return LambdaTask(state, function_name(reference) or reference, None, None)
