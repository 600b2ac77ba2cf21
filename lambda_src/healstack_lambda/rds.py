"""RDS DB instance check and reboot.

Check: ``state`` is the ``DBInstanceStatus`` lower-cased; healthy iff ``available``.

Reboot rules:

- ``rebooting``: no-op that says a reboot is already under way.
- ``available``, ``incompatible-parameters``, ``storage-full``: RebootDBInstance, with
  ``ForceFailover=True`` when the instance is Multi-AZ (and not an Aurora cluster member,
  where RDS refuses ForceFailover on the instance call).
- ``deleting`` / ``deleted``: ``ResourceNotFound``.
- any other status (``modifying``, ``backing-up``, ``stopped``, ``failed``, ...): a no-op
  with ``changed: false`` that names the status. A reboot there is refused by RDS or cannot
  help; the workflow's next check and attempt limit decide what happens next.
"""

from __future__ import annotations

from typing import Any

from . import aws
from .errors import ResourceNotFound, aws_errors
from .step import StepRequest, action_result, check_result, run_check, run_step

KIND = "rds_instance"
REBOOTABLE = frozenset({"available", "incompatible-parameters", "storage-full"})
GONE = frozenset({"deleting", "deleted"})


def describe_instance(identifier: str) -> dict[str, Any]:
    """DescribeDBInstances for one identifier; ``ResourceNotFound`` when it does not exist."""
    with aws_errors(identifier):
        response = aws.client("rds").describe_db_instances(DBInstanceIdentifier=identifier)
    for instance in response.get("DBInstances", []):
        if str(instance.get("DBInstanceIdentifier", "")).lower() == identifier.lower():
            return dict(instance)
    raise ResourceNotFound(f"RDS DB instance {identifier} not found")


def _check(request: StepRequest) -> dict[str, Any]:
    instance = describe_instance(request.resource_id)
    state = str(instance.get("DBInstanceStatus", "unknown")).lower()
    detail = {
        "status": state,
        "engine": instance.get("Engine"),
        "multi_az": bool(instance.get("MultiAZ", False)),
        "availability_zone": instance.get("AvailabilityZone"),
        "secondary_availability_zone": instance.get("SecondaryAvailabilityZone"),
    }
    return check_result(state == "available", state, detail)


def _reboot(request: StepRequest) -> dict[str, Any]:
    identifier = request.resource_id
    instance = describe_instance(identifier)
    status = str(instance.get("DBInstanceStatus", "unknown")).lower()
    if status in GONE:
        raise ResourceNotFound(f"RDS DB instance {identifier} is {status}")
    if status == "rebooting":
        return action_result(
            "reboot", request, False, f"{identifier} is already rebooting; no second reboot"
        )
    if status not in REBOOTABLE:
        return action_result(
            "reboot", request, False, f"{identifier} is {status}; not rebootable now, nothing done"
        )
    failover = bool(instance.get("MultiAZ")) and not instance.get("DBClusterIdentifier")
    how = "reboot with failover" if failover else "reboot"
    if request.dry_run:
        return action_result(
            "reboot", request, False, f"dry run: would {how} {identifier} ({status})"
        )
    with aws_errors(identifier):
        if failover:
            aws.client("rds").reboot_db_instance(
                DBInstanceIdentifier=identifier, ForceFailover=True
            )
        else:
            aws.client("rds").reboot_db_instance(DBInstanceIdentifier=identifier)
    return action_result("reboot", request, True, f"{how} issued for {identifier} (was {status})")


def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Healthy iff ``DBInstanceStatus`` is ``available``; ``state`` is that status."""
    return run_check("rds.check", event, context, KIND, _check)


def reboot(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """RebootDBInstance (ForceFailover when Multi-AZ); see the module docstring for states."""
    return run_step("rds.reboot", event, context, KIND, _reboot)
