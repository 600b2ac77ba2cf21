"""EC2 instance check and actions (reboot, stop, start).

Every handler first reads the instance state, so dry runs report what they would do
("would reboot i-... (running)") and repeated actions are no-ops that say why.

Check ``skip`` (see ``healstack_lambda.step``), decided in this order after reading the
instance: ``not_in_scope`` (the instance lacks ``HEALSTACK_REQUIRE_TAG``; its tags come from
DescribeInstances, which is only called when a tag is required); ``stopped_on_purpose``
for ``stopped``, ``stopping`` and ``shutting-down`` (someone stopped or is terminating it;
healstack never starts what it did not stop); ``changing`` for ``pending`` (someone is
starting it right now). A ``terminated`` instance raises ``ResourceNotFound`` as before.

Scope in actions: every action reads the instance (DescribeInstances, which carries its
tags) and raises ``NotInScope`` before any mutating call, dry runs included, when the
instance lacks the required tag.

State rules for the actions:

- ``terminated`` or ``shutting-down``: ``ResourceNotFound`` (message says "terminated").
- ``reboot``: acts only on ``running``; ``pending``, ``stopping`` and ``stopped`` are
  no-ops (a booting instance needs no reboot, a stopped one needs ``start``).
- ``stop``: acts on ``running``; ``stopping``/``stopped`` are no-ops, unless
  ``params.force`` is true and the instance is stuck ``stopping`` (then it issues a forced
  stop). ``pending`` raises ``TransientError`` (AWS refuses to stop a booting instance; the
  workflow retries). The call returns at once; the workflow polls ``check`` until
  ``state == "stopped"``.
  Its result carries ``stopped_here``: True when it issued StopInstances (or, in a dry
  run, would have), False for every no-op.
- ``start``: only undoes a stop made by this same execution. ``params.own_stop`` (bool) is
  required: the workflow passes whether this execution's ``stop`` returned
  ``stopped_here: true``. When false, start never calls StartInstances and returns
  ``changed: false`` saying so (an instance stopped by someone else stays stopped). When
  true: acts on ``stopped``; ``pending``/``running`` are no-ops; ``stopping`` raises
  ``TransientError`` (start is possible once it is stopped).
"""

from __future__ import annotations

from typing import Any

from . import aws
from .errors import InvalidInput, ResourceNotFound, TransientError, aws_errors
from .step import (
    CHANGING,
    NOT_IN_SCOPE,
    STOPPED_ON_PURPOSE,
    StepRequest,
    action_result,
    check_result,
    in_scope,
    require_scope,
    required_tag,
    run_check,
    run_step,
    tag_map,
)

KIND = "ec2_instance"
GONE_STATES = frozenset({"terminated", "shutting-down"})
#: check ``skip`` per lifecycle state (see the module docstring)
SKIP_BY_STATE = {
    "stopped": STOPPED_ON_PURPOSE,
    "stopping": STOPPED_ON_PURPOSE,
    "shutting-down": STOPPED_ON_PURPOSE,
    "pending": CHANGING,
}


def _ec2() -> Any:
    return aws.client("ec2")


def _gone(instance_id: str, state: str) -> ResourceNotFound:
    if state == "terminated":
        return ResourceNotFound(f"EC2 instance {instance_id} is terminated")
    return ResourceNotFound(f"EC2 instance {instance_id} is {state} (being terminated)")


def describe_instance(instance_id: str) -> dict[str, Any]:
    """DescribeInstances for one instance (state and tags); ``ResourceNotFound`` if missing."""
    with aws_errors(instance_id):
        response = _ec2().describe_instances(InstanceIds=[instance_id])
    for reservation in response.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            if instance.get("InstanceId") == instance_id:
                return dict(instance)
    raise ResourceNotFound(f"EC2 instance {instance_id} not found")


def describe_state(instance_id: str) -> str:
    """The instance's lifecycle state, lower case; ``ResourceNotFound`` if it does not exist."""
    return _state_of(describe_instance(instance_id))


def _state_of(instance: dict[str, Any]) -> str:
    return str(instance.get("State", {}).get("Name", "unknown")).lower()


def _read_in_scope(instance_id: str) -> str:
    """Re-read the instance before an action: ``NotInScope`` when it lacks the required
    tag (before any mutating call, dry runs too), else its lifecycle state."""
    instance = describe_instance(instance_id)
    require_scope(tag_map(instance.get("Tags")), f"EC2 instance {instance_id}")
    return _state_of(instance)


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
    system_status = str(status.get("SystemStatus", {}).get("Status", "missing")).lower()
    instance_status = str(status.get("InstanceStatus", {}).get("Status", "missing")).lower()
    detail = {
        "instance_state": state,
        "system_status": system_status,
        "instance_status": instance_status,
        "availability_zone": status.get("AvailabilityZone"),
    }
    if required_tag() is not None:
        tags = tag_map(describe_instance(instance_id).get("Tags"))
        if not in_scope(tags):
            return check_result(False, state, detail, NOT_IN_SCOPE)
    if state == "terminated" and request.params.get("expect_state") != "terminated":
        raise _gone(instance_id, state)
    skip = SKIP_BY_STATE.get(state)
    healthy = state == "running" and system_status == "ok" and instance_status == "ok"
    return check_result(healthy, state, detail, skip)


def _reboot(request: StepRequest) -> dict[str, Any]:
    instance_id = request.resource_id
    state = _read_in_scope(instance_id)
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
    state = _read_in_scope(instance_id)
    if state in GONE_STATES:
        raise _gone(instance_id, state)
    if state == "stopped" or (state == "stopping" and not force):
        return _stop_result(
            request, False, f"{instance_id} is already {state}; nothing to do", stopped_here=False
        )
    if state == "pending":
        raise TransientError(
            f"EC2 instance {instance_id} is pending; it can be stopped once it is running"
        )
    verb = "force stop" if force else "stop"
    if request.dry_run:
        return _stop_result(
            request, False, f"dry run: would {verb} {instance_id} ({state})", stopped_here=True
        )
    with aws_errors(instance_id):
        response = _ec2().stop_instances(InstanceIds=[instance_id], Force=force)
    now = _transition_state(response.get("StoppingInstances", []), instance_id)
    return _stop_result(
        request,
        True,
        f"{verb} issued for {instance_id} (was {state}, now {now}); poll check until stopped",
        stopped_here=True,
    )


def _stop_result(
    request: StepRequest, changed: bool, message: str, *, stopped_here: bool
) -> dict[str, Any]:
    """The action result plus ``stopped_here``: did this step stop it (or, dry, would it)?"""
    return {**action_result("stop", request, changed, message), "stopped_here": stopped_here}


def _own_stop(request: StepRequest) -> bool:
    if "own_stop" not in request.params:
        raise InvalidInput(
            "params.own_stop is required: start only undoes a stop made by this execution"
        )
    own_stop = request.params["own_stop"]
    if not isinstance(own_stop, bool):
        raise InvalidInput(f"params.own_stop must be a boolean, got {type(own_stop).__name__}")
    return own_stop


def _start(request: StepRequest) -> dict[str, Any]:
    instance_id = request.resource_id
    own_stop = _own_stop(request)
    state = _read_in_scope(instance_id)
    if state in GONE_STATES:
        raise _gone(instance_id, state)
    if not own_stop:
        why = "start only undoes a stop made by this execution, and this execution stopped nothing"
        prefix = "dry run: would not start" if request.dry_run else "not starting"
        return action_result("start", request, False, f"{prefix} {instance_id} ({state}): {why}")
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
    """Healthy iff the instance is running and both system and instance status are ``ok``
    (and ``skip`` is null; see the module docstring).

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
    """Issue StopInstances and return at once; ``params.force`` (bool) forces a stuck stop.

    The result carries ``stopped_here`` (True when StopInstances was issued, or would be in
    a dry run) for the ``own_stop`` param of a later ``start``."""
    return run_step("ec2.stop", event, context, KIND, _stop, allowed_params=("force",))


def start(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Issue StartInstances on an instance this execution stopped (``params.own_stop``)."""
    return run_step("ec2.start", event, context, KIND, _start, allowed_params=("own_stop",))
