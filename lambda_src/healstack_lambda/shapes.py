"""The EventBridge event shapes healstack reads a target id from, and the extractors kinds share.

Each target kind (``healstack_lambda.kinds``) maps the shapes that carry it, a
``(source, detail-type)`` pair, to an extractor ``(event, detail_type) -> (raw id, where)``.
Every flaw raises ``MalformedEvent`` naming the field and the detail-type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import MalformedEvent

Shape = tuple[str, str]
#: ``(event, detail_type label) -> (raw id, the field it came from)``
Extractor = Callable[[dict[str, Any], str], tuple[str, str]]

ALARM: Shape = ("aws.cloudwatch", "CloudWatch Alarm State Change")
EC2_STATE_CHANGE: Shape = ("aws.ec2", "EC2 Instance State-change Notification")
HEALTH: Shape = ("aws.health", "AWS Health Event")
ECS_DEPLOYMENT: Shape = ("aws.ecs", "ECS Deployment State Change")
ECS_SERVICE_ACTION: Shape = ("aws.ecs", "ECS Service Action")
RDS_INSTANCE_EVENT: Shape = ("aws.rds", "RDS DB Instance Event")
RDS_CLUSTER_EVENT: Shape = ("aws.rds", "RDS DB Cluster Event")
ASG_TERMINATE_FAILED: Shape = ("aws.autoscaling", "EC2 Instance Terminate Unsuccessful")
ASG_LAUNCH_FAILED: Shape = ("aws.autoscaling", "EC2 Instance Launch Unsuccessful")

#: every shape a message may name verbatim (other values are described, never echoed)
KNOWN: tuple[Shape, ...] = (
    ALARM,
    EC2_STATE_CHANGE,
    HEALTH,
    ECS_DEPLOYMENT,
    ECS_SERVICE_ACTION,
    RDS_INSTANCE_EVENT,
    RDS_CLUSTER_EVENT,
    ASG_TERMINATE_FAILED,
    ASG_LAUNCH_FAILED,
)
ALARM_DIMENSIONS = "detail.configuration.metrics[*].metricStat.metric.dimensions"


def non_empty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def alarm_dimensions(event: dict[str, Any], detail_type: str) -> list[dict[str, Any]]:
    """Every metric's dimensions of a CloudWatch alarm state change."""
    configuration = event["detail"].get("configuration")
    if not isinstance(configuration, dict):
        raise MalformedEvent(f"{detail_type} event has no detail.configuration")
    metrics = configuration.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise MalformedEvent(
            f"{detail_type} event has no detail.configuration.metrics "
            "(a composite alarm carries no dimensions; set id_path)"
        )
    found: list[dict[str, Any]] = []
    for metric in metrics:
        stat = metric.get("metricStat") if isinstance(metric, dict) else None
        inner = stat.get("metric") if isinstance(stat, dict) else None
        dimensions = inner.get("dimensions") if isinstance(inner, dict) else None
        if isinstance(dimensions, dict):
            found.append(dimensions)
    return found


def single(values: list[str], where: str, detail_type: str) -> str:
    """The one distinct value; several different ones are refused (ambiguous target)."""
    distinct = sorted(set(values))
    if not distinct:
        raise MalformedEvent(f"{detail_type} event has no {where}")
    if len(distinct) > 1:
        raise MalformedEvent(
            f"{detail_type} event names several targets at {where} ({len(distinct)} different "
            "values); set id_path to pick one"
        )
    return distinct[0]


def alarm_dimension(name: str) -> Extractor:
    """An alarm's metric dimension ``name`` (``InstanceId``, ``DBInstanceIdentifier``, ...)."""

    def extract(event: dict[str, Any], detail_type: str) -> tuple[str, str]:
        where = f"{ALARM_DIMENSIONS}.{name}"
        dimensions = alarm_dimensions(event, detail_type)
        values = [d[name] for d in dimensions if non_empty_str(d.get(name))]
        return single(values, where, detail_type), where

    return extract


def detail_field(name: str) -> Extractor:
    """``detail.<name>`` (the EC2 state change's ``instance-id``, say)."""

    def extract(event: dict[str, Any], detail_type: str) -> tuple[str, str]:
        value = event["detail"].get(name)
        if not non_empty_str(value):
            raise MalformedEvent(f"{detail_type} event has no detail.{name}")
        return str(value), f"detail.{name}"

    return extract


def first_resource(event: dict[str, Any], detail_type: str) -> tuple[str, str]:
    """``resources[0]``."""
    resources = event.get("resources")
    if isinstance(resources, list) and resources and non_empty_str(resources[0]):
        return str(resources[0]), "resources[0]"
    raise MalformedEvent(f"{detail_type} event has no resources[0]")


def health(event: dict[str, Any], detail_type: str) -> tuple[str, str]:
    """``detail.affectedEntities[0].entityValue``, else ``resources[0]``."""
    entities = event["detail"].get("affectedEntities")
    if isinstance(entities, list) and entities and isinstance(entities[0], dict):
        value = entities[0].get("entityValue")
        if non_empty_str(value):
            return str(value), "detail.affectedEntities[0].entityValue"
    resources = event.get("resources")
    if isinstance(resources, list) and resources and non_empty_str(resources[0]):
        return str(resources[0]), "resources[0]"
    raise MalformedEvent(
        f"{detail_type} event has no detail.affectedEntities[0].entityValue nor resources[0]"
    )


def arn_first(arn_pattern: Any, identifier_field: str) -> Extractor:
    """An RDS-style event: the resource's ARN (``resources[0]``, else ``detail.SourceArn``)
    names it with its account and region (checked against our own), where
    ``detail.<identifier_field>`` may carry a prefix (``rds:my-db`` in older events); the
    identifier only when the event has no ARN of the kind (``arn_pattern``)."""

    def extract(event: dict[str, Any], detail_type: str) -> tuple[str, str]:
        resources = event.get("resources")
        first = resources[0] if isinstance(resources, list) and resources else None
        for value, where in (
            (first, "resources[0]"),
            (event["detail"].get("SourceArn"), "detail.SourceArn"),
        ):
            if non_empty_str(value) and arn_pattern.match(str(value).strip()):
                return str(value), where
        value = event["detail"].get(identifier_field)
        if non_empty_str(value):
            return str(value), f"detail.{identifier_field}"
        if non_empty_str(first):
            return str(first), "resources[0]"
        raise MalformedEvent(
            f"{detail_type} event has no detail.{identifier_field} nor resources[0]"
        )

    return extract
