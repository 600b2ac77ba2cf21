"""``healstack simulate``: a playbook's real synthesized workflow, run locally on moto.

1. Synthesize the playbook (the same code path as ``healstack synth``) and read the state
   machine definition, the functions (handler, environment) and the store out of
   ``cdk.tf.json``; Terraform references (``${aws_lambda_function.x.arn}``) become moto
   ARNs and names.
2. Inside moto: create the topic (with a queue subscribed, to read back what was
   notified), the store table and the target resource named by the event (an EC2 instance,
   an ECS cluster + service, an RDS instance), then execute the definition with every task
   routed to the real ``healstack_lambda`` handlers (``healstack.simulate.engine``).
3. Report the trace, the outcome, the attempts used, what was notified and what is left
   in the store (a lock that outlived its execution would show here).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from healstack.errors import PlaybookError, UsageError
from healstack.playbook import Playbook
from healstack.simulate.engine import simulate
from healstack.simulate.lambda_runtime import FunctionSpec
from healstack.simulate.scenario import Scenario
from healstack.simulate.trace import SimulationResult

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
AMI = "ami-12c6146b"
_TOKEN = re.compile(r"\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}")
#: environment the handlers see while simulating (never real credentials)
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    # a seeded ECS service runs its desired count, as a healthy service would
    "MOTO_ECS_SERVICE_RUNNING": "1",
}


@dataclass(frozen=True)
class SynthesizedRecovery:
    """What the simulator needs from one synthesized stack, with references resolved."""

    definition: dict[str, Any]
    functions: dict[str, tuple[str, dict[str, str]]]  # name -> (handler, environment)
    topic_name: str
    table: dict[str, Any] | None
    state_machine_name: str


@dataclass
class PlaybookRun:
    playbook: str
    result: SimulationResult
    notifications: list[dict[str, Any]] = field(default_factory=list)
    store_items: list[dict[str, Any]] = field(default_factory=list)
    target_id: str | None = None
    event_target_id: str | None = None
    target_state_before: str | None = None
    target_state_after: str | None = None

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


def synthesized_recovery(stack_file: Path) -> SynthesizedRecovery:
    """Read a synthesized stack and resolve the references the simulator needs."""
    stack = json.loads(stack_file.read_text())
    resources: dict[str, dict[str, Any]] = stack.get("resource", {})

    def attribute(kind: str, name: str, attr: str) -> str:
        body = resources.get(kind, {}).get(name)
        if body is None:
            raise KeyError(f"{kind}.{name}")
        if kind == "aws_lambda_function":
            fn = body["function_name"]
            return (
                fn
                if attr in ("function_name", "id")
                else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}"
            )
        if kind == "aws_lambda_alias":
            function = resolve(body["function_name"])
            fn = function.rsplit(":", 1)[-1]
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}:{body['name']}"
        if kind == "aws_sns_topic":
            return (
                f"arn:aws:sns:{REGION}:{ACCOUNT}:{body['name']}"
                if attr in ("arn", "id")
                else body["name"]
            )
        if kind == "aws_dynamodb_table":
            return (
                f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{body['name']}"
                if attr == "arn"
                else body["name"]
            )
        if "name" in body and attr in ("name", "id"):
            return str(body["name"])
        raise KeyError(f"{kind}.{name}.{attr}")

    def resolve(text: str) -> str:
        return _TOKEN.sub(lambda m: attribute(m.group(1), m.group(2), m.group(3)), text)

    machines = list(resources.get("aws_sfn_state_machine", {}).values())
    if len(machines) != 1:
        raise UsageError(f"{stack_file}: expected one state machine, found {len(machines)}")
    definition = json.loads(resolve(machines[0]["definition"]))
    functions = {}
    for body in resources.get("aws_lambda_function", {}).values():
        variables = (body.get("environment") or {}).get("variables", {})
        functions[body["function_name"]] = (
            body["handler"],
            {k: resolve(str(v)) for k, v in variables.items()},
        )
    topics = list(resources.get("aws_sns_topic", {}).values())
    tables = list(resources.get("aws_dynamodb_table", {}).values())
    return SynthesizedRecovery(
        definition=definition,
        functions=functions,
        topic_name=topics[0]["name"],
        table=tables[0] if tables else None,
        state_machine_name=machines[0]["name"],
    )


def synthesize_for_simulation(playbook: Playbook, work: Path) -> SynthesizedRecovery:
    from healstack.synth import synthesize

    result = synthesize([playbook], work / "cdktf.out")
    return synthesized_recovery(result.out_dir / "stacks" / result.stacks[0] / "cdk.tf.json")


def handler_of(entry: str) -> Callable[[dict[str, Any], Any], Any]:
    module, _, function = entry.rpartition(".")
    return getattr(importlib.import_module(module), function)


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
def fake_aws_environment() -> Iterator[None]:
    """Fake credentials and region for the simulation; the caller's are restored after."""
    saved = {k: os.environ.get(k) for k in FAKE_AWS_ENV}
    os.environ.update(FAKE_AWS_ENV)
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
    scenario: Scenario | Mapping[str, Any] | str | Path | None = None,
    synthesized: SynthesizedRecovery | None = None,
    prepare: Callable[[SynthesizedRecovery, str], None] | None = None,
    timeout_s: float = 120,
    verbose: bool = False,
) -> PlaybookRun:
    """Simulate one execution of ``playbook`` for ``event``.

    ``prepare(recovery, target_id)`` runs inside moto after the resources exist, before the
    execution starts (tests use it to hold a lock, fill a counter, or break the target).
    """
    work = Path(tempfile.mkdtemp(prefix="healstack-simulate-"))
    try:
        recovery = synthesized or synthesize_for_simulation(playbook, work)
        return _run(playbook, recovery, event, scenario, prepare, timeout_s, verbose)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(
    playbook: Playbook,
    recovery: SynthesizedRecovery,
    event: dict[str, Any],
    scenario: Scenario | Mapping[str, Any] | str | Path | None,
    prepare: Callable[[SynthesizedRecovery, str], None] | None,
    timeout_s: float,
    verbose: bool,
) -> PlaybookRun:
    from healstack_lambda import aws as handler_clients
    from healstack_lambda import events as event_parser

    kind = playbook.target.kind
    event_id = _target_in_event(event, kind, playbook.target.id_path)
    run_state: dict[str, Any] = {"event": event}
    run = PlaybookRun(playbook.name, result=None, event_target_id=event_id)  # type: ignore[arg-type]

    def setup() -> None:
        handler_clients.reset_clients()
        queue_url = _topic_with_capture(recovery.topic_name)
        run_state["queue_url"] = queue_url
        if recovery.table is not None:
            _create_table(recovery.table)
        target_id = _seed_target(kind, event_id)
        run.target_id = target_id
        run.target_state_before = _target_state(kind, target_id)
        if target_id != event_id:  # moto picks EC2 ids; the event names the seeded one
            run_state["event"] = json.loads(json.dumps(event).replace(event_id, target_id))
        if prepare is not None:
            prepare(recovery, target_id)

    def after() -> None:
        run.notifications = _read_notifications(run_state["queue_url"])
        if recovery.table is not None:
            run.store_items = _scan(recovery.table["name"])
        if run.target_id is not None:
            run.target_state_after = _target_state(kind, run.target_id)

    functions = {
        name: FunctionSpec(handler_of(entry), environment)
        for name, (entry, environment) in recovery.functions.items()
    }
    del event_parser  # imported above so a broken handler package fails before moto starts
    with fake_aws_environment(), quiet_handlers(logging.INFO if verbose else logging.ERROR):
        run.result = simulate(
            recovery.definition,
            functions,
            lambda: run_state["event"],
            scenario=scenario,
            setup=setup,
            after=after,
            region=REGION,
            timeout_s=timeout_s,
            state_machine_name=recovery.state_machine_name,
        )
        handler_clients.reset_clients()
    return run


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
        return str(resolve(payload, {})["resource_id"])
    except HandlerError as exc:
        # a malformed event is a legitimate thing to simulate: seed nothing, let it fail
        return f"unresolved ({type(exc).__name__})"


def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def _topic_with_capture(name: str) -> str:
    topic = _client("sns").create_topic(Name=name)["TopicArn"]
    sqs = _client("sqs")
    queue_url = sqs.create_queue(QueueName="healstack-simulation-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    _client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return str(queue_url)


def _create_table(table: Mapping[str, Any]) -> None:
    keys = [{"AttributeName": table["hash_key"], "KeyType": "HASH"}]
    if table.get("range_key"):
        keys.append({"AttributeName": table["range_key"], "KeyType": "RANGE"})
    _client("dynamodb").create_table(
        TableName=table["name"],
        KeySchema=keys,
        AttributeDefinitions=[
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in table["attribute"]
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _seed_target(kind: str, target_id: str) -> str:
    if target_id.startswith("unresolved"):
        return target_id
    if kind == "ec2_instance":
        reservation = _client("ec2").run_instances(ImageId=AMI, MinCount=1, MaxCount=1)
        return str(reservation["Instances"][0]["InstanceId"])
    if kind == "ecs_service":
        match = re.match(r"^arn:aws[\w-]*:ecs:[\w-]+:\d{12}:service/([^/]+)/(.+)$", target_id)
        if match is None:
            raise UsageError(f"cannot seed an ECS service from {target_id!r}")
        cluster, service = match.groups()
        ecs = _client("ecs")
        ecs.create_cluster(clusterName=cluster)
        ecs.register_task_definition(
            family=service, containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}]
        )
        ecs.create_service(
            cluster=cluster, serviceName=service, taskDefinition=service, desiredCount=1
        )
        return target_id
    _client("rds").create_db_instance(
        DBInstanceIdentifier=target_id,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="simulation-only",
        AllocatedStorage=20,
    )
    return target_id


def _target_state(kind: str, target_id: str) -> str | None:
    if target_id.startswith("unresolved"):
        return None
    if kind == "ec2_instance":
        reservations = _client("ec2").describe_instances(InstanceIds=[target_id])["Reservations"]
        return str(reservations[0]["Instances"][0]["State"]["Name"])
    if kind == "ecs_service":
        cluster = target_id.split("/")[-2]
        services = _client("ecs").describe_services(cluster=cluster, services=[target_id])[
            "services"
        ]
        return str(services[0]["status"]).lower() if services else None
    instances = _client("rds").describe_db_instances(DBInstanceIdentifier=target_id)["DBInstances"]
    return str(instances[0]["DBInstanceStatus"])


def _read_notifications(queue_url: str) -> list[dict[str, Any]]:
    sqs = _client("sqs")
    out: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return out
        for raw in batch:
            envelope = json.loads(raw["Body"])
            out.append(
                {"subject": envelope.get("Subject"), "message": json.loads(envelope["Message"])}
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=raw["ReceiptHandle"])


def _scan(table: str) -> list[dict[str, Any]]:
    items = _client("dynamodb").scan(TableName=table)["Items"]
    plain = [{k: next(iter(v.values())) for k, v in item.items()} for item in items]
    return sorted(plain, key=lambda i: (i.get("pk", ""), i.get("sk", "")))


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


__all__ = ["PlaybookError", "PlaybookRun", "load_event", "run_playbook", "synthesized_recovery"]
