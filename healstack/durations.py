"""Human durations (``30s``, ``5m``, ``2h``, ``1h30m``) as whole seconds."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)([smhd])")
_WHOLE = re.compile(r"^(?:\d+[smhd])+$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
HINT = "use 30s, 5m, 2h or 1h30m"


def parse_duration(value: object) -> int:
    """Return seconds for ``value`` (an int of seconds or a duration string).

    Raises ``ValueError`` with a message a user can act on.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration ({HINT})")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is negative ({HINT})")
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            return int(text)
        if _WHOLE.match(text):
            return sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))
    raise ValueError(f"{value!r} is not a duration ({HINT})".replace("'", '"'))


def format_duration(seconds: int) -> str:
    """Shortest readable form: ``90`` -> ``1m30s``, ``3600`` -> ``1h``."""
    if seconds == 0:
        return "0s"
    out = []
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            out.append(f"{count}{unit}")
    return "".join(out)
