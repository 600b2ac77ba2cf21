"""EC2 instance check and actions (reboot, stop, start).

Every handler first reads the instance state, so dry runs report what they would do
("would reboot i-... (running)") and repeated actions are no-ops that say why.

State rules for the actions:

- ``terminated`` or ``shutting-down``: ``ResourceNotFound`` (message says "terminated").
- ``reboot``: acts only on ``running``; ``pending``, ``stopping`` and ``stopped`` are
  no-ops (a booting instance needs no reboot, a stopped one needs ``start``).
- ``stop``: acts on ``running``; ``stopping``/``stopped`` are no-ops, unless
  ``params.force`` is true and the instance is stuck ``stopping`` (then it issues a forced
  stop). ``pending`` raises ``TransientError`` (AWS refuses to stop a booting instance; the
  workflow retries). The call returns at once; the workflow polls ``check`` until
  ``state == "stopped"``.
- ``start``: acts on ``stopped``; ``pending``/``running`` are no-ops; ``stopping`` raises
  ``TransientError`` (start is possible once it is stopped).
"""

from __future__ import annotations

from typing import Any

from . import aws
from .errors import InvalidInput, ResourceNotFound, TransientError, aws_errors
from .step import StepRequest, action_result, check_result, run_check, run_step

KIND = "ec2_instance"
GONE_STATES = frozenset({"terminated", "shutting-down"})


def _ec2() -> Any:
    return aws.client("ec2")


def _gone(instance_id: str, state: str) -> ResourceNotFound:
    if state == "terminated":
        return ResourceNotFound(f"EC2 instance {instance_id} is terminated")
    return ResourceNotFound(f"EC2 instance {instance_id} is {state} (being terminated)")


def describe_state(instance_id: str) -> str:
    """The instance's lifecycle state, lower case; ``ResourceNotFound`` if it does not exist."""
    with aws_errors(instance_id):
        response = _ec2().describe_instances(InstanceIds=[instance_id])
    for reservation in response.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            if instance.get("InstanceId") == instance_id:
                return str(instance["State"]["Name"]).lower()
    raise ResourceNotFound(f"EC2 instance {instance_id} not found")


def _check(request: StepRequest) -> dict[str, Any]:
    instance_id = request.resource_id
    with aws_errors(instance_id):
        response = _ec2().describe_instance_status(
            InstanceIds=[instance_id], IncludeAllInstances=True
        )
    statuses = [
        s for s in response.get("InstanceStatuses", []) if s.get("InstanceId") == instance_id
    ]
    if not statuses:
        raise ResourceNotFound(f"EC2 instance {instance_id} not found")
    status = statuses[0]
    state = str(status.get("InstanceState", {}).get("Name", "unknown")).lower()
    if state == "terminated" and request.params.get("expect_state") != "terminated":
        raise _gone(instance_id, state)
    system_status = str(status.get("SystemStatus", {}).get("Status", "missing")).lower()
    instance_status = str(status.get("InstanceStatus", {}).get("Status", "missing")).lower()
    healthy = state == "running" and system_status == "ok" and instance_status == "ok"
    detail = {
        "instance_state": state,
        "system_status": system_status,
        "instance_status": instance_status,
        "availability_zone": status.get("AvailabilityZone"),
    }
    return check_result(healthy, state, detail)


def _reboot(request: StepRequest) -> dict[str, Any]:
    instance_id = request.resource_id
    state = describe_state(instance_id)
    if state in GONE_STATES:
        raise _gone(instance_id, state)
    if state == "pending":
        return action_result(
            "reboot", request, False, f"{instance_id} is pending (already booting); no reboot"
        )
    if state != "running":
        return action_result(
            "reboot",
            request,
            False,
            f"{instance_id} is {state}; reboot only applies to a running instance, nothing done",
        )
    if request.dry_run:
        return action_result(
            "reboot", request, False, f"dry run: would reboot {instance_id} (running)"
        )
    with aws_errors(instance_id):
        _ec2().reboot_instances(InstanceIds=[instance_id])
    return action_result("reboot", request, True, f"reboot issued for {instance_id} (was running)")


def _stop(request: StepRequest) -> dict[str, Any]:
    instance_id = request.resource_id
    force = request.params.get("force", False)
    if not isinstance(force, bool):
        raise InvalidInput(f"params.force must be a boolean, got {type(force).__name__}")
    state = describe_state(instance_id)
    if state in GONE_STATES:
        raise _gone(instance_id, state)
    if state == "stopped" or (state == "stopping" and not force):
        return action_result(
            "stop", request, False, f"{instance_id} is already {state}; nothing to do"
        )
    if state == "pending":
        raise TransientError(
            f"EC2 instance {instance_id} is pending; it can be stopped once it is running"
        )
    verb = "force stop" if force else "stop"
    if request.dry_run:
        return action_result(
            "stop", request, False, f"dry run: would {verb} {instance_id} ({state})"
        )
    with aws_errors(instance_id):
        response = _ec2().stop_instances(InstanceIds=[instance_id], Force=force)
    now = _transition_state(response.get("StoppingInstances", []), instance_id)
    return action_result(
        "stop",
        request,
        True,
        f"{verb} issued for {instance_id} (was {state}, now {now}); poll check until stopped",
    )


def _start(request: StepRequest) -> dict[str, Any]:
    instance_id = request.resource_id
    state = describe_state(instance_id)
    if state in GONE_STATES:
        raise _gone(instance_id, state)
    if state in ("running", "pending"):
        return action_result(
            "start", request, False, f"{instance_id} is already {state}; nothing to do"
        )
    if state == "stopping":
        raise TransientError(
            f"EC2 instance {instance_id} is stopping; it can be started once it is stopped"
        )
    if request.dry_run:
        return action_result(
            "start", request, False, f"dry run: would start {instance_id} ({state})"
        )
    with aws_errors(instance_id):
        response = _ec2().start_instances(InstanceIds=[instance_id])
    now = _transition_state(response.get("StartingInstances", []), instance_id)
    return action_result(
        "start", request, True, f"start issued for {instance_id} (was {state}, now {now})"
    )


def _transition_state(changes: list[dict[str, Any]], instance_id: str) -> str:
    for change in changes:
        if change.get("InstanceId") == instance_id:
            return str(change.get("CurrentState", {}).get("Name", "unknown")).lower()
    return "unknown"


def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Healthy iff the instance is running and both system and instance status are ``ok``.

    A missing or ``initializing`` status counts as not healthy. ``state`` is the lifecycle
    state (``pending|running|stopping|stopped|shutting-down``); a terminated instance
    raises ``ResourceNotFound`` (unless ``params.expect_state`` is ``terminated``). With
    ``params.expect_state`` another state raises ``StateNotReached``.
    """
    return run_check("ec2.check", event, context, KIND, _check)


def reboot(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Reboot a running instance (RebootInstances); see the module docstring for other states."""
    return run_step("ec2.reboot", event, context, KIND, _reboot)


def stop(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Issue StopInstances and return at once; ``params.force`` (bool) forces a stuck stop."""
    return run_step("ec2.stop", event, context, KIND, _stop, allowed_params=("force",))


def start(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Issue StartInstances on a stopped instance and return at once."""
    return run_step("ec2.start", event, context, KIND, _start)
