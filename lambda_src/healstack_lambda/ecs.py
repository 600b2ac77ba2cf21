"""ECS service check and forced redeployment.

``resource_id`` is the service ARN ``arn:aws:ecs:<region>:<account>:service/<cluster>/<name>``;
calls go to the ARN's region.

Check ``state``:

- ``steady``: running count == desired count and the PRIMARY deployment's rolloutState is
  ``COMPLETED`` (or absent, e.g. services on the CODE_DEPLOY / EXTERNAL controllers);
- otherwise the PRIMARY deployment's rolloutState lower-cased (``in_progress``, ``failed``);
- ``degraded``: the rollout is complete but fewer (or more) tasks run than desired.

Only ``steady`` is healthy. A missing service raises ``ResourceNotFound``.

Check ``skip`` (see ``healstack_lambda.step``), decided in this order after reading the
service with ``DescribeServices(include=["TAGS"])``:

- ``not_in_scope``: the service lacks the tag ``HEALSTACK_REQUIRE_TAG`` names.
- ``stopped_on_purpose``: status ``DRAINING`` or ``INACTIVE`` (deleted or being deleted), or
  ``desiredCount == 0`` (scaled to zero on purpose; a redeploy would start nothing anyway).
- ``changing``: the PRIMARY deployment's rolloutState is ``IN_PROGRESS`` and none of its
  tasks has failed (``failedTasks == 0``). That is a rollout someone else started, or the
  rollback ECS's deployment circuit breaker starts on its own after a failed deployment
  (the failed deployment then is no longer PRIMARY and reads ``FAILED``); forcing another
  deployment would fight it. Judgement: a PRIMARY ``IN_PROGRESS`` deployment whose tasks
  already fail (``failedTasks > 0``) is taken to be the failing rollout this recovery was
  triggered for, not someone else's change, so it gets no skip (``state: in_progress``).
  A PRIMARY deployment that reads ``FAILED`` is the recovery case itself (``state:
  failed``).

Scope in actions: ``force_redeploy`` reads the service with its tags and raises
``NotInScope`` before any mutating call, dry runs included, when the tag is missing.
"""

from __future__ import annotations

from typing import Any

from . import aws
from .errors import ResourceNotFound, aws_errors
from .kinds.ecs_service import EcsService, parse_service_arn
from .step import (
    CHANGING,
    NOT_IN_SCOPE,
    STOPPED_ON_PURPOSE,
    StepRequest,
    action_result,
    check_result,
    in_scope,
    require_scope,
    run_check,
    run_step,
    tag_map,
)

KIND = "ecs_service"
GONE_STATUSES = frozenset({"INACTIVE", "DRAINING"})


def _service_ref(request: StepRequest) -> EcsService:
    parsed = parse_service_arn(request.resource_id)
    if parsed is None:  # parse_step already validated the ARN; kept for type narrowing
        raise ResourceNotFound(f"not an ECS service ARN: {request.resource_id}")
    return parsed


def describe_service(ref: EcsService, *, allow_gone: bool = False) -> dict[str, Any]:
    """DescribeServices (with its tags) for one service; ``ResourceNotFound`` when missing
    or, unless ``allow_gone``, deleted (INACTIVE) or being deleted (DRAINING)."""
    with aws_errors(ref.arn):
        response = aws.client("ecs", ref.region).describe_services(
            cluster=ref.cluster, services=[ref.name], include=["TAGS"]
        )
    services = [s for s in response.get("services", []) if s.get("serviceName") == ref.name]
    if not services:
        reasons = ", ".join(str(f.get("reason")) for f in response.get("failures", []))
        raise ResourceNotFound(
            f"ECS service {ref.name} not found in cluster {ref.cluster} ({reasons or 'MISSING'})"
        )
    service = dict(services[0])
    if not allow_gone:
        _refuse_gone(ref, service)
    return service


def _refuse_gone(ref: EcsService, service: dict[str, Any]) -> None:
    status = str(service.get("status", ""))
    if status in GONE_STATUSES:
        raise ResourceNotFound(
            f"ECS service {ref.name} in cluster {ref.cluster} is {status} (deleted or deleting)"
        )


def _label(ref: EcsService) -> str:
    return f"ECS service {ref.name} in cluster {ref.cluster}"


def _skip(service: dict[str, Any]) -> str | None:
    """``stopped_on_purpose``, ``changing`` or None (see the module docstring)."""
    if str(service.get("status", "")) in GONE_STATUSES or service.get("desiredCount") == 0:
        return STOPPED_ON_PURPOSE
    primary = primary_deployment(service)
    if primary.get("rolloutState") == "IN_PROGRESS" and not primary.get("failedTasks"):
        return CHANGING
    return None


def primary_deployment(service: dict[str, Any]) -> dict[str, Any]:
    """The PRIMARY deployment (empty dict when the service reports none)."""
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY":
            return dict(deployment)
    return {}


def service_state(service: dict[str, Any]) -> str:
    """``steady``, ``degraded`` or the PRIMARY rolloutState lower-cased (see module doc)."""
    rollout = primary_deployment(service).get("rolloutState") or "COMPLETED"
    counts_match = service.get("runningCount") == service.get("desiredCount")
    if rollout == "COMPLETED":
        return "steady" if counts_match else "degraded"
    return str(rollout).lower()


def _check(request: StepRequest) -> dict[str, Any]:
    service = describe_service(_service_ref(request), allow_gone=True)
    primary = primary_deployment(service)
    state = service_state(service)
    detail = {
        "status": service.get("status"),
        "running_count": service.get("runningCount"),
        "desired_count": service.get("desiredCount"),
        "pending_count": service.get("pendingCount"),
        "deployment_id": primary.get("id"),
        "rollout_state": primary.get("rolloutState"),
        "deployments": len(service.get("deployments", [])),
    }
    if not in_scope(tag_map(service.get("tags"), "key", "value")):
        return check_result(False, state, detail, NOT_IN_SCOPE)
    return check_result(state == "steady", state, detail, _skip(service))


def _force_redeploy(request: StepRequest) -> dict[str, Any]:
    ref = _service_ref(request)
    service = describe_service(ref, allow_gone=True)
    require_scope(tag_map(service.get("tags"), "key", "value"), _label(ref))
    _refuse_gone(ref, service)
    label = f"{ref.name} in cluster {ref.cluster}"
    for deployment in service.get("deployments", []):
        if deployment.get("rolloutState") == "IN_PROGRESS":
            return action_result(
                "force_redeploy",
                request,
                False,
                f"deployment {deployment.get('id')} of {label} is already in progress; "
                "no new deployment forced",
            )
    current = primary_deployment(service).get("id", "none")
    if request.dry_run:
        return action_result(
            "force_redeploy",
            request,
            False,
            f"dry run: would force a new deployment of {label} (current {current})",
        )
    with aws_errors(ref.arn):
        response = aws.client("ecs", ref.region).update_service(
            cluster=ref.cluster, service=ref.name, forceNewDeployment=True
        )
    new = primary_deployment(response.get("service", {})).get("id", "unknown")
    return action_result(
        "force_redeploy",
        request,
        True,
        f"forced new deployment {new} of {label} (was {current})",
    )


def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Healthy iff the service is ``steady`` and ``skip`` is null (see the module docstring)."""
    return run_check("ecs.check", event, context, KIND, _check)


def force_redeploy(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """UpdateService(forceNewDeployment=True); a no-op while any deployment is IN_PROGRESS."""
    return run_step("ecs.force_redeploy", event, context, KIND, _force_redeploy)
