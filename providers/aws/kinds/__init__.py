"""The AWS unit of each target kind: its operations' handlers and IAM, and its simulation.

One module per kind (``ec2_instance.py``, ...), each defining ``KIND``, an ``AwsKind`` named
as the module; ``get`` raises ``UnknownKind`` for a kind no module defines (no fall-through
to another kind's permissions). ``tests/core/test_kind_registry.py`` proves that every kind of
``healstack.catalog`` has a unit here with exactly its operations.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from healstack.catalog import UnknownKind
from healstack.providers.aws.permissions import Permission, StepImplementation

#: ``client(service)``: a boto3 client of the simulated world, in the event's account and
#: region
ClientFactory = Callable[[str], Any]
#: ``seed(client, ids, tags) -> {event id: simulated id}``: create one resource per id,
#: carrying ``tags`` (``[{"Key", "Value"}]``)
Seed = Callable[[ClientFactory, list[str], list[dict[str, str]]], dict[str, str]]
#: ``state(client, id) -> its lifecycle state, or None when it is gone``
ReadState = Callable[[ClientFactory, str], "str | None"]


@dataclass(frozen=True)
class Simulation:
    """How ``healstack simulate`` builds the kind's resources in moto and reads them back."""

    seed: Seed
    state: ReadState
    #: a sample event that names the kind, in ``examples/events/`` (benchmarks, docs)
    sample_event: str


@dataclass(frozen=True)
class AwsKind:
    name: str
    #: the resource's ARN template ({partition}, {region}, {account} filled by the provider)
    arn: str
    #: the condition key (prefix) that limits a mutating action to resources with a tag
    tag_condition_key: str
    #: operation -> handler and IAM
    operations: Mapping[str, StepImplementation]
    #: the AWS services its handlers call (the emulator gives each an endpoint)
    services: tuple[str, ...]
    simulation: Simulation

    def implementation(self, operation: str) -> StepImplementation:
        try:
            return self.operations[operation]
        except KeyError:
            raise KeyError(f"no AWS implementation for {self.name}.{operation}") from None


def acts(describe: Iterable[Permission], *actions: str, arn: str) -> tuple[Permission, ...]:
    """An action's permissions: what it reads first, then its mutating call(s) on ``arn``."""
    return (*describe, Permission(tuple(actions), arn, mutating=True))


@cache
def registry() -> Mapping[str, AwsKind]:
    found: dict[str, AwsKind] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        kind = importlib.import_module(f"{__name__}.{module}").KIND
        if not isinstance(kind, AwsKind) or kind.name != module:
            raise TypeError(f"{__name__}.{module}.KIND must be the AwsKind {module!r}")
        found[module] = kind
    return found


def get(name: str) -> AwsKind:
    try:
        return registry()[name]
    except KeyError:
        raise UnknownKind(name) from None


def tags_dict(tags: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags}
