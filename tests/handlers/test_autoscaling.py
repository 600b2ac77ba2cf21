"""Auto Scaling group instances: check and replace against real moto groups, including the
abuse cases (out of scope, dry run, wrong state, not found, the capacity guard under a storm).

moto 5.2.5 launches a group's replacement at once (InService, Healthy) when an instance is
terminated in the group; AWS launches it ``Pending`` and brings it in service minutes later.
The storm tests show AWS's in-between state by reporting moto's new instances as ``Pending``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from healstack_lambda import autoscaling, aws
from healstack_lambda.autoscaling import ReplaceRefused
from healstack_lambda.errors import NotInScope, ResourceNotFound, StateNotReached, TransientError

REGION = "us-east-1"
GROUP = "web"
MISSING_ID = "i-0123456789abcdef0"
SCOPE = {"healstack": "enabled"}

StepEvent = Callable[..., dict[str, Any]]
Recorder = Callable[[Any, str], list[dict[str, Any]]]


@pytest.fixture
def asg() -> Any:
    return aws.client("autoscaling")


@pytest.fixture
def ec2() -> Any:
    return aws.client("ec2")


@pytest.fixture
def scoped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALSTACK_REQUIRE_TAG", "healstack=enabled")


def make_group(
    asg: Any,
    ec2: Any,
    *,
    desired: int = 3,
    min_size: int = 1,
    tags: dict[str, str] | None = None,
    name: str = GROUP,
) -> list[str]:
    """A group from a launch template; its tags propagate to its instances. Returns the
    group's instance ids, sorted."""
    ec2.create_launch_template(
        LaunchTemplateName=f"{name}-lt",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": f"{name}-lt", "Version": "$Latest"},
        MinSize=min_size,
        MaxSize=10,
        DesiredCapacity=desired,
        AvailabilityZones=[f"{REGION}a"],
        Tags=[
            {
                "Key": k,
                "Value": v,
                "PropagateAtLaunch": True,
                "ResourceId": name,
                "ResourceType": "auto-scaling-group",
            }
            for k, v in (SCOPE if tags is None else tags).items()
        ],
    )
    return members(asg, name)


def members(asg: Any, name: str = GROUP) -> list[str]:
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return sorted(str(i["InstanceId"]) for i in group["Instances"])


def group_of(asg: Any, name: str = GROUP) -> dict[str, Any]:
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return dict(groups["AutoScalingGroups"][0])


def ec2_state(ec2: Any, instance_id: str) -> str:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(reservations[0]["Instances"][0]["State"]["Name"])


def healthy_in_service(asg: Any, name: str = GROUP) -> int:
    return sum(
        1
        for i in group_of(asg, name)["Instances"]
        if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy"
    )


def check(step_event: StepEvent, instance_id: str, **params: Any) -> dict[str, Any]:
    return autoscaling.check(step_event(instance_id, params=params), None)


def replace(step_event: StepEvent, instance_id: str, dry_run: bool = False) -> dict[str, Any]:
    return autoscaling.replace(step_event(instance_id, dry_run=dry_run), None)


def launches_pending(monkeypatch: pytest.MonkeyPatch, asg: Any) -> None:
    """From now on report the instances groups launch as ``Pending``, as AWS shows a
    replacement while it boots (moto puts it InService at once)."""
    groups = asg.describe_auto_scaling_groups()["AutoScalingGroups"]
    known = {i["InstanceId"] for group in groups for i in group["Instances"]}
    real = asg.describe_auto_scaling_groups

    def booting(**kwargs: Any) -> Any:
        response = real(**kwargs)
        for group in response["AutoScalingGroups"]:
            for instance in group["Instances"]:
                if instance["InstanceId"] not in known:
                    instance["LifecycleState"] = "Pending"
        return response

    monkeypatch.setattr(asg, "describe_auto_scaling_groups", booting)


@pytest.fixture
def impaired(monkeypatch: pytest.MonkeyPatch, ec2: Any) -> None:
    """EC2 reports every instance's instance status check ``impaired`` (moto's are ``ok``)."""
    real = ec2.describe_instance_status

    def failing(**kwargs: Any) -> Any:
        response = real(**kwargs)
        for status in response["InstanceStatuses"]:
            status["InstanceStatus"]["Status"] = "impaired"
        return response

    monkeypatch.setattr(ec2, "describe_instance_status", failing)


def with_group_fields(monkeypatch: pytest.MonkeyPatch, asg: Any, **fields: Any) -> None:
    """Add fields moto does not model (InstanceMaintenancePolicy, Status) to its real answer."""
    real = asg.describe_auto_scaling_groups

    def described(**kwargs: Any) -> Any:
        response = real(**kwargs)
        for group in response["AutoScalingGroups"]:
            group.update(fields)
        return response

    monkeypatch.setattr(asg, "describe_auto_scaling_groups", described)


# --- check ------------------------------------------------------------------------------------


def test_an_in_service_instance_passing_its_checks_is_healthy(
    asg: Any, ec2: Any, step_event: StepEvent
) -> None:
    first = make_group(asg, ec2)[0]
    result = check(step_event, first)
    assert (result["healthy"], result["state"], result["skip"]) == (True, "in_service", None)
    assert result["detail"]["group"] == GROUP
    assert result["detail"]["healthy_others"] == 2 and result["detail"]["floor"] == 1


def test_an_impaired_instance_the_group_still_counts_healthy_is_a_recovery_case(
    asg: Any, ec2: Any, step_event: StepEvent, impaired: None
) -> None:
    """The group's EC2 health check does not look at the instance status check: the alarm
    sees the impairment before (or instead of) the group."""
    first = make_group(asg, ec2)[0]
    result = check(step_event, first)
    assert (result["healthy"], result["state"], result["skip"]) == (False, "in_service", None)
    assert result["detail"]["instance_status"] == "impaired"


def test_checks_still_initializing_are_changing_never_a_replacement(
    asg: Any, ec2: Any, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_group(asg, ec2)[0]
    real = ec2.describe_instance_status

    def initializing(**kwargs: Any) -> Any:
        response = real(**kwargs)
        for status in response["InstanceStatuses"]:
            status["InstanceStatus"]["Status"] = "initializing"
        return response

    monkeypatch.setattr(ec2, "describe_instance_status", initializing)
    result = check(step_event, first)
    assert (result["healthy"], result["skip"]) == (False, "changing")


def test_replace_then_poll_until_replaced_then_check_recovers(
    asg: Any, ec2: Any, step_event: StepEvent
) -> None:
    """The shipped playbook's steps, handler by handler."""
    first = make_group(asg, ec2)[0]
    result = replace(step_event, first)
    assert result["changed"] is True
    assert "desired capacity 3 kept" in result["message"]
    assert first not in members(asg)
    assert group_of(asg)["DesiredCapacity"] == 3 and len(members(asg)) == 3
    assert ec2_state(ec2, first) == "terminated"
    polled = check(step_event, first, expect_state="replaced")
    assert (polled["healthy"], polled["state"], polled["skip"]) == (True, "replaced", None)
    assert polled["detail"]["healthy_in_service"] == 3
    after = check(step_event, first)
    assert after["healthy"] is True


def test_a_poll_while_the_replacement_boots_is_not_reached_yet(
    asg: Any, ec2: Any, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_group(asg, ec2)[0]
    launches_pending(monkeypatch, asg)
    replace(step_event, first)
    result = check(step_event, first)
    assert (result["state"], result["skip"]) == ("replacing", "changing")
    with pytest.raises(StateNotReached, match="replacing, waiting for replaced"):
        check(step_event, first, expect_state="replaced")


def test_the_group_is_learned_from_the_instance_tag_once_it_has_left(
    asg: Any, ec2: Any, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold function (nothing remembered) reads the group from the instance's
    ``aws:autoscaling:groupName`` tag when the tag is there (moto deletes it: put it back)."""
    first = make_group(asg, ec2)[0]
    replace(step_event, first)
    monkeypatch.setattr(autoscaling, "_last_group", {})
    ec2.create_tags(Resources=[first], Tags=[{"Key": "aws:autoscaling:groupName", "Value": GROUP}])
    assert check(step_event, first)["state"] == "replaced"


def test_a_cold_function_that_cannot_learn_the_group_waits_never_guesses(
    asg: Any, ec2: Any, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_group(asg, ec2)[0]
    replace(step_event, first)
    monkeypatch.setattr(autoscaling, "_last_group", {})
    result = check(step_event, first)
    assert (result["healthy"], result["state"], result["skip"]) == (
        False,
        "terminating",
        "changing",
    )


def test_an_unknown_instance_is_not_found(step_event: StepEvent) -> None:
    with pytest.raises(ResourceNotFound):
        check(step_event, MISSING_ID)
    with pytest.raises(ResourceNotFound):
        replace(step_event, MISSING_ID)


def test_an_instance_in_no_group_is_not_in_scope_and_never_replaced(
    ec2: Any, step_event: StepEvent, record_calls: Recorder, asg: Any
) -> None:
    lone = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
    result = check(step_event, lone["InstanceId"])
    assert (result["state"], result["skip"]) == ("detached", "not_in_scope")
    terminations = record_calls(asg, "TerminateInstanceInAutoScalingGroup")
    with pytest.raises(NotInScope, match="in no Auto Scaling group"):
        replace(step_event, lone["InstanceId"])
    assert terminations == []
    assert ec2_state(ec2, lone["InstanceId"]) == "running"


# --- scope: the group's tag, as IAM's autoscaling:ResourceTag condition -----------------------


def test_a_group_without_the_tag_is_not_in_scope_and_nothing_is_terminated(
    asg: Any, ec2: Any, step_event: StepEvent, scoped: None, record_calls: Recorder
) -> None:
    first = make_group(asg, ec2, tags={"team": "web"})[0]
    assert check(step_event, first)["skip"] == "not_in_scope"
    terminations = record_calls(asg, "TerminateInstanceInAutoScalingGroup")
    for dry_run in (True, False):
        with pytest.raises(NotInScope, match="Auto Scaling group web does not carry"):
            replace(step_event, first, dry_run=dry_run)
    assert terminations == [] and first in members(asg)


def test_the_instances_own_tag_does_not_put_it_in_scope(
    asg: Any, ec2: Any, step_event: StepEvent, scoped: None
) -> None:
    """IAM's condition is on the group; a tag anyone may add to an instance must not widen it."""
    first = make_group(asg, ec2, tags={})[0]
    ec2.create_tags(Resources=[first], Tags=[{"Key": "healstack", "Value": "enabled"}])
    assert check(step_event, first)["skip"] == "not_in_scope"
    with pytest.raises(NotInScope):
        replace(step_event, first)


def test_a_tagged_group_is_in_scope(
    asg: Any, ec2: Any, step_event: StepEvent, scoped: None
) -> None:
    first = make_group(asg, ec2)[0]
    assert check(step_event, first)["healthy"] is True
    assert replace(step_event, first)["changed"] is True


# --- dry run ----------------------------------------------------------------------------------


def test_a_dry_run_says_what_it_would_do_and_terminates_nothing(
    asg: Any, ec2: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    first = make_group(asg, ec2)[0]
    terminations = record_calls(asg, "TerminateInstanceInAutoScalingGroup")
    result = replace(step_event, first, dry_run=True)
    assert (result["changed"], result["dry_run"]) == (False, True)
    assert result["message"].startswith(f"dry run: would terminate {first} in web")
    assert "2 other InService and Healthy, floor 1 (MinSize 1)" in result["message"]
    assert terminations == [] and first in members(asg)


# --- wrong states -----------------------------------------------------------------------------


def test_an_instance_on_standby_is_stopped_on_purpose_and_left_alone(
    asg: Any, ec2: Any, step_event: StepEvent
) -> None:
    first = make_group(asg, ec2)[0]
    asg.enter_standby(
        InstanceIds=[first], AutoScalingGroupName=GROUP, ShouldDecrementDesiredCapacity=True
    )
    result = check(step_event, first)
    assert (result["state"], result["skip"]) == ("standby", "stopped_on_purpose")
    assert replace(step_event, first)["changed"] is False
    assert first in members(asg)


def test_an_instance_the_group_already_marked_unhealthy_is_left_to_the_group(
    asg: Any, ec2: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    first = make_group(asg, ec2)[0]
    asg.set_instance_health(InstanceId=first, HealthStatus="Unhealthy")
    result = check(step_event, first)
    assert (result["state"], result["skip"]) == ("unhealthy", "changing")
    terminations = record_calls(asg, "TerminateInstanceInAutoScalingGroup")
    outcome = replace(step_event, first)
    assert outcome["changed"] is False and "replaces it itself" in outcome["message"]
    assert terminations == []


def test_a_group_whose_replacements_are_suspended_is_stopped_on_purpose(
    asg: Any, ec2: Any, step_event: StepEvent, record_calls: Recorder, impaired: None
) -> None:
    first = make_group(asg, ec2)[0]
    asg.suspend_processes(AutoScalingGroupName=GROUP, ScalingProcesses=["Launch"])
    result = check(step_event, first)
    assert (result["healthy"], result["skip"]) == (False, "stopped_on_purpose")
    assert "Launch process(es) suspended" in result["detail"]["why"]
    terminations = record_calls(asg, "TerminateInstanceInAutoScalingGroup")
    with pytest.raises(ReplaceRefused, match=r"Launch process\(es\) suspended"):
        replace(step_event, first)
    assert terminations == [] and first in members(asg)


def test_a_group_being_deleted_is_stopped_on_purpose(
    asg: Any, ec2: Any, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_group(asg, ec2)[0]
    with_group_fields(monkeypatch, asg, Status="Delete in progress")
    with pytest.raises(ReplaceRefused, match="being deleted"):
        replace(step_event, first)


# --- the capacity guard -----------------------------------------------------------------------


def test_a_group_at_its_minimum_is_never_taken_below_it(
    asg: Any, ec2: Any, step_event: StepEvent, record_calls: Recorder, impaired: None
) -> None:
    (only,) = make_group(asg, ec2, desired=1, min_size=1)
    result = check(step_event, only)
    assert (result["healthy"], result["skip"]) == (False, "at_minimum_capacity")
    assert "below its floor 1 (MinSize 1)" in result["detail"]["why"]
    terminations = record_calls(asg, "TerminateInstanceInAutoScalingGroup")
    with pytest.raises(ReplaceRefused, match="dry run: would refuse: replacing"):
        replace(step_event, only, dry_run=True)
    with pytest.raises(ReplaceRefused, match=r"refused: replacing .* would leave 0 InService"):
        replace(step_event, only)
    assert terminations == [] and members(asg) == [only]


def test_the_instance_maintenance_policy_floor_is_kept(
    asg: Any, ec2: Any, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """desired 3 at MinHealthyPercentage 100: the floor is 3, above MinSize 1; 2 others."""
    first = make_group(asg, ec2, desired=3, min_size=1)[0]
    with_group_fields(
        monkeypatch,
        asg,
        InstanceMaintenancePolicy={"MinHealthyPercentage": 100, "MaxHealthyPercentage": 150},
    )
    with pytest.raises(ReplaceRefused, match=r"below its floor 3 \(100% of desired capacity 3"):
        replace(step_event, first)
    # a policy cleared with -1 leaves MinSize as the floor
    with_group_fields(
        monkeypatch,
        asg,
        InstanceMaintenancePolicy={"MinHealthyPercentage": -1, "MaxHealthyPercentage": -1},
    )
    assert replace(step_event, first)["changed"] is True


def test_a_storm_of_events_for_one_group_replaces_one_at_a_time(
    asg: Any,
    ec2: Any,
    step_event: StepEvent,
    record_calls: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every instance of a group (MinSize 2 of 3) fails at once: one replacement starts, the
    others are refused while it boots, and the group never has fewer than 2 in service."""
    instances = make_group(asg, ec2, desired=3, min_size=2)
    launches_pending(monkeypatch, asg)
    terminations = record_calls(asg, "TerminateInstanceInAutoScalingGroup")
    outcomes: list[str] = []
    for instance_id in instances * 2:  # each event twice: duplicates and retries
        try:
            outcomes.append("changed" if replace(step_event, instance_id)["changed"] else "no-op")
        except ReplaceRefused as refused:
            assert "already replacing" in str(refused)
            outcomes.append("refused")
    assert [c["InstanceId"] for c in terminations] == [instances[0]]
    assert outcomes == ["changed", "refused", "refused", "no-op", "refused", "refused"]
    # as AWS shows the group while the replacement boots: exactly MinSize in service
    assert healthy_in_service(asg) == group_of(asg)["MinSize"] == 2


def test_two_replaces_one_after_the_other_each_keep_the_floor(
    asg: Any, ec2: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    """MinSize 2 of 3, replacements instant (moto): the first replace leaves 2 healthy others
    for the second, which may then act too, one after the other: never fewer than 2."""
    a, b, _ = make_group(asg, ec2, desired=3, min_size=2)
    seen: list[int] = []
    real = asg.terminate_instance_in_auto_scaling_group

    def counted(**kwargs: Any) -> Any:
        seen.append(healthy_in_service(asg) - 1)  # what the group keeps while it replaces
        return real(**kwargs)

    asg.terminate_instance_in_auto_scaling_group = counted
    try:
        assert replace(step_event, a)["changed"] and replace(step_event, b)["changed"]
    finally:
        del asg.terminate_instance_in_auto_scaling_group
    assert seen == [2, 2] and min(seen) >= group_of(asg)["MinSize"]


# --- events: the instance id, however AWS's events name it ------------------------------------


@pytest.mark.parametrize(
    ("sample", "instance_id"),
    [
        # CloudWatch User Guide, "Alarm events and EventBridge" (an alarm on one metric)
        ("cloudwatch-alarm-asg-instance-status-check.json", "i-0b2c3d4e5f6a7b8c9"),
        # EC2 User Guide, "EC2 instance state change events"
        ("ec2-instance-state-change.json", None),
        # AWS Health User Guide, "AWS Health events" (an EC2 issue naming the instance)
        ("aws-health-ec2-issue.json", None),
    ],
)
def test_every_event_shape_of_the_kind_names_the_instance(
    sample: str, instance_id: str | None, sample_event: Callable[[str], dict[str, Any]]
) -> None:
    from healstack_lambda.events import resolve

    event = sample_event(sample)
    found = resolve(
        {"event": event, "target_kind": "asg_instance", "execution_id": "e", "playbook": "p"},
        {},
        check_age=False,
        check_origin=False,
    )
    assert found["resource_id"].startswith("i-")
    if instance_id is not None:
        assert found["resource_id"] == instance_id


def test_an_instance_arn_in_an_event_is_the_same_lock_as_its_id(
    sample_event: Callable[[str], dict[str, Any]],
) -> None:
    from healstack_lambda.events import resolve

    event = sample_event("ec2-instance-state-change.json")
    plain = event["detail"]["instance-id"]
    event["detail"]["instance-id"] = f"arn:aws:ec2:{REGION}:123456789012:instance/{plain}"
    found = resolve(
        {"event": event, "target_kind": "asg_instance", "execution_id": "e", "playbook": "p"},
        {},
        check_age=False,
        check_origin=False,
    )
    assert found["resource_id"] == plain


class _Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_a_terminate_is_not_started_when_the_reads_used_up_the_functions_time(
    asg: Any, ec2: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    first = make_group(asg, ec2)[0]
    terminations = record_calls(asg, "TerminateInstanceInAutoScalingGroup")
    with pytest.raises(TransientError, match="too little time left"):
        autoscaling.replace(step_event(first), _Context(autoscaling.CALL_BUDGET_MS - 1))
    assert terminations == [] and first in members(asg)
    assert autoscaling.replace(step_event(first), _Context(9000))["changed"] is True


def test_a_terminating_instance_whose_replacement_serves_is_replaced(
    asg: Any, ec2: Any, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A terminating lifecycle hook may hold the instance in Terminating:Wait for an hour; the
    group is whole once its replacement is InService and Healthy (shown as AWS would: moto
    has no hooks, so the instance is reported waiting and a fourth one serving)."""
    first, *_ = make_group(asg, ec2, desired=3)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=4)
    real = asg.describe_auto_scaling_groups
    real_instances = asg.describe_auto_scaling_instances

    def waiting(response: Any, key: str) -> Any:
        for entry in response[key]:
            for instance in entry.get("Instances", [entry]):
                if instance["InstanceId"] == first:
                    instance["LifecycleState"] = "Terminating:Wait"
        return response

    def groups(**kwargs: Any) -> Any:
        response = waiting(real(**kwargs), "AutoScalingGroups")
        response["AutoScalingGroups"][0]["DesiredCapacity"] = 3
        return response

    monkeypatch.setattr(asg, "describe_auto_scaling_groups", groups)
    monkeypatch.setattr(
        asg,
        "describe_auto_scaling_instances",
        lambda **kwargs: waiting(real_instances(**kwargs), "AutoScalingInstances"),
    )
    result = check(step_event, first, expect_state="replaced")
    assert (result["healthy"], result["state"]) == (True, "replaced")
    assert result["detail"]["lifecycle_state"] == "Terminating:Wait"
