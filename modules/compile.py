"""Compile a playbook into the neutral workflow graph and the functions it calls.

The shape (one attempt = the playbook's steps, repeated at most ``attempts.max`` times):

    ResolveTarget -> [steps of the attempt] -> final check healthy?  -> NotifyRecovered (end)
                                                            no      -> AttemptsLeft?
                                     yes: WaitBetweenAttempts -> NextAttempt -> first step
                                     no:  NotifyGaveUp -> GaveUp (fail)

Steps limited to some attempts (``on_attempts``) sit behind one Choice per run of steps
that share the same range. A ``wait_until`` is a single task whose retry *is* the bounded
poll, so no loop of states is needed. Every task retries transient errors with backoff
and jitter (a throttled call for minutes, any other transient fault for seconds), and catches
everything else into a failure notification.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from healstack.catalog import Undo
from healstack.catalog import kind as target_kind
from healstack.durations import format_duration
from healstack.playbook import Playbook, Step
from healstack.providers.interfaces import FunctionSpec, PlatformCode
from healstack.providers.workflow import (
    Assign,
    Catch,
    Choice,
    Context,
    ErrorCategory,
    Fail,
    Increment,
    IsText,
    IsTrue,
    NumberBelow,
    NumberBetween,
    Ref,
    ResultRef,
    RetryPolicy,
    Rule,
    State,
    StoreWrite,
    Succeed,
    Task,
    Template,
    Value,
    Wait,
    Workflow,
    successors,
)

RESOLVE = "ResolveTarget"
ATTEMPTS_LEFT = "AttemptsLeft"
WAIT_BETWEEN = "WaitBetweenAttempts"
NEXT_ATTEMPT = "NextAttempt"
NOTIFY_RECOVERED = "NotifyRecovered"
NOTIFY_ALREADY_HEALTHY = "NotifyAlreadyHealthy"
NOTIFY_GAVE_UP = "NotifyGaveUp"
NOTIFY_FAILED = "NotifyFailed"
NOTIFY_BAD_EVENT = "NotifyUnresolvedEvent"
GAVE_UP = "GaveUp"
FAILED = "RecoveryFailed"
UNRESOLVED = "EventNotResolved"
TAKE_LOCK = "TakeLock"
#: prefix of the state before each action that takes the action's place in the budget
BUDGET_PREFIX = "BudgetFor"
NOTIFY_SKIPPED = "NotifySkipped"
NOTIFY_OUT_OF_SCOPE = "NotifyOutOfScope"
SKIPPED = "RecoverySkipped"
NOTIFY_REFUSED = "NotifyRefusedEvent"
REFUSED = "EventRefused"
RELEASE_AFTER_NOTIFY_FAILED = "ReleaseLockAfterNotifyFailed"
NOTIFICATION_FAILED = "NotificationFailed"
RECORD_ATTEMPT = "RecordFailedAttempt"
NOTIFY_BUSY = "NotifyAlreadyRecovering"
NOTIFY_LIMIT = "NotifyRecoveryLimit"
LIMIT_REACHED = "RecoveryLimitReached"
NOTIFY_APPROVAL_TIMEOUT = "NotifyApprovalTimedOut"
APPROVAL_TIMED_OUT = "ApprovalTimedOut"
NOTIFY_REJECTED = "NotifyApprovalRejected"
REJECTED = "ApprovalRejected"
#: prefix of the state before each action that takes the recovery's place in the fleet budget
FLEET_PREFIX = "FleetFor"
NOTIFY_FLEET_LIMIT = "NotifyFleetLimit"
FLEET_LIMIT_REACHED = "FleetLimitReached"
RESERVED_STATE_NAMES = frozenset(
    {
        NOTIFY_FLEET_LIMIT,
        FLEET_LIMIT_REACHED,
        TAKE_LOCK,
        NOTIFY_SKIPPED,
        NOTIFY_OUT_OF_SCOPE,
        SKIPPED,
        NOTIFY_REFUSED,
        REFUSED,
        RELEASE_AFTER_NOTIFY_FAILED,
        NOTIFICATION_FAILED,
        RECORD_ATTEMPT,
        NOTIFY_BUSY,
        NOTIFY_LIMIT,
        LIMIT_REACHED,
        NOTIFY_APPROVAL_TIMEOUT,
        APPROVAL_TIMED_OUT,
        NOTIFY_REJECTED,
        REJECTED,
        RESOLVE,
        ATTEMPTS_LEFT,
        WAIT_BETWEEN,
        NEXT_ATTEMPT,
        NOTIFY_RECOVERED,
        NOTIFY_ALREADY_HEALTHY,
        NOTIFY_GAVE_UP,
        NOTIFY_FAILED,
        NOTIFY_BAD_EVENT,
        GAVE_UP,
        FAILED,
        UNRESOLVED,
    }
)

RESOLVE_FUNCTION = "resolve-target"
NOTIFY_FUNCTION = "notify"
APPROVAL_FUNCTION = "request-approval"
#: where approvers answer: it checks who they are, and records the decision
DECIDE_FUNCTION = "decide-approval"
#: takes a place in the playbook's fleet budget (``guard.fleet``)
FLEET_FUNCTION = "fleet-budget"
#: a full fleet budget is polled this many times, the first after this long (doubling,
#: with full jitter: a storm's waiting recoveries spread out), then the recovery escalates
FLEET_POLL_SECONDS = 30
FLEET_MAX_POLLS = 4
#: an approval is polled at least this often, at most ``APPROVAL_MAX_POLLS`` times (each
#: poll adds a few events to the execution history, whose size AWS caps at 25,000)
APPROVAL_POLL_SECONDS = 15
APPROVAL_MAX_POLLS = 1000
#: the store holding locks, recovery counters and the audit history
STORE = "recoveries"
#: a lock outlives the workflow's own timeout by this much, then anyone may take it. The
#: workflow engine ends an execution at its timeout whatever its retries still want, so no
#: retry budget can make the lock expire under a running execution; a budget only decides
#: whether a throttled step still fits inside the playbook's timeout.
LOCK_MARGIN_SECONDS = 60

#: data keys of the running workflow
CTX = "ctx"
LAST = "last"
ERROR = "error"
#: where a failed notification's own error goes (the error it was telling stays in ERROR)
NOTIFY_ERROR = "notify_error"
RESOURCE_ID = Ref((CTX, "resource_id"))
ATTEMPT = Ref((CTX, "attempt"))
STARTED_AT = Ref((CTX, "started_at"))
WINDOW = Ref((CTX, "window"))
#: a hub's recoveries act in the event's account and region (``compile_playbook(hub=True)``)
ACCOUNT = Ref((CTX, "account"))
REGION = Ref((CTX, "region"))

#: every function call: transient faults of the platform or the cloud API are retried
TRANSIENT_RETRY = RetryPolicy(
    errors=(ErrorCategory.PLATFORM_TRANSIENT, ErrorCategory.STEP_TRANSIENT),
    interval_seconds=2,
    max_attempts=4,
    backoff_rate=2.0,
    max_delay_seconds=30,
    jitter=True,
)
#: every function call: a call the cloud API throttled is retried until its token bucket has
#: refilled for everyone. EC2 gives each mutating action its own bucket per account and
#: Region: 50 requests, refilled 5 per second (RebootInstances, StopInstances; StartInstances
#: 5, refilled 2 per second), per "Request throttling for the Amazon EC2 API",
#: https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html . So 1,000
#: reboots at once need (1,000 - 50) / 5 = 190 s of refills. Delays of 5 s doubling up to 2
#: minutes, 12 of them: at most 995 s, 497 s on average with full jitter, which spreads the
#: retries of a whole fleet over the refills instead of letting them collide again.
THROTTLED_RETRY = RetryPolicy(
    errors=(ErrorCategory.THROTTLED,),
    interval_seconds=5,
    max_attempts=12,
    backoff_rate=2.0,
    max_delay_seconds=120,
    jitter=True,
)
#: what every function call retries
CALL_RETRY = (TRANSIENT_RETRY, THROTTLED_RETRY)
TASK_TIMEOUT_SECONDS = 30
#: a check's result field: null, or why the resource is not a recovery case (SKIP_REASONS)
SKIP = "skip"
STORE_RETRY = RetryPolicy(
    errors=(ErrorCategory.STORE_TRANSIENT,),
    interval_seconds=1,
    max_attempts=4,
    backoff_rate=2.0,
    max_delay_seconds=10,
    jitter=True,
)


@dataclass(frozen=True)
class CompiledRecovery:
    workflow: Workflow
    functions: tuple[FunctionSpec, ...]


def operation_key(operation: str, *, is_check: bool) -> str:
    """The function key of an operation: ``check-<check>`` or ``<action>``, dashed."""
    return (f"check-{operation}" if is_check else operation).replace("_", "-")


def function_key(step: Step, kind: str) -> str:
    """The function a step runs: one per distinct operation (a wait_until polls the kind's
    state check)."""
    if step.check is not None:
        return operation_key(step.check, is_check=True)
    if step.action is not None:
        return operation_key(step.action, is_check=False)
    if step.run is not None:
        return f"{PLATFORM_PREFIX}{step.run}".replace("_", "-")
    if step.wait_until is not None:
        return operation_key(target_kind(kind).state_check.name, is_check=True)
    raise ValueError("waits run no function")


#: a platform step's function key: ``run-<name>`` (never a kind's operation: those are
#: ``check-<check>`` or an action's name, and no kind has an action called ``run``)
PLATFORM_PREFIX = "run-"


def _operation_of(kind: str, key: str) -> str:
    """The operation a function key runs (the inverse of ``operation_key``)."""
    registered = target_kind(kind)
    keys = {operation_key(c, is_check=True): c for c in registered.checks}
    keys.update({operation_key(a, is_check=False): a for a in registered.actions})
    return keys[key]


def function_keys(playbook: Playbook) -> list[str]:
    """Every function key the playbook's stack deploys, in a stable order."""
    keys = [RESOLVE_FUNCTION]
    for step in playbook.steps:
        if step.kind != "wait":
            key = function_key(step, playbook.target.kind)
            if key not in keys:
                keys.append(key)
    if playbook.approval is not None:
        keys.extend((APPROVAL_FUNCTION, DECIDE_FUNCTION))
    if playbook.guard.fleet is not None and any(s.kind == "action" for s in playbook.steps):
        keys.append(FLEET_FUNCTION)
    keys.append(NOTIFY_FUNCTION)
    return keys


def state_names(playbook: Playbook) -> list[str]:
    """One unique state name per step (the step's own name, or one derived from it)."""
    names: list[str] = []
    for step in playbook.steps:
        base = step.name or _derived_name(step)
        name, n = base, 2
        while name in names or name in RESERVED_STATE_NAMES:
            name, n = f"{base}{n}", n + 1
        names.append(name)
    return names


def _derived_name(step: Step) -> str:
    if step.check is not None:
        return "Check" + _camel(step.check)
    if step.acting is not None:
        return _camel(step.acting)
    if step.wait is not None:
        return "Wait" + format_duration(step.wait)
    assert step.wait_until is not None
    return "WaitUntil" + _camel(step.wait_until.state)


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_"))


def compile_playbook(playbook: Playbook, *, hub: bool = False) -> CompiledRecovery:
    """``hub``: the recovery account of many (``DeploymentSettings.hub``): ResolveTarget's
    account and region go with every step, notification and store key (the functions are
    the same either way)."""
    return CompiledRecovery(
        workflow=_Compiler(playbook, hub=hub).workflow(),
        functions=tuple(_function_spec(playbook, key) for key in function_keys(playbook)),
    )


def _function_spec(playbook: Playbook, key: str) -> FunctionSpec:
    kind = playbook.target.kind
    if key == RESOLVE_FUNCTION:
        return FunctionSpec(key, "resolve_target", kind, None, "find the target's id in the event")
    if key == NOTIFY_FUNCTION:
        return FunctionSpec(
            key,
            "notify",
            kind,
            None,
            "publish the outcome, release the lock, record history",
            config={
                "playbook": playbook.name,
                "target_kind": kind,
                "id_path": playbook.target.id_path or "",
                "history_days": str(playbook.history_days),
                **(fleet_config(playbook) if FLEET_FUNCTION in function_keys(playbook) else {}),
            },
            uses_store=True,
            uses_notifier=True,
        )
    if key == FLEET_FUNCTION:
        return FunctionSpec(
            key,
            "fleet",
            kind,
            None,
            "take a place in the playbook's fleet budget (in flight, per hour)",
            config=fleet_config(playbook),
            uses_store=True,
        )
    if key == APPROVAL_FUNCTION:
        return FunctionSpec(
            key,
            "approval",
            kind,
            None,
            "ask the approvers to decide an action; report their decision",
            config={"target_kind": kind, "playbook": playbook.name},
            uses_store=True,
            uses_notifier=True,
        )
    if key == DECIDE_FUNCTION:
        assert playbook.approval is not None
        return FunctionSpec(
            key,
            "decide",
            kind,
            None,
            "take an approver's decision: who they are, that they may, recorded",
            config={
                "approvers": ",".join(playbook.approval.approvers),
                "history_days": str(playbook.history_days),
            },
            uses_store=True,
        )
    if key.startswith(PLATFORM_PREFIX):
        return _platform_spec(playbook, key)
    return FunctionSpec(
        key,
        "step",
        kind,
        _operation_of(kind, key),
        f"{key}: {target_kind(kind).description}",
        config=scope_config(playbook),
    )


def _platform_spec(playbook: Playbook, key: str) -> FunctionSpec:
    """A platform step: its own code, exactly its declared permissions and timeout."""
    (name,) = [
        n for n in playbook.platform_steps if key == f"{PLATFORM_PREFIX}{n}".replace("_", "-")
    ]
    step = playbook.platform_steps[name]
    file = playbook.platform_file(name)
    try:
        source_path = file.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        source_path = ""  # outside the working directory: the pipeline cannot ship it
    return FunctionSpec(
        key,
        "platform_step",
        playbook.target.kind,
        name,
        f"{key}: {step.description or 'a platform step'}",
        config=scope_config(playbook),
        platform=PlatformCode(
            name=name,
            file=str(file),
            source_path=source_path,
            function=step.function,
            permissions=tuple((tuple(p.actions), tuple(p.resources)) for p in step.permissions),
            timeout_seconds=step.timeout,
        ),
    )


def fleet_config(playbook: Playbook) -> dict[str, str]:
    """The fleet budget's limits, and how long a slot is held at most (the workflow's
    timeout and the lock's margin: a slot never outlives its recovery for long)."""
    fleet = playbook.guard.fleet
    assert fleet is not None
    return {
        "fleet_max_in_flight": str(fleet.max_in_flight),
        "fleet_max_per_hour": str(fleet.max_per_hour),
        "fleet_slot_seconds": str(playbook.timeout + LOCK_MARGIN_SECONDS),
    }


def scope_config(playbook: Playbook) -> dict[str, str]:
    """What a step function reads to refuse resources outside the playbook's scope: the
    required tag as ``key=value`` (the handlers check it before acting, beside the cloud's
    own permission condition)."""
    tag = playbook.target.require_tag
    if not tag:
        return {}
    ((key, value),) = tag.items()
    return {"require_tag": f"{key}={value}"}


def _fuse_choices(states: list[State]) -> list[State]:
    """A Choice whose default is another Choice takes over that Choice's rules.

    Saves a state transition per decision (a verdict followed by an attempt gate); the
    rules keep their order, so the outcome is the same.
    """
    by_name = {s.name: s for s in states}
    fused: list[State] = []
    for state in states:
        while isinstance(state, Choice) and isinstance(by_name.get(state.default), Choice):
            inner = by_name[state.default]
            assert isinstance(inner, Choice)
            state = Choice(state.name, state.rules + inner.rules, inner.default, state.comment)
        fused.append(state)
    return fused


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    return name


def _reachable(states: list[State], start: str) -> tuple[State, ...]:
    """Drop states no path reaches (e.g. NotifyRecovered in a playbook without actions)."""
    by_name = {s.name: s for s in states}
    seen, todo = {start}, [start]
    while todo:
        for nxt in successors(by_name[todo.pop()]):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return tuple(s for s in states if s.name in seen)


class _Compiler:
    def __init__(self, playbook: Playbook, *, hub: bool = False) -> None:
        self.p = playbook
        self.hub = hub
        self.max = playbook.attempts.max
        self.names = state_names(playbook)
        self.states: list[State] = []
        self.first_action = next(
            (i for i, s in enumerate(playbook.steps) if s.kind == "action"), len(playbook.steps)
        )
        approve = set(playbook.approval.before) if playbook.approval else set()
        kind = target_kind(playbook.target.kind)
        #: undone action -> its undo rule, for the actions this playbook runs
        used = {s.action for s in playbook.steps if s.action}  # kind actions (undo rules)
        self.undos: dict[str, Undo] = {u.undoes: u for u in kind.undoes if u.undoes in used}
        self.undoing: dict[str, Undo] = {u.action: u for u in kind.undoes if u.undoes in used}
        taken = set(self.names) | RESERVED_STATE_NAMES
        #: action step i -> the state that takes its place in the anti-flap budget first
        self.budgets: dict[int, str] = {}
        for index, (name, step) in enumerate(zip(self.names, playbook.steps, strict=True)):
            if step.kind == "action":
                self.budgets[index] = _unique(f"{BUDGET_PREFIX}{name}", taken)
                taken.add(self.budgets[index])
        #: action step i -> the state that takes the recovery's place in the fleet budget
        self.fleets: dict[int, str] = {}
        if FLEET_FUNCTION in function_keys(playbook):
            for index in self.budgets:
                self.fleets[index] = _unique(f"{FLEET_PREFIX}{self.names[index]}", taken)
                taken.add(self.fleets[index])
        #: action step i -> the state that waits for the approvers' decision
        self.awaits: dict[int, str] = {}
        for index, (name, step) in enumerate(zip(self.names, playbook.steps, strict=True)):
            if step.acting in approve:
                self.awaits[index] = _unique(f"Await{name}Decision", taken)
                taken.add(self.awaits[index])
        #: the state a transition *into* step i goes to (its approval, then its budget)
        self.entries = [
            f"Approve{name}" if step.acting in approve else self.budgets.get(index, name)
            for index, (name, step) in enumerate(zip(self.names, playbook.steps, strict=True))
        ]

    def workflow(self) -> Workflow:
        groups = self._groups()
        entry = self._entry_of_group(groups, 0)
        self.states.append(self._resolve(TAKE_LOCK))
        self.states.append(self._lock(entry))
        for g, (start, end, rng) in enumerate(groups):
            after = self._entry_of_group(groups, g + 1)
            if rng is not None:
                low, high = rng
                self.states.append(
                    Choice(
                        name=self._gate_name(start),
                        rules=(Rule(NumberBetween(ATTEMPT, low, high), self.entries[start]),),
                        default=after,
                        comment=f"steps for attempt {self._range_text(low, high)} only",
                    )
                )
            leaving = self._entry_after(groups, g)
            for index in range(start, end):
                nxt = self.entries[index + 1] if index + 1 < end else leaving
                self._step(index, nxt)
        self._tail(entry)
        return Workflow(
            name=self.p.name,
            comment=f"healstack recovery: {self.p.name}. {self.p.description}".strip()[:400],
            start_at=RESOLVE,
            states=_reachable(_fuse_choices(self.states), RESOLVE),
            timeout_seconds=self.p.timeout,
            functions=tuple(function_keys(self.p)),
            finalizer=NOTIFY_FUNCTION,
            store=STORE,
        )

    # -- structure -------------------------------------------------------------------------

    def _groups(self) -> list[tuple[int, int, tuple[int, int] | None]]:
        """Runs of consecutive steps with the same attempt range: (start, end, range|None)."""
        groups: list[tuple[int, int, tuple[int, int] | None]] = []
        for index, step in enumerate(self.p.steps):
            rng = step.attempt_range(self.max)
            key = None if rng == (1, self.max) else rng
            if groups and groups[-1][2] == key:
                groups[-1] = (groups[-1][0], index + 1, key)
            else:
                groups.append((index, index + 1, key))
        return groups

    def _entry_of_group(self, groups: list[tuple[int, int, tuple[int, int] | None]], g: int) -> str:
        if g >= len(groups):
            return ""  # past the last step: the final check routes on its own verdict
        start, _, rng = groups[g]
        return self._gate_name(start) if rng is not None else self.entries[start]

    def _entry_after(self, groups: list[tuple[int, int, tuple[int, int] | None]], g: int) -> str:
        """Where the last step of group ``g`` goes: the next group whose attempts can
        include this one's. A gate that could only say "not this attempt" is skipped (on
        attempt 1, after Reboot, there is no point asking whether Stop runs)."""
        low, high = groups[g][2] or (1, self.max)
        for h in range(g + 1, len(groups)):
            rng = groups[h][2]
            if rng is None or (rng[0] <= high and low <= rng[1]):
                return self._entry_of_group(groups, h)
        return ""

    def _gate_name(self, start: int) -> str:
        return f"{self.names[start]}OnThisAttempt"

    @staticmethod
    def _range_text(low: int, high: int) -> str:
        return str(low) if low == high else f"{low}-{high}"

    # -- states ----------------------------------------------------------------------------

    def _resolve(self, entry: str) -> Task:
        return Task(
            name=RESOLVE,
            function=RESOLVE_FUNCTION,
            payload={
                "event": Ref(()),
                "target_kind": self.p.target.kind,
                "id_path": self.p.target.id_path,
                "playbook": self.p.name,
                "execution_id": Context.EXECUTION_ID,
                "state": Context.STATE_NAME,
                "dry_run": self.p.dry_run,
                "window_seconds": self.p.guard.window,
                "max_event_age_seconds": self.p.trigger.max_event_age,
            },
            result={
                "resource_id": ResultRef(("resource_id",)),
                "attempt": 1,
                "started_at": ResultRef(("now",)),
                "window": ResultRef(("window",)),
                **self._where(ResultRef(("account",)), ResultRef(("region",))),
                **self._no_undo_evidence(),
            },
            result_at=CTX,
            next=entry,
            timeout_seconds=TASK_TIMEOUT_SECONDS,
            retry=CALL_RETRY,
            catch=(
                Catch((ErrorCategory.REFUSED,), NOTIFY_REFUSED, ERROR),
                Catch((ErrorCategory.ANY,), NOTIFY_BAD_EVENT, ERROR),
            ),
            comment=(
                "find the resource id in the event; never act on a guess, on another "
                "account's or region's resource, or on a stale event"
            ),
        )

    def _where(self, account: Value, region: Value) -> dict[str, Value]:
        """A hub's recoveries: the event's account and region (nothing in a single account)."""
        return {"account": account, "region": region} if self.hub else {}

    def _key(self, prefix: str) -> Template:
        """A store key of the target: ``<prefix><id>``; a hub's ``<prefix><account>/<region>/<id>``
        (the same id can name resources of two members)."""
        if self.hub:
            return Template(prefix + "{}/{}/{}", (ACCOUNT, REGION, RESOURCE_ID))
        return Template(prefix + "{}", (RESOURCE_ID,))

    def _no_undo_evidence(self) -> dict[str, Value]:
        """``ctx.own_<action>``: has this attempt's own <action> acted? (starts false)"""
        return {f"own_{undone}": {"done": False} for undone in sorted(self.undos)}

    def _step_payload(self, params: Mapping[str, Value]) -> dict[str, Value]:
        return {
            "playbook": self.p.name,
            "execution_id": Context.EXECUTION_ID,
            "state": Context.STATE_NAME,
            "resource_id": RESOURCE_ID,
            **self._where(ACCOUNT, REGION),
            "attempt": ATTEMPT,
            "dry_run": self.p.dry_run,
            "params": dict(params),
        }

    def _task(self, name: str, step: Step, nxt: str | None, **extra: object) -> Task:
        params: dict[str, Value] = dict(step.params)
        retry: tuple[RetryPolicy, ...] = CALL_RETRY
        catch: tuple[Catch, ...] = (Catch((ErrorCategory.ANY,), NOTIFY_FAILED, ERROR),)
        if step.wait_until is not None:
            until = step.wait_until
            params = {"expect_state": until.state}
            poll = RetryPolicy(
                errors=(ErrorCategory.NOT_READY,),
                interval_seconds=until.poll_every,
                max_attempts=until.max_polls - 1,
                backoff_rate=1.0,
                jitter=False,
            )
            retry = (poll, *CALL_RETRY)
            catch = (Catch((ErrorCategory.NOT_READY,), self._after_unhealthy(), ERROR), *catch)
        result: dict[str, Value] | None = None
        result_at: str | None = None
        if step.kind != "action":
            result = {
                "healthy": ResultRef(("healthy",)),
                "state": ResultRef(("state",)),
                SKIP: ResultRef((SKIP,)),
            }
            result_at = LAST
        elif step.acting is not None:
            # the resource lost its tag between the check and the action: nothing was done,
            # and that is told as the skip it is, not as a failure (and never retried)
            catch = (Catch((ErrorCategory.NOT_IN_SCOPE,), NOTIFY_OUT_OF_SCOPE, ERROR), *catch)
        if step.action in self.undos:
            undo = self.undos[step.action]
            result = {"done": ResultRef((undo.evidence,))}
            result_at = f"{CTX}.own_{step.action}"
        if step.action in self.undoing:
            undo = self.undoing[step.action]
            params[undo.param] = Ref((CTX, f"own_{undo.undoes}", "done"))
        return Task(
            name=name,
            function=function_key(step, self.p.target.kind),
            payload=self._step_payload(params),
            result=result,
            result_at=result_at,
            next=nxt,
            timeout_seconds=TASK_TIMEOUT_SECONDS,
            retry=retry,
            catch=catch,
            comment=str(extra.get("comment", "")),
        )

    def _step(self, index: int, nxt: str) -> None:
        step = self.p.steps[index]
        name = self.names[index]
        last = index == len(self.p.steps) - 1
        if step.wait is not None:
            self.states.append(
                Wait(name, step.wait, nxt, comment=f"wait {format_duration(step.wait)}")
            )
            return
        if step.wait_until is not None:
            until = step.wait_until
            self.states.append(
                self._task(
                    name,
                    step,
                    nxt,
                    comment=(
                        f"poll until {until.state}: every {format_duration(until.poll_every)}, "
                        f"at most {until.max_polls} times"
                    ),
                )
            )
            return
        if step.acting is not None:
            budget = self.budgets[index]
            if index in self.awaits:
                self.states.extend(
                    self._approval(self.entries[index], self.awaits[index], step, budget)
                )
            if index in self.fleets:
                self.states.append(self._budget(budget, self.fleets[index]))
                self.states.append(self._fleet(self.fleets[index], name))
            else:
                self.states.append(self._budget(budget, name))
            self.states.append(self._task(name, step, nxt, comment=f"{step.acting} the target"))
            return
        verdict = f"{name}Healthy"
        self.states.append(self._task(name, step, verdict, comment="is the target healthy?"))
        before_acting = index < self.first_action
        healthy = NOTIFY_ALREADY_HEALTHY if before_acting else NOTIFY_RECOVERED
        unhealthy = self._after_unhealthy() if last else nxt
        rules = [Rule(IsTrue(Ref((LAST, "healthy"))), healthy)]
        if before_acting:
            # not a recovery case (out of scope, stopped on purpose, changed by someone
            # else): told, and no action ever follows
            rules.insert(0, Rule(IsText(Ref((LAST, SKIP))), NOTIFY_SKIPPED))
        self.states.append(Choice(verdict, tuple(rules), default=unhealthy))

    def _after_unhealthy(self) -> str:
        return RECORD_ATTEMPT

    def _approval(self, name: str, await_name: str, step: Step, action_state: str) -> list[Task]:
        """Ask the approvers (the request is recorded in the store, no token leaves it), then
        poll the store for their decision: approved -> on; rejected or no decision in time
        -> told and stopped. Nobody can answer but through the decide function, which checks
        who they are."""
        assert self.p.approval is not None and step.acting is not None
        timeout = self.p.approval.timeout
        interval = max(APPROVAL_POLL_SECONDS, -(-timeout // APPROVAL_MAX_POLLS))
        poll = RetryPolicy(
            errors=(ErrorCategory.DECISION_PENDING,),
            interval_seconds=interval,
            max_attempts=-(-timeout // interval),
            backoff_rate=1.0,
            jitter=False,
        )
        failed = Catch((ErrorCategory.ANY,), NOTIFY_FAILED, ERROR)
        return [
            Task(
                name=name,
                function=APPROVAL_FUNCTION,
                payload=self._step_payload(
                    {"phase": "request", "action": step.acting, "timeout_seconds": timeout}
                ),
                next=await_name,
                timeout_seconds=TASK_TIMEOUT_SECONDS,
                retry=CALL_RETRY,
                catch=(failed,),
                comment=f"ask the approvers to decide {step.acting} (recorded, no token)",
            ),
            Task(
                name=await_name,
                function=APPROVAL_FUNCTION,
                payload=self._step_payload({"phase": "await", "action": step.acting}),
                next=action_state,
                timeout_seconds=TASK_TIMEOUT_SECONDS,
                retry=(poll, *CALL_RETRY),
                catch=(
                    Catch((ErrorCategory.DECISION_PENDING,), NOTIFY_APPROVAL_TIMEOUT, ERROR),
                    Catch((ErrorCategory.REJECTED,), NOTIFY_REJECTED, ERROR),
                    failed,
                ),
                comment=(
                    f"wait up to {format_duration(timeout)} for an approver to decide "
                    f"{step.acting} (polled every {format_duration(interval)})"
                ),
            ),
        ]

    def _lock(self, entry: str) -> StoreWrite:
        """One recovery per resource at a time."""
        return StoreWrite(
            name=TAKE_LOCK,
            kind="lock",
            key=self._key("lock#"),
            sort="lock",
            fields={"execution": Context.EXECUTION_ID},
            now=STARTED_AT,
            expires_at=Increment(STARTED_AT, self.p.timeout + LOCK_MARGIN_SECONDS),
            next=entry,
            refused=NOTIFY_BUSY,
            retry=(STORE_RETRY,),
            catch=(Catch((ErrorCategory.ANY,), NOTIFY_FAILED, ERROR),),
            comment="one recovery per resource at a time (expires with the workflow)",
        )

    def _budget(self, name: str, action_state: str) -> StoreWrite:
        """Anti-flap: at most N recoveries per resource per window, counted right before an
        action runs (an event for a healthy or skipped resource uses none of the budget).
        Counting is idempotent per execution, so every action of one recovery counts once."""
        guard = self.p.guard
        return StoreWrite(
            name=name,
            kind="count",
            key=self._key("limit#"),
            sort=Template("window-{}", (WINDOW,)),
            member=Context.EXECUTION_ID,
            limit=guard.max_recoveries,
            expires_at=Increment(STARTED_AT, guard.window),
            next=action_state,
            refused=NOTIFY_LIMIT,
            retry=(STORE_RETRY,),
            catch=(Catch((ErrorCategory.ANY,), NOTIFY_FAILED, ERROR),),
            comment=(
                f"anti-flap: at most {guard.max_recoveries} recoveries per resource "
                f"per {format_duration(guard.window)} (this one counts once)"
            ),
        )

    def _fleet(self, name: str, action_state: str) -> Task:
        """The fleet budget (``guard.fleet``): a place among the playbook's recoveries in
        flight and started this hour, across every resource (and member). Taken right
        before an action, after the resource's own anti-flap count; idempotent per
        execution; given back by notify. Full: polled a few times, then escalated."""
        fleet = self.p.guard.fleet
        assert fleet is not None
        poll = RetryPolicy(
            errors=(ErrorCategory.NOT_READY,),
            interval_seconds=FLEET_POLL_SECONDS,
            max_attempts=FLEET_MAX_POLLS,
            backoff_rate=2.0,
            jitter=True,
        )
        return Task(
            name=name,
            function=FLEET_FUNCTION,
            payload={
                "playbook": self.p.name,
                "execution_id": Context.EXECUTION_ID,
                "state": Context.STATE_NAME,
            },
            next=action_state,
            timeout_seconds=TASK_TIMEOUT_SECONDS,
            retry=(poll, *CALL_RETRY),
            catch=(
                Catch((ErrorCategory.NOT_READY,), NOTIFY_FLEET_LIMIT, ERROR),
                Catch((ErrorCategory.ANY,), NOTIFY_FAILED, ERROR),
            ),
            comment=(
                f"fleet budget: at most {fleet.max_in_flight} recoveries acting at once and "
                f"{fleet.max_per_hour} started per hour (this one counts once)"
            ),
        )

    def _record_attempt(self) -> StoreWrite:
        return StoreWrite(
            name=RECORD_ATTEMPT,
            kind="record",
            key=self._key("history#"),
            sort=Template("{}#{}#attempt-{}", (STARTED_AT, Context.EXECUTION_NAME, ATTEMPT)),
            fields={
                "kind": "attempt",
                "outcome": "unhealthy",
                "attempt": ATTEMPT,
                "execution": Context.EXECUTION_ID,
                "playbook": self.p.name,
            },
            expires_at=Increment(STARTED_AT, self.p.history_days * 86400),
            next=ATTEMPTS_LEFT if self.max > 1 else NOTIFY_GAVE_UP,
            retry=(STORE_RETRY,),
            catch=(Catch((ErrorCategory.ANY,), NOTIFY_FAILED, ERROR),),
            comment="audit: this attempt did not recover the target",
        )

    def _notify(
        self,
        name: str,
        outcome: str,
        nxt: str | None,
        with_error: bool,
        *,
        holds_lock: bool = True,
        reason: Ref | str | None = None,
    ) -> Task:
        payload: dict[str, Value] = {
            "playbook": self.p.name,
            "execution_id": Context.EXECUTION_ID,
            "state": Context.STATE_NAME,
            "outcome": outcome,
            "dry_run": self.p.dry_run,
        }
        resolved = name not in (NOTIFY_BAD_EVENT, NOTIFY_REFUSED)
        if resolved:
            payload["resource_id"] = RESOURCE_ID
            payload.update(self._where(ACCOUNT, REGION))
            payload["attempt"] = ATTEMPT
            payload["started_at"] = STARTED_AT
        if with_error:
            payload["error"] = Ref((ERROR,))
        if reason is not None:
            payload["reason"] = reason
        # telling can fail too: then the lock is still released and the execution ends in a
        # state of its own, which the monitoring alarms on
        after_failure = (
            RELEASE_AFTER_NOTIFY_FAILED if resolved and holds_lock else NOTIFICATION_FAILED
        )
        return Task(
            name=name,
            function=NOTIFY_FUNCTION,
            payload=payload,
            next=nxt,
            timeout_seconds=TASK_TIMEOUT_SECONDS,
            retry=CALL_RETRY,
            catch=(Catch((ErrorCategory.ANY,), after_failure, NOTIFY_ERROR),),
            comment=f"tell people: {outcome}",
        )

    def _release_after_failed_notify(self) -> StoreWrite:
        return StoreWrite(
            name=RELEASE_AFTER_NOTIFY_FAILED,
            kind="release",
            key=self._key("lock#"),
            sort="lock",
            member=Context.EXECUTION_ID,
            next=NOTIFICATION_FAILED,
            refused=NOTIFICATION_FAILED,
            retry=(STORE_RETRY,),
            catch=(Catch((ErrorCategory.ANY,), NOTIFICATION_FAILED, NOTIFY_ERROR),),
            comment="the notification failed: still release this execution's lock",
        )

    def _tail(self, entry: str) -> None:
        self.states.append(self._record_attempt())
        if self.max > 1:
            self.states.append(
                Choice(
                    ATTEMPTS_LEFT,
                    (Rule(NumberBelow(ATTEMPT, self.max), WAIT_BETWEEN),),
                    default=NOTIFY_GAVE_UP,
                    comment=f"at most {self.max} attempts",
                )
            )
            self.states.append(
                Wait(
                    WAIT_BETWEEN,
                    self.p.attempts.wait_between,
                    NEXT_ATTEMPT,
                    comment=f"wait {format_duration(self.p.attempts.wait_between)} between attempts",
                )
            )
            self.states.append(
                Assign(
                    NEXT_ATTEMPT,
                    at=CTX,
                    values={
                        "resource_id": RESOURCE_ID,
                        "attempt": Increment(ATTEMPT),
                        "started_at": STARTED_AT,
                        "window": WINDOW,
                        **self._where(ACCOUNT, REGION),
                        **self._no_undo_evidence(),
                    },
                    next=entry,
                    comment="count the attempt",
                )
            )
        self.states.append(self._notify(NOTIFY_RECOVERED, "recovered", None, with_error=False))
        self.states.append(
            self._notify(NOTIFY_ALREADY_HEALTHY, "already_healthy", None, with_error=False)
        )
        self.states.append(self._notify(NOTIFY_GAVE_UP, "gave_up", GAVE_UP, with_error=False))
        self.states.append(
            Fail(GAVE_UP, "RecoveryGaveUp", f"still unhealthy after {self.max} attempt(s)")
        )
        self.states.append(self._notify(NOTIFY_FAILED, "failed", FAILED, with_error=True))
        self.states.append(
            Fail(FAILED, "RecoveryStepFailed", "a step failed; see the notification")
        )
        self.states.append(
            self._notify(
                NOTIFY_SKIPPED,
                "skipped",
                SKIPPED,
                with_error=False,
                reason=Ref((LAST, SKIP)),
            )
        )
        self.states.append(
            self._notify(
                NOTIFY_OUT_OF_SCOPE, "skipped", SKIPPED, with_error=False, reason="not_in_scope"
            )
        )
        self.states.append(
            Succeed(SKIPPED, comment="not a recovery case: nothing was changed, and it was told")
        )
        self.states.append(
            self._notify(
                NOTIFY_BUSY, "already_recovering", None, with_error=False, holds_lock=False
            )
        )
        self.states.append(
            self._notify(NOTIFY_LIMIT, "recovery_limit_reached", LIMIT_REACHED, with_error=False)
        )
        self.states.append(
            Fail(
                LIMIT_REACHED,
                "RecoveryLimitReached",
                f"more than {self.p.guard.max_recoveries} recoveries of this resource within "
                f"{format_duration(self.p.guard.window)}: escalated without acting",
            )
        )
        if self.fleets:
            self.states.append(
                self._notify(NOTIFY_FLEET_LIMIT, "fleet_limit_reached", FLEET_LIMIT_REACHED, True)
            )
            self.states.append(
                Fail(
                    FLEET_LIMIT_REACHED,
                    "FleetLimitReached",
                    "the playbook's fleet budget stayed full: escalated without acting",
                )
            )
        self.states.append(
            self._notify(NOTIFY_APPROVAL_TIMEOUT, "approval_timed_out", APPROVAL_TIMED_OUT, True)
        )
        self.states.append(
            Fail(APPROVAL_TIMED_OUT, "ApprovalTimedOut", "nobody approved the action in time")
        )
        self.states.append(self._notify(NOTIFY_REJECTED, "approval_rejected", REJECTED, True))
        self.states.append(Fail(REJECTED, "ApprovalRejected", "a person rejected the action"))
        self.states.append(self._notify(NOTIFY_BAD_EVENT, "failed", UNRESOLVED, with_error=True))
        self.states.append(
            Fail(UNRESOLVED, "EventNotResolved", "the event did not name a usable target")
        )
        self.states.append(self._notify(NOTIFY_REFUSED, "refused", REFUSED, with_error=True))
        self.states.append(
            Fail(
                REFUSED,
                "EventRefused",
                "the event came from another account or region, or was too old: not acted on",
            )
        )
        self.states.append(self._release_after_failed_notify())
        self.states.append(
            Fail(
                NOTIFICATION_FAILED,
                "NotificationFailed",
                "the outcome could not be told; the lock was released",
            )
        )


__all__ = [
    "CompiledRecovery",
    "compile_playbook",
    "function_key",
    "function_keys",
    "state_names",
]
