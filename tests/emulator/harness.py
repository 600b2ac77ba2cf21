"""End to end against a moto server: synth, apply, re-plan, a recovery run, destroy.

``emulator_session()`` starts everything a run needs and always takes it down again: a temp
folder, a configured moto server on a free loopback port (in this process), the moto shims,
the EC2 status patch. ``EmulatorSession`` then does one step per method, each timed and
logged, each failing with a message that says what went wrong (terraform's stderr tail, the
execution's last history events, what was delivered).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.common import BINDINGS_COMMIT
from healstack.emulator import (
    MotoServer,
    StackOutput,
    Terraform,
    emulator_terraform_env,
    managed_resources,
    moto_server,
    synthesize,
)
from healstack.emulator.stack import DEFAULT_STACK
from healstack.loader import load_playbook, shipped_playbook_path
from healstack.settings import SETTINGS_ENV, TAGS_ENV
from tests.emulator.cdktf_cli import Counts, applied_counts, plan_counts, run_cdktf
from tests.emulator.ec2_health import ImpairedUntilRecovered
from tests.emulator.isolation import isolated_environment, preserved_moto_config
from tests.emulator.lambdas import (
    HandlerRuntime,
    deployed_functions,
    real_handlers,
    timeout_seconds,
)
from tests.emulator.shims import Shims, emulator_shims

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_EVENT = REPO / "examples" / "events" / "cloudwatch-alarm-ec2-status-check.json"
#: the tag the shipped EC2 playbook requires of the instances it may recover
SCOPE_TAG = load_playbook(shipped_playbook_path()).target.require_tag or {}
EXAMPLE_INSTANCE_ID = "i-0a1b2c3d4e5f67890"
REGION = "us-east-1"

INIT_TIMEOUT_S = 60.0
APPLY_TIMEOUT_S = 300.0
PLAN_TIMEOUT_S = 180.0
DESTROY_TIMEOUT_S = 300.0
OTHER_TIMEOUT_S = 60.0  # terraform output
CDKTF_SYNTH_TIMEOUT_S = 300.0
CDKTF_DEPLOY_TIMEOUT_S = 600.0
EXECUTION_TIMEOUT_S = 60.0
NOTIFICATION_TIMEOUT_S = 10.0
PARALLELISM = 30
#: set to a folder to keep the synthesized stack, its state and terraform's logs there
KEEP_ENV = "HEALSTACK_EMULATOR_KEEP"
#: set to a terraform log level (e.g. DEBUG) to have it in those logs (with KEEP_ENV)
TF_LOG_ENV = "HEALSTACK_EMULATOR_TF_LOG"

Log = Callable[[str], None]


class EmulatorCheckFailed(AssertionError):
    """A step ran but its result is wrong (the message says what and shows the evidence)."""


@dataclass
class Timings:
    """Wall time of each step, in order."""

    seconds: dict[str, float] = field(default_factory=dict)

    def table(self) -> str:
        width = max((len(step) for step in self.seconds), default=0)
        return "\n".join(
            f"  {step:<{width}}  {value:6.1f} s" for step, value in self.seconds.items()
        )


@dataclass(frozen=True)
class Recovery:
    """What one recovery run did."""

    instance_id: str
    execution_arn: str
    status: str
    output: Any
    ec2_actions: list[str]
    notification: dict[str, Any]
    fast_forwarded: list[tuple[str, str, float]]
    invocations: list[str]


@dataclass(frozen=True)
class Update:
    """What ``cdktf diff`` planned and ``cdktf deploy`` applied for a settings change."""

    tags: dict[str, str]
    planned: Counts
    applied: Counts
    machine_tags: dict[str, str]


@dataclass(frozen=True)
class FunctionError:
    """How Invoke reported a handler's exception."""

    function: str
    function_error: str | None
    error_type: str | None
    message: str | None


class EmulatorSession:
    """One stack in one moto server; call the steps in order."""

    def __init__(
        self,
        workdir: Path,
        server: MotoServer,
        shims: Shims,
        health: ImpairedUntilRecovered,
        log: Log,
    ) -> None:
        self.workdir = workdir
        self.server = server
        self.shims = shims
        self.health = health
        self.log = log
        self.timings = Timings()
        self.stack: StackOutput | None = None
        self._terraform: Terraform | None = None
        self.outputs: dict[str, object] = {}
        self._session = boto3.session.Session()
        self._clients: dict[str, Any] = {}

    # -- steps ----------------------------------------------------------------------------------

    def deploy(self) -> list[str]:
        """Synthesize the default stack for this server, ``init`` and ``apply``; return the
        managed resources in the state."""
        with self.step("synth"):
            stacks = synthesize(self.workdir / "cdktf.out", self.server.url)
            self.stack = stacks[DEFAULT_STACK]
        # the store's deletion protection (on by default) is off for an emulator endpoint
        # (providers/aws/provider.py, store_deletion_protection): else destroy is refused
        tables = dict(self.stack.config()["resource"])["aws_dynamodb_table"].values()
        if any(table.get("deletion_protection_enabled") is not False for table in tables):
            raise EmulatorCheckFailed(
                "the emulator stack's store has deletion protection on: terraform destroy "
                "would be refused (store_deletion_protection must be off for an emulator)"
            )
        # cdktf synth writes elsewhere and reads nothing terraform writes: it runs while the
        # apply waits on the provider
        with ThreadPoolExecutor(max_workers=1) as pool:
            cli_synth = pool.submit(self.check_cdktf_synth)
            with self.step("terraform init"):
                self.terraform.init(timeout_s=INIT_TIMEOUT_S)
            with self.step("terraform apply"):
                self.terraform.apply(timeout_s=APPLY_TIMEOUT_S)
            cli_synth.result()
        self.outputs = self.terraform.outputs()
        resources = managed_resources(self.stack.state_file)
        self.log(f"applied {len(resources)} resources")
        return resources

    def check_cdktf_synth(self) -> None:
        """``cdktf synth`` (the repository's ``cdktf.json``, settings from ``HEALSTACK_*``)
        must write byte for byte what ``healstack synth`` / ``python main.py`` wrote."""
        with self.step("cdktf synth"):
            run_cdktf(
                "synth",
                output=self.workdir / "cli.out",
                env=self.cli_env(),
                timeout_s=CDKTF_SYNTH_TIMEOUT_S,
            )
        differences = tree_differences(
            self.terraform_stack.out, self.workdir / "cli.out", ignore=_TERRAFORM_FILES
        )
        if differences:
            raise EmulatorCheckFailed(
                "cdktf synth and healstack synth wrote different stacks: " + "; ".join(differences)
            )
        self.log("   cdktf synth: byte-identical to healstack synth")

    def update_with_cdktf_cli(self, tags: dict[str, str]) -> Update:
        """Add ``tags`` (``HEALSTACK_TAGS``) to the applied stack through the cdktf CLI:
        ``cdktf diff`` must plan in-place changes only, ``cdktf deploy`` must apply exactly
        those, and the deployed state machine must carry the tags."""
        env = {**self.cli_env(), TAGS_ENV: ",".join(f"{k}={v}" for k, v in tags.items())}
        out = self.terraform_stack.out
        with self.step("cdktf diff"):
            diff = run_cdktf(
                "diff", *self.cli_terraform_args, output=out, env=env, timeout_s=PLAN_TIMEOUT_S
            )
        planned = plan_counts(diff)
        if planned is None or planned.add or planned.destroy or not planned.change:
            raise EmulatorCheckFailed(
                f"cdktf diff of a tag change should plan in-place changes only, got {planned}:\n"
                + _plan_changes(diff)
            )
        with self.step("cdktf deploy"):
            deploy = run_cdktf(
                "deploy",
                "--auto-approve",
                *self.cli_terraform_args,
                output=out,
                env=env,
                timeout_s=CDKTF_DEPLOY_TIMEOUT_S,
            )
        applied = applied_counts(deploy)
        if applied != planned:
            raise EmulatorCheckFailed(
                f"cdktf diff planned {planned}, cdktf deploy applied {applied}:\n"
                + _plan_changes(deploy)
            )
        machine = str(self.outputs["state_machine_arn"])
        listed = self.client("stepfunctions").list_tags_for_resource(resourceArn=machine)["tags"]
        machine_tags = {t["key"]: t["value"] for t in listed}
        missing = {k: v for k, v in tags.items() if machine_tags.get(k) != v}
        if missing:
            raise EmulatorCheckFailed(
                f"after cdktf deploy the state machine lacks the tags {missing}: {machine_tags}"
            )
        self.log(f"   cdktf deploy: {applied.change} resources changed in place, tags applied")
        return Update(dict(tags), planned, applied, machine_tags)

    #: terraform's -parallelism, as for the plain terraform commands
    cli_terraform_args = ("--terraform-parallelism", str(PARALLELISM), "--no-color")

    def cli_env(self) -> dict[str, str]:
        """The cdktf CLI's environment: terraform's (mirror, no real AWS credentials), and
        the emulator endpoint for ``main.py``; no other ``HEALSTACK_*`` setting leaks in."""
        settings_env = {*SETTINGS_ENV.values(), TAGS_ENV}
        env = {k: v for k, v in self.terraform.env.items() if k not in settings_env}
        env[SETTINGS_ENV["aws_endpoint"]] = self.server.url
        return env

    def replan(self, step: str = "terraform plan (re-plan)") -> None:
        """``plan -detailed-exitcode`` right after apply must report no changes."""
        with self.step(step):
            result = self.terraform.plan_changes(timeout_s=PLAN_TIMEOUT_S)
        if result.returncode != 0:
            raise EmulatorCheckFailed(
                "terraform plan after apply wants changes (exit 2); the emulator's answers "
                "differ from what was applied:\n" + _plan_changes(result.stdout)
            )

    def replan_with_previous_implementation(self, commit: str = BINDINGS_COMMIT) -> None:
        """The migration check: the stack as the previous implementation (the prebuilt
        bindings, ``commit``) synthesizes it for this server, planned against the state this
        implementation applied, must want no change. So a state an older healstack created
        plans clean under this one (the configurations are the same but for the provider
        version constraint, which a plan does not diff)."""
        with self.step("previous implementation: re-plan"):
            tree = self.workdir / "previous"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(tree), commit],
                cwd=REPO,
                check=True,
                capture_output=True,
                timeout=120,
            )
            try:
                out = self.workdir / "previous-out"
                command = [sys.executable, "-m", "healstack.cli", "synth", "--out", str(out)]
                result = subprocess.run(
                    [*command, "--aws-endpoint", self.server.url],
                    cwd=tree,
                    env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
                if result.returncode != 0:
                    raise EmulatorCheckFailed(f"{commit}'s synth failed: {result.stderr[-800:]}")
                applied = self.stack.stack_dir / "cdk.tf.json"
                ours = applied.read_bytes()
                previous = out / "stacks" / self.stack.name / "cdk.tf.json"
                applied.write_bytes(previous.read_bytes())
                try:
                    self.terraform.run(
                        "plan",
                        "-input=false",
                        "-out=previous.tfplan",
                        f"-parallelism={self.terraform.parallelism}",
                        timeout_s=PLAN_TIMEOUT_S,
                    )
                    shown = self.terraform.run("show", "-json", "previous.tfplan")
                finally:
                    applied.write_bytes(ours)
            finally:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(tree)],
                    cwd=REPO,
                    capture_output=True,
                    timeout=120,
                )
        previous_addresses = set(_addresses(json.loads(previous.read_text())))
        problems, code_updates, added = migration_problems(
            json.loads(shown.stdout), previous_addresses
        )
        if problems:
            raise EmulatorCheckFailed(
                f"the stack as {commit} (prebuilt bindings) synthesizes it differs from the state "
                "this implementation applied beyond function code and resources added since:\n"
                + "\n".join(problems[:40])
            )
        self.log(
            f"   {commit}'s stack against this state: no replacement, no argument drift "
            f"({code_updates} functions' code and {added} resources added since differ)"
        )

    def recover_impaired_instance(self) -> Recovery:
        """Start an instance, fail its status checks, send the alarm event, follow the run."""
        machine_arn = str(self.outputs["state_machine_arn"])
        topic_arn = str(self.outputs["topic_arn"])
        with self.step("recovery run"):
            instance_id = self._impaired_instance()
            queue_url = self._subscribe_queue(topic_arn)
            with self._real_handlers(machine_arn) as runtime:
                self._put_alarm_event(instance_id)
                execution_arn = self._delivered_execution(machine_arn)
                description = self._wait_for_end(execution_arn)
                notification = self._notification(queue_url)
            recovery = Recovery(
                instance_id=instance_id,
                execution_arn=execution_arn,
                status=str(description["status"]),
                output=json.loads(description.get("output") or "null"),
                ec2_actions=[a.action for a in self.health.actions if a.instance_id == instance_id],
                notification=notification,
                fast_forwarded=[
                    (r.kind, r.state, r.requested_seconds) for r in runtime.clock.records
                ],
                invocations=[f"{r.state}:{r.outcome}" for r in runtime.router.records],
            )
        self.log(
            f"execution {recovery.status}; EC2 actions {recovery.ec2_actions}; "
            f"notified outcome {notification.get('outcome')!r}; fast-forwarded "
            f"{sum(s for _, _, s in recovery.fast_forwarded):g} s of waits"
        )
        return recovery

    def invoke_failing_handler(self, handler: str = "healstack_lambda.ec2.check") -> FunctionError:
        """Invoke the deployed function running ``handler`` for an instance that does not
        exist: the handler raises, and Invoke must answer a function error named after it."""
        client = self.client("lambda")
        names = [
            config["FunctionName"]
            for page in client.get_paginator("list_functions").paginate()
            for config in page["Functions"]
            if config.get("Handler") == handler
        ]
        if not names:
            raise EmulatorCheckFailed(f"no deployed function runs {handler}")
        payload = {
            "playbook": DEFAULT_STACK,
            "execution_id": "emulator-probe",
            "state": "Probe",
            "resource_id": "i-0000000000000dead",
            "attempt": 1,
            "dry_run": False,
            "params": {},
        }
        with (
            self.step("handler error probe"),
            self._real_handlers(str(self.outputs["state_machine_arn"])),
        ):
            answer = client.invoke(FunctionName=names[0], Payload=json.dumps(payload).encode())
            body = json.loads(answer["Payload"].read() or b"null")
        return FunctionError(
            function=names[0],
            function_error=answer.get("FunctionError"),
            error_type=body.get("errorType") if isinstance(body, dict) else None,
            message=body.get("errorMessage") if isinstance(body, dict) else None,
        )

    def deploy_playbook(self, playbook: Path, stack_name: str) -> tuple[list[str], dict[str, Any]]:
        """Another playbook's stack as this session's: synthesize it for this server, ``init``
        and ``apply``; return the managed resources and the stack's outputs."""
        with self.step("synth"):
            stacks = synthesize(self.workdir / "cdktf.out", self.server.url, playbooks=[playbook])
            self.stack = stacks[stack_name]
        with self.step("terraform init"):
            self.terraform.init(timeout_s=INIT_TIMEOUT_S)
        with self.step("terraform apply"):
            self.terraform.apply(timeout_s=APPLY_TIMEOUT_S)
        resources = managed_resources(self.terraform_stack.state_file)
        if not any(r.startswith("aws_sfn_state_machine.") for r in resources):
            raise EmulatorCheckFailed(f"{stack_name}: terraform apply created no state machine")
        self.outputs = self.terraform.outputs()
        return resources, dict(self.outputs)

    def put_event(self, event: dict[str, Any]) -> None:
        """Put an AWS-shaped event (a sample's source, detail-type, detail, resources) on the
        server's default bus, as the service would."""
        answer = self.client("events").put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event.get("resources", []),
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            raise EmulatorCheckFailed(f"PutEvents refused the event: {answer['Entries']}")

    def destroy(self) -> list[str]:
        """``destroy``; return what is left in the state (nothing, when it worked)."""
        with self.step("terraform destroy"):
            self.terraform.destroy(timeout_s=DESTROY_TIMEOUT_S)
        return managed_resources(self.terraform_stack.state_file)

    # -- helpers --------------------------------------------------------------------------------

    @property
    def terraform_stack(self) -> StackOutput:
        if self.stack is None:
            raise RuntimeError("deploy() first: there is no synthesized stack yet")
        return self.stack

    @property
    def terraform(self) -> Terraform:
        if self._terraform is None:
            env = emulator_terraform_env(self.workdir / "tfcli")
            if os.environ.get(TF_LOG_ENV):
                env["TF_LOG"] = os.environ[TF_LOG_ENV]
            self._terraform = Terraform(
                self.terraform_stack.stack_dir,
                env,
                timeout_s=OTHER_TIMEOUT_S,
                parallelism=PARALLELISM,
                log_dir=self.workdir / "logs",
            )
        return self._terraform

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.log(f"-> {name}")
        began = time.monotonic()
        try:
            yield
        finally:
            self.timings.seconds[name] = time.monotonic() - began
            self.log(f"   {name}: {self.timings.seconds[name]:.1f} s")

    def client(self, service: str) -> Any:
        """A boto3 client for the emulator (cached: building one costs ~0.1-0.3 s)."""
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service,
                region_name=REGION,
                endpoint_url=self.server.url,
                aws_access_key_id="test",
                aws_secret_access_key="test",
                config=Config(
                    connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 1}
                ),
            )
        return self._clients[service]

    @contextmanager
    def _real_handlers(self, machine_arn: str) -> Iterator[HandlerRuntime]:
        """The deployed functions run their real handlers (waits fast-forwarded) in the block."""
        definition = self.client("stepfunctions").describe_state_machine(
            stateMachineArn=machine_arn
        )["definition"]
        functions = deployed_functions(self.client("lambda"), self.server.url)
        with real_handlers(
            functions,
            region=REGION,
            account_id=self._account_id(),
            limit_seconds=timeout_seconds(definition),
        ) as runtime:
            yield runtime

    def _account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])

    def _impaired_instance(self) -> str:
        ec2 = self.client("ec2")
        # opted in as the shipped playbook requires (target.require_tag): healstack
        # touches no other instance
        tags = [{"Key": k, "Value": v} for k, v in sorted(SCOPE_TAG.items())]
        reservation = ec2.run_instances(
            ImageId="ami-12c6146b",
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )
        instance_id = str(reservation["Instances"][0]["InstanceId"])
        state = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        if state["State"]["Name"] != "running":
            raise EmulatorCheckFailed(f"moto started {instance_id} as {state['State']['Name']}")
        self.health.impair(instance_id)
        self.log(f"   instance {instance_id} running, status checks impaired")
        return instance_id

    def _subscribe_queue(self, topic_arn: str) -> str:
        sqs = self.client("sqs")
        queue_url = str(sqs.create_queue(QueueName="healstack-emulator-notifications")["QueueUrl"])
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.client("sns").subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        return queue_url

    def _put_alarm_event(self, instance_id: str) -> None:
        event = json.loads(EXAMPLE_EVENT.read_text().replace(EXAMPLE_INSTANCE_ID, instance_id))
        answer = self.client("events").put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event["resources"],
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            raise EmulatorCheckFailed(f"PutEvents rejected the event: {answer['Entries']}")

    def _delivered_execution(self, machine_arn: str) -> str:
        deliveries = self.shims.events.snapshot()
        ours = [d for d in deliveries if d.target_arn == machine_arn]
        if len(ours) != 1 or ours[0].execution_arn is None:
            raise EmulatorCheckFailed(
                f"expected one execution of {machine_arn} from the alarm event, EventBridge "
                f"delivered: {deliveries or 'nothing (no rule matched the event)'}"
            )
        return ours[0].execution_arn

    def _wait_for_end(self, execution_arn: str) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        description = _poll(
            lambda: sfn.describe_execution(executionArn=execution_arn),
            lambda d: d["status"] != "RUNNING",
            EXECUTION_TIMEOUT_S,
        )
        if description is None or description["status"] != "SUCCEEDED":
            history = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True)
            last = [_event_line(e) for e in history["events"][:8]]
            status = "still RUNNING" if description is None else description["status"]
            raise EmulatorCheckFailed(
                f"execution {execution_arn} {status} after {EXECUTION_TIMEOUT_S:g}s "
                f"(error={None if description is None else description.get('error')!r}); "
                "last history events, newest first:\n  " + "\n  ".join(last)
            )
        return description

    def _notification(self, queue_url: str) -> dict[str, Any]:
        sqs = self.client("sqs")
        answer = _poll(
            lambda: sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1),
            lambda a: bool(a.get("Messages")),
            NOTIFICATION_TIMEOUT_S,
        )
        if answer is None:
            raise EmulatorCheckFailed(
                f"no notification reached the SNS topic's SQS subscriber within "
                f"{NOTIFICATION_TIMEOUT_S:g}s"
            )
        body: dict[str, Any] = json.loads(answer["Messages"][0]["Body"])
        return body


def check_recovery(recovery: Recovery) -> None:
    """The default playbook's first attempt reboots the impaired instance, which heals it."""
    problems = []
    if recovery.status != "SUCCEEDED":
        problems.append(f"execution ended {recovery.status}")
    if recovery.ec2_actions != ["reboot"]:
        problems.append(f"moto's EC2 saw {recovery.ec2_actions}, expected one reboot")
    if recovery.notification.get("outcome") != "recovered":
        problems.append(f"notified outcome {recovery.notification.get('outcome')!r}")
    if recovery.notification.get("resource_id") != recovery.instance_id:
        problems.append(f"notification names {recovery.notification.get('resource_id')!r}")
    if ("wait", "WaitForStatusChecks", 180.0) not in recovery.fast_forwarded:
        problems.append(f"the 3-minute wait was not fast-forwarded: {recovery.fast_forwarded}")
    if problems:
        raise EmulatorCheckFailed(f"recovery run: {'; '.join(problems)} ({recovery})")


def check_function_error(failure: FunctionError, error_type: str = "ResourceNotFound") -> None:
    """A handler's exception is an ``Unhandled`` function error named after its class."""
    if failure.function_error != "Unhandled" or failure.error_type != error_type:
        raise EmulatorCheckFailed(
            f"expected FunctionError=Unhandled errorType={error_type}, got {failure}"
        )


@contextmanager
def emulator_session(log: Log = print) -> Iterator[EmulatorSession]:
    """A temp folder, a configured moto server, the shims; all undone at the end."""
    with ExitStack() as stack:
        keep = os.environ.get(KEEP_ENV)
        if keep:  # debugging: keep the stack, state and terraform logs in that folder
            workdir = Path(keep).resolve()
            workdir.mkdir(parents=True, exist_ok=True)
            log(f"keeping the work folder {workdir} ({KEEP_ENV})")
        else:
            workdir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="healstack-emu-"))
            )
        stack.enter_context(isolated_environment())
        stack.enter_context(preserved_moto_config())
        began = time.monotonic()
        server = stack.enter_context(moto_server())
        log(f"moto server on {server.url} ({time.monotonic() - began:.1f} s)")
        shims = stack.enter_context(emulator_shims(server.url))
        health = stack.enter_context(ImpairedUntilRecovered().installed())
        yield EmulatorSession(workdir, server, shims, health, log)


def _poll(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float) -> Any | None:
    """Call ``fetch`` until ``done(result)``; None when ``timeout_s`` ran out."""
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while True:
        result = fetch()
        if done(result):
            return result
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.5)


def _event_line(event: dict[str, Any]) -> str:
    details = {k: v for k, v in event.items() if k.endswith("EventDetails")}
    return f"{event['id']} {event['type']} {json.dumps(details, default=str)[:300]}"


#: what ``terraform init`` adds to a stack folder (not synthesis output)
_TERRAFORM_FILES = frozenset({".terraform", ".terraform.lock.hcl"})


def tree_differences(left: Path, right: Path, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Files that exist in only one tree or differ in bytes (relative paths); empty if none.
    A path with a part in ``ignore`` is skipped."""

    def files(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and not ignore.intersection(p.relative_to(root).parts)
        }

    a, b = files(left), files(right)
    found = [f"only in {left.name}: {name}" for name in sorted(a.keys() - b.keys())]
    found += [f"only in {right.name}: {name}" for name in sorted(b.keys() - a.keys())]
    found += [f"differs: {name}" for name in sorted(a.keys() & b.keys()) if a[name] != b[name]]
    return found


#: what a function's code change moves (a newer healstack ships newer handler code): the
#: function's code attributes, the first deploy's uploaded object, and its signing job (a job
#: is immutable: new code is signed by a new one)
CODE_ATTRIBUTES = frozenset(
    {
        "source_code_hash",
        "s3_bucket",
        "s3_key",
        "s3_object_version",
        "filename",
        "version",
        "last_modified",
        "qualified_arn",
        "qualified_invoke_arn",
        "code_sha256",
        "source_code_size",
    }
)
OBJECT_CODE_ATTRIBUTES = frozenset(
    {
        "source",
        "source_hash",
        "etag",
        "version_id",
        "checksum_crc32",
        "checksum_crc32c",
        "checksum_sha1",
        "checksum_sha256",
    }
)
CODE_UPDATES = {"aws_lambda_function": CODE_ATTRIBUTES, "aws_s3_object": OBJECT_CODE_ATTRIBUTES}
#: (resource type, argument) -> the reviewed change since the bindings commit that moves it
INTENDED_SINCE = {
    ("aws_cloudwatch_event_rule", "event_pattern"): (
        "issue 13: the EC2 playbook takes alarms named healstack-ec2-* (disjoint from the Auto "
        "Scaling playbook's healstack-asg-*)"
    ),
}


def _addresses(stack: dict[str, Any]) -> list[str]:
    return [
        f"{kind}.{name}" for kind, entries in stack.get("resource", {}).items() for name in entries
    ]


def migration_problems(
    plan: dict[str, Any], previous_addresses: set[str]
) -> tuple[list[str], int, int]:
    """What an older healstack's configuration would change in a state this one applied, that
    a migration must not: a replacement, an argument drift (an update of anything but a
    function's code), a resource the older one has and this one lacks. Allowed: function code
    updates, the reviewed argument changes since (``INTENDED_SINCE``, each with its reason)
    and the deletion of resources added since (features newer than the older one).
    Returns (problems, code updates, resources added since)."""
    problems: list[str] = []
    code_updates = added = 0
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        address = change["address"]
        if actions == ["no-op"] or actions == ["read"]:
            continue
        if actions == ["delete"] and address not in previous_addresses:
            added += 1
            continue
        if sorted(actions) == ["create", "delete"] and change["type"] == "aws_signer_signing_job":
            code_updates += 1  # new code, signed by a new job
            continue
        if actions == ["update"]:
            allowed = CODE_UPDATES.get(change["type"], frozenset()) | {
                argument for (kind, argument) in INTENDED_SINCE if kind == change["type"]
            }
            before, after = change["change"]["before"] or {}, change["change"]["after"] or {}
            unknown = change["change"].get("after_unknown") or {}
            moved = {
                k
                for k in set(before) | set(after) | set(unknown)
                if before.get(k) != after.get(k) or unknown.get(k) is True
            }
            if moved <= allowed:
                code_updates += 1
                continue
            problems.append(f"{address}: update of {sorted(moved - allowed)}")
            continue
        problems.append(f"{address}: {'/'.join(actions)}")
    return problems, code_updates, added


def _plan_changes(stdout: str) -> str:
    lines = [
        line
        for line in stdout.splitlines()
        if line.strip().startswith(("#", "~", "+", "-", "Plan:")) or "will be" in line
    ]
    return "\n".join(lines[:60]) or stdout[-3000:]
