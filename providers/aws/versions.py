"""The hashicorp/aws versions healstack is proven against, and Terraform version constraints.

``PROVEN`` are the two ends of the declared range every emitted argument, block and reference
is checked against (``schema_check.py``, tests/reuse/test_provider_range.py): 5.100.0 by
``terraform validate`` with the real provider and its schema snapshot, 6.69.1 by the snapshot
rebuilt from cdktn-provider-aws 25.8.1's jsii assembly. ``DEFAULT_CONSTRAINT`` is what stacks
and the module declare; a setting may narrow it (``check_user_choice``).

Constraints are Terraform's: comma-joined ``=`` (or a bare version), ``!=``, ``>``, ``>=``,
``<``, ``<=`` and ``~>`` (only the right-most given component may increase: ``~> 6.0`` is
``>= 6.0.0, < 7.0.0``, ``~> 6.1.2`` is ``>= 6.1.2, < 6.2.0``, ``~> 6`` is ``>= 6.0.0, <
7.0.0``), versions of one to three numeric components (missing ones are 0). Pre-release
versions (``6.0.0-beta1``) are refused: no pre-release is proven.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PROVEN = ("5.100.0", "6.69.1")
DEFAULT_CONSTRAINT = ">= 5.100.0, < 7.0.0"

Version = tuple[int, int, int]

PART = re.compile(r"^\s*(=|!=|>=|<=|>|<|~>)?\s*v?(\d+(?:\.\d+){0,2})\s*$")


def parse_version(text: str) -> Version:
    """``6.69.1`` -> (6, 69, 1); ``6`` -> (6, 0, 0)."""
    found = re.fullmatch(r"\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*", text)
    if found is None:
        raise ValueError(f"{text!r} is not a version (MAJOR[.MINOR[.PATCH]])")
    major, minor, patch = (int(part or 0) for part in found.groups())
    return major, minor, patch


def _next_patch(version: Version) -> Version:
    return version[0], version[1], version[2] + 1


@dataclass(frozen=True)
class Constraint:
    """The versions a constraint allows: ``low <= v < high`` (``high`` None: no upper
    bound), except ``excluded``."""

    text: str
    low: Version = (0, 0, 0)
    high: Version | None = None
    excluded: frozenset[Version] = field(default_factory=frozenset)

    def allows(self, version: Version) -> bool:
        return (
            self.low <= version
            and (self.high is None or version < self.high)
            and version not in self.excluded
        )

    def __and__(self, other: Constraint) -> Constraint:
        highs = [h for h in (self.high, other.high) if h is not None]
        return Constraint(
            f"{self.text}, {other.text}",
            max(self.low, other.low),
            min(highs) if highs else None,
            self.excluded | other.excluded,
        )

    def empty(self) -> bool:
        """No version is allowed. ``[low, high)`` holds infinitely many versions unless
        ``high`` shares ``low``'s major and minor (then ``high.patch - low.patch`` of them);
        the exclusions are finitely many."""
        if self.high is None:
            return False
        if self.high <= self.low:
            return True
        if self.high[:2] != self.low[:2]:
            return False
        patches = range(self.low[2], self.high[2])
        return all((self.low[0], self.low[1], p) in self.excluded for p in patches)


def parse_constraint(text: str) -> Constraint:
    """A Terraform version constraint; ``ValueError`` naming the part that is not one."""
    if not text.strip():
        raise ValueError("an empty version constraint")
    low: Version = (0, 0, 0)
    high: Version | None = None
    excluded: set[Version] = set()

    def below(bound: Version) -> None:
        nonlocal high
        high = bound if high is None else min(high, bound)

    for part in text.split(","):
        found = PART.match(part)
        if found is None:
            raise ValueError(f"{part.strip()!r} is not a version constraint (e.g. >= 5.100.0)")
        operator, given = found.group(1) or "=", found.group(2)
        version = parse_version(given)
        components = given.count(".") + 1
        if operator == "=":
            low = max(low, version)
            below(_next_patch(version))
        elif operator == "!=":
            excluded.add(version)
        elif operator == ">=":
            low = max(low, version)
        elif operator == ">":
            low = max(low, _next_patch(version))
        elif operator == "<":
            below(version)
        elif operator == "<=":
            below(_next_patch(version))
        else:  # ~>: the right-most given component may increase
            low = max(low, version)
            if components == 3:
                below((version[0], version[1] + 1, 0))
            else:
                below((version[0] + 1, 0, 0))
    return Constraint(text.strip(), low, high, frozenset(excluded))


def allows(constraint: str, version: str) -> bool:
    return parse_constraint(constraint).allows(parse_version(version))


def intersects(a: str, b: str) -> bool:
    """Is there a version both constraints allow?"""
    return not (parse_constraint(a) & parse_constraint(b)).empty()


def within(a: str, b: str) -> bool:
    """Does ``b`` allow every version ``a`` allows? (On the interval bounds: ``a``'s own
    exclusions are not counted as narrowing it.)"""
    narrow, wide = parse_constraint(a), parse_constraint(b)
    if narrow.empty():
        return True
    if narrow.low < wide.low:
        return False
    if wide.high is not None and (narrow.high is None or narrow.high > wide.high):
        return False
    return not any(narrow.allows(v) for v in wide.excluded)


def check_user_choice(text: str) -> str | None:
    """Why a setting's provider version constraint cannot narrow ``DEFAULT_CONSTRAINT`` (one
    line), or None: it must be a valid constraint allowing some version, and only versions
    of the proven range."""
    try:
        parsed = parse_constraint(text)
    except ValueError as error:
        return f"aws provider version {text!r}: {error}"
    if parsed.empty():
        return f"aws provider version {text!r} allows no version at all"
    proven = f"{DEFAULT_CONSTRAINT} (proven against {' and '.join(PROVEN)})"
    if not intersects(text, DEFAULT_CONSTRAINT):
        return f"aws provider version {text!r} allows no version of the proven range {proven}"
    if not within(text, DEFAULT_CONSTRAINT):
        return (
            f"aws provider version {text!r} allows versions outside the proven range {proven}: "
            f"narrow it, e.g. '{text.strip()}, {DEFAULT_CONSTRAINT}'"
        )
    return None
