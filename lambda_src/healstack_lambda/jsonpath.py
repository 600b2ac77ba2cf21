"""A tiny JSONPath subset for pointing at an id inside an event.

Supported: ``$`` followed by any of ``.key`` (dashes allowed, e.g. ``$.detail.instance-id``),
``['key']`` / ``["key"]`` and ``[0]``. Wildcards, filters and slices are refused.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"""\.(?P<dot>[^.\[\]'"\s]+)"""
    r"""|\[(?P<index>\d+)\]"""
    r"""|\['(?P<squote>[^']*)'\]"""
    r"""|\["(?P<dquote>[^"]*)"\]"""
)

Step = str | int


class PathSyntaxError(ValueError):
    """The path is not in the supported subset."""


def parse(path: str) -> list[Step]:
    """Split ``path`` into keys and indexes, or raise ``PathSyntaxError``."""
    if not path.startswith("$"):
        raise PathSyntaxError(f"id_path {path!r} must start with '$'")
    steps: list[Step] = []
    position = 1
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None:
            raise PathSyntaxError(
                f"id_path {path!r}: unsupported syntax at {path[position:]!r} "
                "(use $.a.b, $.a['x-y'] or $.a[0])"
            )
        if match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            key = next(g for g in match.group("dot", "squote", "dquote") if g is not None)
            if key == "*":
                raise PathSyntaxError(f"id_path {path!r}: wildcards are not supported")
            steps.append(key)
        position = match.end()
    if not steps:
        raise PathSyntaxError(f"id_path {path!r} selects the whole event, not an id")
    return steps


_MISSING = object()


def lookup(document: Any, steps: list[Step]) -> tuple[Any, str]:
    """Follow ``steps``; return ``(value, "")`` or ``(MISSING, path_prefix_that_failed)``."""
    current = document
    walked = "$"
    for step in steps:
        if isinstance(step, int):
            walked += f"[{step}]"
            if not isinstance(current, list) or step >= len(current):
                return _MISSING, walked
            current = current[step]
        else:
            walked += f".{step}" if re.fullmatch(r"[A-Za-z0-9_-]+", step) else f"['{step}']"
            if not isinstance(current, dict) or step not in current:
                return _MISSING, walked
            current = current[step]
    return current, ""


def is_missing(value: Any) -> bool:
    """True when ``lookup`` found nothing."""
    return value is _MISSING
