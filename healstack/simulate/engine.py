"""Run an ASL definition in moto's Step Functions interpreter, in-process, with real handlers.

``simulate`` starts a fresh ``moto.mock_aws`` (Step Functions execution on, Lambda without
Docker), installs the patches of ``healstack.simulate.moto_patches``, creates an IAM role, one
Lambda function per ``FunctionSpec`` and the state machine, calls ``setup()``, starts one
execution and polls it to the end. Handlers run in-process and their boto3 calls hit the same
moto backend that ``setup()`` populated. Waits and retry delays are fast-forwarded.
"""

from __future__ import annotations

import functools
import io
import json
import re
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.config import DefaultConfig
from moto.core.models import botocore_stubber

from healstack.simulate.clock import SimulatedClock
from healstack.simulate.definition import check_definition, iter_states, lambda_tasks
from healstack.simulate.errors import ScenarioError, SimulationError, SimulationTimeoutError
from healstack.simulate.lambda_runtime import FunctionSpec, LambdaRouter
from healstack.simulate.moto_patches import install_patches
from healstack.simulate.scenario import Scenario, load_scenario, state_path
from healstack.simulate.trace import SimulationResult, TraceBuilder, execution_outcome

ExecutionInput = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
_POLL_FIRST_S = 0.002
_POLL_MAX_S = 0.05
_STOP_GRACE_S = 2.0
_active = threading.Lock()


def simulate(
    definition: Mapping[str, Any],
    functions: Mapping[str, FunctionSpec],
    execution_input: ExecutionInput,
    *,
    scenario: Scenario | Mapping[str, Any] | str | Path | None = None,
    setup: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
    region: str = "us-east-1",
    timeout_s: float = 60,
    seed: int | None = 0,
    state_machine_name: str = "healstack-simulation",
    execution_name: str = "simulation",
) -> SimulationResult:
    """Execute ``definition`` once and return the result with its step-by-step trace.

    - ``functions``: the handler of each Lambda **function name** the definition invokes
      (``arn:aws:lambda:<region>:123456789012:function:<name>``, moto's default account).
    - ``execution_input``: the input, or a callable returning it, called after ``setup()``
      (use it when the input names resources ``setup()`` created).
    - ``scenario``: forced outcomes (``Scenario``, dict, or YAML/JSON file path).
    - ``setup``: called inside the mock before the execution starts, e.g. to create resources.
    - ``after``: called inside the mock once the execution ended, e.g. to inspect resources
      the handlers changed (the mock and everything in it is gone when ``simulate`` returns).
    - ``timeout_s``: real-time budget; exceeding it stops the execution and raises
      ``SimulationTimeoutError`` (its ``result`` holds the partial trace).
    - ``seed``: seeds ``JitterStrategy: FULL`` delays (None: unseeded).

    Raises ``SimulationError`` (or ``ScenarioError``) for inputs that cannot be simulated.
    Simulations run one at a time per process; moto's mock is process-wide.
    """
    spec = check_definition(definition)
    resolved = load_scenario(scenario) if scenario is not None else None
    _check_functions(spec, functions, region)
    if resolved is not None:
        _check_scenario(spec, resolved)
    limit = spec.get("TimeoutSeconds")
    clock = SimulatedClock(float(limit) if isinstance(limit, int | float) else None)
    began = time.monotonic()
    with _exclusive(), mock_aws(config=MOTO_CONFIG):
        account_id = _client("sts", region).get_caller_identity()["Account"]
        _check_account(spec, account_id)
        router = LambdaRouter(
            functions,
            scenario=resolved,
            clock=clock,
            region=region,
            account_id=account_id,
            execution_name=execution_name,
        )
        with install_patches(router, clock, seed=seed):
            sfn = _client("stepfunctions", region)
            role_arn = _create_role(region)
            _create_functions(region, role_arn, functions)
            _create_aliases(region, spec)
            if setup is not None:
                setup()
            payload = dict(execution_input() if callable(execution_input) else execution_input)
            machine_arn = _create_state_machine(sfn, state_machine_name, spec, role_arn)
            execution_arn = _start_execution(sfn, machine_arn, execution_name, payload)
            description, ran_out = _wait_for_end(sfn, execution_arn, timeout_s)
            history = _history(sfn, execution_arn)
            if after is not None and not ran_out:
                after()
            result = _result(
                description, history, router, clock, payload, machine_arn,
                resolved, time.monotonic() - began,
            )  # fmt: skip
    if ran_out:
        last = result.steps[-1].state if result.steps else "none"
        raise SimulationTimeoutError(
            f"execution {execution_name!r} still RUNNING after {timeout_s:g}s of real time "
            f"(last state entered: {last}); raise timeout_s or look for a handler that hangs",
            result,
        )
    return result


@contextmanager
def _exclusive() -> Iterator[None]:
    """moto's mock and these patches are process-wide: one simulation at a time, and never
    inside a caller's own mock (a nested mock_aws is not reset, so simulations would share
    resources; ``moto.core.models.botocore_stubber.enabled`` tells whether one is active)."""
    if botocore_stubber.enabled:
        raise SimulationError(
            "simulate() starts its own moto mock; call it outside mock_aws "
            "(create resources in setup= instead)"
        )
    if not _active.acquire(blocking=False):
        raise SimulationError("another simulation is already running in this process")
    try:
        yield
    finally:
        _active.release()


def _check_functions(
    definition: Mapping[str, Any], functions: Mapping[str, FunctionSpec], region: str
) -> None:
    for name, spec in functions.items():
        if not isinstance(spec, FunctionSpec):
            raise SimulationError(
                f"functions[{name!r}] must be a FunctionSpec, got {type(spec).__name__}"
            )
    for task in lambda_tasks(definition).values():
        if task.function is None:
            continue
        if task.region is not None and task.region != region:
            raise SimulationError(
                f"state {task.state!r} invokes a Lambda in {task.region} but the simulation runs "
                f"in {region} (pass region={task.region!r})"
            )
        if task.function not in functions:
            known = ", ".join(sorted(functions)) or "none"
            raise SimulationError(
                f"state {task.state!r} invokes Lambda function {task.function!r} "
                f"but no handler was given for it (functions: {known})"
            )


def _check_account(definition: Mapping[str, Any], account_id: str) -> None:
    for task in lambda_tasks(definition).values():
        if task.account is not None and task.account != account_id:
            raise SimulationError(
                f"state {task.state!r} invokes a Lambda in account {task.account}; the "
                f"simulation's (moto) account is {account_id}"
            )


def _check_scenario(definition: Mapping[str, Any], scenario: Scenario) -> None:
    tasks = lambda_tasks(definition)
    for state in scenario.mocks:
        if state not in tasks:
            known = ", ".join(sorted(tasks)) or "none"
            raise ScenarioError(
                state_path(state),
                f"no Lambda Task state of that name (Lambda Task states: {known})",
            )


@functools.cache
def _session() -> boto3.session.Session:
    """A private session kept across simulations: moto drops boto3's default session (and the
    service models it loaded) at every mock start, so each new client would cost ~70 ms again.
    Its dummy credentials never leave the process: moto intercepts every botocore client."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


@functools.cache
def _client(service: str, region: str) -> Any:
    """A client for the active moto mock."""
    return _session().client(service, region_name=region)


def _create_role(region: str) -> str:
    iam = _client("iam", region)
    role = iam.create_role(RoleName="healstack-simulation", AssumeRolePolicyDocument=_TRUST_POLICY)
    return str(role["Role"]["Arn"])


def _create_functions(region: str, role_arn: str, functions: Mapping[str, FunctionSpec]) -> None:
    """Register each function in moto (code is a stub: invocations are routed in-process)."""
    client = _client("lambda", region)
    code = _stub_zip()
    for name, spec in functions.items():
        try:
            client.create_function(
                FunctionName=name,
                Runtime="python3.11",
                Role=role_arn,
                Handler="index.handler",
                Code={"ZipFile": code},
                Timeout=spec.timeout_s,
                MemorySize=spec.memory_mb,
                Environment={"Variables": dict(spec.environment)},
            )
        except ClientError as exc:
            raise SimulationError(
                f"cannot create Lambda function {name!r}: {_message(exc)}"
            ) from None


def _create_aliases(region: str, definition: Mapping[str, Any]) -> None:
    """An alias for every ``function:<name>:<alias>`` the definition invokes (e.g. ``live``)."""
    client = _client("lambda", region)
    wanted = set()
    for _, state in iter_states(definition):
        name = (state.get("Parameters") or {}).get("FunctionName")
        match = _QUALIFIED.match(name) if isinstance(name, str) else None
        if match is not None and not match.group("alias").isdigit():
            wanted.add((match.group("name"), match.group("alias")))
    for function, alias in sorted(wanted):
        version = client.publish_version(FunctionName=function)["Version"]
        client.create_alias(FunctionName=function, Name=alias, FunctionVersion=version)


_QUALIFIED = re.compile(
    r"^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:(?P<name>[\w-]+):(?P<alias>[\w$-]+)$"
)


def _create_state_machine(sfn: Any, name: str, definition: Mapping[str, Any], role_arn: str) -> str:
    try:
        response = sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=role_arn, type="STANDARD"
        )
    except ClientError as exc:
        raise SimulationError(f"moto rejected the definition: {_message(exc)}") from None
    return str(response["stateMachineArn"])


def _start_execution(sfn: Any, machine_arn: str, name: str, payload: Mapping[str, Any]) -> str:
    try:
        response = sfn.start_execution(
            stateMachineArn=machine_arn, name=name, input=json.dumps(payload)
        )
    except ClientError as exc:
        raise SimulationError(f"cannot start execution {name!r}: {_message(exc)}") from None
    except TypeError as exc:
        raise SimulationError(f"execution input is not JSON: {exc}") from None
    return str(response["executionArn"])


def _wait_for_end(sfn: Any, execution_arn: str, timeout_s: float) -> tuple[dict[str, Any], bool]:
    """The final ``describe_execution``, and whether the real-time budget ran out (in which
    case the execution is stopped, and ends ABORTED once its running handler returns)."""
    finished = _wait_until_done(sfn, execution_arn, timeout_s)
    if finished is not None:
        return finished, False
    sfn.stop_execution(
        executionArn=execution_arn,
        error="Simulation.Timeout",
        cause=f"still running after {timeout_s:g}s of real time",
    )
    finished = _wait_until_done(sfn, execution_arn, _STOP_GRACE_S)
    return finished or sfn.describe_execution(executionArn=execution_arn), True


def _wait_until_done(sfn: Any, execution_arn: str, budget_s: float) -> dict[str, Any] | None:
    """Poll ``describe_execution`` until it leaves RUNNING; None if ``budget_s`` ran out."""
    deadline = time.monotonic() + budget_s
    delay = _POLL_FIRST_S
    while True:
        description: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if description["status"] != "RUNNING":
            return description
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, _POLL_MAX_S)


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(_json_safe(event) for event in page["events"])
    return events


def _result(
    description: Mapping[str, Any],
    history: list[dict[str, Any]],
    router: LambdaRouter,
    clock: SimulatedClock,
    execution_input: Mapping[str, Any],
    machine_arn: str,
    scenario: Scenario | None,
    wall_seconds: float,
) -> SimulationResult:
    invocations = router.records
    fast_forwards = clock.records
    error, cause = execution_outcome(history)
    output = description.get("output")
    return SimulationResult(
        status=str(description["status"]),
        error=description.get("error", error),
        cause=description.get("cause", cause),
        input=dict(execution_input),
        output=json.loads(output) if output is not None else None,
        execution_name=str(description.get("name", "")),
        execution_arn=str(description["executionArn"]),
        state_machine_arn=machine_arn,
        scenario=scenario.name if scenario else None,
        steps=tuple(TraceBuilder(invocations, fast_forwards).build(history)),
        state_transitions=sum(1 for e in history if e["type"].endswith("StateEntered")),
        lambda_invocations=dict(sorted(Counter(r.function for r in invocations).items())),
        state_invocations=dict(
            sorted(Counter(r.state for r in invocations if r.state is not None).items())
        ),
        simulated_seconds=clock.elapsed,
        fast_forwarded_seconds=clock.fast_forwarded,
        wall_seconds=wall_seconds,
        invocations=tuple(invocations),
        fast_forwards=tuple(fast_forwards),
        history=tuple(history),
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def _message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', str(exc))}"


def _stub_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()
