"""The shipped Auto Scaling playbook applied with ``terraform apply`` into an in-process moto
server, then a recovery end to end: a tagged group of two from a launch template, one
instance's status checks impaired, the ``healstack-asg-*`` status-check alarm event put on the
default bus, EventBridge's rule starting the state machine, the deployed functions running the
real handlers, the real TerminateInstanceInAutoScalingGroup reaching moto, the group launching
the replacement, the poll finding it ``replaced``, the "recovered" notification. (Destroy is
left to the default stack's test, ``test_emulator_apply.py``.)

Reuses the default stack's session (``tests/emulator/harness.py``): the server, the shims,
the clients, delivery, the impaired-status patch and the real handlers. Run it alone with
``pytest tests/emulator/test_emulator_asg.py -s``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from healstack.loader import load_playbook, shipped_playbook_path
from tests.conftest import REPO
from tests.emulator.harness import (
    REGION,
    EmulatorSession,
    emulator_session,
)

pytestmark = [pytest.mark.slow, pytest.mark.emulator]

NAME = "asg-instance-recovery"
PLAYBOOK = shipped_playbook_path(f"{NAME}.yaml")
EVENT = REPO / "examples" / "events" / "cloudwatch-alarm-asg-instance-status-check.json"
EVENT_INSTANCE = "i-0b2c3d4e5f6a7b8c9"
GROUP = "web-emulated"


@pytest.fixture
def emulator() -> Iterator[EmulatorSession]:
    with emulator_session(lambda line: print(line, flush=True)) as session:
        yield session


def _group_of_two(session: EmulatorSession) -> list[str]:
    session.client("ec2").create_launch_template(
        LaunchTemplateName=GROUP,
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )
    scope = load_playbook(PLAYBOOK).target.require_tag or {}
    autoscaling = session.client("autoscaling")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        LaunchTemplate={"LaunchTemplateName": GROUP, "Version": "$Latest"},
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=2,
        AvailabilityZones=[f"{REGION}a"],
        Tags=[
            {
                "Key": k,
                "Value": v,
                "PropagateAtLaunch": True,
                "ResourceId": GROUP,
                "ResourceType": "auto-scaling-group",
            }
            for k, v in sorted(scope.items())
        ],
    )
    return _members(session)


def _members(session: EmulatorSession) -> list[str]:
    groups = session.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[GROUP]
    )
    return sorted(str(i["InstanceId"]) for i in groups["AutoScalingGroups"][0]["Instances"])


def test_apply_then_replace_an_impaired_group_instance(emulator: EmulatorSession) -> None:
    resources, outputs = emulator.deploy_playbook(PLAYBOOK, NAME)
    machine_arn, topic_arn = str(outputs["state_machine_arn"]), str(outputs["topic_arn"])

    with emulator.step("recovery run"):
        impaired, healthy = _group_of_two(emulator)
        emulator.health.impair(impaired)
        queue_url = emulator._subscribe_queue(topic_arn)
        with emulator._real_handlers(machine_arn) as runtime:
            emulator.put_event(json.loads(EVENT.read_text().replace(EVENT_INSTANCE, impaired)))
            execution_arn = emulator._delivered_execution(machine_arn)
            description = emulator._wait_for_end(execution_arn)
            notification = emulator._notification(queue_url)

    assert description["status"] == "SUCCEEDED"
    assert (notification["outcome"], notification["resource_id"]) == ("recovered", impaired)
    now = _members(emulator)
    assert impaired not in now and healthy in now and len(now) == 2  # replaced, desired kept
    calls = [r.state for r in runtime.router.records]
    assert calls.count("Replace") == 1, calls
    print(f"resources applied: {len(resources)}\n{emulator.timings.table()}")
