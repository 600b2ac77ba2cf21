"""The neutral vocabulary of targets: what each kind of resource can be checked for and do.

Cloud-free: a provider maps each (kind, operation) to its own implementation and
permissions (for AWS: ``providers/aws/steps.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Undo:
    """``action`` may only undo what ``undoes`` did in the same execution (``start`` restarts
    only an instance this recovery stopped). ``undoes`` reports in its result field
    ``evidence`` whether it acted (or, in a dry run, would have); the undoing action gets
    that as its boolean param ``param``."""

    action: str
    undoes: str
    evidence: str
    param: str


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
    #: actions that may only undo what this same execution did
    undoes: tuple[Undo, ...] = ()
    #: the event sources whose events name this kind where ResolveTarget finds it without an
    #: ``id_path`` (the handler's shapes: ``healstack_lambda.events.FITS``; a test keeps the
    #: two the same)
    event_sources: tuple[str, ...] = ()


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
            event_sources=("aws.cloudwatch", "aws.ec2", "aws.health"),
            undoes=(Undo("start", "stop", evidence="stopped_here", param="own_stop"),),
        ),
        TargetKind(
            name="ecs_service",
            description="an ECS service, by service ARN",
            checks=("status",),
            actions=("force_redeploy",),
            states=("steady", "degraded", "in_progress", "failed", "stopped"),
            destructive=("force_redeploy",),
            event_sources=("aws.cloudwatch", "aws.ecs", "aws.health"),
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
            event_sources=("aws.cloudwatch", "aws.rds", "aws.health"),
        ),
    )
}

#: the outcomes a workflow reports; notifications and metrics use these words.
OUTCOMES = ("recovered", "already_healthy", "gave_up", "failed")
#: why a recovery did not act on a resource it checked (a check's ``skip`` code); each ends
#: in the ``skipped`` outcome, told, and never in an action
SKIP_REASONS = ("not_in_scope", "stopped_on_purpose", "changing")
