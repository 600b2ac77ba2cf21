"""Resolve the target resource id from a raw EventBridge event.

Payload::

    {"event": <raw EventBridge event>, "target_kind": "ec2_instance"|"ecs_service"|"rds_instance",
     "id_path": optional str, "execution_id": str, "playbook": str}

Returns ``{"resource_id", "target_kind", "region", "event_type"}`` (``event_type`` is the
event's detail-type; ``region`` is the event's region, or for ECS the service ARN's region).

With ``id_path`` (see ``healstack_lambda.jsonpath``) the id is read from there and any
source/detail-type is accepted. Without it the id is found in the documented AWS shapes:

- CloudWatch Alarm State Change: ``detail.configuration.metrics[*].metricStat.metric.dimensions``
  ``InstanceId`` / ``DBInstanceIdentifier`` / ``ClusterName`` + ``ServiceName`` (the service
  ARN is built from the event's account and region). Several different ids -> refused.
- EC2 Instance State-change Notification: ``detail.instance-id``.
- AWS Health Event: ``detail.affectedEntities[0].entityValue``, else ``resources[0]``.
- ECS Deployment State Change, ECS Service Action: ``resources[0]`` (a service ARN).
- RDS DB Instance Event: ``detail.SourceIdentifier``, else the name in ``resources[0]``.

Every flaw in the event raises ``MalformedEvent`` naming the field and the detail-type; a
flaw in the payload around it raises ``InvalidInput``. The id must fit the kind.
"""

from __future__ import annotations

import time
from typing import Any

from . import aws, ids, jsonpath
from .errors import InvalidInput, MalformedEvent
from .step import require_str, run_logged

ALARM = ("aws.cloudwatch", "CloudWatch Alarm State Change")
EC2_STATE_CHANGE = ("aws.ec2", "EC2 Instance State-change Notification")
HEALTH = ("aws.health", "AWS Health Event")
ECS_DEPLOYMENT = ("aws.ecs", "ECS Deployment State Change")
ECS_SERVICE_ACTION = ("aws.ecs", "ECS Service Action")
RDS_INSTANCE_EVENT = ("aws.rds", "RDS DB Instance Event")

FITS: dict[str, tuple[tuple[str, str], ...]] = {
    "ec2_instance": (ALARM, EC2_STATE_CHANGE, HEALTH),
    "ecs_service": (ALARM, ECS_DEPLOYMENT, ECS_SERVICE_ACTION, HEALTH),
    "rds_instance": (ALARM, RDS_INSTANCE_EVENT, HEALTH),
}
ALARM_DIMENSIONS = "detail.configuration.metrics[*].metricStat.metric.dimensions"


def _non_empty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _alarm_dimensions(detail: dict[str, Any], detail_type: str) -> list[dict[str, Any]]:
    configuration = detail.get("configuration")
    if not isinstance(configuration, dict):
        raise MalformedEvent(f"{detail_type!r} event has no detail.configuration")
    metrics = configuration.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise MalformedEvent(
            f"{detail_type!r} event has no detail.configuration.metrics "
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


def _single(values: list[str], where: str, detail_type: str) -> str:
    distinct = sorted(set(values))
    if not distinct:
        raise MalformedEvent(f"{detail_type!r} event has no {where}")
    if len(distinct) > 1:
        raise MalformedEvent(
            f"{detail_type!r} event names several targets at {where} ({', '.join(distinct)}); "
            "set id_path to pick one"
        )
    return distinct[0]


def _from_alarm(event: dict[str, Any], kind: str, detail_type: str) -> tuple[str, str]:
    dimensions = _alarm_dimensions(event["detail"], detail_type)
    if kind == "ec2_instance":
        where = f"{ALARM_DIMENSIONS}.InstanceId"
        values = [d["InstanceId"] for d in dimensions if _non_empty_str(d.get("InstanceId"))]
        return _single(values, where, detail_type), where
    if kind == "rds_instance":
        where = f"{ALARM_DIMENSIONS}.DBInstanceIdentifier"
        values = [
            d["DBInstanceIdentifier"]
            for d in dimensions
            if _non_empty_str(d.get("DBInstanceIdentifier"))
        ]
        return _single(values, where, detail_type), where
    where = f"{ALARM_DIMENSIONS}.ClusterName+ServiceName"
    pairs = [
        f"{d['ClusterName']}/{d['ServiceName']}"
        for d in dimensions
        if _non_empty_str(d.get("ClusterName")) and _non_empty_str(d.get("ServiceName"))
    ]
    cluster_and_service = _single(pairs, where, detail_type)
    account = event.get("account")
    region = event.get("region")
    for name, value in (("account", account), ("region", region)):
        if not _non_empty_str(value):
            raise MalformedEvent(
                f"{detail_type!r} event has no '{name}' to build the ECS service ARN"
            )
    return f"arn:aws:ecs:{region}:{account}:service/{cluster_and_service}", where


def _first_resource(event: dict[str, Any], detail_type: str) -> str:
    resources = event.get("resources")
    if isinstance(resources, list) and resources and _non_empty_str(resources[0]):
        return str(resources[0])
    raise MalformedEvent(f"{detail_type!r} event has no resources[0]")


def _from_health(event: dict[str, Any], detail_type: str) -> tuple[str, str]:
    entities = event["detail"].get("affectedEntities")
    if isinstance(entities, list) and entities and isinstance(entities[0], dict):
        value = entities[0].get("entityValue")
        if _non_empty_str(value):
            return str(value), "detail.affectedEntities[0].entityValue"
    resources = event.get("resources")
    if isinstance(resources, list) and resources and _non_empty_str(resources[0]):
        return str(resources[0]), "resources[0]"
    raise MalformedEvent(
        f"{detail_type!r} event has no detail.affectedEntities[0].entityValue nor resources[0]"
    )


def _from_rds_event(event: dict[str, Any], detail_type: str) -> tuple[str, str]:
    value = event["detail"].get("SourceIdentifier")
    if _non_empty_str(value):
        return str(value), "detail.SourceIdentifier"
    resources = event.get("resources")
    if isinstance(resources, list) and resources and _non_empty_str(resources[0]):
        return str(resources[0]), "resources[0]"
    raise MalformedEvent(f"{detail_type!r} event has no detail.SourceIdentifier nor resources[0]")


def _auto_detect(event: dict[str, Any], kind: str, detail_type: str) -> tuple[str, str]:
    source = event.get("source")
    if not _non_empty_str(source):
        raise MalformedEvent(f"{detail_type!r} event has no 'source'")
    shape = (str(source), detail_type)
    if shape not in FITS[kind]:
        expected = "; ".join(f"{s} / {d}" for s, d in FITS[kind])
        raise MalformedEvent(
            f"event source {source!r} with detail-type {detail_type!r} does not fit target kind "
            f"{kind!r} (expected one of: {expected}; or set id_path)"
        )
    if shape == ALARM:
        return _from_alarm(event, kind, detail_type)
    if shape == EC2_STATE_CHANGE:
        value = event["detail"].get("instance-id")
        if not _non_empty_str(value):
            raise MalformedEvent(f"{detail_type!r} event has no detail.instance-id")
        return str(value), "detail.instance-id"
    if shape == HEALTH:
        return _from_health(event, detail_type)
    if shape == RDS_INSTANCE_EVENT:
        return _from_rds_event(event, detail_type)
    return _first_resource(event, detail_type), "resources[0]"


def _from_path(event: dict[str, Any], id_path: str, detail_type: str) -> tuple[str, str]:
    try:
        steps = jsonpath.parse(id_path)
    except jsonpath.PathSyntaxError as err:
        raise InvalidInput(str(err)) from err
    value, failed_at = jsonpath.lookup(event, steps)
    if jsonpath.is_missing(value):
        raise MalformedEvent(
            f"{detail_type!r} event has nothing at {failed_at} (id_path {id_path})"
        )
    if not _non_empty_str(value):
        raise MalformedEvent(
            f"{detail_type!r} event value at id_path {id_path} is not a non-empty string: "
            f"{type(value).__name__}"
        )
    return str(value), id_path


def resolve(payload: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """Validate the payload and return the resolved target (see module docstring)."""
    if not isinstance(payload, dict):
        raise InvalidInput(f"payload must be a JSON object, got {type(payload).__name__}")
    event = payload.get("event")
    if not isinstance(event, dict):
        raise InvalidInput("payload field 'event' must be the raw EventBridge event object")
    kind = require_str(payload, "target_kind")
    if kind not in ids.TARGET_KINDS:
        raise InvalidInput(f"target_kind {kind!r} is not one of {', '.join(ids.TARGET_KINDS)}")
    id_path = payload.get("id_path")
    if id_path is not None and not _non_empty_str(id_path):
        raise InvalidInput("payload field 'id_path' must be a non-empty string when given")
    fields["execution_id"] = require_str(payload, "execution_id")
    fields["playbook"] = require_str(payload, "playbook")
    fields["step"] = fields.get("step") or "ResolveTarget"

    detail_type = event.get("detail-type")
    if not _non_empty_str(detail_type):
        raise MalformedEvent("event has no 'detail-type' field")
    detail_type = str(detail_type)
    if not isinstance(event.get("detail"), dict):
        raise MalformedEvent(f"{detail_type!r} event has no 'detail' object")

    if id_path is not None:
        raw_id, where = _from_path(event, str(id_path), detail_type)
    else:
        raw_id, where = _auto_detect(event, kind, detail_type)
    resource_id = ids.normalize(kind, raw_id.strip())
    if not ids.is_valid(kind, resource_id):
        raise MalformedEvent(
            f"{where} value {raw_id!r} in {detail_type!r} event is not {ids.EXPECTED[kind]}"
        )
    fields["resource_id"] = resource_id

    region = event.get("region")
    if kind == "ecs_service":
        parsed = ids.parse_ecs_service_arn(resource_id)
        region = parsed.region if parsed else region
    if not _non_empty_str(region):
        region = aws.default_region()
    if not _non_empty_str(region):
        raise MalformedEvent(f"{detail_type!r} event has no 'region' and none is configured")
    now = int(time.time())
    window_seconds = payload.get("window_seconds")
    if window_seconds is not None and (
        isinstance(window_seconds, bool)
        or not isinstance(window_seconds, int)
        or window_seconds < 1
    ):
        raise InvalidInput(
            f"payload field 'window_seconds' must be a positive integer, got {window_seconds!r}"
        )
    return {
        "resource_id": resource_id,
        "target_kind": kind,
        "region": str(region),
        "event_type": detail_type,
        # the workflow's clock: lock expiry, anti-flap window, history order
        "now": now,
        "window": now // window_seconds if window_seconds else 0,
    }


def resolve_target(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: resolve the target of a raw EventBridge event."""
    return run_logged("events.resolve_target", event, context, lambda f: resolve(event, f))
