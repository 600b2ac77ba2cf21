"""Aurora DB clusters: check, failover (``healstack_lambda.aurora``).

IAM (Service Authorization Reference, "Actions, resources, and condition keys for Amazon
RDS"): DescribeDBClusters and FailoverDBCluster take the ``cluster`` resource type,
DescribeDBInstances the ``db`` one; the ``cluster`` resource supports the condition keys
``aws:ResourceTag/${TagKey}`` and ``rds:cluster-tag/${TagKey}``. The failover is scoped to
the required tag with ``rds:cluster-tag`` (as DB instances use ``rds:db-tag``).
"""

from __future__ import annotations

from healstack.providers.aws.kinds import AwsKind, ClientFactory, Simulation, acts
from healstack.providers.aws.permissions import Permission, StepImplementation

ARN = "arn:{partition}:rds:{region}:{account}:cluster:*"
INSTANCE_ARN = "arn:{partition}:rds:{region}:{account}:db:*"
DESCRIBE = (
    Permission(("rds:DescribeDBClusters",), ARN),
    Permission(("rds:DescribeDBInstances",), INSTANCE_ARN),
)
ENGINE = "aurora-postgresql"
#: the simulated cluster: a writer and a reader (tier 1); the reader is what a failover
#: promotes
MEMBERS = (("1", 0), ("2", 1))


def _seed(client: ClientFactory, wanted: list[str], tags: list[dict[str, str]]) -> dict[str, str]:
    rds = client("rds")
    for cluster in wanted:
        rds.create_db_cluster(
            DBClusterIdentifier=cluster,
            Engine=ENGINE,
            MasterUsername="healstack",
            MasterUserPassword="simulation-only",
            Tags=tags,
        )
        for suffix, tier in MEMBERS:  # the first instance created is the writer
            rds.create_db_instance(
                DBInstanceIdentifier=_member_id(cluster, suffix),
                DBClusterIdentifier=cluster,
                Engine=ENGINE,
                DBInstanceClass="db.r6g.large",
                PromotionTier=tier,
                Tags=tags,
            )
    return {c: c for c in wanted}


def _member_id(cluster: str, suffix: str) -> str:
    """``<cluster>-<n>``, within the 63 characters of an instance identifier."""
    return f"{cluster[: 63 - len(suffix) - 1].rstrip('-')}-{suffix}"


def _state(client: ClientFactory, identifier: str) -> str | None:
    clusters = client("rds").describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
    if not clusters:
        return None
    members = clusters[0].get("DBClusterMembers", [])
    writer = [m["DBInstanceIdentifier"] for m in members if m.get("IsClusterWriter")]
    status = str(clusters[0]["Status"])
    return f"{status} (writer {writer[0]})" if writer else f"{status} (no writer)"


KIND = AwsKind(
    name="aurora_cluster",
    arn=ARN,
    tag_condition_key="rds:cluster-tag",
    operations={
        "status": StepImplementation("healstack_lambda.aurora.check", DESCRIBE),
        "failover": StepImplementation(
            "healstack_lambda.aurora.failover",
            acts(DESCRIBE, "rds:FailoverDBCluster", arn=ARN),
        ),
    },
    services=("rds",),
    simulation=Simulation(seed=_seed, state=_state, sample_event="rds-db-cluster-event.json"),
)
