"""The neutral vocabulary of targets: what each kind of resource can be checked for and do.

Cloud-free: a provider maps each (kind, operation) to its own implementation and
permissions (for AWS: ``providers/aws/steps.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TargetKind:
    name: str
    description: str
    checks: tuple[str, ...]
    actions: tuple[str, ...]
    #: lifecycle states a check reports (lower case); ``wait_until`` may name these.
    states: tuple[str, ...]
    #: actions that change the resource and so are subject to dry-run and approval.
    destructive: tuple[str, ...]


TARGET_KINDS: dict[str, TargetKind] = {
    kind.name: kind
    for kind in (
        TargetKind(
            name="ec2_instance",
            description="an EC2 instance, by instance id",
            checks=("status",),
            actions=("reboot", "stop", "start"),
            states=("pending", "running", "stopping", "stopped", "shutting-down", "terminated"),
            destructive=("reboot", "stop", "start"),
        ),
        TargetKind(
            name="ecs_service",
            description="an ECS service, by service ARN",
            checks=("status",),
            actions=("force_redeploy",),
            states=("steady", "degraded", "in_progress", "failed", "stopped"),
            destructive=("force_redeploy",),
        ),
        TargetKind(
            name="rds_instance",
            description="an RDS DB instance, by identifier",
            checks=("status",),
            actions=("reboot",),
            states=(
                "available",
                "rebooting",
                "starting",
                "stopping",
                "stopped",
                "modifying",
                "failed",
                "storage-full",
                "incompatible-parameters",
            ),
            destructive=("reboot",),
        ),
    )
}

#: the outcomes a workflow reports; notifications and metrics use these words.
OUTCOMES = ("recovered", "already_healthy", "gave_up", "failed")
