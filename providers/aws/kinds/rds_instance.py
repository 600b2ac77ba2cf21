"""RDS DB instances: check, reboot (``healstack_lambda.rds``)."""

from __future__ import annotations

from healstack.providers.aws.kinds import AwsKind, ClientFactory, Simulation, acts
from healstack.providers.aws.permissions import Permission, StepImplementation

ARN = "arn:{partition}:rds:{region}:{account}:db:*"
DESCRIBE = (Permission(("rds:DescribeDBInstances",), ARN),)


def _seed(client: ClientFactory, wanted: list[str], tags: list[dict[str, str]]) -> dict[str, str]:
    for target_id in wanted:
        client("rds").create_db_instance(
            Tags=tags,
            DBInstanceIdentifier=target_id,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="admin",
            MasterUserPassword="simulation-only",
            AllocatedStorage=20,
        )
    return {t: t for t in wanted}


def _state(client: ClientFactory, identifier: str) -> str | None:
    instances = client("rds").describe_db_instances(DBInstanceIdentifier=identifier)
    found = instances["DBInstances"]
    return str(found[0]["DBInstanceStatus"]) if found else None


KIND = AwsKind(
    name="rds_instance",
    arn=ARN,
    tag_condition_key="rds:db-tag",
    operations={
        "status": StepImplementation("healstack_lambda.rds.check", DESCRIBE),
        "reboot": StepImplementation(
            "healstack_lambda.rds.reboot", acts(DESCRIBE, "rds:RebootDBInstance", arn=ARN)
        ),
    },
    services=("rds",),
    simulation=Simulation(seed=_seed, state=_state, sample_event="rds-db-instance-event.json"),
)
