"""``healstack simulate``: a playbook's real synthesized workflow, run locally on moto.

1. Synthesize the playbook (the same code path as ``healstack synth``) and read the state
   machine definition, the functions (handler, environment, timeout, memory), the store and
   the finalizer rule out of ``cdk.tf.json`` (``healstack.simulate.synthesized``).
2. Inside moto: create the topic (what is published to it is read back afterwards), the
   store table and the target resources named by the events (EC2 instances,
   ECS clusters + services, RDS instances), then execute the definition with every task
   routed to the real ``healstack_lambda`` handlers (``healstack.simulate.many``). An
   execution that ends TIMED_OUT or ABORTED gets its "Step Functions Execution Status Change"
   event delivered to the finalizer rule's target, as EventBridge would
   (``healstack.simulate.finalizer``).
3. Report, per execution, the trace, the outcome, the attempts used, what was notified (a
   message belongs to the execution its ``execution_arn`` names) and what is left in the store
   (a lock that outlived its execution would show here).

``run_playbook`` runs one event; ``run_playbook_many`` runs many events concurrently in one
moto world (one topic, one store, one set of targets), e.g. two alarms for one instance, or a
fleet-wide storm.

With ``hub`` (``DeploymentSettings.hub``) the recovery is a hub's, deployed in moto's default
account and region; each event's target is seeded in the event's own (member) account and
region, where the member's execution role is created as the member part would (its trust and
its step statements: ``providers/aws/member.py``). moto keeps a backend per account and
``sts:AssumeRole`` into another account's role acts there, so the hub's steps really act in
the member account.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from healstack.errors import PlaybookError, UsageError
from healstack.playbook import Playbook
from healstack.providers.aws.packages import platform_package
from healstack.providers.aws.steps import platform_handler
from healstack.providers.interfaces import DeploymentSettings, Hub
from healstack.simulate import playbook_world as targets
from healstack.simulate import world
from healstack.simulate.finalizer import deliver, status_change_event
from healstack.simulate.lambda_runtime import FunctionSpec, scoped_environ
from healstack.simulate.many import ScenarioSource, Start, simulate_many
from healstack.simulate.rate_limits import RateLimits
from healstack.simulate.scenario import load_scenario
from healstack.simulate.synthesized import (
    ACCOUNT,
    REGION,
    FunctionSettings,
    SynthesizedRecovery,
    rehomed,
    synthesize_for_simulation,
    synthesized_recovery,
)
from healstack.simulate.trace import SimulationResult

#: environment the handlers see while simulating (never real credentials)
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    # every request acts in this account (moto's own setting; the events' account)
    "MOTO_ACCOUNT_ID": ACCOUNT,
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    # a seeded ECS service runs its desired count, as a healthy service would
    "MOTO_ECS_SERVICE_RUNNING": "1",
}
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_REGION_NAME = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")


def events_home(events: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """The account and region the events name, where the simulation runs, as delivery would:
    a recovery is deployed in its events' account and region (moto's default account and
    us-east-1 for events that name none). Events naming different ones are refused."""
    homes = set()
    for event in events:
        account, region = event.get("account"), event.get("region")
        homes.add(
            (
                account if isinstance(account, str) and _ACCOUNT_ID.match(account) else ACCOUNT,
                region if isinstance(region, str) and _REGION_NAME.match(region) else REGION,
            )
        )
    if len(homes) > 1:
        named = ", ".join(f"{a}/{r}" for a, r in sorted(homes))
        raise UsageError(
            f"the events name different accounts or regions ({named}); a recovery runs in one: "
            "simulate each account and region on its own"
        )
    return homes.pop() if homes else (ACCOUNT, REGION)


@dataclass
class PlaybookRun:
    """One simulated execution of a playbook and what it left behind.

    ``store_items`` is the whole store when the simulation ended (shared by every run of one
    ``run_playbook_many``); ``finalizer_event`` the status-change event delivered to the
    finalizer rule's target (None when the execution ended in a state of its own).
    """

    playbook: str
    result: SimulationResult
    notifications: list[dict[str, Any]] = field(default_factory=list)
    store_items: list[dict[str, Any]] = field(default_factory=list)
    target_id: str | None = None
    event_target_id: str | None = None
    target_state_before: str | None = None
    target_state_after: str | None = None
    finalizer_event: dict[str, Any] | None = None
    finalizer_error: str | None = None

    @property
    def attempts(self) -> int:
        """Attempts used, as the final notification reports them (0 before the first)."""
        if not self.notifications:
            return 0
        return int(self.notifications[-1]["message"].get("attempts") or 0)

    @property
    def outcome(self) -> str | None:
        return self.notifications[-1]["message"].get("outcome") if self.notifications else None

    def locks(self) -> list[dict[str, Any]]:
        return [i for i in self.store_items if i.get("pk", "").startswith("lock#")]

    def history(self) -> list[dict[str, Any]]:
        return [i for i in self.store_items if i.get("pk", "").startswith("history#")]


def handler_of(
    entry: str, playbook: Playbook | None = None
) -> Callable[[dict[str, Any], Any], Any]:
    """A function's handler: healstack's own from its package; a platform step's from the
    very zip synthesis deploys for it (its file, as the module named after the step)."""
    module, _, function = entry.rpartition(".")
    for name, step in (playbook.platform_steps if playbook else {}).items():
        if entry == platform_handler(name, step.function):
            return getattr(_platform_module(playbook, name), function)  # type: ignore[arg-type]
    return getattr(importlib.import_module(module), function)


def _platform_module(playbook: Playbook, name: str) -> Any:
    import zipimport

    step = playbook.platform_steps[name]
    package = platform_package(name, step.function, playbook.platform_file(name))
    folder = Path(tempfile.mkdtemp(prefix="healstack-platform-step-"))
    try:
        spec = zipimport.zipimporter(str(package.write(folder))).find_spec(name)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def quiet_handlers(level: int = logging.WARNING) -> Iterator[None]:
    """The handlers log JSON lines for CloudWatch; while simulating, only warnings show."""
    from healstack_lambda.log import get_logger

    logger = get_logger()
    saved = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(saved)


@contextmanager
def fake_aws_environment(account: str = ACCOUNT, region: str = REGION) -> Iterator[None]:
    """Fake credentials, account and region for the simulation; the caller's are restored
    after."""
    saved = {k: os.environ.get(k) for k in FAKE_AWS_ENV}
    os.environ.update(FAKE_AWS_ENV)
    os.environ.update(
        {"AWS_REGION": region, "AWS_DEFAULT_REGION": region, "MOTO_ACCOUNT_ID": account}
    )
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_playbook(
    playbook: Playbook,
    event: dict[str, Any],
    *,
    scenario: ScenarioSource | None = None,
    synthesized: SynthesizedRecovery | None = None,
    prepare: Callable[[SynthesizedRecovery, str], None] | None = None,
    timeout_s: float = 120,
    verbose: bool = False,
    finalizer: bool = True,
    rate_limits: RateLimits | None = None,
    keep_event_time: bool = False,
    deployed_in: tuple[str, str] | None = None,
) -> PlaybookRun:
    """Simulate one execution of ``playbook`` for ``event``.

    ``prepare(recovery, target_id)`` runs inside moto after the resources exist, before the
    execution starts (tests use it to hold a lock, fill a counter, or break the target).
    ``finalizer``: deliver the status-change event of a TIMED_OUT or ABORTED execution to the
    finalizer rule's target, as EventBridge does. ``rate_limits``: the cloud API's token
    buckets (``healstack.simulate.rate_limits``).
    """

    def prepare_many(recovery: SynthesizedRecovery, target_ids: list[str]) -> None:
        if prepare is not None:
            prepare(recovery, target_ids[0])

    (run,) = run_playbook_many(
        playbook,
        [Start(event, name="simulation")],
        scenario=scenario,
        synthesized=synthesized,
        prepare=prepare_many,
        timeout_s=timeout_s,
        verbose=verbose,
        finalizer=finalizer,
        max_in_flight=1,
        rate_limits=rate_limits,
        keep_event_time=keep_event_time,
        deployed_in=deployed_in,
    )
    return run


def run_playbook_many(
    playbook: Playbook,
    events: Sequence[Mapping[str, Any] | Start],
    *,
    scenario: ScenarioSource | None = None,
    synthesized: SynthesizedRecovery | None = None,
    prepare: Callable[[SynthesizedRecovery, list[str]], None] | None = None,
    timeout_s: float = 300,
    verbose: bool = False,
    finalizer: bool = True,
    max_in_flight: int = 50,
    seed: int | None = 0,
    rate_limits: RateLimits | None = None,
    keep_event_time: bool = False,
    hub: Hub | None = None,
    deployed_in: tuple[str, str] | None = None,
) -> list[PlaybookRun]:
    """Simulate one execution of ``playbook`` per event, concurrently, in one moto world.

    An item is an event, or a ``Start`` whose ``input`` is the event (with its start time
    ``at``, ``name`` and own ``scenario``). Events naming the same resource act on the same
    simulated resource. ``prepare(recovery, target_ids)`` (the simulated id of each event's
    target, in order) runs inside moto after the resources exist, before the first start.
    Returns one ``PlaybookRun`` per event, in order. See ``simulate_many`` for ``timeout_s``
    (the whole batch), ``max_in_flight``, ``seed`` and ``rate_limits`` (the cloud API's rate
    limits, e.g. ``RateLimits.ec2_documented()``: a fleet storm meets them on AWS).
    Each event runs as if it arrived as its execution starts (its ``time`` is set to then),
    unless ``keep_event_time``: then an old event is refused as stale, as on AWS.
    ``hub``: simulate a hub's recovery acting in its members' accounts (module docstring).
    ``deployed_in``: the ``(account, region)`` the recovery is deployed in; by default the
    events' own, as delivery would have it (give another to see an event from elsewhere
    refused).
    """
    work = Path(tempfile.mkdtemp(prefix="healstack-simulate-"))
    try:
        starts = [_as_start(e) for e in events]
        if hub is not None:  # the hub runs in its own account; the events are its members'
            account, region = ACCOUNT, REGION
            recovery = synthesized or synthesize_for_simulation(
                playbook, work, DeploymentSettings(region=REGION, hub=hub)
            )
        else:
            account, region = deployed_in or events_home([dict(s.input) for s in starts])  # type: ignore[arg-type]
            recovery = rehomed(
                synthesized or synthesize_for_simulation(playbook, work), account, region
            )
        batch = _Batch(
            playbook,
            recovery,
            starts,
            prepare,
            finalizer,
            keep_event_time,
            account=account,
            region=region,
            hub=hub,
        )
        return batch.run(scenario, timeout_s, verbose, max_in_flight, seed, rate_limits)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _as_start(item: Mapping[str, Any] | Start) -> Start:
    start = item if isinstance(item, Start) else Start(item)
    if callable(start.input) or not isinstance(start.input, Mapping):
        raise UsageError("run_playbook_many: each item is an event (a JSON object) or a Start")
    return start


class _Batch:
    """The moto world of one ``run_playbook_many``: set-up, finalizer, read-back."""

    def __init__(
        self,
        playbook: Playbook,
        recovery: SynthesizedRecovery,
        starts: list[Start],
        prepare: Callable[[SynthesizedRecovery, list[str]], None] | None,
        finalizer: bool,
        keep_event_time: bool = False,
        *,
        account: str = ACCOUNT,
        region: str = REGION,
        hub: Hub | None = None,
    ) -> None:
        self.playbook = playbook
        self.account, self.region = account, region
        self.hub = hub
        #: where each event's target lives: the hub's members' accounts, else the recovery's
        self.homes = [
            events_home([dict(s.input)]) if hub is not None else (account, region)  # type: ignore[arg-type]
            for s in starts
        ]
        self.keep_event_time = keep_event_time
        self.recovery = recovery
        self.starts = starts
        self.prepare = prepare
        self.finalizer = recovery.finalizer if finalizer else None
        self.kind = playbook.target.kind
        self.event_ids = [
            _target_in_event(dict(s.input), self.kind, playbook.target.id_path)  # type: ignore[arg-type]
            for s in starts
        ]
        self.runs = [
            PlaybookRun(playbook.name, result=None, event_target_id=event_id)  # type: ignore[arg-type]
            for event_id in self.event_ids
        ]
        self.topic_arn = ""
        self.notifications: dict[str, list[dict[str, Any]]] = {}
        self.store: list[dict[str, Any]] = []
        self.delivered: dict[str, tuple[dict[str, Any], str | None]] = {}
        #: what the decide function answered each scenario approver (status code, body)
        self.decisions: list[dict[str, Any]] = []

    def run(
        self,
        scenario: ScenarioSource | None,
        timeout_s: float,
        verbose: bool,
        max_in_flight: int,
        seed: int | None,
        rate_limits: RateLimits | None,
    ) -> list[PlaybookRun]:
        from healstack_lambda import aws as handler_clients

        functions = {
            name: _function_spec(
                entry, environment, self.recovery.settings.get(name), self.playbook
            )
            for name, (entry, environment) in self.recovery.functions.items()
        }
        self._answer_approvals(functions, scenario)
        starts = [
            replace(start, input=self._event_for(index)) for index, start in enumerate(self.starts)
        ]
        with (
            fake_aws_environment(self.account, self.region),
            targets.located(self.account, self.region),
            quiet_handlers(logging.INFO if verbose else logging.ERROR),
        ):
            if self.hub is not None:
                # moto puts MOTO_ACCOUNT_ID before a request's credentials: without it, the
                # hub is moto's default account and an assumed member role acts in its member
                os.environ.pop("MOTO_ACCOUNT_ID", None)
            try:
                results = simulate_many(
                    self.recovery.definition,
                    functions,
                    starts,
                    scenario=scenario,
                    setup=self._setup,
                    after=self._after,
                    on_end=self._finalize if self.finalizer is not None else None,
                    region=self.region,
                    timeout_s=timeout_s,
                    seed=seed,
                    state_machine_name=self.recovery.state_machine_name,
                    max_in_flight=max_in_flight,
                    rate_limits=rate_limits,
                )
            finally:
                handler_clients.reset_clients()
        for run, result in zip(self.runs, results, strict=True):
            run.result = result
            run.notifications = self.notifications.get(result.execution_arn, [])
            run.store_items = self.store
            run.finalizer_event, run.finalizer_error = self.delivered.get(
                result.execution_arn, (None, None)
            )
        return self.runs

    def _answer_approvals(
        self, functions: dict[str, FunctionSpec], scenario: ScenarioSource | None
    ) -> None:
        """Let the scenario's approvers answer: right after the real approval function has
        recorded a request, the principal the scenario names calls the recovery's real decide
        function (which checks it against the approvers). Unlisted: nobody answers."""
        by_entry = {entry: name for name, (entry, _env) in self.recovery.functions.items()}
        asking, deciding = by_entry.get(APPROVAL_HANDLER), by_entry.get(DECIDE_HANDLER)
        if asking is None or deciding is None:
            return
        shared = load_scenario(scenario) if scenario is not None else None
        own = {
            s.name: load_scenario(s.scenario)
            for s in self.starts
            if s.name is not None and s.scenario is not None
        }
        ask, decide = functions[asking], functions[deciding]
        requests: dict[tuple[str, str], int] = {}

        def answered(event: dict[str, Any], context: Any) -> Any:
            result = ask.handler(event, context)
            params = event.get("params") or {}
            if params.get("phase") != "request":
                return result
            execution = str(event.get("execution_id", ""))
            name = execution.rsplit(":", 1)[-1]
            state = str(event.get("state", ""))
            requests[(name, state)] = requests.get((name, state), 0) + 1
            chosen = own.get(name, shared)
            if chosen is None:
                return result
            decision = chosen.approval_for(state, requests[(name, state)])
            if decision.decision != "timeout":
                request = {
                    "version": "2.0",
                    "requestContext": {
                        "http": {"method": "POST"},
                        "authorizer": {"iam": {"userArn": session_arn(decision.principal)}},
                    },
                    "body": json.dumps(
                        {
                            "approval_id": f"{name}/{params.get('action')}/{event.get('attempt', 1)}",
                            "decision": decision.decision,
                            "reason": decision.reason,
                        }
                    ),
                    "isBase64Encoded": False,
                }
                with scoped_environ(dict(decide.environment)):
                    answer = decide.handler(request, context)
                self.decisions.append({"state": state, "execution": name, **answer})
            return result

        functions[asking] = replace(ask, handler=answered)

    def _event_for(self, index: int) -> Callable[[], Mapping[str, Any]]:
        def event() -> Mapping[str, Any]:
            original = dict(self.starts[index].input)  # type: ignore[arg-type]
            if not self.keep_event_time and "time" in original:
                original["time"] = arrived_now()
            event_id, target_id = self.event_ids[index], self.runs[index].target_id
            if target_id is None or target_id == event_id:
                return original
            # moto picks EC2 ids; the event names the seeded one
            return dict(json.loads(json.dumps(original).replace(event_id, target_id)))

        return event

    def _setup(self) -> None:
        from healstack_lambda import aws as handler_clients

        handler_clients.reset_clients()
        self.topic_arn = targets.create_topic(self.recovery.topic_name)
        if self.recovery.table is not None:
            targets.create_table(self.recovery.table)
        seeded: dict[tuple[str, str, str], str] = {}
        for home in dict.fromkeys(self.homes):
            ids = [e for e, h in zip(self.event_ids, self.homes, strict=True) if h == home]
            with self._in(*home):
                if self.hub is not None:
                    create_member_role(self.playbook, home[0], home[1], self.hub)
                found = targets.seed_targets(
                    self.kind, ids, tags=self.playbook.target.require_tag or {}
                )
            seeded.update({(*home, event_id): target for event_id, target in found.items()})
        for run, event_id, home in zip(self.runs, self.event_ids, self.homes, strict=True):
            run.target_id = seeded[(*home, event_id)]
        before = self._states()
        for run, state in zip(self.runs, before, strict=True):
            run.target_state_before = state
        if self.prepare is not None:
            self.prepare(self.recovery, [str(run.target_id) for run in self.runs])

    def _finalize(self, result: SimulationResult) -> None:
        """Deliver the ended execution's status-change event, as EventBridge would."""
        assert self.finalizer is not None
        description = world.describe_execution(self.region, result.execution_arn)
        event = status_change_event(description, region=self.region, account=self.account)
        delivery = deliver(self.finalizer, event, self.region)
        if delivery is not None:
            error = None
            if delivery.function_error:
                error = f"{delivery.function_error}: {json.dumps(delivery.response)[:300]}"
            self.delivered[result.execution_arn] = (delivery.event, error)

    def _after(self) -> None:
        for note in targets.read_notifications(self.topic_arn):
            arn = str(note["message"].get("execution_arn"))
            self.notifications.setdefault(arn, []).append(note)
        if self.recovery.table is not None:
            self.store.extend(targets.scan(self.recovery.table["name"]))
        for run, state in zip(self.runs, self._states(), strict=True):
            run.target_state_after = state

    def _states(self) -> list[str | None]:
        """Each run's target state, read in the target's own account and region."""
        states: list[str | None] = []
        for run, home in zip(self.runs, self.homes, strict=True):
            with self._in(*home):
                states.append(
                    targets.target_states(self.kind, [str(run.target_id)])[str(run.target_id)]
                )
        return states

    @contextmanager
    def _in(self, account: str, region: str) -> Iterator[None]:
        """Seed and read in ``account`` and ``region`` (a hub's member; else the recovery's
        own, where the world already is)."""
        if (account, region) == (self.account, self.region):
            yield
            return
        saved = os.environ.get("MOTO_ACCOUNT_ID")
        os.environ["MOTO_ACCOUNT_ID"] = account
        try:
            with targets.located(account, region):
                yield
        finally:
            if saved is None:
                os.environ.pop("MOTO_ACCOUNT_ID", None)
            else:
                os.environ["MOTO_ACCOUNT_ID"] = saved


def create_member_role(playbook: Playbook, account: str, region: str, hub: Hub) -> str:
    """The member execution role of ``playbook`` in ``account`` and ``region``, as the member
    part creates it (``providers/aws/member.py``): trusted by the hub's acting step roles,
    holding their step statements. Returns its ARN."""
    from healstack.modules.compile import compile_playbook
    from healstack.providers.aws.member import acting_functions, member_trust
    from healstack.providers.aws.naming import ROLE_PATH, hub_bus_name, member_role_name
    from healstack.providers.aws.provider import _Account, policy, step_statements
    from healstack.providers.aws.steps import implementation
    from healstack.providers.interfaces import HubSpec

    base = DeploymentSettings(region=REGION, hub=hub).base_name(playbook.name)
    acting = acting_functions(compile_playbook(playbook).functions)
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{hub_bus_name(base)}"
    spec = HubSpec(ACCOUNT, bus, REGION)
    here = _Account("aws", region, account)
    statements = [
        s
        for function in acting
        for s in step_statements(
            implementation(function), playbook.target.kind, here, playbook.target.require_tag
        )
    ]
    iam = targets.client("iam")
    name = member_role_name(base, region)
    role = iam.create_role(
        RoleName=name,
        Path=ROLE_PATH,
        AssumeRolePolicyDocument=policy(member_trust("aws", spec, base, acting)),
    )
    if statements:
        iam.put_role_policy(
            RoleName=name, PolicyName="least-privilege", PolicyDocument=policy(*statements)
        )
    return str(role["Role"]["Arn"])


#: the handlers of the approval request/poll and of the approvers' decisions
APPROVAL_HANDLER = "healstack_lambda.approval.handle"
DECIDE_HANDLER = "healstack_lambda.decide.decide"


def session_arn(principal: str) -> str:
    """How a principal appears to a function URL: a role as a session of it, a user as is."""
    if ":role/" in principal:
        account = principal.split(":")[4]
        role = principal.rsplit("/", 1)[-1]
        partition = principal.split(":")[1]
        return f"arn:{partition}:sts::{account}:assumed-role/{role}/simulation"
    return principal


def arrived_now() -> str:
    """An event's ``time`` for one that arrives now (RFC 3339, whole seconds, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _function_spec(
    entry: str,
    environment: dict[str, str],
    settings: FunctionSettings | None,
    playbook: Playbook | None = None,
) -> FunctionSpec:
    settings = settings or FunctionSettings()
    return FunctionSpec(
        handler_of(entry, playbook),
        environment,
        timeout_s=settings.timeout_s,
        memory_mb=settings.memory_mb,
    )


def _target_in_event(event: dict[str, Any], kind: str, id_path: str | None) -> str:
    """The resource id, found exactly as the ResolveTarget step will find it."""
    from healstack_lambda.errors import HealstackError as HandlerError
    from healstack_lambda.events import resolve

    payload = {
        "event": event,
        "target_kind": kind,
        "id_path": id_path,
        "execution_id": "simulation",
        "playbook": "simulation",
    }
    try:
        # only which resource to seed: the workflow's own ResolveTarget checks the rest
        with fake_aws_environment():
            found = resolve(payload, {}, check_age=False, check_origin=False)
        return str(found["resource_id"])
    except HandlerError as exc:
        # a malformed event is a legitimate thing to simulate: seed nothing, let it fail
        return f"unresolved ({type(exc).__name__})"


def load_event(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"--event {path}: no such file (check the path)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--event {path}: not valid JSON at line {exc.lineno} (fix the syntax)"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"--event {path}: an event is a JSON object (start with {{)")
    return data


__all__ = [
    "ACCOUNT",
    "REGION",
    "PlaybookError",
    "PlaybookRun",
    "Start",
    "SynthesizedRecovery",
    "load_event",
    "run_playbook",
    "run_playbook_many",
    "synthesize_for_simulation",
    "synthesized_recovery",
]
