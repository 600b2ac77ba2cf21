"""EC2 check, reboot, stop and start against real moto instances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.ec2.models import ec2_backends
from moto.ec2.models.instances import Instance

from healstack_lambda import aws, ec2
from healstack_lambda.errors import (
    InvalidInput,
    NotInScope,
    NotPermitted,
    ResourceNotFound,
    StateNotReached,
    Throttled,
    TransientError,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
MISSING_ID = "i-0123456789abcdef0"

StepEvent = Callable[..., dict[str, Any]]
Recorder = Callable[[Any, str], list[dict[str, Any]]]


@pytest.fixture
def ec2_client() -> Any:
    return aws.client("ec2")


@pytest.fixture
def instance_id(ec2_client: Any) -> str:
    response = ec2_client.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )
    return str(response["Instances"][0]["InstanceId"])


def moto_state(ec2_client: Any, instance_id: str) -> str:
    reservations = ec2_client.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(reservations[0]["Instances"][0]["State"]["Name"])


#: what the workflow passes each action when this execution's own stop stopped the instance
OWN_STOP = {"own_stop": True}


def params_for(action: Any) -> dict[str, Any]:
    return OWN_STOP if action is ec2.start else {}


def force_moto_state(instance_id: str, name: str, code: int) -> None:
    """Put a moto instance into a transitional state moto never holds on its own."""
    instance = ec2_backends[ACCOUNT][REGION].get_instance(instance_id)
    instance._state.name = name
    instance._state.code = code


# --- check -------------------------------------------------------------------------------


def test_check_on_running_instance_with_ok_statuses_is_healthy(
    instance_id: str, step_event: StepEvent
) -> None:
    result = ec2.check(step_event(instance_id), None)

    assert result["healthy"] is True
    assert result["state"] == "running"
    assert result["detail"]["system_status"] == "ok"
    assert result["detail"]["instance_status"] == "ok"


def test_stopped_instance_is_skipped_not_started(
    instance_id: str, ec2_client: Any, step_event: StepEvent
) -> None:
    ec2_client.stop_instances(InstanceIds=[instance_id])

    result = ec2.check(step_event(instance_id), None)

    assert result == {
        "healthy": False,
        "state": "stopped",
        "detail": {
            "instance_state": "stopped",
            "system_status": "not-applicable",
            "instance_status": "not-applicable",
            "availability_zone": "us-east-1a",
        },
        "skip": "stopped_on_purpose",
    }


@pytest.mark.parametrize(
    ("state", "code", "skip"),
    [
        ("stopping", 64, "stopped_on_purpose"),
        ("shutting-down", 32, "stopped_on_purpose"),
        ("pending", 0, "changing"),
    ],
)
def test_an_instance_someone_else_is_stopping_or_starting_is_skipped(
    instance_id: str, step_event: StepEvent, state: str, code: int, skip: str
) -> None:
    force_moto_state(instance_id, state, code)

    result = ec2.check(step_event(instance_id), None)

    assert (result["healthy"], result["state"], result["skip"]) == (False, state, skip)


def test_a_healthy_or_failing_running_instance_has_no_skip(
    instance_id: str, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ec2.check(step_event(instance_id), None)["skip"] is None
    monkeypatch.setattr(Instance, "instance_status", property(lambda self: {"Status": "impaired"}))

    result = ec2.check(step_event(instance_id), None)

    assert (result["healthy"], result["skip"]) == (False, None)


def test_a_wait_until_poll_compares_the_state_and_only_reports_the_skip(
    instance_id: str, ec2_client: Any, step_event: StepEvent
) -> None:
    ec2_client.stop_instances(InstanceIds=[instance_id])

    reached = ec2.check(step_event(instance_id, params={"expect_state": "stopped"}), None)

    assert (reached["state"], reached["skip"]) == ("stopped", "stopped_on_purpose")
    with pytest.raises(StateNotReached, match="is stopped, waiting for running"):
        ec2.check(step_event(instance_id, params={"expect_state": "running"}), None)


@pytest.mark.parametrize(
    "status",
    [
        {"Status": "impaired", "Details": [{"Name": "reachability", "Status": "failed"}]},
        {"Status": "initializing"},
        {},
    ],
    ids=["impaired", "initializing", "missing"],
)
def test_check_on_running_instance_with_failed_or_missing_status_is_unhealthy(
    instance_id: str,
    step_event: StepEvent,
    monkeypatch: pytest.MonkeyPatch,
    status: dict[str, Any],
) -> None:
    monkeypatch.setattr(Instance, "instance_status", property(lambda self: status))

    result = ec2.check(step_event(instance_id), None)

    assert result["healthy"] is False
    assert result["state"] == "running"
    assert result["detail"]["system_status"] == "ok"
    assert result["detail"]["instance_status"] == (status.get("Status") or "missing")


def test_check_on_terminated_instance_raises_resource_not_found_saying_terminated(
    instance_id: str, ec2_client: Any, step_event: StepEvent
) -> None:
    ec2_client.terminate_instances(InstanceIds=[instance_id])

    with pytest.raises(ResourceNotFound, match="terminated"):
        ec2.check(step_event(instance_id), None)


def test_check_on_unknown_instance_raises_resource_not_found_naming_it(
    step_event: StepEvent,
) -> None:
    with pytest.raises(ResourceNotFound, match=f"{MISSING_ID}.*InvalidInstanceID.NotFound"):
        ec2.check(step_event(MISSING_ID), None)


# --- reboot ------------------------------------------------------------------------------


def test_reboot_on_running_instance_issues_reboot(
    instance_id: str, ec2_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    calls = record_calls(ec2_client, "RebootInstances")

    result = ec2.reboot(step_event(instance_id, state="Reboot"), None)

    assert calls == [{"InstanceIds": [instance_id]}]
    assert result == {
        "action": "reboot",
        "resource_id": instance_id,
        "changed": True,
        "dry_run": False,
        "message": f"reboot issued for {instance_id} (was running)",
    }
    assert moto_state(ec2_client, instance_id) == "running"


def test_reboot_dry_run_reports_what_it_would_do_and_changes_nothing(
    instance_id: str, ec2_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    calls = record_calls(ec2_client, "RebootInstances")

    result = ec2.reboot(step_event(instance_id, dry_run=True), None)

    assert calls == []
    assert result["changed"] is False
    assert result["dry_run"] is True
    assert result["message"] == f"dry run: would reboot {instance_id} (running)"


def test_reboot_on_stopped_instance_is_a_noop_that_says_so(
    instance_id: str, ec2_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    ec2_client.stop_instances(InstanceIds=[instance_id])
    calls = record_calls(ec2_client, "RebootInstances")

    result = ec2.reboot(step_event(instance_id), None)

    assert calls == []
    assert result["changed"] is False
    assert "is stopped" in result["message"]
    assert moto_state(ec2_client, instance_id) == "stopped"


# --- stop --------------------------------------------------------------------------------


def test_stop_on_running_instance_stops_it_and_returns_at_once(
    instance_id: str, ec2_client: Any, step_event: StepEvent
) -> None:
    result = ec2.stop(step_event(instance_id), None)

    assert result["changed"] is True
    assert result["action"] == "stop"
    assert "poll check until stopped" in result["message"]
    assert moto_state(ec2_client, instance_id) in ("stopping", "stopped")


def test_stop_dry_run_leaves_the_instance_running(
    instance_id: str, ec2_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    calls = record_calls(ec2_client, "StopInstances")

    result = ec2.stop(step_event(instance_id, dry_run=True), None)

    assert calls == []
    assert result["changed"] is False
    assert result["message"] == f"dry run: would stop {instance_id} (running)"
    assert moto_state(ec2_client, instance_id) == "running"


def test_stop_on_stopped_instance_is_a_noop_that_says_so(
    instance_id: str, ec2_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    ec2_client.stop_instances(InstanceIds=[instance_id])
    calls = record_calls(ec2_client, "StopInstances")

    result = ec2.stop(step_event(instance_id), None)

    assert calls == []
    assert result["changed"] is False
    assert result["message"] == f"{instance_id} is already stopped; nothing to do"


def test_stop_on_stopping_instance_is_a_noop_unless_forced(
    instance_id: str, ec2_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    force_moto_state(instance_id, "stopping", 64)
    calls = record_calls(ec2_client, "StopInstances")

    plain = ec2.stop(step_event(instance_id), None)
    forced = ec2.stop(step_event(instance_id, params={"force": True}), None)

    assert plain["changed"] is False
    assert "already stopping" in plain["message"]
    assert calls == [{"InstanceIds": [instance_id], "Force": True}]
    assert forced["changed"] is True
    assert forced["message"].startswith(f"force stop issued for {instance_id} (was stopping")


def test_stop_on_pending_instance_raises_transient_error_so_the_workflow_retries(
    instance_id: str, step_event: StepEvent
) -> None:
    force_moto_state(instance_id, "pending", 0)

    with pytest.raises(TransientError, match="pending"):
        ec2.stop(step_event(instance_id), None)


def test_stop_refuses_a_non_boolean_force_param(instance_id: str, step_event: StepEvent) -> None:
    with pytest.raises(InvalidInput, match=r"params\.force"):
        ec2.stop(step_event(instance_id, params={"force": "yes"}), None)


# --- start -------------------------------------------------------------------------------


def test_start_on_stopped_instance_starts_it(
    instance_id: str, ec2_client: Any, step_event: StepEvent
) -> None:
    ec2_client.stop_instances(InstanceIds=[instance_id])

    result = ec2.start(step_event(instance_id, params=OWN_STOP), None)

    assert result["changed"] is True
    assert result["message"].startswith(f"start issued for {instance_id} (was stopped")
    assert moto_state(ec2_client, instance_id) in ("pending", "running")


def test_start_on_running_instance_is_a_noop_that_says_so(
    instance_id: str, ec2_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    calls = record_calls(ec2_client, "StartInstances")

    result = ec2.start(step_event(instance_id, params=OWN_STOP), None)

    assert calls == []
    assert result["changed"] is False
    assert result["message"] == f"{instance_id} is already running; nothing to do"


def test_start_dry_run_leaves_the_instance_stopped(
    instance_id: str, ec2_client: Any, step_event: StepEvent
) -> None:
    ec2_client.stop_instances(InstanceIds=[instance_id])

    result = ec2.start(step_event(instance_id, dry_run=True, params=OWN_STOP), None)

    assert result["changed"] is False
    assert result["dry_run"] is True
    assert result["message"] == f"dry run: would start {instance_id} (stopped)"
    assert moto_state(ec2_client, instance_id) == "stopped"


def test_start_on_stopping_instance_raises_transient_error(
    instance_id: str, step_event: StepEvent
) -> None:
    force_moto_state(instance_id, "stopping", 64)

    with pytest.raises(TransientError, match="stopping"):
        ec2.start(step_event(instance_id, params=OWN_STOP), None)


# --- start only undoes this execution's own stop (H1) ---------------------------------------


def test_start_without_own_stop_never_calls_start_instances(
    instance_id: str, ec2_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    ec2_client.stop_instances(InstanceIds=[instance_id])  # stopped by someone else
    calls = record_calls(ec2_client, "StartInstances")

    result = ec2.start(step_event(instance_id, params={"own_stop": False}), None)

    assert calls == []
    assert moto_state(ec2_client, instance_id) == "stopped"
    assert result == {
        "action": "start",
        "resource_id": instance_id,
        "changed": False,
        "dry_run": False,
        "message": (
            f"not starting {instance_id} (stopped): start only undoes a stop made by this "
            "execution, and this execution stopped nothing"
        ),
    }


def test_start_without_own_stop_in_a_dry_run_says_it_would_not_start(
    instance_id: str, ec2_client: Any, step_event: StepEvent
) -> None:
    ec2_client.stop_instances(InstanceIds=[instance_id])

    result = ec2.start(step_event(instance_id, dry_run=True, params={"own_stop": False}), None)

    assert result["changed"] is False
    assert result["message"].startswith(f"dry run: would not start {instance_id} (stopped): ")


def test_start_requires_the_own_stop_param(instance_id: str, step_event: StepEvent) -> None:
    with pytest.raises(InvalidInput, match=r"params\.own_stop is required"):
        ec2.start(step_event(instance_id), None)
    with pytest.raises(InvalidInput, match=r"params\.own_stop must be a boolean"):
        ec2.start(step_event(instance_id, params={"own_stop": "yes"}), None)


def test_stop_reports_whether_it_stopped_the_instance_itself(
    instance_id: str, ec2_client: Any, step_event: StepEvent
) -> None:
    dry = ec2.stop(step_event(instance_id, dry_run=True), None)
    issued = ec2.stop(step_event(instance_id), None)
    again = ec2.stop(step_event(instance_id), None)

    assert (dry["changed"], dry["stopped_here"]) == (False, True)  # it would have
    assert (issued["changed"], issued["stopped_here"]) == (True, True)
    assert (again["changed"], again["stopped_here"]) == (False, False)
    assert set(issued) == {"action", "resource_id", "changed", "dry_run", "message", "stopped_here"}


def test_the_default_playbook_leaves_an_instance_stopped_on_purpose_stopped(
    instance_id: str, ec2_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    """The review's H1 path, step by step: check, stop, wait until stopped, start."""
    ec2_client.stop_instances(InstanceIds=[instance_id])  # quarantined by incident response
    starts = record_calls(ec2_client, "StartInstances")

    check = ec2.check(step_event(instance_id), None)
    stop = ec2.stop(step_event(instance_id), None)
    start = ec2.start(step_event(instance_id, params={"own_stop": stop["stopped_here"]}), None)

    assert check["skip"] == "stopped_on_purpose"  # the workflow stops here already
    assert stop["stopped_here"] is False
    assert start["changed"] is False and starts == []
    assert moto_state(ec2_client, instance_id) == "stopped"


def test_start_after_this_executions_own_stop_starts_it_again(
    instance_id: str, ec2_client: Any, step_event: StepEvent
) -> None:
    stop = ec2.stop(step_event(instance_id), None)

    start = ec2.start(step_event(instance_id, params={"own_stop": stop["stopped_here"]}), None)

    assert start["changed"] is True
    assert moto_state(ec2_client, instance_id) in ("pending", "running")


# --- scope: HEALSTACK_REQUIRE_TAG (H2) --------------------------------------------------------


@pytest.fixture
def require_tag(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HEALSTACK_REQUIRE_TAG", "healstack=enabled")
    return "healstack=enabled"


def tag(ec2_client: Any, instance_id: str, value: str = "enabled") -> None:
    ec2_client.create_tags(Resources=[instance_id], Tags=[{"Key": "healstack", "Value": value}])


def test_untagged_instance_is_not_in_scope_for_the_check(
    instance_id: str, step_event: StepEvent, require_tag: str
) -> None:
    result = ec2.check(step_event(instance_id), None)

    assert (result["healthy"], result["state"], result["skip"]) == (
        False,
        "running",
        "not_in_scope",
    )


def test_scope_is_decided_before_the_state(
    instance_id: str, ec2_client: Any, step_event: StepEvent, require_tag: str
) -> None:
    ec2_client.stop_instances(InstanceIds=[instance_id])

    assert ec2.check(step_event(instance_id), None)["skip"] == "not_in_scope"


def test_a_tag_with_another_value_is_not_in_scope(
    instance_id: str, ec2_client: Any, step_event: StepEvent, require_tag: str
) -> None:
    tag(ec2_client, instance_id, value="Enabled")

    assert ec2.check(step_event(instance_id), None)["skip"] == "not_in_scope"


def test_a_tagged_instance_is_checked_as_usual(
    instance_id: str, ec2_client: Any, step_event: StepEvent, require_tag: str
) -> None:
    tag(ec2_client, instance_id)

    result = ec2.check(step_event(instance_id), None)

    assert (result["healthy"], result["skip"]) == (True, None)


@pytest.mark.parametrize("dry_run", [False, True], ids=["live", "dry-run"])
@pytest.mark.parametrize(
    ("action", "operation"),
    [
        (ec2.reboot, "RebootInstances"),
        (ec2.stop, "StopInstances"),
        (ec2.start, "StartInstances"),
    ],
    ids=["reboot", "stop", "start"],
)
def test_every_action_on_an_untagged_instance_raises_not_in_scope_and_changes_nothing(
    instance_id: str,
    ec2_client: Any,
    step_event: StepEvent,
    record_calls: Recorder,
    require_tag: str,
    action: Any,
    operation: str,
    dry_run: bool,
) -> None:
    if action is ec2.start:
        ec2_client.stop_instances(InstanceIds=[instance_id])
    before = moto_state(ec2_client, instance_id)
    calls = record_calls(ec2_client, operation)

    with pytest.raises(
        NotInScope, match=rf"{instance_id} does not carry the tag healstack=enabled"
    ):
        action(step_event(instance_id, dry_run=dry_run, params=params_for(action)), None)
    assert calls == []
    assert moto_state(ec2_client, instance_id) == before


def test_actions_on_a_tagged_instance_go_ahead(
    instance_id: str, ec2_client: Any, step_event: StepEvent, require_tag: str
) -> None:
    tag(ec2_client, instance_id)

    assert ec2.reboot(step_event(instance_id), None)["changed"] is True
    assert ec2.stop(step_event(instance_id), None)["changed"] is True


@pytest.mark.parametrize("value", ["healstack", "=enabled"])
def test_an_unreadable_required_tag_stops_the_step(
    instance_id: str, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HEALSTACK_REQUIRE_TAG", value)

    with pytest.raises(InvalidInput, match="HEALSTACK_REQUIRE_TAG"):
        ec2.check(step_event(instance_id), None)
    with pytest.raises(InvalidInput, match="HEALSTACK_REQUIRE_TAG"):
        ec2.reboot(step_event(instance_id), None)


def test_an_empty_required_tag_means_no_tag_is_required(
    instance_id: str, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALSTACK_REQUIRE_TAG", "")

    assert ec2.check(step_event(instance_id), None)["skip"] is None


# --- not found and error mapping -----------------------------------------------------------


@pytest.mark.parametrize("action", [ec2.reboot, ec2.stop, ec2.start])
def test_actions_on_terminated_instance_raise_resource_not_found_saying_terminated(
    instance_id: str, ec2_client: Any, step_event: StepEvent, action: Any
) -> None:
    ec2_client.terminate_instances(InstanceIds=[instance_id])

    with pytest.raises(ResourceNotFound, match=f"{instance_id} is terminated"):
        action(step_event(instance_id, params=params_for(action)), None)


@pytest.mark.parametrize("action", [ec2.reboot, ec2.stop, ec2.start])
def test_actions_on_unknown_instance_raise_resource_not_found(
    step_event: StepEvent, action: Any
) -> None:
    with pytest.raises(ResourceNotFound, match=MISSING_ID):
        action(step_event(MISSING_ID, params=params_for(action)), None)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("UnauthorizedOperation", NotPermitted),
        ("AuthFailure", NotPermitted),
        ("RequestLimitExceeded", Throttled),
        ("InternalError", TransientError),
    ],
)
def test_describe_errors_map_to_routable_error_types(
    instance_id: str,
    ec2_client: Any,
    step_event: StepEvent,
    inject_error: Callable[[Any, str, str], None],
    code: str,
    expected: type[Exception],
) -> None:
    inject_error(ec2_client, "describe_instance_status", code)

    with pytest.raises(expected, match=rf"{instance_id}.*{code}"):
        ec2.check(step_event(instance_id), None)


def test_access_denied_on_the_stop_call_itself_raises_not_permitted(
    instance_id: str,
    ec2_client: Any,
    step_event: StepEvent,
    inject_error: Callable[[Any, str, str], None],
) -> None:
    inject_error(ec2_client, "stop_instances", "UnauthorizedOperation")

    with pytest.raises(NotPermitted, match="StopInstances"):
        ec2.stop(step_event(instance_id), None)
    assert moto_state(ec2_client, instance_id) == "running"


def test_unmapped_aws_error_is_reraised_unchanged(
    instance_id: str,
    ec2_client: Any,
    step_event: StepEvent,
    inject_error: Callable[[Any, str, str], None],
) -> None:
    inject_error(ec2_client, "reboot_instances", "IncorrectInstanceState")

    with pytest.raises(ClientError) as caught:
        ec2.reboot(step_event(instance_id), None)
    assert caught.value.response["Error"]["Code"] == "IncorrectInstanceState"
