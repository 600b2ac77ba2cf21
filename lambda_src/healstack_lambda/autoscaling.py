"""An EC2 instance in an Auto Scaling group: check it, and have its group replace it.

``resource_id`` is the instance id (one lock per instance). The handlers ask Auto Scaling
which group holds it (DescribeAutoScalingInstances) and read that group
(DescribeAutoScalingGroups); once the instance has left its group they learn the group from
the instance's ``aws:autoscaling:groupName`` tag (DescribeInstances). That tag is not always
there: a group removes it from an instance it detaches (EC2 Auto Scaling User Guide, "Tag Auto
Scaling groups and instances"), and moto 5.2.5 terminates an instance of a group by detaching
it first, so the tag is gone from every instance it replaced. The check therefore also
remembers, per function instance, the group it last saw an instance in: the check before the
action and the polls after it run in the same function, seconds apart. A check that finds
neither reports a terminated instance as ``terminating`` (a poll then waits and gives up; it
never guesses a group).

Scope: the required tag (``HEALSTACK_REQUIRE_TAG``) is read on the **group**, never on the
instance. The IAM condition that limits ``replace`` is ``autoscaling:ResourceTag/<key>`` on
the group's ARN, so the handler checks exactly what IAM enforces (an instance carries a group
tag only if the group propagates it at launch, and anyone who may tag instances could add one).

Check ``state`` (``wait_until`` may name each):

- ``pending``: the instance is launching (``Pending``, ``Pending:Wait``, ``Pending:Proceed``,
  ``Quarantined``);
- ``in_service``: ``InService`` and the group counts it ``Healthy``; healthy only when EC2 also
  reports it running with both status checks ``ok``;
- ``unhealthy``: ``InService`` but the group already counts it ``Unhealthy`` (the group
  replaces it on its own);
- ``standby``: ``EnteringStandby``, ``Standby`` or a warm pool state (``Warmed:*``);
- ``detached``: ``Detaching``/``Detached``, or gone from the group while EC2 still runs it, or
  an instance that was never in a group;
- ``terminating``: ``Terminating``, ``Terminating:Wait``, ``Terminating:Proceed``,
  ``Terminated``, or terminated by EC2 while its group cannot be learned;
- ``replacing``: gone from the group and terminated, while the group has fewer ``InService``
  and ``Healthy`` instances than its desired capacity;
- ``replaced``: terminating or gone from the group, and the group has at least its desired
  capacity ``InService`` and ``Healthy`` without it: healthy, so ``action: replace`` then
  ``wait_until: {state: replaced}`` then ``check: status`` recovers (a terminating lifecycle
  hook that drains the instance for an hour does not keep the recovery waiting once its
  replacement serves).

An instance EC2 no longer knows raises ``ResourceNotFound``, as does a group that no longer
exists.

Check ``skip`` (``healstack_lambda.step``), only when the instance is not healthy, in order:

- ``not_in_scope``: the group lacks the required tag, or the instance is in no group at all;
- ``stopped_on_purpose``: the group is being deleted, or one of its ``Launch``, ``Terminate``,
  ``ReplaceUnhealthy``, ``HealthCheck`` processes is suspended (someone paused its
  replacements), or the instance is ``standby`` or ``detached``;
- ``changing``: the instance is ``pending``, ``unhealthy``, ``terminating`` or ``replacing``,
  or its EC2 status checks are still ``initializing``, or the group is already replacing
  another instance (one not ``InService``/``Healthy`` and not on standby, or fewer instances
  ``InService`` than desired);
- ``at_minimum_capacity``: replacing it would leave the group below its minimum healthy
  capacity (the capacity guard below).

Action ``replace``: TerminateInstanceInAutoScalingGroup with
``ShouldDecrementDesiredCapacity=False``: the group keeps its desired capacity and launches a
replacement. Chosen over SetInstanceHealth(Unhealthy) because its effect is immediate and
observable: the call either terminates the instance or fails, the instance leaves
``InService`` at once (so the next guard of any recovery counts it out), and nothing waits on
the group's own health-check cycle, which a suspended ``ReplaceUnhealthy`` or a grace period
would silently defer while the poll ran out. SetInstanceHealth also only flips a flag in moto
5.2.5, so its recovery could never be simulated. What it gives up: a group's instance
maintenance policy set to launch before terminating is not applied to this call; the guard
below refuses instead whenever that policy's minimum healthy percentage would be crossed.

The capacity guard (never below the group's minimum healthy capacity). Before any call that
changes the group, dry runs included, ``replace`` re-reads the group and refuses, raising
``ReplaceRefused`` (the workflow tells it as a failure with this message, nothing done), when:

- the group's replacement is paused, it is being deleted, or it is already replacing another
  instance (see ``changing`` above): one replacement per group at a time;
- the ``InService`` and ``Healthy`` instances other than this one are fewer than the floor:
  ``MinSize``, or ``ceil(DesiredCapacity x MinHealthyPercentage / 100)`` when the group's
  instance maintenance policy sets a larger one.

Its reads and the terminate are three calls: ``replace`` starts the terminate only with
``CALL_BUDGET_MS`` of the function's time left, else raises ``TransientError`` (retried), so a
terminate is never cut off by the function's timeout. A no-op (``changed: false``, nothing
called) when the instance is already ``pending``, ``unhealthy`` (the group replaces it),
``terminating``, on standby, detached or gone.

What bounds a storm of events for instances of one group: each recovery holds only its own
instance's lock, so two recoveries in the same group can run at once. Each ``replace`` reads
the group immediately before it terminates; the instance it terminates leaves ``InService``
at once, and the group then runs short of its desired capacity, so every later read in that
group sees a replacement under way and refuses (``changing``) until the group is whole again:
replacements in one group are serialized by the group's own state. The one window left is
between one handler's DescribeAutoScalingGroups and its TerminateInstanceInAutoScalingGroup
(one API round trip, ~100 ms): k replaces whose reads all fall inside it act together. That
leaves the group at most k-1 instances below the floor, which is why the guard also requires
the group to be whole (no replacement under way), and the per-instance recovery budget
(``guard.max_recoveries`` per window) and the alarm (one ALARM transition per impairment)
keep k small. Closing it fully needs a group-wide lease, which the step functions do not hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from . import aws
from .errors import HealstackError, NotInScope, ResourceNotFound, TransientError, aws_errors
from .step import (
    AT_MINIMUM_CAPACITY,
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

KIND = "asg_instance"
#: the tag AWS puts on every instance a group launches or attaches
GROUP_TAG = "aws:autoscaling:groupName"
#: processes whose suspension means someone paused the group's replacements
REPLACING_PROCESSES = frozenset({"Launch", "Terminate", "ReplaceUnhealthy", "HealthCheck"})
GONE_EC2_STATES = frozenset({"shutting-down", "terminated"})
#: one call's worst case (``aws``: 1 s to connect, 3 s to read) and room to handle its answer:
#: ``replace`` starts its terminate only with this much of the function's time left
CALL_BUDGET_MS = 4500
#: how many instance -> group facts a function instance remembers (see the module docstring)
REMEMBERED = 2048
_last_group: dict[str, str] = {}


class ReplaceRefused(HealstackError):
    """``replace`` would take the group below its minimum healthy capacity, or the group is
    already replacing, paused or being deleted; nothing was done."""


def lifecycle_state(asg_state: str, health: str) -> str:
    """The check's ``state`` for an instance still listed in its group."""
    if asg_state.startswith("Warmed:"):
        return "terminating" if asg_state.startswith("Warmed:Terminat") else "standby"
    if asg_state.startswith("Pending") or asg_state == "Quarantined":
        return "pending"
    if asg_state.startswith("Terminat"):
        return "terminating"
    if asg_state in ("Detaching", "Detached"):
        return "detached"
    if asg_state in ("EnteringStandby", "Standby"):
        return "standby"
    if asg_state == "InService":
        return "in_service" if health == "Healthy" else "unhealthy"
    return asg_state.lower()


@dataclass(frozen=True)
class Capacity:
    """The group's capacity as one replace would change it (this instance counted out)."""

    min_size: int
    desired: int
    #: the instance maintenance policy's MinHealthyPercentage (None when unset)
    min_healthy_percentage: int | None
    #: InService and Healthy instances other than this one
    healthy_others: int
    #: other instances the group is replacing or launching right now
    busy: tuple[str, ...] = ()
    #: fewer instances InService than desired: the group is launching
    short: bool = False

    @property
    def floor(self) -> int:
        floor = self.min_size
        if self.min_healthy_percentage is not None:
            floor = max(floor, math.ceil(self.desired * self.min_healthy_percentage / 100))
        return floor

    def allows_replacing(self) -> bool:
        return self.healthy_others >= self.floor

    def floor_text(self) -> str:
        why = f"MinSize {self.min_size}"
        if self.min_healthy_percentage is not None and self.floor > self.min_size:
            why = (
                f"{self.min_healthy_percentage}% of desired capacity {self.desired} "
                "(instance maintenance policy)"
            )
        return f"{self.floor} ({why})"

    def detail(self) -> dict[str, Any]:
        return {
            "min_size": self.min_size,
            "desired_capacity": self.desired,
            "min_healthy_percentage": self.min_healthy_percentage,
            "floor": self.floor,
            "healthy_others": self.healthy_others,
            "replacing_others": list(self.busy),
        }


@dataclass(frozen=True)
class Group:
    name: str
    raw: dict[str, Any] = field(repr=False)

    @property
    def tags(self) -> dict[str, str]:
        return tag_map(self.raw.get("Tags"))

    @property
    def label(self) -> str:
        return f"Auto Scaling group {self.name}"

    def member(self, instance_id: str) -> dict[str, Any] | None:
        for instance in self.raw.get("Instances", []):
            if instance.get("InstanceId") == instance_id:
                return dict(instance)
        return None

    def healthy_in_service(self) -> list[str]:
        return [
            str(i.get("InstanceId"))
            for i in self.raw.get("Instances", [])
            if i.get("LifecycleState") == "InService" and i.get("HealthStatus") == "Healthy"
        ]

    def paused_processes(self) -> list[str]:
        suspended = {str(p.get("ProcessName")) for p in self.raw.get("SuspendedProcesses", [])}
        return sorted(suspended & REPLACING_PROCESSES)

    def deleting(self) -> bool:
        return bool(self.raw.get("Status"))  # set only while the group is being deleted

    def capacity(self, instance_id: str) -> Capacity:
        policy = self.raw.get("InstanceMaintenancePolicy") or {}
        percentage = policy.get("MinHealthyPercentage")
        others = [i for i in self.raw.get("Instances", []) if i.get("InstanceId") != instance_id]
        busy = tuple(
            str(i.get("InstanceId"))
            for i in others
            if lifecycle_state(str(i.get("LifecycleState")), str(i.get("HealthStatus")))
            not in ("in_service", "standby", "detached")
        )
        in_service = [
            i for i in self.raw.get("Instances", []) if i.get("LifecycleState") == "InService"
        ]
        desired = int(self.raw.get("DesiredCapacity", 0))
        return Capacity(
            min_size=int(self.raw.get("MinSize", 0)),
            desired=desired,
            min_healthy_percentage=(
                int(percentage) if isinstance(percentage, int) and percentage >= 0 else None
            ),
            healthy_others=len([i for i in self.healthy_in_service() if i != instance_id]),
            busy=busy,
            short=len(in_service) < desired,
        )

    def why_not_replacing(self, instance_id: str) -> tuple[str, str] | None:
        """``(skip code, reason)`` when a replace in this group must not run now, else None."""
        if self.deleting():
            return STOPPED_ON_PURPOSE, f"{self.label} is being deleted"
        paused = self.paused_processes()
        if paused:
            return STOPPED_ON_PURPOSE, (
                f"{self.label} has its {', '.join(paused)} process(es) suspended "
                "(its replacements are paused on purpose)"
            )
        capacity = self.capacity(instance_id)
        if capacity.busy or capacity.short:
            under_way = ", ".join(capacity.busy) or "a launch"
            return CHANGING, (
                f"{self.label} is already replacing ({under_way}); one replacement per group "
                "at a time"
            )
        if not capacity.allows_replacing():
            return AT_MINIMUM_CAPACITY, (
                f"replacing {instance_id} would leave {capacity.healthy_others} InService and "
                f"Healthy instance(s) in {self.label}, below its floor {capacity.floor_text()}"
            )
        return None


def _autoscaling() -> Any:
    return aws.client("autoscaling")


def _remember(instance_id: str, group: str) -> None:
    if len(_last_group) >= REMEMBERED and instance_id not in _last_group:
        _last_group.pop(next(iter(_last_group)))
    _last_group[instance_id] = group


def describe_membership(instance_id: str) -> dict[str, Any] | None:
    """DescribeAutoScalingInstances: the instance's group, lifecycle and health, or None
    when no group lists it."""
    with aws_errors(instance_id):
        response = _autoscaling().describe_auto_scaling_instances(InstanceIds=[instance_id])
    for entry in response.get("AutoScalingInstances", []):
        if entry.get("InstanceId") == instance_id:
            _remember(instance_id, str(entry["AutoScalingGroupName"]))
            return dict(entry)
    return None


def describe_group(name: str, instance_id: str) -> Group:
    """DescribeAutoScalingGroups for one group; ``ResourceNotFound`` when it is gone."""
    with aws_errors(instance_id):
        response = _autoscaling().describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    for group in response.get("AutoScalingGroups", []):
        if group.get("AutoScalingGroupName") == name:
            return Group(name, dict(group))
    raise ResourceNotFound(f"Auto Scaling group {name} of EC2 instance {instance_id} not found")


def describe_instance(instance_id: str) -> dict[str, Any]:
    """DescribeInstances for one instance (its state and tags); ``ResourceNotFound`` when EC2
    does not know it."""
    with aws_errors(instance_id):
        response = aws.client("ec2").describe_instances(InstanceIds=[instance_id])
    for reservation in response.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            if instance.get("InstanceId") == instance_id:
                return dict(instance)
    raise ResourceNotFound(f"EC2 instance {instance_id} not found")


def _ec2_status(instance_id: str) -> dict[str, str]:
    with aws_errors(instance_id):
        response = aws.client("ec2").describe_instance_status(
            InstanceIds=[instance_id], IncludeAllInstances=True
        )
    for status in response.get("InstanceStatuses", []):
        if status.get("InstanceId") == instance_id:
            return {
                "instance_state": str(status.get("InstanceState", {}).get("Name", "unknown")),
                "system_status": str(status.get("SystemStatus", {}).get("Status", "missing")),
                "instance_status": str(status.get("InstanceStatus", {}).get("Status", "missing")),
            }
    raise ResourceNotFound(f"EC2 instance {instance_id} not found")


def _checks_verdict(status: dict[str, str]) -> str:
    """``ok``, ``failing`` (not running, or a check ``impaired``) or ``pending`` (checks still
    initializing or without data)."""
    checks = (status["system_status"], status["instance_status"])
    if status["instance_state"] != "running" or "impaired" in checks:
        return "failing"
    return "ok" if checks == ("ok", "ok") else "pending"


def _check_member(instance_id: str, membership: dict[str, Any]) -> dict[str, Any]:
    group = describe_group(str(membership["AutoScalingGroupName"]), instance_id)
    member = group.member(instance_id) or membership
    asg_state = str(member.get("LifecycleState", "unknown"))
    health = str(member.get("HealthStatus", "unknown"))
    state = lifecycle_state(asg_state, health)
    capacity = group.capacity(instance_id)
    detail: dict[str, Any] = {
        "group": group.name,
        "lifecycle_state": asg_state,
        "health_status": health,
        **capacity.detail(),
    }
    if not in_scope(group.tags):
        return check_result(False, state, detail, NOT_IN_SCOPE)
    if state == "terminating" and capacity.healthy_others >= capacity.desired:
        # leaving (its lifecycle hooks may hold it in Terminating:Wait for long), and a
        # healthy replacement already in service: the group is whole
        return check_result(True, "replaced", detail)
    verdict = "n/a"
    if state == "in_service":
        status = _ec2_status(instance_id)
        detail.update(status)
        verdict = _checks_verdict(status)
        if verdict == "ok":
            return check_result(True, state, detail)
    blocked = group.why_not_replacing(instance_id)
    if blocked is not None and blocked[0] == STOPPED_ON_PURPOSE:
        return check_result(False, state, {**detail, "why": blocked[1]}, STOPPED_ON_PURPOSE)
    if state in ("standby", "detached"):
        return check_result(False, state, detail, STOPPED_ON_PURPOSE)
    if state != "in_service" or verdict == "pending":
        return check_result(False, state, detail, CHANGING)
    if blocked is not None:
        return check_result(False, state, {**detail, "why": blocked[1]}, blocked[0])
    return check_result(False, state, detail)


def _check_departed(instance_id: str) -> dict[str, Any]:
    """The instance is in no group now: replaced, being replaced, or detached."""
    instance = describe_instance(instance_id)
    ec2_state = str(instance.get("State", {}).get("Name", "unknown"))
    name = tag_map(instance.get("Tags")).get(GROUP_TAG) or _last_group.get(instance_id)
    detail: dict[str, Any] = {"group": name, "instance_state": ec2_state}
    if name is None:
        if ec2_state in GONE_EC2_STATES:
            return check_result(False, "terminating", detail, CHANGING)
        return check_result(False, "detached", {**detail, "why": "in no group"}, NOT_IN_SCOPE)
    group = describe_group(name, instance_id)
    if not in_scope(group.tags):
        state = "replacing" if ec2_state in GONE_EC2_STATES else "detached"
        return check_result(False, state, detail, NOT_IN_SCOPE)
    if ec2_state not in GONE_EC2_STATES:
        return check_result(False, "detached", detail, STOPPED_ON_PURPOSE)
    healthy = len(group.healthy_in_service())
    desired = int(group.raw.get("DesiredCapacity", 0))
    detail.update({"healthy_in_service": healthy, "desired_capacity": desired})
    if healthy >= desired:
        return check_result(True, "replaced", detail)
    return check_result(False, "replacing", detail, CHANGING)


def _check(request: StepRequest) -> dict[str, Any]:
    instance_id = request.resource_id
    membership = describe_membership(instance_id)
    if membership is None:
        return _check_departed(instance_id)
    return _check_member(instance_id, membership)


def _time_for_one_call(context: Any, instance_id: str) -> None:
    """``TransientError`` (the workflow retries) when the reads took so long that the
    terminate could outlive the function: a terminate whose answer is lost to the function's
    timeout would be reported as a failure though it acted."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining) and remaining() < CALL_BUDGET_MS:
        raise TransientError(
            f"too little time left to terminate {instance_id} and read the answer; retried"
        )


def _replace(request: StepRequest, context: Any) -> dict[str, Any]:
    instance_id = request.resource_id
    membership = describe_membership(instance_id)
    if membership is None:
        ec2_state = str(describe_instance(instance_id).get("State", {}).get("Name", "unknown"))
        if ec2_state in GONE_EC2_STATES:
            return action_result(
                "replace", request, False, f"{instance_id} is already {ec2_state}; nothing done"
            )
        raise NotInScope(
            f"EC2 instance {instance_id} is in no Auto Scaling group; nothing done "
            "(code: not_in_scope)"
        )
    group = describe_group(str(membership["AutoScalingGroupName"]), instance_id)
    require_scope(group.tags, group.label)
    member = group.member(instance_id) or membership
    state = lifecycle_state(
        str(member.get("LifecycleState", "")), str(member.get("HealthStatus", ""))
    )
    if state != "in_service":
        why = {
            "unhealthy": "the group already counts it Unhealthy and replaces it itself",
            "terminating": "it is already being terminated",
            "pending": "it is still launching",
        }.get(state, "it is out of service on purpose")
        message = f"{instance_id} is {state} in {group.name}: {why}; nothing done"
        return action_result("replace", request, False, message)
    blocked = group.why_not_replacing(instance_id)
    if blocked is not None:
        prefix = "dry run: would refuse" if request.dry_run else "refused"
        raise ReplaceRefused(f"replace {instance_id} {prefix}: {blocked[1]}; nothing done")
    capacity = group.capacity(instance_id)
    plan = (
        f"{instance_id} in {group.name} (desired capacity {capacity.desired} kept; "
        f"{capacity.healthy_others} other InService and Healthy, floor {capacity.floor_text()})"
    )
    if request.dry_run:
        return action_result("replace", request, False, f"dry run: would terminate {plan}")
    _time_for_one_call(context, instance_id)
    with aws_errors(instance_id):
        _autoscaling().terminate_instance_in_auto_scaling_group(
            InstanceId=instance_id, ShouldDecrementDesiredCapacity=False
        )
    return action_result(
        "replace",
        request,
        True,
        f"terminated {plan}; the group launches its replacement (poll check until replaced)",
    )


def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The instance's state in its Auto Scaling group; healthy when it is ``in_service`` with
    EC2 status checks ``ok``, or ``replaced`` (see the module docstring)."""
    return run_check("autoscaling.check", event, context, KIND, _check)


def replace(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """TerminateInstanceInAutoScalingGroup(ShouldDecrementDesiredCapacity=False), behind the
    capacity guard (see the module docstring)."""
    return run_step(
        "autoscaling.replace", event, context, KIND, lambda request: _replace(request, context)
    )
