"""EC2 instances: check, reboot, stop, start (``healstack_lambda.ec2``)."""

from __future__ import annotations

from typing import Any

from healstack.providers.aws.kinds import AwsKind, ClientFactory, Simulation, acts
from healstack.providers.aws.permissions import Permission, StepImplementation

ARN = "arn:{partition}:ec2:{region}:{account}:instance/*"
AMI = "ami-12c6146b"  # an image moto knows
DESCRIBE = (Permission(("ec2:DescribeInstances", "ec2:DescribeInstanceStatus"), "*"),)


def _seed(client: ClientFactory, wanted: list[str], tags: list[dict[str, str]]) -> dict[str, str]:
    """moto picks the instance ids itself: map each event id to one."""
    request: dict[str, Any] = {"ImageId": AMI, "MinCount": len(wanted), "MaxCount": len(wanted)}
    if tags:
        request["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags}]
    reservation = client("ec2").run_instances(**request)
    made = [str(i["InstanceId"]) for i in reservation["Instances"]]
    return dict(zip(wanted, made, strict=True))


def _state(client: ClientFactory, instance_id: str) -> str | None:
    for reservation in client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]:
        for instance in reservation["Instances"]:
            return str(instance["State"]["Name"])
    return None


KIND = AwsKind(
    name="ec2_instance",
    arn=ARN,
    tag_condition_key="aws:ResourceTag",
    operations={
        "status": StepImplementation("healstack_lambda.ec2.check", DESCRIBE),
        "reboot": StepImplementation(
            "healstack_lambda.ec2.reboot", acts(DESCRIBE, "ec2:RebootInstances", arn=ARN)
        ),
        "stop": StepImplementation(
            "healstack_lambda.ec2.stop", acts(DESCRIBE, "ec2:StopInstances", arn=ARN)
        ),
        "start": StepImplementation(
            "healstack_lambda.ec2.start", acts(DESCRIBE, "ec2:StartInstances", arn=ARN)
        ),
    },
    services=("ec2",),
    simulation=Simulation(
        seed=_seed, state=_state, sample_event="cloudwatch-alarm-ec2-status-check.json"
    ),
)
