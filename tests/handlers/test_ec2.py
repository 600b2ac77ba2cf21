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
    NotPermitted,
    ResourceNotFound,
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


def test_check_on_stopped_instance_is_unhealthy_with_state_stopped(
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
    }


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

    result = ec2.start(step_event(instance_id), None)

    assert result["changed"] is True
    assert result["message"].startswith(f"start issued for {instance_id} (was stopped")
    assert moto_state(ec2_client, instance_id) in ("pending", "running")


def test_start_on_running_instance_is_a_noop_that_says_so(
    instance_id: str, ec2_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    calls = record_calls(ec2_client, "StartInstances")

    result = ec2.start(step_event(instance_id), None)

    assert calls == []
    assert result["changed"] is False
    assert result["message"] == f"{instance_id} is already running; nothing to do"


def test_start_dry_run_leaves_the_instance_stopped(
    instance_id: str, ec2_client: Any, step_event: StepEvent
) -> None:
    ec2_client.stop_instances(InstanceIds=[instance_id])

    result = ec2.start(step_event(instance_id, dry_run=True), None)

    assert result["changed"] is False
    assert result["dry_run"] is True
    assert result["message"] == f"dry run: would start {instance_id} (stopped)"
    assert moto_state(ec2_client, instance_id) == "stopped"


def test_start_on_stopping_instance_raises_transient_error(
    instance_id: str, step_event: StepEvent
) -> None:
    force_moto_state(instance_id, "stopping", 64)

    with pytest.raises(TransientError, match="stopping"):
        ec2.start(step_event(instance_id), None)


# --- not found and error mapping -----------------------------------------------------------


@pytest.mark.parametrize("action", [ec2.reboot, ec2.stop, ec2.start])
def test_actions_on_terminated_instance_raise_resource_not_found_saying_terminated(
    instance_id: str, ec2_client: Any, step_event: StepEvent, action: Any
) -> None:
    ec2_client.terminate_instances(InstanceIds=[instance_id])

    with pytest.raises(ResourceNotFound, match=f"{instance_id} is terminated"):
        action(step_event(instance_id), None)


@pytest.mark.parametrize("action", [ec2.reboot, ec2.stop, ec2.start])
def test_actions_on_unknown_instance_raise_resource_not_found(
    step_event: StepEvent, action: Any
) -> None:
    with pytest.raises(ResourceNotFound, match=MISSING_ID):
        action(step_event(MISSING_ID), None)


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
