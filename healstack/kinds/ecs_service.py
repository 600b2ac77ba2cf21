"""An ECS service, by service ARN: force a new deployment."""

from healstack.catalog import Action, Check, TargetKind, register

KIND = register(
    TargetKind(
        name="ecs_service",
        description="an ECS service, by service ARN",
        check_ops=(
            Check(
                "status",
                "the service's deployments and running against desired tasks",
                states=("steady", "degraded", "in_progress", "failed", "stopped"),
                skips=("not_in_scope", "stopped_on_purpose", "changing"),
            ),
        ),
        action_ops=(
            Action("force_redeploy", "start a new deployment of the service's task definition"),
        ),
        event_sources=("aws.cloudwatch", "aws.ecs", "aws.health"),
    )
)
