"""The moto world a simulation runs in: the mock, its IAM role, functions, aliases, state machine.

Everything here runs inside ``moto.mock_aws`` and speaks moto's API through boto3 clients of a
private session (``client``). Errors a user can act on become one-line ``SimulationError``s.
"""

from __future__ import annotations

import functools
import io
import json
import re
import threading
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.core.config import DefaultConfig
from moto.core.models import botocore_stubber
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from healstack.simulate.definition import iter_states, lambda_tasks
from healstack.simulate.errors import ScenarioError, SimulationError
from healstack.simulate.lambda_runtime import FunctionSpec
from healstack.simulate.scenario import Scenario, state_path

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
_QUALIFIED = re.compile(
    r"^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:(?P<name>[\w-]+):(?P<alias>[\w$-]+)$"
)
_active = threading.Lock()


@contextmanager
def exclusive() -> Iterator[None]:
    """moto's mock and the patches are process-wide: one simulation at a time, and never
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


@functools.cache
def _session() -> boto3.session.Session:
    """A private session kept across simulations: moto drops boto3's default session (and the
    service models it loaded) at every mock start, so each new client would cost ~70 ms again.
    Its dummy credentials never leave the process: moto intercepts every botocore client."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


@functools.cache
def client(service: str, region: str) -> Any:
    """A client for the active moto mock (cached: clients hold no moto state)."""
    return _session().client(service, region_name=region)


def check_functions(
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


def check_account(definition: Mapping[str, Any], account_id: str) -> None:
    for task in lambda_tasks(definition).values():
        if task.account is not None and task.account != account_id:
            raise SimulationError(
                f"state {task.state!r} invokes a Lambda in account {task.account}; the "
                f"simulation's (moto) account is {account_id}"
            )


def check_scenario(definition: Mapping[str, Any], scenario: Scenario) -> None:
    tasks = lambda_tasks(definition)
    for state in scenario.mocks:
        if state not in tasks:
            known = ", ".join(sorted(tasks)) or "none"
            raise ScenarioError(
                state_path(state),
                f"no Lambda Task state of that name (Lambda Task states: {known})",
            )


def account_id(region: str) -> str:
    return str(client("sts", region).get_caller_identity()["Account"])


def create_role(region: str) -> str:
    iam = client("iam", region)
    role = iam.create_role(RoleName="healstack-simulation", AssumeRolePolicyDocument=_TRUST_POLICY)
    return str(role["Role"]["Arn"])


def create_functions(region: str, role_arn: str, functions: Mapping[str, FunctionSpec]) -> None:
    """Register each function in moto (code is a stub: invocations are routed in-process)."""
    lambda_client = client("lambda", region)
    code = _stub_zip()
    for name, spec in functions.items():
        try:
            lambda_client.create_function(
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
                f"cannot create Lambda function {name!r}: {message(exc)}"
            ) from None


def create_aliases(region: str, definition: Mapping[str, Any]) -> None:
    """An alias for every ``function:<name>:<alias>`` the definition invokes (e.g. ``live``)."""
    lambda_client = client("lambda", region)
    wanted = set()
    for _, state in iter_states(definition):
        name = (state.get("Parameters") or {}).get("FunctionName")
        match = _QUALIFIED.match(name) if isinstance(name, str) else None
        if match is not None and not match.group("alias").isdigit():
            wanted.add((match.group("name"), match.group("alias")))
    for function, alias in sorted(wanted):
        version = lambda_client.publish_version(FunctionName=function)["Version"]
        lambda_client.create_alias(FunctionName=function, Name=alias, FunctionVersion=version)


def create_state_machine(
    region: str, name: str, definition: Mapping[str, Any], role_arn: str
) -> str:
    try:
        response = client("stepfunctions", region).create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=role_arn, type="STANDARD"
        )
    except ClientError as exc:
        raise SimulationError(f"moto rejected the definition: {message(exc)}") from None
    return str(response["stateMachineArn"])


def start_execution(region: str, machine_arn: str, name: str, payload: Mapping[str, Any]) -> str:
    try:
        response = client("stepfunctions", region).start_execution(
            stateMachineArn=machine_arn, name=name, input=json.dumps(payload)
        )
    except ClientError as exc:
        raise SimulationError(f"cannot start execution {name!r}: {message(exc)}") from None
    except TypeError as exc:
        raise SimulationError(f"execution input is not JSON: {exc}") from None
    return str(response["executionArn"])


def describe_execution(region: str, execution_arn: str) -> dict[str, Any]:
    """``DescribeExecution``'s output, read from moto's backend: polling the API for every
    execution of a storm costs a request (and a serialization) per poll."""
    description: dict[str, Any] = _execution(region, execution_arn).to_describe_output()
    return {
        key: value.value if isinstance(value, Enum) else value
        for key, value in description.items()
        if value is not None
    }


def history(region: str, execution_arn: str) -> list[dict[str, Any]]:
    """``GetExecutionHistory``'s events (JSON-safe), read from moto's backend: through the API
    moto serializes every event, ~12 % of a 1,000-execution simulation."""
    output = _execution(region, execution_arn).to_history_output()
    return [json_safe(event) for event in output["events"]]


def _execution(region: str, execution_arn: str) -> Any:
    backend = stepfunctions_parser_backends[execution_arn.split(":")[4]][region]
    return backend.describe_execution(execution_arn)


def json_safe(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', str(exc))}"


def _stub_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()
