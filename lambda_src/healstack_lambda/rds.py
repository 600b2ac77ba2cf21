"""RDS DB instance check and reboot.

Check: ``state`` is the ``DBInstanceStatus`` lower-cased; healthy iff ``available`` (and
``skip`` is null). ``skip`` (see ``healstack_lambda.step``), in this order after reading
the instance (DescribeDBInstances, whose ``TagList`` carries its tags):

- ``not_in_scope``: the instance lacks the tag ``HEALSTACK_REQUIRE_TAG`` names.
- ``stopped_on_purpose``: ``stopped``, ``stopping`` (someone stopped it; RDS also restarts
  a stopped instance on its own after 7 days), ``delete-precheck``, ``deleting`` (someone
  is deleting it).
- ``changing``: a status in which RDS is carrying out a change someone asked for or its
  own maintenance (the "Viewing Amazon RDS DB instance status" table of the RDS User
  Guide): ``backing-up``, ``configuring-*`` (enhanced monitoring, IAM database auth, log
  exports, ...), ``converting-to-vpc``, ``creating``, ``maintenance``, ``modifying``,
  ``moving-to-vpc``, ``rebooting``, ``renaming``, ``resetting-master-credentials``,
  ``starting``, ``storage-config-upgrade``, ``storage-initialization``,
  ``storage-optimization``, ``upgrading``. A reboot there would interrupt that change.
- anything else not ``available`` (``failed``, ``storage-full``, ``incompatible-*``,
  ``inaccessible-encryption-credentials*``, ``insufficient-capacity``, ``restore-error``,
  ...) is a recovery case: ``skip`` null.

Scope in actions: ``reboot`` raises ``NotInScope`` before any mutating call, dry runs
included, when the instance lacks the required tag.

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
from .kinds.rds_instance import DB_INSTANCE_CHANGES
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

KIND = "rds_instance"
REBOOTABLE = frozenset({"available", "incompatible-parameters", "storage-full"})
GONE = frozenset({"deleting", "deleted"})
STOPPED = frozenset({"stopped", "stopping", "delete-precheck", "deleting"})
CHANGES = DB_INSTANCE_CHANGES


def skip_for(status: str) -> str | None:
    """``stopped_on_purpose``, ``changing`` or None for a lower-case ``DBInstanceStatus``."""
    if status in STOPPED:
        return STOPPED_ON_PURPOSE
    if status in CHANGES or status.startswith("configuring-"):
        return CHANGING
    return None


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
    if not in_scope(tag_map(instance.get("TagList"))):
        return check_result(False, state, detail, NOT_IN_SCOPE)
    return check_result(state == "available", state, detail, skip_for(state))


def _reboot(request: StepRequest) -> dict[str, Any]:
    identifier = request.resource_id
    instance = describe_instance(identifier)
    require_scope(tag_map(instance.get("TagList")), f"RDS DB instance {identifier}")
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
    """Healthy iff ``DBInstanceStatus`` is ``available``; ``state`` is that status; ``skip``
    as in the module docstring."""
    return run_check("rds.check", event, context, KIND, _check)


def reboot(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """RebootDBInstance (ForceFailover when Multi-AZ); see the module docstring for states."""
    return run_step("rds.reboot", event, context, KIND, _reboot)
