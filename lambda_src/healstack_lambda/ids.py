"""Resource identifier rules, by target kind (never act on a guessed resource).

One resource, one key: the id a workflow locks and counts on must be the same however an
event spells the resource. Each kind's own rules (its id shape, how an ARN or a case
variant reduces to the one key) live in its unit, ``healstack_lambda.kinds.<kind>``; this
module dispatches to them and raises ``InvalidInput`` for a kind no unit defines.
"""

from __future__ import annotations

import re

from . import kinds

#: the account and region of any ARN (an id that is an ARN must be our own account's)
ANY_ARN = re.compile(
    r"^arn:(?P<partition>[^:]*):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):"
)


def target_kinds() -> tuple[str, ...]:
    return kinds.names()


def expected(kind: str) -> str:
    """What an id of ``kind`` looks like, for messages."""
    return kinds.get(kind).expected


def normalize(kind: str, raw: str) -> str:
    """The one key of a resource (see the kind's unit)."""
    return kinds.get(kind).normalize(raw)


def arn_account_and_region(value: str) -> tuple[str, str] | None:
    """``(account, region)`` of an ARN, or None when ``value`` is not an ARN."""
    match = ANY_ARN.match(value)
    if match is None:
        return None
    return match.group("account"), match.group("region")


def is_valid(kind: str, resource_id: str) -> bool:
    """True when ``resource_id`` has the exact shape ``kind`` requires."""
    return kinds.get(kind).is_valid(resource_id)
