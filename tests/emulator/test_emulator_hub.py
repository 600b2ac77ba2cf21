"""A hub and a member in one moto server, applied with terraform, end to end.

The hub stack (``[hub]`` with member account A) and the member module
(``healstack module build --member``, applied with credentials of account A) go into the same
in-process moto server, which keeps a backend per account. An alarm event put on A's default
bus is forwarded by the member's rule to the hub's bus, starts the hub's workflow, and the
hub's real handlers reboot A's impaired instance through A's execution role; the outcome is
published on the hub's topic with A's account. Both are destroyed at the end.
Run it alone with ``./dev test -m emulator -s``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from moto.events.models import Rule, events_backends
from moto.utilities.arns import parse_arn

from healstack.cli import main
from healstack.emulator import Terraform, emulator_terraform_env, synthesize
from healstack.emulator.stack import DEFAULT_STACK
from tests.emulator.harness import (
    APPLY_TIMEOUT_S,
    DESTROY_TIMEOUT_S,
    EXAMPLE_EVENT,
    EXAMPLE_INSTANCE_ID,
    INIT_TIMEOUT_S,
    PARALLELISM,
    REGION,
    SCOPE_TAG,
    EmulatorSession,
    emulator_session,
)

pytestmark = [pytest.mark.slow, pytest.mark.emulator]

MEMBER = "111111111111"


@contextmanager
def buses_forward_events_as_they_are() -> Iterator[None]:
    """A rule whose target is another account's bus forwards the event itself.

    moto: ``events/models.py`` ``Rule.send_to_targets`` re-puts a cross-account event with
    only its source, detail-type and detail, so it arrives as an event of the receiving
    account (no ``resources``, its own ``account`` and ``time``). AWS delivers the event as it
    was: a hub's rule that matches its members' ``account`` never sees one in moto.

    Shim: deliver the original event to the rules of the target bus; other targets as before.
    """
    original = Rule.send_to_targets

    def send(rule: Rule, event: Any, transform_input: bool = True) -> None:
        buses = [t for t in rule.targets if ":event-bus/" in str(t.get("Arn", ""))]
        if not buses or not rule.event_pattern.matches_event(event):
            original(rule, event, transform_input)
            return
        for target in buses:
            arn = parse_arn(target["Arn"])
            bus = events_backends[arn.account][arn.region].describe_event_bus(arn.resource_id)
            for other in list(bus.rules.values()):
                if other.state == "ENABLED":
                    send(other, copy.deepcopy(event), transform_input)
        rest = [t for t in rule.targets if t not in buses]
        if rest:
            kept = rule.targets
            rule.targets = rest
            try:
                original(rule, event, transform_input)
            finally:
                rule.targets = kept

    with mock.patch.object(Rule, "send_to_targets", send):
        yield


@pytest.fixture
def emulator() -> Iterator[EmulatorSession]:
    with (
        emulator_session(lambda line: print(line, flush=True)) as session,
        buses_forward_events_as_they_are(),
    ):
        yield session


def terraform(emulator: EmulatorSession, folder: Path) -> Terraform:
    return Terraform(
        folder,
        emulator_terraform_env(emulator.workdir / "tfcli"),
        timeout_s=120,
        parallelism=PARALLELISM,
        log_dir=emulator.workdir / "logs",
    )


def member_credentials(emulator: EmulatorSession) -> dict[str, str]:
    """Credentials that act in the member account (moto: an assumed role's account)."""
    answer = emulator.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{MEMBER}:role/platform-deployer", RoleSessionName="deployer"
    )
    creds = answer["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def member_client(emulator: EmulatorSession, service: str, creds: dict[str, str]) -> Any:
    return boto3.session.Session(**creds).client(
        service, region_name=REGION, endpoint_url=emulator.server.url
    )


def test_a_hub_recovers_a_members_instance_from_an_event_on_the_members_bus(
    emulator: EmulatorSession,
) -> None:
    work = emulator.workdir
    config = work / "healstack.toml"
    config.write_text(f'[hub]\nmembers = ["{MEMBER}"]\n')
    with emulator.step("hub: synth, init, apply"):
        hub_stack = synthesize(
            work / "hub.out", emulator.server.url, extra_args=["--config", str(config)]
        )[DEFAULT_STACK]
        hub = terraform(emulator, hub_stack.stack_dir)
        hub.init(timeout_s=INIT_TIMEOUT_S)
        hub.apply(timeout_s=APPLY_TIMEOUT_S)
        outputs = hub.outputs()
    bus_arn = str(outputs["hub_event_bus_arn"])
    machine_arn = str(outputs["state_machine_arn"])

    creds = member_credentials(emulator)
    with emulator.step("member: module build, init, apply"):
        assert main(["module", "build", "--member", "--out", str(work / "member")]) == 0
        root = work / "member-root"
        root.mkdir()
        (provider,) = hub_stack.config()["provider"]["aws"]  # type: ignore[index]
        provider = {
            **provider,
            "access_key": creds["aws_access_key_id"],
            "secret_key": creds["aws_secret_access_key"],
            "token": creds["aws_session_token"],
        }
        provider.pop("default_tags", None)
        (root / "main.tf.json").write_text(
            json.dumps(
                {
                    "terraform": {
                        "required_providers": {"aws": {"source": "hashicorp/aws"}},
                    },
                    "provider": {"aws": [provider]},
                    "module": {
                        "member": {
                            "source": "../member",
                            # the member finds the playbook's hub bus by its name there: it
                            # must be the very bus the hub stack made
                            "hub_account_id": bus_arn.split(":")[4],
                            "hub_region": bus_arn.split(":")[3],
                        }
                    },
                },
                indent=2,
            )
        )
        member = terraform(emulator, root)
        member.init(timeout_s=INIT_TIMEOUT_S)
        member.apply(timeout_s=APPLY_TIMEOUT_S)

    with emulator.step("recovery of the member's instance"):
        ec2 = member_client(emulator, "ec2", creds)
        tags = [{"Key": k, "Value": v} for k, v in sorted(SCOPE_TAG.items())]
        (instance,) = ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"]
        instance_id = str(instance["InstanceId"])
        emulator.health.impair(instance_id)
        hub_ec2 = emulator.client("ec2")
        assert (
            hub_ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": [instance_id]}])[
                "Reservations"
            ]
            == []
        ), "the instance must live in the member account only"
        queue_url = emulator._subscribe_queue(str(outputs["topic_arn"]))
        event = json.loads(EXAMPLE_EVENT.read_text().replace(EXAMPLE_INSTANCE_ID, instance_id))
        with emulator._real_handlers(machine_arn):
            answer = member_client(emulator, "events", creds).put_events(
                Entries=[
                    {
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"]),
                        "Resources": [
                            r.replace("123456789012", MEMBER) for r in event["resources"]
                        ],
                    }
                ]
            )
            assert not answer.get("FailedEntryCount"), answer
            execution_arn = emulator._delivered_execution(machine_arn)
            description = emulator._wait_for_end(execution_arn)
            notification = emulator._notification(queue_url)
    assert description["status"] == "SUCCEEDED"
    assert [a.action for a in emulator.health.actions if a.instance_id == instance_id] == ["reboot"]
    assert notification["outcome"] == "recovered"
    assert notification["account"] == MEMBER and notification["resource_id"] == instance_id

    with emulator.step("destroy member, then hub"):
        member.destroy(timeout_s=DESTROY_TIMEOUT_S)
        hub.destroy(timeout_s=DESTROY_TIMEOUT_S)
