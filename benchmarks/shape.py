"""Static checks of a generated definition for states that do no work.

- a *redundant Choice*: whatever attempt reaches it, it always goes to the same state. The
  attempt numbers that can reach each state are propagated from ``StartAt`` (all attempts)
  through every transition; Choice rules on ``$.ctx.attempt`` narrow them, and the Pass state
  that adds 1 to the counter shifts them. A rule on anything else may go either way.
- a *Pass chain*: a Pass state whose next state is another Pass state (one could do both).
- an *empty Pass*: a Pass state that changes nothing (no ``Parameters``, ``Result`` or
  ``InputPath``/``OutputPath``/``ResultPath`` other than the default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ATTEMPT = "$.ctx.attempt"
_COUNTER = "States.MathAdd($.ctx.attempt, 1)"


@dataclass(frozen=True)
class Findings:
    redundant_choices: tuple[str, ...]
    pass_chains: tuple[tuple[str, str], ...]
    empty_passes: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not (self.redundant_choices or self.pass_chains or self.empty_passes)


def analyse(definition: Mapping[str, Any], max_attempts: int) -> Findings:
    states: Mapping[str, Mapping[str, Any]] = definition["States"]
    reach = _reachable_attempts(definition, max_attempts)
    redundant = [
        name
        for name, state in states.items()
        if state.get("Type") == "Choice"
        and name in reach
        and len(_choice_outcomes(state, reach[name])) == 1
    ]
    chains = [
        (name, str(state["Next"]))
        for name, state in states.items()
        if state.get("Type") == "Pass"
        and states.get(state.get("Next", ""), {}).get("Type") == "Pass"
    ]
    empty = [
        name
        for name, state in states.items()
        if state.get("Type") == "Pass"
        and not ({"Parameters", "Result", "InputPath", "OutputPath", "ResultPath"} & set(state))
    ]
    return Findings(tuple(sorted(redundant)), tuple(chains), tuple(empty))


def _reachable_attempts(definition: Mapping[str, Any], max_attempts: int) -> dict[str, set[int]]:
    """Attempt numbers that can reach each state. healstack's counter starts at 1 (set by
    ResolveTarget's ResultSelector) and only the counter's Pass state changes it; numbers
    above ``max_attempts + 1`` are dropped so a loop without a bound still terminates."""
    states: Mapping[str, Mapping[str, Any]] = definition["States"]
    reach: dict[str, set[int]] = {}
    pending = [(str(definition["StartAt"]), {1})]
    while pending:
        name, attempts = pending.pop()
        known = reach.setdefault(name, set())
        if attempts <= known:
            continue
        known |= attempts
        state = states[name]
        for target, subset in _successors(state, known).items():
            subset = {a for a in subset if a <= max_attempts + 1}
            if subset:
                pending.append((target, subset))
    return reach


def _successors(state: Mapping[str, Any], attempts: set[int]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}

    def add(target: Any, subset: set[int]) -> None:
        if isinstance(target, str):
            found.setdefault(target, set()).update(subset)

    if state.get("Type") == "Choice":
        for target, subset in _choice_outcomes(state, attempts).items():
            add(target, subset)
        return found
    if state.get("Type") == "Pass" and _increments_counter(state):
        attempts = {a + 1 for a in attempts}
    add(state.get("Next"), attempts)
    for catch in state.get("Catch", []):
        add(catch.get("Next"), attempts)
    return found


def _choice_outcomes(state: Mapping[str, Any], attempts: set[int]) -> dict[str, set[int]]:
    """Which attempts each target of a Choice can receive."""
    outcomes: dict[str, set[int]] = {}
    left = set(attempts)
    for rule in state.get("Choices", []):
        taken = _matching(rule, left)
        if taken is None:  # not about the attempt: any attempt may go either way
            outcomes.setdefault(rule["Next"], set()).update(left)
            continue
        if taken:
            outcomes.setdefault(rule["Next"], set()).update(taken)
        left -= taken
    if left and "Default" in state:
        outcomes.setdefault(state["Default"], set()).update(left)
    return outcomes


def _matching(rule: Mapping[str, Any], attempts: set[int]) -> set[int] | None:
    """The attempts a rule on ``$.ctx.attempt`` accepts (None if it tests something else)."""
    if "And" in rule:
        parts = [_matching(part, attempts) for part in rule["And"]]
        if any(part is None for part in parts):
            return None
        result = set(attempts)
        for part in parts:
            result &= part or set()
        return result
    if rule.get("Variable") != ATTEMPT:
        return None
    tests = {
        "NumericEquals": lambda a, v: a == v,
        "NumericGreaterThanEquals": lambda a, v: a >= v,
        "NumericLessThanEquals": lambda a, v: a <= v,
        "NumericGreaterThan": lambda a, v: a > v,
        "NumericLessThan": lambda a, v: a < v,
    }
    for operator, test in tests.items():
        if operator in rule:
            return {a for a in attempts if test(a, rule[operator])}
    return None


def _increments_counter(state: Mapping[str, Any]) -> bool:
    parameters = state.get("Parameters") or {}
    return bool(parameters.get("attempt.$") == _COUNTER)
