"""Many executions of one state machine, concurrently, in one moto world.

``simulate_many`` starts a fresh ``moto.mock_aws`` exactly as ``simulate`` does (role, functions,
aliases, state machine, ``setup()``), then starts one execution per input and drives them all
to their end on one shared simulated clock (``healstack.simulate.scheduler``): executions that
wait at the same time wait side by side, and an execution starting at ``at=60`` runs while an
earlier one is still in its 3-minute wait. They share everything moto holds (tables, topics,
instances), so what one execution writes the others see, as on AWS.

Concurrency is real where it matters: each execution runs in moto's interpreter threads, and
every moto API call is atomic (a conditional ``TakeLock`` write is won by exactly one). Handlers
run one at a time in-process (``os.environ`` is process-wide; see ``LambdaRouter``), so a
handler never sees another's environment, and their real run time moves the shared clock.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from moto import mock_aws

from healstack.simulate import world
from healstack.simulate.clock import SimulatedClock
from healstack.simulate.definition import check_definition
from healstack.simulate.errors import SimulationError, SimulationTimeoutError
from healstack.simulate.lambda_runtime import FunctionSpec, LambdaRouter
from healstack.simulate.moto_patches import install_patches
from healstack.simulate.rate_limits import RateLimits
from healstack.simulate.scenario import Scenario, load_scenario
from healstack.simulate.scheduler import ExecutionScheduler
from healstack.simulate.trace import SimulationResult, TraceBuilder, execution_outcome

ExecutionInput = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
ScenarioSource = Scenario | Mapping[str, Any] | str | Path
_END_POLL_S = 0.002
_END_GRACE_S = 10.0
_STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class Start:
    """One execution of ``simulate_many``.

    - ``input``: the execution input, or a callable returning it, called when the execution
      starts (after ``setup()`` and after every execution that started earlier ran up to then).
    - ``at``: when it starts, in simulated seconds after the first execution could start.
    - ``name``: the execution name (default ``<execution_prefix>-0001``, ...).
    - ``scenario``: forced outcomes for this execution only, instead of the shared one.
    """

    input: ExecutionInput
    at: float = 0.0
    name: str | None = None
    scenario: ScenarioSource | None = None


@dataclass(frozen=True)
class _Planned:
    index: int
    name: str
    input: ExecutionInput
    at: float


@dataclass
class _Running:
    planned: _Planned
    arn: str
    payload: Mapping[str, Any]
    began: float


def simulate_many(
    definition: Mapping[str, Any],
    functions: Mapping[str, FunctionSpec],
    inputs: Sequence[ExecutionInput | Start],
    *,
    scenario: ScenarioSource | None = None,
    setup: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
    on_end: Callable[[SimulationResult], None] | None = None,
    region: str = "us-east-1",
    timeout_s: float = 300,
    seed: int | None = 0,
    state_machine_name: str = "healstack-simulation",
    execution_prefix: str = "simulation",
    max_in_flight: int = 50,
    rate_limits: RateLimits | None = None,
) -> list[SimulationResult]:
    """Run one execution per item of ``inputs`` (an input, a callable, or a ``Start``);
    return their results in the same order.

    ``scenario`` applies to every execution without one of its own; invocation ranges count
    per execution. ``setup``/``after`` run inside the mock before the first start and after
    the last end. ``on_end(result)`` runs inside the mock as each execution ends, while the
    others go on (e.g. to deliver the execution's status-change event, as EventBridge would).
    At most ``max_in_flight`` executions run at once; a start that is due while all slots are
    taken begins when one frees up, at that simulated moment. ``timeout_s`` is the real-time
    budget for the whole batch: when it runs out every running execution is stopped and
    ``SimulationTimeoutError`` (``results``: what ended, partial traces included) is raised.
    ``seed`` seeds ``JitterStrategy: FULL`` delays, drawn in the order retries happen.
    ``rate_limits`` throttles the API calls it has a token bucket for, on the simulated clock
    (``healstack.simulate.rate_limits``); its counts tell how many calls were refused.
    """
    spec = check_definition(definition)
    shared = load_scenario(scenario) if scenario is not None else None
    world.check_functions(spec, functions, region)
    plans, own = _plan(inputs, execution_prefix)
    for checked in [shared, *own.values()]:
        if checked is not None:
            world.check_scenario(spec, checked)
    if max_in_flight < 1:
        raise SimulationError(f"max_in_flight must be at least 1, got {max_in_flight}")
    if not timeout_s > 0:
        raise SimulationError(f"timeout_s must be positive, got {timeout_s}")
    limit = spec.get("TimeoutSeconds")
    limit_s = float(limit) if isinstance(limit, int | float) else None
    clock = SimulatedClock(limit_s)
    scheduler = ExecutionScheduler(clock, limit_s)
    with world.exclusive(), mock_aws(config=world.MOTO_CONFIG):
        account_id = world.account_id(region)
        world.check_account(spec, account_id)
        router = LambdaRouter(
            functions,
            scenario=shared,
            clock=clock,
            region=region,
            account_id=account_id,
            execution_name=execution_prefix,
        )
        for name, own_scenario in own.items():
            router.set_scenario(name, own_scenario)
        with install_patches(
            router, clock, seed=seed, scheduler=scheduler, rate_limits=rate_limits
        ):
            role_arn = world.create_role(region)
            world.create_functions(region, role_arn, functions)
            world.create_aliases(region, spec)
            if setup is not None:
                setup()
            machine_arn = world.create_state_machine(region, state_machine_name, spec, role_arn)
            driver = _Driver(
                region=region,
                machine_arn=machine_arn,
                scheduler=scheduler,
                router=router,
                scenarios={name: s.name for name, s in own.items()},
                shared_scenario=shared.name if shared else None,
                on_end=on_end,
                max_in_flight=max_in_flight,
                single=len(plans) == 1,
            )
            finished = driver.run(plans, timeout_s)
            if after is not None and finished:
                after()
    if not finished:
        raise _timeout_error(plans, driver.results, driver.stopped, timeout_s)
    return [result for result in driver.results if result is not None]


def _plan(
    inputs: Sequence[ExecutionInput | Start], prefix: str
) -> tuple[list[_Planned], dict[str, Scenario]]:
    if isinstance(inputs, Mapping) or not isinstance(inputs, Sequence):
        raise SimulationError("inputs must be a sequence of execution inputs (or Start)")
    width = max(4, len(str(len(inputs))))
    plans: list[_Planned] = []
    own: dict[str, Scenario] = {}
    for index, item in enumerate(inputs):
        start = item if isinstance(item, Start) else Start(item)
        name = start.name or f"{prefix}-{index + 1:0{width}d}"
        if not math.isfinite(start.at) or start.at < 0:
            raise SimulationError(f"inputs[{index}].at must be >= 0 seconds, got {start.at}")
        if any(p.name == name for p in plans):
            raise SimulationError(f"inputs[{index}]: execution name {name!r} is used twice")
        if start.scenario is not None:
            own[name] = load_scenario(start.scenario)
        plans.append(_Planned(index, name, start.input, float(start.at)))
    return plans, own


class _Driver:
    """Starts the planned executions on time, collects each as it ends (single-threaded)."""

    def __init__(
        self,
        *,
        region: str,
        machine_arn: str,
        scheduler: ExecutionScheduler,
        router: LambdaRouter,
        scenarios: Mapping[str, str],
        shared_scenario: str | None,
        on_end: Callable[[SimulationResult], None] | None,
        max_in_flight: int,
        single: bool,
    ) -> None:
        self.region = region
        self.machine_arn = machine_arn
        self.scheduler = scheduler
        self.clock = scheduler.clock
        self.router = router
        self.scenarios = scenarios
        self.shared_scenario = shared_scenario
        self.on_end = on_end
        self.max_in_flight = max_in_flight
        self.single = single
        self.running: dict[str, _Running] = {}
        self.results: list[SimulationResult | None] = []
        self.stopped: list[str] = []  # still running when the budget ran out

    def run(self, plans: list[_Planned], timeout_s: float) -> bool:
        """Drive every plan to its end; False if the real-time budget ran out first."""
        self.results = [None] * len(plans)
        pending = deque(sorted(plans, key=lambda p: (p.at, p.index)))
        deadline = time.monotonic() + timeout_s
        try:
            while pending or self.running:
                self._launch_due(pending)
                self._collect(self.scheduler.take_finished())
                if not pending and not self.running:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._stop_all()
                    return False
                free = len(self.running) < self.max_in_flight
                next_at = pending[0].at if pending and free else None
                self.scheduler.wait_for_driver(next_at, remaining)
        except BaseException:
            self._stop_all()
            raise
        self.scheduler.close()
        return True

    def _launch_due(self, pending: deque[_Planned]) -> None:
        while (
            pending
            and len(self.running) < self.max_in_flight
            and pending[0].at <= self.clock.elapsed
        ):
            plan = pending.popleft()
            payload = dict(plan.input() if callable(plan.input) else plan.input)
            began = time.monotonic()
            self.scheduler.begin(plan.name)
            try:
                arn = world.start_execution(self.region, self.machine_arn, plan.name, payload)
            except BaseException:
                self.scheduler.end(plan.name)
                raise
            self.running[plan.name] = _Running(plan, arn, payload, began)

    def _collect(self, names: list[str], *, notify: bool = True) -> None:
        for name in names:
            run = self.running.pop(name, None)
            if run is None:
                continue
            description = self._await_end(run.arn, _END_GRACE_S)
            result = self._result(run, description)
            self.results[run.planned.index] = result
            if notify and self.on_end is not None:
                self.on_end(result)

    def _await_end(self, arn: str, grace_s: float) -> dict[str, Any]:
        """``describe_execution`` once it left RUNNING (moto sets the status just after the
        program returns), or as it is after ``grace_s``."""
        deadline = time.monotonic() + grace_s
        while True:
            description = world.describe_execution(self.region, arn)
            if description["status"] != "RUNNING" or time.monotonic() >= deadline:
                return description
            time.sleep(_END_POLL_S)

    def _stop_all(self) -> None:
        """Stop what still runs, wake every sleeper, and keep the partial results."""
        self.scheduler.close()
        self.stopped = list(self.running)
        sfn = world.client("stepfunctions", self.region)
        for run in self.running.values():
            with contextlib.suppress(ClientError):  # it ended meanwhile
                sfn.stop_execution(
                    executionArn=run.arn,
                    error="Simulation.Timeout",
                    cause="the simulation's real-time budget ran out",
                )
        deadline = time.monotonic() + _STOP_GRACE_S
        while self.running and time.monotonic() < deadline:
            self._collect(self.scheduler.take_finished(), notify=False)
            time.sleep(_END_POLL_S)
        for name, run in list(self.running.items()):
            description = self._await_end(run.arn, 0)
            self.results[run.planned.index] = self._result(run, description)
            del self.running[name]

    def _result(self, run: _Running, description: Mapping[str, Any]) -> SimulationResult:
        name = run.planned.name
        events = world.history(self.region, run.arn)
        invocations = self.router.records_for(name)
        fast_forwards = self.clock.records_for(name)
        if self.single:  # calls and sleeps the simulator could not attribute are this one's
            invocations = sorted(
                invocations + self.router.records_for(None), key=lambda r: r.started_at
            )
            fast_forwards = sorted(
                fast_forwards + self.clock.records_for(None), key=lambda f: f.started_at
            )
        timing = self.scheduler.timing(name)
        ended = timing.ended_at if timing.ended_at is not None else self.clock.elapsed
        error, cause = execution_outcome(events)
        output = description.get("output")
        return SimulationResult(
            status=str(description["status"]),
            error=description.get("error", error),
            cause=description.get("cause", cause),
            input=dict(run.payload),
            output=_json(output),
            execution_name=str(description.get("name", name)),
            execution_arn=str(description["executionArn"]),
            state_machine_arn=self.machine_arn,
            scenario=self.scenarios.get(name, self.shared_scenario),
            steps=tuple(TraceBuilder(invocations, fast_forwards).build(events)),
            state_transitions=sum(1 for e in events if e["type"].endswith("StateEntered")),
            lambda_invocations=_counts(r.function for r in invocations),
            state_invocations=_counts(r.state for r in invocations if r.state is not None),
            simulated_seconds=ended - timing.started_at,
            fast_forwarded_seconds=sum(f.seconds for f in fast_forwards),
            wall_seconds=time.monotonic() - run.began,
            invocations=tuple(invocations),
            fast_forwards=tuple(fast_forwards),
            history=tuple(events),
        )


def _counts(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _json(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) else text


def _timeout_error(
    plans: list[_Planned],
    results: list[SimulationResult | None],
    stopped: list[str],
    timeout_s: float,
) -> SimulationTimeoutError:
    done = tuple(r for r in results if r is not None)
    unfinished = [r for r in done if r.execution_name in stopped]
    never = sum(1 for r in results if r is None)
    first = unfinished[0] if unfinished else None
    last = first.steps[-1].state if first is not None and first.steps else "none"
    if len(plans) == 1 and first is not None:
        message = (
            f"execution {first.execution_name!r} still RUNNING after {timeout_s:g}s of real "
            f"time (last state entered: {last}); raise timeout_s or look for a handler that hangs"
        )
    else:
        name = first.execution_name if first is not None else plans[0].name
        message = (
            f"{len(stopped)} of {len(plans)} executions still RUNNING after {timeout_s:g}s of "
            f"real time and {never} never started (first: {name!r}, last state entered: "
            f"{last}); raise timeout_s (or max_in_flight), or look for a handler that hangs"
        )
    return SimulationTimeoutError(message, first or _nothing(plans[0].name), done)


def _nothing(name: str) -> SimulationResult:
    """The result of an execution that never started (the budget ran out before)."""
    return SimulationResult(
        status="NOT_STARTED",
        error=None,
        cause=None,
        input=None,
        output=None,
        execution_name=name,
        execution_arn="",
        state_machine_arn="",
        scenario=None,
        steps=(),
        state_transitions=0,
        lambda_invocations={},
        state_invocations={},
        simulated_seconds=0.0,
        fast_forwarded_seconds=0.0,
        wall_seconds=0.0,
    )
