"""The event pattern grammar a trigger is written in, checked before any cloud code runs.

What ``validate`` accepts, the event bus must accept: every leaf is a list of matchers; a
matcher is a string, a number, a boolean, null, or an object with exactly one known operator
(``prefix``, ``suffix``, ``anything-but``, ``numeric``, ``exists``, ``cidr``,
``equals-ignore-case``, ``wildcard``) whose value has the operator's shape; ``$or`` holds two
or more sub-patterns; no empty list, no empty string where a value is needed; the whole
pattern within the bus's size limit and nesting depth. Each problem is ``(path, message)``
with the fix, the path relative to the pattern (``detail.state.value[0]``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

#: the bus refuses a pattern larger than this (characters, compact JSON; the default quota,
#: which an account can raise to 4,096)
MAX_PATTERN_CHARS = 2048
#: how deep a pattern's objects may nest (the grammar has no documented limit; a trigger
#: deeper than this is a mistake, e.g. a block pasted at the wrong level)
MAX_DEPTH = 10
NUMERIC_OPERATORS = frozenset({"<", "<=", "=", ">", ">="})
OPERATORS = (
    "prefix",
    "suffix",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "equals-ignore-case",
    "wildcard",
)
#: what a trigger's fields become in the bus's pattern (the account is added by the provider)
ACCOUNT_PLACEHOLDER = "123456789012"

Problem = tuple[str, str]


def problems(pattern: Mapping[str, Any]) -> list[Problem]:
    """Every way the bus would refuse ``pattern``; empty when it would take it."""
    found = list(_object(pattern, "", 1))
    size = len(json.dumps({**pattern, "account": [ACCOUNT_PLACEHOLDER]}, separators=(",", ":")))
    if size > MAX_PATTERN_CHARS:
        found.append(
            (
                "",
                f"the event pattern is {size} characters; EventBridge takes {MAX_PATTERN_CHARS} "
                "by default (shorten it, or split the playbook)",
            )
        )
    return found


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _object(node: Mapping[str, Any], path: str, depth: int) -> Iterator[Problem]:
    if depth > MAX_DEPTH:
        yield (path, f"nests deeper than {MAX_DEPTH} levels (is a block at the wrong level?)")
        return
    if not node:
        yield (path or "", "is an empty pattern object (give at least one field)")
        return
    for key, value in node.items():
        where = _join(path, str(key))
        if not isinstance(key, str) or not key:
            yield (where, "a field name must be a non-empty string")
        elif key == "$or":
            yield from _or(value, where, depth)
        elif isinstance(value, Mapping):
            yield from _object(value, where, depth + 1)
        elif isinstance(value, list):
            yield from _matchers(value, where)
        else:
            yield (where, f"{json.dumps(value)} is not a list (write [{json.dumps(value)}])")


def _or(value: Any, where: str, depth: int) -> Iterator[Problem]:
    if not isinstance(value, list) or len(value) < 2:
        yield (where, "$or takes a list of two or more patterns")
        return
    for index, branch in enumerate(value):
        if isinstance(branch, Mapping):
            yield from _object(branch, f"{where}[{index}]", depth + 1)
        else:
            yield (f"{where}[{index}]", "a branch of $or is a pattern object")


def _matchers(values: list[Any], where: str) -> Iterator[Problem]:
    if not values:
        yield (where, "is an empty list, which matches nothing (give a value, or remove the field)")
        return
    for index, value in enumerate(values):
        at = f"{where}[{index}]"
        if isinstance(value, Mapping):
            yield from _operator(value, at)
        elif isinstance(value, str) and not value:
            yield (at, 'is an empty string (give a value, or use {"exists": false})')
        elif not (value is None or isinstance(value, str | int | float | bool)):
            yield (at, "is not a value or an operator object")


def _operator(value: Mapping[str, Any], at: str) -> Iterator[Problem]:
    if len(value) != 1:
        yield (at, f"an operator object holds exactly one of: {', '.join(OPERATORS)}")
        return
    ((name, argument),) = value.items()
    where = f"{at}.{name}"
    if name in ("prefix", "suffix"):
        yield from _text_or_ignore_case(argument, where)
    elif name in ("equals-ignore-case", "wildcard", "cidr"):
        if not isinstance(argument, str) or not argument:
            yield (where, "takes a non-empty string")
    elif name == "exists":
        if not isinstance(argument, bool):
            yield (where, "takes true or false")
    elif name == "numeric":
        yield from _numeric(argument, where)
    elif name == "anything-but":
        yield from _anything_but(argument, where)
    else:
        hint = ", ".join(OPERATORS)
        yield (at, f'"{name}" is not an event pattern operator (use one of: {hint})')


def _text_or_ignore_case(argument: Any, where: str) -> Iterator[Problem]:
    if isinstance(argument, Mapping):
        if set(argument) != {"equals-ignore-case"} or not _text(argument["equals-ignore-case"]):
            yield (where, 'takes a non-empty string or {"equals-ignore-case": "..."}')
    elif not _text(argument):
        yield (where, "takes a non-empty string")


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _numeric(argument: Any, where: str) -> Iterator[Problem]:
    shape = 'takes [">", 0] or [">", 0, "<=", 5] (operators <, <=, =, >, >=)'
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        yield (where, shape)
        return
    for index in range(0, len(argument), 2):
        operator, number = argument[index], argument[index + 1]
        numeric = isinstance(number, int | float) and not isinstance(number, bool)
        if operator not in NUMERIC_OPERATORS or not numeric:
            yield (where, shape)
            return


def _anything_but(argument: Any, where: str) -> Iterator[Problem]:
    if isinstance(argument, Mapping):
        if len(argument) != 1 or next(iter(argument)) not in (
            "prefix",
            "suffix",
            "equals-ignore-case",
            "wildcard",
        ):
            yield (
                where,
                "takes a value, a list, or one of prefix, suffix, equals-ignore-case, wildcard",
            )
            return
        ((_, inner),) = argument.items()
        values = inner if isinstance(inner, list) else [inner]
        if not values or not all(_text(v) for v in values):
            yield (where, "takes non-empty strings")
        return
    values = argument if isinstance(argument, list) else [argument]
    if not values:
        yield (where, "is an empty list (give the values to exclude)")
    for value in values:
        if isinstance(value, str) and not value:
            yield (where, "holds an empty string (give the values to exclude)")
        elif not isinstance(value, str | int | float) or isinstance(value, bool):
            yield (where, "takes strings or numbers")


# --- matching an event, as the bus does --------------------------------------------------

_MISSING = object()


def mismatch(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> str | None:
    """Why the bus would not deliver ``event`` to a rule with ``pattern`` (the first field
    that fails, with what the pattern wants), or None when it matches. The grammar is the
    one ``problems`` checks. Arrays are flattened as the bus does: a field inside a list of
    objects matches when any element's value does."""
    return _mismatch_object(pattern, [event], "")


def _children(nodes: list[Any], key: str) -> list[Any]:
    """Every value at ``key`` of the objects in ``nodes`` (lists flattened)."""
    found: list[Any] = []
    for node in nodes:
        for item in node if isinstance(node, list) else [node]:
            if isinstance(item, Mapping) and key in item:
                value = item[key]
                found.extend(value if isinstance(value, list) else [value])
    return found


def _mismatch_object(pattern: Mapping[str, Any], nodes: list[Any], path: str) -> str | None:
    for key, wanted in pattern.items():
        if key == "$or":
            reasons = [_mismatch_object(sub, nodes, path) for sub in wanted]
            if all(reasons):
                return f"no branch of {_join(path, '$or')} matches ({reasons[0]})"
            continue
        values = _children(nodes, key)
        where = _join(path, key)
        if isinstance(wanted, Mapping):
            reason = _mismatch_object(wanted, values, where)
        else:
            reason = _mismatch_leaf(wanted, values, where)
        if reason is not None:
            return reason
    return None


def _mismatch_leaf(matchers: list[Any], values: list[Any], where: str) -> str | None:
    candidates = values or [_MISSING]
    if any(_matches(m, v) for m in matchers for v in candidates):
        return None
    if not values:
        return f"the event has no {where} (the pattern wants {_show(matchers)})"
    shown = values[0] if len(values) == 1 else values
    return f"{where} is {_show(shown)}; the pattern wants {_show(matchers)}"


def _show(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def _matches(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, Mapping):
        if value is _MISSING:
            return False
        if isinstance(matcher, bool) or isinstance(value, bool) or matcher is None:
            return matcher is value or (matcher == value and type(matcher) is type(value))
        if isinstance(matcher, int | float) and isinstance(value, int | float):
            return float(matcher) == float(value)
        return bool(matcher == value)
    ((operator, argument),) = matcher.items()
    if operator == "exists":
        return (value is not _MISSING) is bool(argument)
    if value is _MISSING:
        return False
    if operator == "anything-but":
        return _anything_but_matches(argument, value)
    if operator == "numeric":
        return _numeric_matches(argument, value)
    if not isinstance(value, str):
        return False
    return _text_matches(operator, argument, value)


def _text_matches(operator: str, argument: Any, value: str) -> bool:
    if operator in ("prefix", "suffix") and isinstance(argument, Mapping):
        ((_, text),) = argument.items()  # {"equals-ignore-case": ...}
        value, argument = value.lower(), str(text).lower()
    if operator == "prefix":
        return value.startswith(str(argument))
    if operator == "suffix":
        return value.endswith(str(argument))
    if operator == "equals-ignore-case":
        return value.lower() == str(argument).lower()
    if operator == "wildcard":
        return _wildcard(str(argument), value)
    if operator == "cidr":
        import ipaddress

        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(str(argument), strict=False)
        except ValueError:
            return False
    return False


def _wildcard(glob: str, value: str) -> bool:
    import re

    parts = [re.escape(p.replace("\\*", "*")) for p in re.split(r"(?<!\\)\*", glob)]
    return re.fullmatch(".*".join(parts), value, flags=re.DOTALL) is not None


def _anything_but_matches(argument: Any, value: Any) -> bool:
    if isinstance(argument, Mapping):
        ((operator, text),) = argument.items()
        if not isinstance(value, str):
            return True
        if isinstance(text, list):
            return not any(_text_matches(operator, t, value) for t in text)
        return not _text_matches(operator, text, value)
    excluded = argument if isinstance(argument, list) else [argument]
    return not any(_matches(e, value) for e in excluded)


def _numeric_matches(argument: list[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    compare = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        "=": lambda a, b: a == b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    pairs = zip(argument[0::2], argument[1::2], strict=False)
    return all(compare[op](float(value), float(bound)) for op, bound in pairs)
