"""ECS services: check, force_redeploy (``healstack_lambda.ecs``)."""

from __future__ import annotations

import re

from healstack.errors import UsageError
from healstack.providers.aws.kinds import AwsKind, ClientFactory, Simulation, acts
from healstack.providers.aws.permissions import Permission, StepImplementation

ARN = "arn:{partition}:ecs:{region}:{account}:service/*"
DESCRIBE = (Permission(("ecs:DescribeServices",), ARN),)
_SERVICE = re.compile(r"^arn:aws[\w-]*:ecs:[\w-]+:\d{12}:service/([^/]+)/(.+)$")


def _seed(client: ClientFactory, wanted: list[str], tags: list[dict[str, str]]) -> dict[str, str]:
    ecs = client("ecs")
    for target_id in wanted:
        match = _SERVICE.match(target_id)
        if match is None:
            raise UsageError(f"cannot seed an ECS service from {target_id!r}")
        cluster, service = match.groups()
        ecs.create_cluster(clusterName=cluster)
        ecs.register_task_definition(
            family=service,
            containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}],
        )
        ecs.create_service(
            cluster=cluster,
            serviceName=service,
            taskDefinition=service,
            desiredCount=1,
            tags=[{"key": t["Key"], "value": t["Value"]} for t in tags],
        )
    return {t: t for t in wanted}


def _state(client: ClientFactory, service_arn: str) -> str | None:
    cluster = service_arn.split("/")[-2]
    services = client("ecs").describe_services(cluster=cluster, services=[service_arn])["services"]
    return str(services[0]["status"]).lower() if services else None


KIND = AwsKind(
    name="ecs_service",
    arn=ARN,
    tag_condition_key="aws:ResourceTag",
    operations={
        "status": StepImplementation("healstack_lambda.ecs.check", DESCRIBE),
        "force_redeploy": StepImplementation(
            "healstack_lambda.ecs.force_redeploy", acts(DESCRIBE, "ecs:UpdateService", arn=ARN)
        ),
    },
    services=("ecs",),
    simulation=Simulation(
        seed=_seed, state=_state, sample_event="ecs-deployment-state-change.json"
    ),
)
