"""An Aurora DB cluster, by cluster identifier: fail it over to a healthy reader."""

from healstack.catalog import Action, Check, Param, TargetKind, register

KIND = register(
    TargetKind(
        name="aurora_cluster",
        description="an Aurora DB cluster, by cluster identifier",
        check_ops=(
            Check(
                "status",
                "the cluster's status and its writer instance's status (available only when "
                "both are)",
                # the DB cluster statuses of the Aurora User Guide ("Viewing DB cluster
                # status"), plus writer-unavailable: the cluster is available, its writer
                # instance is not (or it has none)
                states=(
                    "available",
                    "writer-unavailable",
                    "backing-up",
                    "backtracking",
                    "creating",
                    "failing-over",
                    "maintenance",
                    "migrating",
                    "modifying",
                    "promoting",
                    "renaming",
                    "resetting-master-credentials",
                    "starting",
                    "stopping",
                    "stopped",
                    "deleting",
                    "storage-optimization",
                    "update-iam-db-auth",
                    "upgrading",
                    "cloning-failed",
                    "inaccessible-encryption-credentials",
                    "inaccessible-encryption-credentials-recoverable",
                    "migration-failed",
                ),
                skips=("not_in_scope", "stopped_on_purpose", "changing"),
            ),
        ),
        action_ops=(
            Action(
                "failover",
                "promote an available reader to writer (the given one, else the highest "
                "promotion priority); no-op without an available reader or while a failover "
                "is under way",
                params={
                    "target_instance": Param(
                        "string",
                        "the reader to promote (a DB instance identifier of the cluster); by "
                        "default the available reader of the lowest promotion tier, then name",
                    )
                },
            ),
        ),
        event_sources=("aws.cloudwatch", "aws.rds", "aws.health"),
    )
)
