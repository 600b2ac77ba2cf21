"""The registry of target kinds: what each kind of resource can be checked for and do.

Cloud-free. A kind is one unit per layer, each a module named after the kind and registered
by that name, never joined by ``if kind ==`` chains:

- here (``healstack/kinds/<kind>.py``): the vocabulary ``validate`` and the compiler use:
  its checks and the states they report, its actions with the params each takes (a schema
  checked at ``validate``), what undoes what, and the event sources that name it;
- ``providers/aws/kinds/<kind>.py``: the AWS realisation: each operation's handler and IAM
  actions with their condition keys, the ARN and tag condition key, how the simulator seeds
  and reads it back;
- ``lambda_src/healstack_lambda/kinds/<kind>.py`` ... see ``healstack_lambda.kinds``: its
  identifier rules, the event shapes that carry it, its not-found error codes; its handlers.

``kind(name)`` raises ``UnknownKind`` for a name no module registered: no layer falls
through to another kind's behaviour. ``tests/core/test_kind_registry.py`` proves every
registered kind is complete in every layer.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

ParamType = Literal["boolean", "integer", "string"]
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "string": (str,),
}


class UnknownKind(KeyError):
    """A target kind no module registered."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"{name!r} is not a registered target kind (known: {', '.join(sorted(_KINDS))})"
        )

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Param:
    """One parameter an operation takes from a playbook step's ``params``."""

    type: ParamType
    description: str
    #: set by the workflow itself (``start``'s ``own_stop``); a playbook may not give it
    internal: bool = False
    #: for strings: the values accepted (empty: any non-empty string)
    choices: tuple[str, ...] = ()

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not fit (a phrase for the error message), or None."""
        wanted = _PYTHON_TYPES[self.type]
        if not isinstance(value, wanted) or (self.type == "integer" and isinstance(value, bool)):
            return f"must be a {self.type}, got {type(value).__name__}"
        if self.type == "string" and not str(value).strip():
            return "must be a non-empty string"
        if self.choices and value not in self.choices:
            return f"must be one of: {', '.join(self.choices)}"
        return None


@dataclass(frozen=True)
class Check:
    """An operation that reads the resource and reports ``healthy``, ``state`` and ``skip``."""

    name: str
    description: str
    #: lifecycle states it reports (lower case); ``wait_until`` may name these
    states: tuple[str, ...]
    #: ``skip`` codes it may report (each ends in the ``skipped`` outcome, told, no action)
    skips: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    """An operation that changes the resource (subject to scope, dry-run, budget, approval)."""

    name: str
    description: str
    params: Mapping[str, Param] = field(default_factory=dict)
    #: the result field that says whether it acted (or, in a dry run, would have): set when
    #: another action may only undo what this one did
    evidence: str | None = None

    def user_params(self) -> dict[str, Param]:
        return {k: v for k, v in self.params.items() if not v.internal}


@dataclass(frozen=True)
class Undo:
    """``action`` may only undo what ``undoes`` did in the same execution (``start`` restarts
    only an instance this recovery stopped). ``undoes`` reports in its result field
    ``evidence`` whether it acted (or, in a dry run, would have); the undoing action gets
    that as its boolean param ``param`` (an internal param of the undoing action)."""

    action: str
    undoes: str
    evidence: str
    param: str


@dataclass(frozen=True)
class TargetKind:
    name: str
    description: str
    check_ops: tuple[Check, ...]
    action_ops: tuple[Action, ...]
    #: actions that may only undo what this same execution did
    undoes: tuple[Undo, ...] = ()
    #: the event sources whose events name this kind where ResolveTarget finds it without an
    #: ``id_path`` (the handler's shapes: ``healstack_lambda`` kinds; a test keeps them equal)
    event_sources: tuple[str, ...] = ()
    #: a playbook snippet for the docs (the steps of a typical recovery)
    example: str = ""

    def __post_init__(self) -> None:
        names = [op.name for op in self.operations()]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: an operation name is used twice: {names}")
        if not self.check_ops:
            raise ValueError(f"{self.name}: a kind needs at least one check")
        actions = {a.name: a for a in self.action_ops}
        for undo in self.undoes:
            undone = actions.get(undo.undoes)
            undoing = actions.get(undo.action)
            if undone is None or undoing is None or undone.evidence != undo.evidence:
                raise ValueError(f"{self.name}: {undo} names actions or evidence it lacks")
            param = undoing.params.get(undo.param)
            if param is None or not param.internal or param.type != "boolean":
                raise ValueError(f"{self.name}: {undo.action} needs internal boolean {undo.param}")

    @property
    def checks(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.check_ops)

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.action_ops)

    @property
    def state_check(self) -> Check:
        """The check ``wait_until`` polls: the first one (it reports the lifecycle states)."""
        return self.check_ops[0]

    @property
    def states(self) -> tuple[str, ...]:
        return self.state_check.states

    def operations(self) -> tuple[Check | Action, ...]:
        return (*self.check_ops, *self.action_ops)

    def operation(self, name: str) -> Check | Action:
        for op in self.operations():
            if op.name == name:
                return op
        raise KeyError(f"{name!r} is not an operation of {self.name}")

    def action(self, name: str) -> Action:
        op = self.operation(name)
        if not isinstance(op, Action):
            raise KeyError(f"{name!r} is not an action of {self.name}")
        return op


_KINDS: dict[str, TargetKind] = {}


def register(target_kind: TargetKind) -> TargetKind:
    """Add a kind to the registry (called once, by the kind's own module)."""
    if target_kind.name in _KINDS:
        raise ValueError(f"target kind {target_kind.name!r} is registered twice")
    _KINDS[target_kind.name] = target_kind
    return target_kind


def _load() -> Mapping[str, TargetKind]:
    """Import every module of ``healstack.kinds``: each registers its kind."""
    package = importlib.import_module("healstack.kinds")
    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
        if not module.startswith("_"):
            importlib.import_module(f"healstack.kinds.{module}")
    return MappingProxyType(dict(sorted(_KINDS.items())))


#: every registered kind by name, sorted (read-only)
TARGET_KINDS: Mapping[str, TargetKind] = _load()


def kind(name: str) -> TargetKind:
    """The kind registered as ``name``; ``UnknownKind`` otherwise."""
    try:
        return TARGET_KINDS[name]
    except KeyError:
        raise UnknownKind(name) from None


#: the outcomes a workflow reports; notifications, metrics and ``simulate --expect`` use these
#: words (a test checks the compiled workflows emit exactly these)
OUTCOMES = (
    "recovered",
    "already_healthy",
    "skipped",
    "already_recovering",
    "gave_up",
    "failed",
    "refused",
    "recovery_limit_reached",
    "fleet_limit_reached",
    "approval_rejected",
    "approval_timed_out",
)
#: ``simulate``'s verdict for an event the trigger's pattern would not deliver
NOT_TRIGGERED = "not_triggered"
#: why a recovery did not act on a resource it checked (a check's ``skip`` code); each ends
#: in the ``skipped`` outcome, told, and never in an action
SKIP_REASONS = ("not_in_scope", "stopped_on_purpose", "changing", "at_minimum_capacity")
