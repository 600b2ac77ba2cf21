"""``healstack explain PLAYBOOK``: what one recovery can cost at most, read off the workflow.

Every figure comes from a walk over the *generated* workflow (the neutral graph
``modules/compile.py`` builds and ``providers/aws/asl.py`` renders), never from the
playbook: what the engine will run is what is bounded.

The walk expands each state by what the graph itself decides: the loop counter (the one
number Choice rules compare; its value is set by a task's result, moved by an ``Increment``,
so a bounded loop unrolls into attempts 1..max), whether an outcome notification has been
sent since the last piece of work, and whether the anti-flap budget counted this recovery
before an action. The expanded graph must be acyclic (a loop the counter does not bound is
reported as an error); then each figure is the longest path to each ending, under two
regimes:

- ``no_faults``: every Wait and every poll (a ``wait_until``, the approval wait) runs to its
  last try; no call fails transiently. Along the path a simulation of the same outcome
  takes, states entered, Lambda invocations without retries and Wait seconds are exact.
- ``every_retry``: also every retry of every task (transient, throttled, store) is used,
  each delay at its cap, each try to its timeout. An upper bound, never reached as a whole.

Figures: states entered; billed state transitions (entered + retries: Step Functions
Standard bills a retry as a transition); Lambda invocations; seconds in Wait states, in
poll delays, in retry delays and in tasks (every try to its ``TimeoutSeconds``), their sum
uncapped and the workflow's own ``TimeoutSeconds`` that caps it; mutating API calls per
resource (each try of an action task is one call); the cost of one recovery at AWS list
prices. The guard (``BudgetFor<Action>`` count states) turns the per-recovery bound into one
per resource per window. A path that ends without a notification after its last piece of
work is a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from healstack.catalog import Action
from healstack.catalog import kind as target_kind
from healstack.durations import format_duration
from healstack.errors import HealstackError
from healstack.modules.compile import NOTIFY_FUNCTION, compile_playbook
from healstack.playbook import Playbook
from healstack.providers.interfaces import FunctionSpec
from healstack.providers.workflow import (
    Assign,
    Catch,
    Choice,
    Condition,
    ErrorCategory,
    Fail,
    Increment,
    NumberBelow,
    NumberBetween,
    Ref,
    RetryPolicy,
    State,
    StoreWrite,
    Succeed,
    Task,
    Value,
    Wait,
    Workflow,
    successors,
)

#: retry policies on these errors are polls (the workflow waiting for a state or a person),
#: not faults: the ``no_faults`` regime uses them to their last try
POLL_ERRORS = frozenset({ErrorCategory.NOT_READY, ErrorCategory.DECISION_PENDING})
#: an action's handler makes one mutating call per invocation and the SDK does not retry it
#: (``healstack_lambda/aws.py``: ``total_max_attempts`` 1, at most a read and the act)
CALLS_PER_ACTION_TRY = 1
#: a counter value above this is a loop the graph does not bound
MAX_COUNTER = 10_000
REGIMES = ("no_faults", "every_retry")
NOTIFIED, NOT_NOTIFIED, NOTIFY_FAILED = "yes", "no", "failed"


class ExplainError(HealstackError):
    """The workflow cannot be bounded (a loop without a bound, a second loop counter)."""


@dataclass(frozen=True)
class Tally:
    """What entering states costs, summed along a path."""

    states: int = 0
    retries: int = 0
    invocations: int = 0
    wait_s: float = 0
    poll_s: float = 0
    retry_s: float = 0
    task_s: float = 0
    mutating_calls: int = 0
    gb_s: float = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def transitions(self) -> int:
        return self.states + self.retries

    @property
    def duration_s(self) -> float:
        return self.wait_s + self.poll_s + self.retry_s + self.task_s


@dataclass(frozen=True)
class Prices:
    """What one recovery is priced with (``providers/aws``: list prices, function settings)."""

    per_transition_usd: float
    per_request_usd: float
    per_gb_second_usd: float
    function_timeout_s: int
    function_memory_mb: int
    as_of: str

    def usd(self, tally: Tally) -> float:
        return (
            tally.transitions * self.per_transition_usd
            + tally.invocations * self.per_request_usd
            + tally.gb_s * self.per_gb_second_usd
        )


def aws_prices() -> Prices:
    from healstack.providers.aws import function_settings, prices

    if function_settings.LAMBDA_ARCHITECTURE != "arm64":  # pragma: no cover (one place)
        raise ExplainError("explain prices arm64 Lambda duration only")
    return Prices(
        per_transition_usd=prices.STEP_FUNCTIONS_STANDARD_PER_TRANSITION_USD,
        per_request_usd=prices.LAMBDA_PER_REQUEST_USD,
        per_gb_second_usd=prices.LAMBDA_ARM64_PER_GB_SECOND_USD,
        function_timeout_s=function_settings.LAMBDA_TIMEOUT_SECONDS,
        function_memory_mb=function_settings.LAMBDA_MEMORY_MB,
        as_of=prices.PRICES_AS_OF,
    )


def aws_mutating_apis(kind: str, operation: str) -> tuple[str, ...]:
    """The mutating API an action calls, by its declared IAM actions."""
    from healstack.providers.aws import kinds

    permissions = kinds.get(kind).implementation(operation).permissions
    return tuple(a for p in permissions if p.mutating for a in p.actions)


# -- the expanded graph ------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A state entered with what the walk knows: the loop counter (None: unknown), whether
    the outcome was told since the last work, whether the budget counted this recovery."""

    state: str
    counter: int | None
    notified: str
    counted: bool

    def key(self) -> tuple[str, int, str, bool]:
        """A total order (an unknown counter first), so every walk is the same."""
        return (
            self.state,
            -1 if self.counter is None else self.counter,
            self.notified,
            self.counted,
        )


@dataclass(frozen=True)
class Edge:
    target: Node
    #: a successful task's next state (an ending when the task has none)
    kind: str


def _counter_ref(workflow: Workflow) -> Ref | None:
    refs = {
        rule.when.ref
        for state in workflow.states
        if isinstance(state, Choice)
        for rule in state.rules
        if isinstance(rule.when, NumberBelow | NumberBetween)
    }
    if len(refs) > 1:
        names = ", ".join(sorted(".".join(r.path) for r in refs))
        raise ExplainError(f"workflow {workflow.name}: more than one loop counter ({names})")
    return next(iter(refs), None)


def _value_of(value: Value, counter: int | None, ref: Ref) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value == ref:
        return counter
    if isinstance(value, Increment) and value.ref == ref and counter is not None:
        return counter + value.by
    return None


def _written(at: str | None, values: Value, counter: int | None, ref: Ref | None) -> int | None:
    """The counter after ``values`` is written at ``at`` (a dotted top-level path)."""
    if at is None or ref is None:
        return counter
    path = tuple(at.split("."))
    if ref.path[: len(path)] != path:
        # the write lands beside the counter, or inside it (then it is no number any more)
        return None if path[: len(ref.path)] == ref.path else counter
    value = values
    for key in ref.path[len(path) :]:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return _value_of(value, counter, ref)


def _decide(condition: Condition, counter: int | None, ref: Ref | None) -> bool | None:
    """True/False when the counter decides the rule, None when it may go either way."""
    if counter is None or ref is None:
        return None
    if isinstance(condition, NumberBelow) and condition.ref == ref:
        return counter < condition.value
    if isinstance(condition, NumberBetween) and condition.ref == ref:
        return condition.low <= counter <= condition.high
    return None


class _Graph:
    """The workflow's states expanded by counter, notification and budget flags."""

    def __init__(self, workflow: Workflow, functions: Mapping[str, FunctionSpec]) -> None:
        self.workflow = workflow
        self.functions = functions
        self.ref = _counter_ref(workflow)
        self.by_name = {s.name: s for s in workflow.states}
        self.start = Node(workflow.start_at, None, NOT_NOTIFIED, False)
        self.edges: dict[Node, list[Edge]] = {}
        self._expand()
        self.order = self._topological()

    def is_notify(self, state: State) -> bool:
        return isinstance(state, Task) and state.function == NOTIFY_FUNCTION

    def action_of(self, state: State) -> tuple[str, str] | None:
        """(kind, action) when the state runs an action that changes the resource."""
        if not isinstance(state, Task):
            return None
        spec = self.functions.get(state.function)
        if spec is None or spec.purpose != "step" or spec.operation is None:
            return None
        operation = target_kind(spec.target_kind).operation(spec.operation)
        return (spec.target_kind, operation.name) if isinstance(operation, Action) else None

    def _after_task(self, state: Task, caught: bool) -> str:
        if self.is_notify(state):
            return NOTIFY_FAILED if caught else NOTIFIED
        return NOT_NOTIFIED

    def successors(self, node: Node) -> Iterator[Edge]:
        state = self.by_name[node.state]
        counter = node.counter

        def to(name: str, kind: str, **change: Any) -> Edge:
            return Edge(replace(Node(name, counter, node.notified, node.counted), **change), kind)

        if isinstance(state, Task):
            if state.next:
                yield to(
                    state.next,
                    "next",
                    counter=_written(state.result_at, state.result, counter, self.ref),
                    notified=self._after_task(state, caught=False),
                )
            for catch in state.catch:
                yield self._caught(node, catch, self._after_task(state, caught=True))
        elif isinstance(state, StoreWrite):
            counted = node.counted or state.kind == "count"
            yield to(state.next, "next", counted=counted)
            if state.refused:
                at = "refusal" if state.kind == "release" else "error"
                yield to(state.refused, "refused", counter=_written(at, {}, counter, self.ref))
            for catch in state.catch:
                yield self._caught(node, catch, node.notified)
        elif isinstance(state, Choice):
            decided = False
            for rule in state.rules:
                verdict = _decide(rule.when, counter, self.ref)
                if verdict is not False:
                    yield to(rule.next, "rule")
                if verdict is True:
                    decided = True
                    break
            if not decided:
                yield to(state.default, "default")
        elif isinstance(state, Wait):
            yield to(state.next, "next")
        elif isinstance(state, Assign):
            yield to(
                state.next, "next", counter=_written(state.at, state.values, counter, self.ref)
            )

    def _caught(self, node: Node, catch: Catch, notified: str) -> Edge:
        counter = _written(catch.result_at, {}, node.counter, self.ref)
        return Edge(Node(catch.next, counter, notified, node.counted), "catch")

    def _expand(self) -> None:
        todo = [self.start]
        while todo:
            node = todo.pop()
            if node in self.edges:
                continue
            if node.counter is not None and abs(node.counter) > MAX_COUNTER:
                raise ExplainError(
                    f"workflow {self.workflow.name}: the loop through {node.state} is not "
                    f"bounded (its counter passes {MAX_COUNTER})"
                )
            self.edges[node] = list(self.successors(node))
            todo.extend(e.target for e in self.edges[node] if e.target not in self.edges)

    def _topological(self) -> list[Node]:
        incoming = {node: 0 for node in self.edges}
        for edges in self.edges.values():
            for edge in edges:
                incoming[edge.target] += 1
        ready = sorted((n for n, count in incoming.items() if count == 0), key=Node.key)
        order: list[Node] = []
        while ready:
            node = ready.pop(0)
            order.append(node)
            for edge in self.edges[node]:
                incoming[edge.target] -= 1
                if incoming[edge.target] == 0:
                    ready.append(edge.target)
            ready.sort(key=Node.key)
        if len(order) != len(self.edges):
            # what neither start nor end can peel off: the loop's own states
            left = {n for n, count in incoming.items() if count > 0}
            while dead := {n for n in left if not any(e.target in left for e in self.edges[n])}:
                left -= dead
            looping = sorted({n.state for n in left})
            raise ExplainError(
                f"workflow {self.workflow.name}: a loop no counter bounds runs through "
                f"{', '.join(looping)}"
            )
        return order

    def endings(self) -> list[tuple[Node, str]]:
        """Where executions end, with what was told by then."""
        out = []
        for node in self.order:
            state = self.by_name[node.state]
            if isinstance(state, Succeed | Fail):
                out.append((node, node.notified))
            elif isinstance(state, Task | StoreWrite) and not state.next:
                told = self._after_task(state, False) if isinstance(state, Task) else node.notified
                out.append((node, told))
        return out


# -- costs -----------------------------------------------------------------------------


def _tries(retry: Sequence[RetryPolicy], regime: str) -> tuple[int, float, float]:
    """(retries, poll delay seconds, fault retry delay seconds) of one task entry."""
    retries, poll, fault = 0, 0.0, 0.0
    for policy in retry:
        is_poll = set(policy.errors) <= POLL_ERRORS
        if not is_poll and regime == "no_faults":
            continue
        retries += policy.max_attempts
        if is_poll:
            poll += policy.longest_wait_seconds
        else:
            fault += policy.longest_wait_seconds
    return retries, poll, fault


def _cost(graph: _Graph, state: State, regime: str, prices: Prices) -> tuple[Tally, str | None]:
    """What entering ``state`` costs at most, and the action it runs (if any)."""
    if isinstance(state, Wait):
        return Tally(states=1, wait_s=state.seconds), None
    if not isinstance(state, Task | StoreWrite):
        return Tally(states=1), None
    retries, poll, fault = _tries(state.retry, regime)
    tries = 1 + retries
    task_s = tries * state.timeout_seconds
    if isinstance(state, StoreWrite):
        return Tally(1, retries, 0, 0, poll, fault, task_s), None
    action = graph.action_of(state)
    dry_run = state.payload.get("dry_run") is True
    calls = tries * CALLS_PER_ACTION_TRY if action and not dry_run else 0
    billed_s = min(state.timeout_seconds, prices.function_timeout_s)
    gb_s = tries * billed_s * prices.function_memory_mb / 1024
    tally = Tally(1, retries, tries, 0, poll, fault, task_s, calls, gb_s)
    return tally, action[1] if action else None


@dataclass(frozen=True)
class Worst:
    """The longest path for one figure: its value, everything else along it, its states."""

    value: float
    tally: Tally
    path: tuple[str, ...]


@dataclass
class _Walk:
    graph: _Graph
    regime: str
    prices: Prices
    costs: dict[Node, Tally] = field(default_factory=dict)
    actions: dict[Node, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for node in self.graph.order:
            state = self.graph.by_name[node.state]
            self.costs[node], self.actions[node] = _cost(
                self.graph, state, self.regime, self.prices
            )

    def longest(self, figure: Callable[[Node, Tally], float]) -> dict[Node, Worst]:
        """For every node, the longest path from the start that ends there."""
        best: dict[Node, tuple[float, Tally, Node | None]] = {}
        for node in self.graph.order:
            if node not in best:
                best[node] = (0.0, Tally(), None)
            value, tally, _ = best[node]
            tally = tally + self.costs[node]
            value += figure(node, self.costs[node])
            best[node] = (value, tally, best[node][2])
            for edge in self.graph.edges[node]:
                known = best.get(edge.target)
                if known is None or value > known[0]:
                    best[edge.target] = (value, tally, node)
        out: dict[Node, Worst] = {}
        for node in self.graph.order:
            value, tally, _ = best[node]
            path: list[str] = []
            at: Node | None = node
            while at is not None:
                path.append(at.state)
                at = best[at][2]
            out[node] = Worst(value, tally, tuple(reversed(path)))
        return out


# -- the explanation ---------------------------------------------------------------------


#: each figure a longest path is taken for: (name, what one entered state adds)
FIGURES: dict[str, Callable[[Tally, Prices], float]] = {
    "duration_s": lambda t, p: t.duration_s,
    "wait_s": lambda t, p: t.wait_s,
    "states_entered": lambda t, p: t.states,
    "transitions": lambda t, p: t.transitions,
    "invocations": lambda t, p: t.invocations,
    "mutating_calls": lambda t, p: t.mutating_calls,
    "cost_usd": lambda t, p: p.usd(t),
}


@dataclass(frozen=True)
class Ending:
    state: str
    kind: str
    #: yes: the outcome was told; failed: telling failed (the ending says so); no: never told
    notified: str
    #: regime -> figure -> the most any path to this ending takes
    worst: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class Guard:
    """The anti-flap budget as the graph has it: count states before actions."""

    budget_states: tuple[str, ...]
    limit: int | None
    window_s: int | None
    #: every action is preceded, on every path, by a count of this recovery
    covers_every_action: bool
    unbudgeted_actions: tuple[str, ...]


@dataclass(frozen=True)
class FleetBudget:
    """The fleet-wide budget as the graph has it (``guard.fleet``): its states, each right
    before an action, and its limits (from the budget function's configuration)."""

    states: tuple[str, ...]
    max_in_flight: int
    max_per_hour: int
    #: every action's only way in is through a fleet state
    covers_every_action: bool


@dataclass(frozen=True)
class Explanation:
    playbook: str
    kind: str
    states: int
    timeout_s: int
    prices: Prices
    #: regime -> figure -> the worst path
    worst: Mapping[str, Mapping[str, Worst]]
    #: regime -> action -> the most tries one recovery makes of it
    action_tries: Mapping[str, Mapping[str, int]]
    #: action -> the mutating API(s) it calls
    action_apis: Mapping[str, tuple[str, ...]]
    endings: tuple[Ending, ...]
    guard: Guard
    dry_run: bool
    #: the workflow's own timeout can end an execution: its finalizer (one invocation) tells
    finalizer: str | None
    #: the fleet-wide budget, when the playbook has one
    fleet: FleetBudget | None = None

    def figure(self, regime: str, name: str) -> float:
        return self.worst[regime][name].value

    @property
    def notifies_every_ending(self) -> bool:
        return all(e.notified != NOT_NOTIFIED for e in self.endings)

    @property
    def capped_duration_s(self) -> float:
        return min(self.figure("every_retry", "duration_s"), self.timeout_s)

    @property
    def may_time_out(self) -> bool:
        return self.figure("every_retry", "duration_s") > self.timeout_s

    @property
    def max_invocations(self) -> int:
        """Every invocation one execution can cause, its finalizer's included."""
        extra = 1 if self.finalizer and self.may_time_out else 0
        return int(self.figure("every_retry", "invocations")) + extra

    @property
    def max_cost_usd(self) -> float:
        extra = self.prices.per_request_usd + (
            self.prices.function_timeout_s
            * self.prices.function_memory_mb
            / 1024
            * self.prices.per_gb_second_usd
        )
        worst = self.figure("every_retry", "cost_usd")
        return worst + (extra if self.finalizer and self.may_time_out else 0.0)

    @property
    def calls_per_window(self) -> int | None:
        """Mutating calls per resource per guard window (None: the guard does not bound it)."""
        if not self.guard.covers_every_action or self.guard.limit is None:
            return None
        return self.guard.limit * int(self.figure("every_retry", "mutating_calls"))


def _tries_of(walk: _Walk, action: str) -> Callable[[Node, Tally], float]:
    """The figure "tries of ``action``": a node's invocations when it runs that action."""

    def figure(node: Node, tally: Tally) -> float:
        return tally.invocations if walk.actions[node] == action else 0

    return figure


def explain_playbook(playbook: Playbook) -> Explanation:
    compiled = compile_playbook(playbook)
    return explain_workflow(compiled.workflow, compiled.functions, aws_prices())


def explain_workflow(
    workflow: Workflow, functions: Sequence[FunctionSpec], prices: Prices
) -> Explanation:
    by_key = {spec.key: spec for spec in functions}
    kinds = sorted({spec.target_kind for spec in functions})
    graph = _Graph(workflow, by_key)
    walks = {regime: _Walk(graph, regime, prices) for regime in REGIMES}
    endings = graph.endings()
    worst: dict[str, dict[str, Worst]] = {}
    per_ending: dict[str, dict[str, dict[str, float]]] = {}
    tries: dict[str, dict[str, int]] = {}
    apis: dict[str, tuple[str, ...]] = {}
    for regime, walk in walks.items():
        worst[regime] = {}
        for name, figure in FIGURES.items():
            paths = walk.longest(lambda _n, t, f=figure: f(t, prices))  # type: ignore[misc]
            top = max((paths[n] for n, _ in endings), key=lambda w: w.value)
            worst[regime][name] = top
            for node, _ in endings:
                slot = per_ending.setdefault(node.state, {}).setdefault(regime, {})
                slot[name] = max(slot.get(name, 0.0), paths[node].value)
        tries[regime] = {}
        for action in sorted({a for a in walk.actions.values() if a}):
            paths = walk.longest(_tries_of(walk, action))
            tries[regime][action] = int(max(paths[n].value for n, _ in endings))
            spec_kind = next(s.target_kind for s in functions if s.operation == action)
            apis[action] = aws_mutating_apis(spec_kind, action)
    told: dict[str, str] = {}
    for node, notified in endings:
        # the weakest telling of any path to this ending
        rank = {NOTIFIED: 0, NOTIFY_FAILED: 1, NOT_NOTIFIED: 2}
        if rank[notified] >= rank[told.get(node.state, NOTIFIED)]:
            told[node.state] = notified
    return Explanation(
        playbook=workflow.name,
        kind=",".join(kinds),
        states=len(workflow.states),
        timeout_s=workflow.timeout_seconds,
        prices=prices,
        worst=worst,
        action_tries=tries,
        action_apis=apis,
        endings=tuple(
            Ending(
                name,
                type(graph.by_name[name]).__name__,
                told[name],
                per_ending[name],
            )
            for name in _in_workflow_order(workflow, told)
        ),
        guard=_guard(graph),
        dry_run=all(
            s.payload.get("dry_run") is True for s in workflow.states if isinstance(s, Task)
        ),
        finalizer=workflow.finalizer,
        fleet=_fleet(graph),
    )


def _fleet(graph: _Graph) -> FleetBudget | None:
    """The fleet budget's states (tasks of the ``fleet`` function) and whether every action
    is entered only from one of them."""
    specs = {k: s for k, s in graph.functions.items() if s.purpose == "fleet"}
    states = [s for s in graph.workflow.states if isinstance(s, Task) and s.function in specs]
    if not states:
        return None
    spec = next(iter(specs.values()))
    names = {s.name for s in states}
    covered = True
    for action in graph.workflow.states:
        if graph.action_of(action) is None:
            continue
        before = [s.name for s in graph.workflow.states if action.name in successors(s)]
        covered = covered and bool(before) and all(name in names for name in before)
    return FleetBudget(
        states=tuple(s.name for s in states),
        max_in_flight=int(spec.config["fleet_max_in_flight"]),
        max_per_hour=int(spec.config["fleet_max_per_hour"]),
        covers_every_action=covered,
    )


def _in_workflow_order(workflow: Workflow, names: Mapping[str, object]) -> list[str]:
    return [s.name for s in workflow.states if s.name in names]


def _guard(graph: _Graph) -> Guard:
    counts = [s for s in graph.workflow.states if isinstance(s, StoreWrite) and s.kind == "count"]
    limits = {s.limit for s in counts}
    windows = {s.expires_at.by for s in counts if isinstance(s.expires_at, Increment)}
    unbudgeted = sorted(
        {
            action[1]
            for node in graph.order
            if not node.counted and (action := graph.action_of(graph.by_name[node.state]))
        }
    )
    return Guard(
        budget_states=tuple(s.name for s in counts),
        limit=limits.pop() if len(limits) == 1 else None,
        window_s=windows.pop() if len(windows) == 1 else None,
        covers_every_action=not unbudgeted,
        unbudgeted_actions=tuple(unbudgeted),
    )


# -- output ------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    whole = round(value)
    return f"{whole} s ({format_duration(whole)})" if whole >= 60 else f"{value:g} s"


def _usd(value: float) -> str:
    return f"${value:.6f}"


def _count(value: float) -> str:
    return f"{int(value):,}"


_ROWS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("duration_s", "duration, worst path, uncapped", _seconds),
    ("states_entered", "states entered", _count),
    ("transitions", "billed state transitions (entered + retries)", _count),
    ("invocations", "Lambda invocations", _count),
    ("mutating_calls", "mutating API calls, per resource", _count),
    ("cost_usd", "cost of one recovery", _usd),
    ("wait_s", "seconds in Wait states, most on any path", _seconds),
)
#: the parts of the worst path's duration
_PARTS = (
    ("wait_s", "  in Wait states"),
    ("poll_s", "  in polls (wait_until, approval)"),
    ("retry_s", "  in retry delays, each at its cap"),
    ("task_s", "  in tasks, each try to its timeout"),
)
_TOLD = {NOTIFIED: "told", NOTIFY_FAILED: "telling failed", NOT_NOTIFIED: "NOT TOLD"}


def _columns(rows: Sequence[tuple[str, ...]], indent: str = "") -> list[str]:
    """Rows as columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [f"{row[0]:<{widths[0]}}"] + [
            f"{cell:>{width}}" for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def render_table(x: Explanation) -> str:
    """Plain text, deterministic: the figures, the guard, the endings."""
    lines = [
        f"healstack explain: {x.playbook} ({x.kind}; {x.states} states, bounds from the "
        "generated workflow)",
        "",
    ]
    rows: list[tuple[str, ...]] = [("figure", "no faults", "every retry")]
    for name, label, text in _ROWS:
        rows.append((label, text(x.figure("no_faults", name)), text(x.figure("every_retry", name))))
        if name == "duration_s":
            along = (x.worst["no_faults"][name].tally, x.worst["every_retry"][name].tally)
            for part, what in _PARTS:
                rows.append((what, *(_seconds(getattr(t, part)) for t in along)))
    lines += _columns(rows)
    uncapped = x.figure("every_retry", "duration_s")
    lines += [
        "",
        f"workflow timeout {format_duration(x.timeout_s)} caps every duration: worst case "
        f"{format_duration(round(x.capped_duration_s))}"
        + (f" (uncapped {format_duration(round(uncapped))})" if x.may_time_out else ""),
    ]
    if x.may_time_out and x.finalizer:
        lines.append(
            f"a timed-out execution is told by its finalizer ({x.finalizer}): 1 more "
            f"invocation: at most {x.max_invocations:,} invocations, {_usd(x.max_cost_usd)}"
        )
    lines += ["", "mutating API calls per resource, one recovery (no faults / every retry):"]
    if not x.action_apis:
        lines.append("  none: the workflow runs no action")
    for action, apis in x.action_apis.items():
        lines.append(
            f"  {action} ({', '.join(apis)}): {x.action_tries['no_faults'][action]} / "
            f"{x.action_tries['every_retry'][action]}"
            + (" tries, none calls the API (dry run)" if x.dry_run else "")
        )
    lines += _guard_lines(x)
    lines += ["", "endings: duration, transitions, invocations (no faults / every retry)"]
    rows = []
    for ending in x.endings:
        a, b = ending.worst["no_faults"], ending.worst["every_retry"]
        rows.append(
            (
                ending.state,
                _TOLD[ending.notified],
                f"{format_duration(round(a['duration_s']))} / "
                f"{format_duration(round(b['duration_s']))}",
                f"{_count(a['transitions'])} / {_count(b['transitions'])}",
                f"{_count(a['invocations'])} / {_count(b['invocations'])}",
            )
        )
    lines += _columns(rows, indent="  ")
    lines += ["", _notification_line(x), _prices_line(x)]
    return "\n".join(lines) + "\n"


def _guard_lines(x: Explanation) -> list[str]:
    guard = x.guard
    if not guard.budget_states:
        return [
            "guard: none in the workflow: mutating calls per resource are not bounded per window"
        ]
    if not guard.covers_every_action:
        return [
            "guard: FAILED: these actions can run before the budget counts the recovery: "
            + ", ".join(guard.unbudgeted_actions)
        ]
    assert guard.limit is not None and guard.window_s is not None
    per_window = x.calls_per_window
    return [
        f"guard ({', '.join(guard.budget_states)}): at most {guard.limit} recoveries per "
        f"resource per {format_duration(guard.window_s)} window, each counted before any action",
        f"  per resource per window: at most {_count(per_window or 0)} mutating calls "
        f"({guard.limit} x {int(x.figure('every_retry', 'mutating_calls'))}); any "
        f"{format_duration(guard.window_s)} span meets two windows: {_count(2 * (per_window or 0))}",
        *_fleet_lines(x, per_window or 0),
    ]


def _fleet_lines(x: Explanation, per_window: int) -> list[str]:
    fleet = x.fleet
    if fleet is None:
        return [
            "  per fleet: not bounded by the workflow (no fleet-wide budget): resources x "
            f"{_count(per_window)} per window"
        ]
    if not fleet.covers_every_action:
        return ["  per fleet: FAILED: an action can run without the fleet budget's count"]
    per_recovery = int(x.figure("every_retry", "mutating_calls"))
    return [
        f"  per fleet ({', '.join(fleet.states)}): at most {fleet.max_in_flight} recoveries "
        f"acting at once, {fleet.max_per_hour} starting per hour: at most "
        f"{_count(fleet.max_per_hour * per_recovery)} mutating calls per hour "
        f"({fleet.max_per_hour} x {per_recovery}); beyond it, fleet_limit_reached"
    ]


def _notification_line(x: Explanation) -> str:
    failed = [e.state for e in x.endings if e.notified == NOTIFY_FAILED]
    missing = [e.state for e in x.endings if e.notified == NOT_NOTIFIED]
    if missing:
        return "every path ends in a notification: FAILED: no notification before " + ", ".join(
            missing
        )
    tail = f"; a failed notification ends in {', '.join(failed)}" if failed else ""
    return f"every path ends in a notification: yes ({len(x.endings)} endings{tail})"


def _prices_line(x: Explanation) -> str:
    p = x.prices
    gb_second = f"{p.per_gb_second_usd:.10f}".rstrip("0")
    return (
        f"prices (AWS list, {p.as_of}): ${p.per_transition_usd * 1000:g} per 1,000 "
        f"transitions (Step Functions Standard), ${p.per_request_usd * 1e6:g} per 1M Lambda "
        f"requests, ${gb_second} per GB-s (arm64, {p.function_memory_mb} MB, each try billed "
        f"to the function's {p.function_timeout_s} s timeout); store writes and notifications "
        "not priced"
    )


def failures(x: Explanation) -> list[str]:
    """What the workflow fails (each a line): a path that ends without a notification, an
    action the budget does not count first."""
    out = []
    missing = [e.state for e in x.endings if e.notified == NOT_NOTIFIED]
    if missing:
        out.append(f"no notification on a path to {', '.join(missing)}")
    if x.guard.budget_states and not x.guard.covers_every_action:
        out.append(
            "the guard's budget does not count the recovery before "
            + ", ".join(x.guard.unbudgeted_actions)
        )
    if x.fleet is not None and not x.fleet.covers_every_action:
        out.append("the fleet budget does not count the recovery before every action")
    return out


def short_form(x: Explanation) -> list[str]:
    """Three to five lines for a plan-review comment."""
    told = "yes" if x.notifies_every_ending else "NO (see healstack explain)"
    window = (
        f"{_count(x.calls_per_window)} per {format_duration(x.guard.window_s or 0)} guard window"
        if x.calls_per_window is not None
        else "NOT bounded per window"
    )
    uncapped = x.figure("every_retry", "duration_s")
    return [
        f"**{x.playbook}**: worst case {format_duration(round(x.capped_duration_s))} "
        f"(timeout {format_duration(x.timeout_s)}; every retry uncapped "
        f"{format_duration(round(uncapped))})",
        f"at most {_count(x.figure('every_retry', 'transitions'))} billed transitions, "
        f"{x.max_invocations:,} Lambda invocations, {_usd(x.max_cost_usd)} per recovery "
        f"(no faults: {_count(x.figure('no_faults', 'transitions'))}, "
        f"{_count(x.figure('no_faults', 'invocations'))}, {_usd(x.figure('no_faults', 'cost_usd'))})",
        f"mutating calls per resource: at most {_count(x.figure('every_retry', 'mutating_calls'))} "
        f"per recovery, {window}; fleet: "
        + (
            f"at most {x.fleet.max_in_flight} in flight, {x.fleet.max_per_hour} per hour"
            if x.fleet is not None
            else "not bounded"
        ),
        f"every path ends in a notification: {told}",
    ]


def to_json(x: Explanation) -> dict[str, Any]:
    def worst(w: Worst) -> dict[str, Any]:
        tally = {f.name: getattr(w.tally, f.name) for f in fields(w.tally)}
        tally["transitions"] = w.tally.transitions
        tally["duration_s"] = w.tally.duration_s
        return {"value": w.value, "along": tally, "path": list(w.path)}

    return {
        "playbook": x.playbook,
        "kind": x.kind,
        "states": x.states,
        "timeout_s": x.timeout_s,
        "capped_duration_s": x.capped_duration_s,
        "may_time_out": x.may_time_out,
        "finalizer": x.finalizer,
        "max_invocations": x.max_invocations,
        "max_cost_usd": x.max_cost_usd,
        "worst": {
            regime: {name: worst(w) for name, w in figures.items()}
            for regime, figures in x.worst.items()
        },
        "mutating": {
            action: {
                "apis": list(apis),
                "tries": {r: x.action_tries[r][action] for r in REGIMES},
            }
            for action, apis in x.action_apis.items()
        },
        "dry_run": x.dry_run,
        "guard": {
            "budget_states": list(x.guard.budget_states),
            "limit": x.guard.limit,
            "window_s": x.guard.window_s,
            "covers_every_action": x.guard.covers_every_action,
            "unbudgeted_actions": list(x.guard.unbudgeted_actions),
            "calls_per_resource_per_window": x.calls_per_window,
            "calls_per_fleet_per_window": None,
        },
        "fleet": (
            {
                "states": list(x.fleet.states),
                "max_in_flight": x.fleet.max_in_flight,
                "max_per_hour": x.fleet.max_per_hour,
                "covers_every_action": x.fleet.covers_every_action,
                "calls_per_hour": x.fleet.max_per_hour
                * int(x.figure("every_retry", "mutating_calls")),
            }
            if x.fleet is not None
            else None
        ),
        "endings": [
            {"state": e.state, "type": e.kind, "notified": e.notified, "worst": e.worst}
            for e in x.endings
        ],
        "notifies_every_ending": x.notifies_every_ending,
        "prices": {f.name: getattr(x.prices, f.name) for f in fields(x.prices)},
    }


def render_json(x: Explanation) -> str:
    return json.dumps(to_json(x), indent=2) + "\n"


__all__ = [
    "ExplainError",
    "Explanation",
    "explain_playbook",
    "explain_workflow",
    "failures",
    "render_json",
    "render_table",
    "short_form",
    "to_json",
]
