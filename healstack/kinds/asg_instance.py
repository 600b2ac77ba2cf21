"""An EC2 instance in an Auto Scaling group, by instance id: have the group replace it."""

from healstack.catalog import Action, Check, TargetKind, register

KIND = register(
    TargetKind(
        name="asg_instance",
        description="an EC2 instance in an Auto Scaling group, by instance id",
        check_ops=(
            Check(
                "status",
                "the instance's lifecycle and health in its Auto Scaling group, its EC2 status "
                "checks, and once it has left the group whether the group is back to its "
                "desired capacity",
                states=(
                    "pending",
                    "in_service",
                    "unhealthy",
                    "standby",
                    "detached",
                    "terminating",
                    "replacing",
                    "replaced",
                ),
                skips=("not_in_scope", "stopped_on_purpose", "changing", "at_minimum_capacity"),
            ),
        ),
        action_ops=(
            Action(
                "replace",
                "terminate the instance in its group without lowering the desired capacity, "
                "so the group launches a replacement; refused when the group would fall below "
                "its minimum healthy capacity",
            ),
        ),
        event_sources=("aws.cloudwatch", "aws.ec2", "aws.health"),
        example=(
            "- check: status\n"
            "- action: replace\n"
            "- wait_until: {state: replaced, poll_every: 30s, max_polls: 30}\n"
            "- check: status\n"
        ),
    )
)
