"""A cloud-neutral workflow graph: the *intent* of a recovery, which each provider renders.

The vocabulary is the portable set from DESIGN.md: task with timeout, sequence, choice,
relative wait, retry, catch, bounded loop counter. Data is addressed with ``Ref`` paths
(never JSONPath); errors are named by category (never a cloud's error names). A provider
maps both to its own language (AWS: ``providers/aws/asl.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeAlias


@dataclass(frozen=True)
class Ref:
    """A value in the workflow's data, by path from its root (empty path = the whole input)."""

    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResultRef:
    """A field of the task's own result (used when selecting what to keep)."""

    path: tuple[str, ...]


class Context(Enum):
    """Facts the engine knows about the running execution."""

    EXECUTION_ID = "execution_id"
    EXECUTION_NAME = "execution_name"
    STATE_NAME = "state_name"


@dataclass(frozen=True)
class Increment:
    """``ref + by``: the one arithmetic a bounded loop needs."""

    ref: Ref
    by: int = 1


@dataclass(frozen=True)
class Template:
    """Text with ``{}`` placeholders filled from ``args`` (refs, context facts, increments)."""

    text: str
    args: tuple[Ref | Context | Increment, ...]


Value: TypeAlias = "str | int | float | bool | Ref | ResultRef | Context | Increment | Template | Mapping[str, Value] | None"


class ErrorCategory(Enum):
    """What went wrong, in words a provider maps to its own error names."""

    #: the platform failed to run the function (service error, throttled invoke, SDK fault)
    PLATFORM_TRANSIENT = "platform_transient"
    #: the step itself reported a transient failure (a 5xx from the cloud API, a network fault)
    STEP_TRANSIENT = "step_transient"
    #: the cloud API refused the step's call for its request rate: it passes once the API's
    #: token bucket refills, which in a fleet-wide storm takes minutes, not seconds
    THROTTLED = "throttled"
    #: a poll has not yet seen the wanted state
    NOT_READY = "not_ready"
    #: the store refused a conditional write (lock held, limit reached)
    CONDITION_FAILED = "condition_failed"
    #: the store is throttled or briefly unavailable
    STORE_TRANSIENT = "store_transient"
    #: a task ran past its timeout
    TIMEOUT = "timeout"
    #: a person rejected an approval request
    REJECTED = "rejected"
    #: nobody has decided an approval request yet (its poll retries on this)
    DECISION_PENDING = "decision_pending"
    #: the triggering event was refused on purpose (another account or region, too old)
    REFUSED = "refused"
    #: the resource left the playbook's scope (its required tag) before an action ran
    NOT_IN_SCOPE = "not_in_scope"
    #: anything at all
    ANY = "any"


@dataclass(frozen=True)
class RetryPolicy:
    """Retry ``errors`` up to ``max_attempts`` times; the n-th delay (from 0) is
    ``interval_seconds * backoff_rate**n``, capped at ``max_delay_seconds``; with ``jitter``
    each delay is drawn between 0 and that ("full jitter")."""

    errors: tuple[ErrorCategory, ...]
    interval_seconds: int
    max_attempts: int
    backoff_rate: float = 2.0
    max_delay_seconds: int | None = None
    jitter: bool = True

    def delays(self) -> tuple[float, ...]:
        """The delay before each retry, before jitter (with jitter: the most it can be)."""
        cap = self.max_delay_seconds
        out = []
        for n in range(self.max_attempts):
            delay = self.interval_seconds * self.backoff_rate**n
            out.append(float(min(delay, cap) if cap is not None else delay))
        return tuple(out)

    @property
    def longest_wait_seconds(self) -> float:
        """The most time all retries of one call can wait together (every delay at its cap)."""
        return sum(self.delays())

    @property
    def expected_wait_seconds(self) -> float:
        """What all retries wait together on average (full jitter halves every delay)."""
        return self.longest_wait_seconds / 2 if self.jitter else self.longest_wait_seconds


@dataclass(frozen=True)
class Catch:
    errors: tuple[ErrorCategory, ...]
    next: str
    #: where the error description goes in the workflow data
    result_at: str = "error"


@dataclass(frozen=True)
class Task:
    """Run a function (by its key in the workflow's function table) with a payload."""

    name: str
    function: str
    payload: Mapping[str, Value]
    next: str | None
    #: what to keep from the result (ResultRef fields and literals); None keeps nothing
    result: Mapping[str, Value] | None = None
    #: where the kept result goes in the workflow data (top-level key)
    result_at: str | None = None
    timeout_seconds: int = 30
    retry: tuple[RetryPolicy, ...] = ()
    catch: tuple[Catch, ...] = ()
    comment: str = ""

    @property
    def end(self) -> bool:
        return self.next is None


@dataclass(frozen=True)
class StoreWrite:
    """A conditional write to the workflow's store (lock, counter, audit record).

    ``kind``: ``lock`` puts an item unless one for ``key`` exists that has not expired
    (``now`` < its ``expires_at``); ``count`` adds ``member`` (the execution) to the item's
    set unless the set already holds ``limit`` others: idempotent, so counting before
    every action counts one execution once; ``record`` puts an item unconditionally;
    ``release`` deletes the item if its ``execution`` field is ``member`` (a lock this
    execution holds; someone else's lock, or none, is left alone and goes on to ``next``).
    A refused condition moves to ``refused``. Every value is written as text except
    ``expires_at`` (a number, the store's expiry attribute).
    """

    name: str
    kind: str
    key: Value
    sort: Value
    next: str
    expires_at: Value = None
    fields: Mapping[str, Value] = field(default_factory=dict)
    now: Value = None
    member: Value = None
    limit: int | None = None
    refused: str | None = None
    retry: tuple[RetryPolicy, ...] = ()
    catch: tuple[Catch, ...] = ()
    comment: str = ""
    #: a store write is one small request; anything slower is a fault
    timeout_seconds: int = 10


@dataclass(frozen=True)
class IsTrue:
    ref: Ref


@dataclass(frozen=True)
class IsText:
    """``ref`` holds text (a field that is null when there is nothing to say)."""

    ref: Ref


@dataclass(frozen=True)
class TextEquals:
    ref: Ref
    value: str


@dataclass(frozen=True)
class NumberBelow:
    ref: Ref
    value: int


@dataclass(frozen=True)
class NumberBetween:
    """``low <= ref <= high`` (inclusive)."""

    ref: Ref
    low: int
    high: int


Condition: TypeAlias = IsTrue | IsText | TextEquals | NumberBelow | NumberBetween


@dataclass(frozen=True)
class Rule:
    when: Condition
    next: str


@dataclass(frozen=True)
class Choice:
    name: str
    rules: tuple[Rule, ...]
    default: str
    comment: str = ""


@dataclass(frozen=True)
class Wait:
    name: str
    seconds: int
    next: str
    comment: str = ""


@dataclass(frozen=True)
class Assign:
    """Set ``at`` (a top-level key) to an object built from refs, literals and increments."""

    name: str
    at: str
    values: Mapping[str, Value]
    next: str
    comment: str = ""


@dataclass(frozen=True)
class Succeed:
    name: str
    comment: str = ""


@dataclass(frozen=True)
class Fail:
    name: str
    error: str
    cause: str


State: TypeAlias = Task | StoreWrite | Choice | Wait | Assign | Succeed | Fail


@dataclass(frozen=True)
class Workflow:
    """A whole workflow: its states in a stable order, the first one, and the overall timeout."""

    name: str
    comment: str
    start_at: str
    states: tuple[State, ...]
    timeout_seconds: int
    functions: tuple[str, ...] = field(default=())
    #: the function told when an execution ends without reaching a terminal state
    #: (timed out or aborted), so nothing ends silently and no lock outlives it
    finalizer: str | None = None
    #: the store (lock, counters, audit) the workflow writes, if any
    store: str | None = None

    def __post_init__(self) -> None:
        names = [s.name for s in self.states]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"workflow {self.name}: state names used twice: {duplicates}")
        known = set(names)
        for target in self._edges():
            if target not in known:
                raise ValueError(f"workflow {self.name}: transition to unknown state {target!r}")
        if self.start_at not in known:
            raise ValueError(f"workflow {self.name}: start state {self.start_at!r} is unknown")

    def _edges(self) -> Iterator[str]:
        for state in self.states:
            yield from successors(state)

    def state(self, name: str) -> State:
        for candidate in self.states:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


def successors(state: State) -> Iterator[str]:
    """Every state a state can move to (next, rule targets, default, catch targets)."""
    if isinstance(state, Task | StoreWrite):
        if state.next:
            yield state.next
        if isinstance(state, StoreWrite) and state.refused:
            yield state.refused
        for catch in state.catch:
            yield catch.next
    elif isinstance(state, Choice):
        for rule in state.rules:
            yield rule.next
        yield state.default
    elif isinstance(state, Wait | Assign):
        yield state.next
