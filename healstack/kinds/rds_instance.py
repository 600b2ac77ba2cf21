"""An RDS DB instance, by identifier: reboot it."""

from healstack.catalog import Action, Check, TargetKind, register

KIND = register(
    TargetKind(
        name="rds_instance",
        description="an RDS DB instance, by identifier",
        check_ops=(
            Check(
                "status",
                "the DB instance's status",
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
                skips=("not_in_scope", "stopped_on_purpose", "changing"),
            ),
        ),
        action_ops=(Action("reboot", "reboot an available DB instance (no-op otherwise)"),),
        event_sources=("aws.cloudwatch", "aws.rds", "aws.health"),
    )
)
