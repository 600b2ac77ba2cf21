"""Instances of Auto Scaling groups: check, replace (``healstack_lambda.autoscaling``).

The mutating call, TerminateInstanceInAutoScalingGroup, authorizes against the group (resource
type ``autoScalingGroup``, required) and takes the condition keys
``autoscaling:ResourceTag/${TagKey}`` and ``aws:ResourceTag/${TagKey}`` (Service
Authorization Reference, "Actions, resources, and condition keys for Amazon EC2 Auto Scaling";
the same in parliament's copy of it). ``autoscaling:ResourceTag`` is the key the EC2 Auto
Scaling User Guide ("Tags for security") documents for acting only on tagged groups: the
handler checks the required tag on the group, the same thing IAM enforces. The reads (Auto
Scaling and EC2 Describe*) support no resource-level permissions.
"""

from __future__ import annotations

from typing import Any

from healstack.providers.aws.kinds import AwsKind, ClientFactory, Simulation, acts
from healstack.providers.aws.permissions import Permission, StepImplementation

ARN = "arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/*"
AMI = "ami-12c6146b"  # an image moto knows
#: what both handlers read: the instance's group, the group, the instance once it left it
READ = (
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeAutoScalingGroups",
    "ec2:DescribeInstances",
)
#: the check also reads the instance's EC2 status checks
CHECK = (Permission((*READ, "ec2:DescribeInstanceStatus"), "*"),)
REPLACE = acts((Permission(READ, "*"),), "autoscaling:TerminateInstanceInAutoScalingGroup", arn=ARN)
#: the simulated group: named for the recovery, spare instances beside the event's
GROUP = "healstack-simulated-asg"
SPARE = 1


def _seed(client: ClientFactory, wanted: list[str], tags: list[dict[str, str]]) -> dict[str, str]:
    """One group from a launch template, one instance per event id plus a spare, so the
    capacity guard (MinSize 1) lets each be replaced; the group's tags propagate at launch.
    moto picks the instance ids itself: map each event id to one of the group's instances."""
    region = client("autoscaling").meta.region_name
    client("ec2").create_launch_template(
        LaunchTemplateName=GROUP,
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"},
    )
    size = len(wanted) + SPARE
    client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        LaunchTemplate={"LaunchTemplateName": GROUP, "Version": "$Latest"},
        MinSize=1,
        MaxSize=2 * size,
        DesiredCapacity=size,
        AvailabilityZones=[f"{region}a"],
        Tags=[
            {
                "Key": t["Key"],
                "Value": t["Value"],
                "PropagateAtLaunch": True,
                "ResourceId": GROUP,
                "ResourceType": "auto-scaling-group",
            }
            for t in tags
        ],
    )
    groups = client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])
    made = sorted(str(i["InstanceId"]) for i in groups["AutoScalingGroups"][0]["Instances"])
    return dict(zip(wanted, made[: len(wanted)], strict=True))


def _state(client: ClientFactory, instance_id: str) -> str | None:
    """The instance's lifecycle state in its group, else its EC2 state (it left the group)."""
    found: Any = client("autoscaling").describe_auto_scaling_instances(InstanceIds=[instance_id])
    for entry in found["AutoScalingInstances"]:
        return str(entry["LifecycleState"]).lower()
    for reservation in client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]:
        for instance in reservation["Instances"]:
            return str(instance["State"]["Name"])
    return None


KIND = AwsKind(
    name="asg_instance",
    arn=ARN,
    tag_condition_key="autoscaling:ResourceTag",
    operations={
        "status": StepImplementation("healstack_lambda.autoscaling.check", CHECK),
        "replace": StepImplementation("healstack_lambda.autoscaling.replace", REPLACE),
    },
    services=("autoscaling", "ec2"),
    simulation=Simulation(
        seed=_seed, state=_state, sample_event="cloudwatch-alarm-asg-instance-status-check.json"
    ),
)
