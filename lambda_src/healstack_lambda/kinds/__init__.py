"""The runtime unit of each target kind: how its id looks and which events carry it.

One module per kind (``ec2_instance.py``, ...), each defining ``KIND``; this registry loads
every module of the package, so a kind is added by adding its module (plus its handler
module and the synthesis-side units named in ``healstack.catalog``). Nothing here imports a
handler module: every function's package carries this registry, never another handler.
``get`` raises ``InvalidInput`` for a kind no module defines (no fall-through).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache

from ..errors import InvalidInput
from ..shapes import Extractor, Shape


@dataclass(frozen=True)
class RuntimeKind:
    name: str
    #: what an id of the kind is, for messages ("an EC2 instance id (i- ...)")
    expected: str
    #: the exact shape of a (normalized) id
    id_pattern: re.Pattern[str]
    #: the event shapes that name this kind, each with how to read the raw id
    shapes: Mapping[Shape, Extractor]
    #: the one key of a resource however an event spells it (strip an ARN, lower-case ...)
    normalize: Callable[[str], str] = field(default=lambda raw: raw)
    #: AWS error codes that mean the resource does not exist
    not_found_codes: frozenset[str] = frozenset()

    def is_valid(self, resource_id: str) -> bool:
        return self.id_pattern.match(resource_id) is not None


@cache
def registry() -> Mapping[str, RuntimeKind]:
    """Every kind module's ``KIND``, by name."""
    found: dict[str, RuntimeKind] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        kind = importlib.import_module(f"{__name__}.{module}").KIND
        if not isinstance(kind, RuntimeKind) or kind.name != module:
            raise TypeError(f"{__name__}.{module}.KIND must be the RuntimeKind {module!r}")
        found[kind.name] = kind
    return found


def names() -> tuple[str, ...]:
    return tuple(registry())


def get(name: str) -> RuntimeKind:
    """The kind ``name``; ``InvalidInput`` when no module defines it."""
    try:
        return registry()[name]
    except KeyError:
        raise InvalidInput(f"target_kind {name!r} is not one of {', '.join(names())}") from None


def not_found_codes() -> frozenset[str]:
    """Every kind's not-found error codes."""
    return frozenset(code for kind in registry().values() for code in kind.not_found_codes)
