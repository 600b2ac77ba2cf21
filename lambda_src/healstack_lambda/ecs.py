"""ECS service check and forced redeployment.

``resource_id`` is the service ARN ``arn:aws:ecs:<region>:<account>:service/<cluster>/<name>``;
calls go to the ARN's region.

Check ``state``:

- ``steady``: running count == desired count and the PRIMARY deployment's rolloutState is
  ``COMPLETED`` (or absent, e.g. services on the CODE_DEPLOY / EXTERNAL controllers);
- otherwise the PRIMARY deployment's rolloutState lower-cased (``in_progress``, ``failed``);
- ``degraded``: the rollout is complete but fewer (or more) tasks run than desired.

Only ``steady`` is healthy. A missing, INACTIVE or DRAINING service raises
``ResourceNotFound``.
"""

from __future__ import annotations

from typing import Any

from . import aws, ids
from .errors import ResourceNotFound, aws_errors
from .step import StepRequest, action_result, check_result, run_check, run_step

KIND = "ecs_service"


def _service_ref(request: StepRequest) -> ids.EcsService:
    parsed = ids.parse_ecs_service_arn(request.resource_id)
    if parsed is None:  # parse_step already validated the ARN; kept for type narrowing
        raise ResourceNotFound(f"not an ECS service ARN: {request.resource_id}")
    return parsed


def describe_service(ref: ids.EcsService) -> dict[str, Any]:
    """DescribeServices for one service; ``ResourceNotFound`` when missing or deleted."""
    with aws_errors(ref.arn):
        response = aws.client("ecs", ref.region).describe_services(
            cluster=ref.cluster, services=[ref.name]
        )
    services = [s for s in response.get("services", []) if s.get("serviceName") == ref.name]
    if not services:
        reasons = ", ".join(str(f.get("reason")) for f in response.get("failures", []))
        raise ResourceNotFound(
            f"ECS service {ref.name} not found in cluster {ref.cluster} ({reasons or 'MISSING'})"
        )
    service = services[0]
    status = str(service.get("status", ""))
    if status in ("INACTIVE", "DRAINING"):
        raise ResourceNotFound(
            f"ECS service {ref.name} in cluster {ref.cluster} is {status} (deleted or deleting)"
        )
    return dict(service)


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
    service = describe_service(_service_ref(request))
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
    return check_result(state == "steady", state, detail)


def _force_redeploy(request: StepRequest) -> dict[str, Any]:
    ref = _service_ref(request)
    service = describe_service(ref)
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
    """Healthy iff the service is ``steady`` (see the module docstring for ``state``)."""
    return run_check("ecs.check", event, context, KIND, _check)


def force_redeploy(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """UpdateService(forceNewDeployment=True); a no-op while any deployment is IN_PROGRESS."""
    return run_step("ecs.force_redeploy", event, context, KIND, _force_redeploy)
