"""ECS service ARNs keep their case: ECS cluster and service names are "up to 255 letters
(uppercase and lowercase), numbers, underscores, and hyphens" and are matched exactly (ECS
CreateService / DescribeServices), so ``Web`` and ``web`` are two services."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .. import shapes
from ..errors import MalformedEvent
from . import RuntimeKind

SERVICE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecs:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):(?P<account>\d{12}):"
    r"service/(?P<cluster>[A-Za-z0-9_-]{1,255})/(?P<service>[A-Za-z0-9_-]{1,255})$"
)


@dataclass(frozen=True)
class EcsService:
    """The parts of an ECS service ARN."""

    arn: str
    region: str
    account: str
    cluster: str
    name: str


def parse_service_arn(arn: str) -> EcsService | None:
    """Split a service ARN into region, account, cluster and service name (None if invalid)."""
    match = SERVICE_ARN.match(arn)
    if match is None:
        return None
    return EcsService(
        arn=arn,
        region=match.group("region"),
        account=match.group("account"),
        cluster=match.group("cluster"),
        name=match.group("service"),
    )


def _from_alarm(event: dict[str, Any], detail_type: str) -> tuple[str, str]:
    """``ClusterName`` + ``ServiceName``; the service ARN is built from the event's account
    and region."""
    where = f"{shapes.ALARM_DIMENSIONS}.ClusterName+ServiceName"
    pairs = [
        f"{d['ClusterName']}/{d['ServiceName']}"
        for d in shapes.alarm_dimensions(event, detail_type)
        if shapes.non_empty_str(d.get("ClusterName")) and shapes.non_empty_str(d.get("ServiceName"))
    ]
    cluster_and_service = shapes.single(pairs, where, detail_type)
    account = event.get("account")
    region = event.get("region")
    for name, value in (("account", account), ("region", region)):
        if not shapes.non_empty_str(value):
            raise MalformedEvent(
                f"{detail_type} event has no '{name}' to build the ECS service ARN"
            )
    return f"arn:aws:ecs:{region}:{account}:service/{cluster_and_service}", where


KIND = RuntimeKind(
    name="ecs_service",
    expected="an ECS service ARN (arn:aws:ecs:<region>:<account>:service/<cluster>/<name>)",
    id_pattern=SERVICE_ARN,
    shapes={
        shapes.ALARM: _from_alarm,
        shapes.ECS_DEPLOYMENT: shapes.first_resource,
        shapes.ECS_SERVICE_ACTION: shapes.first_resource,
        shapes.HEALTH: shapes.health,
    },
    not_found_codes=frozenset(
        {"ServiceNotFoundException", "ServiceNotActiveException", "ClusterNotFoundException"}
    ),
)
