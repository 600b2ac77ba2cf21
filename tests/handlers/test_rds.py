"""RDS check and reboot against real moto DB instances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from moto.rds.models import rds_backends

from healstack_lambda import aws, rds
from healstack_lambda.errors import (
    InvalidInput,
    NotPermitted,
    ResourceNotFound,
    Throttled,
    TransientError,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
DB = "orders-db-prod"

StepEvent = Callable[..., dict[str, Any]]
Recorder = Callable[[Any, str], list[dict[str, Any]]]


@pytest.fixture
def rds_client() -> Any:
    return aws.client("rds")


@pytest.fixture
def make_db(rds_client: Any) -> Callable[..., str]:
    def make(multi_az: bool = True) -> str:
        rds_client.create_db_instance(
            DBInstanceIdentifier=DB,
            DBInstanceClass="db.t3.medium",
            Engine="postgres",
            MasterUsername="orders",
            MasterUserPassword="correct-horse-battery",
            AllocatedStorage=20,
            MultiAZ=multi_az,
        )
        return DB

    return make


def set_moto_status(status: str) -> None:
    rds_backends[ACCOUNT][REGION].databases[DB].status = status


def test_check_on_available_instance_is_healthy(
    make_db: Callable[..., str], step_event: StepEvent
) -> None:
    result = rds.check(step_event(make_db()), None)

    assert result["healthy"] is True
    assert result["state"] == "available"
    assert result["detail"]["multi_az"] is True
    assert result["detail"]["engine"] == "postgres"


@pytest.mark.parametrize("status", ["rebooting", "storage-full", "failed"])
def test_check_on_instance_that_is_not_available_is_unhealthy_and_reports_the_status(
    make_db: Callable[..., str], step_event: StepEvent, status: str
) -> None:
    make_db()
    set_moto_status(status)

    result = rds.check(step_event(DB), None)

    assert (result["healthy"], result["state"]) == (False, status)


def test_check_on_missing_instance_raises_resource_not_found(step_event: StepEvent) -> None:
    with pytest.raises(ResourceNotFound, match=r"no-such-db.*DBInstanceNotFound"):
        rds.check(step_event("no-such-db"), None)


def test_check_refuses_an_identifier_rds_would_never_accept(step_event: StepEvent) -> None:
    with pytest.raises(InvalidInput, match="RDS DB instance identifier"):
        rds.check(step_event("1-starts-with-digit"), None)


def test_reboot_of_multi_az_instance_forces_a_failover(
    make_db: Callable[..., str], rds_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    calls = record_calls(rds_client, "RebootDBInstance")

    result = rds.reboot(step_event(make_db(multi_az=True)), None)

    assert calls == [{"DBInstanceIdentifier": DB, "ForceFailover": True}]
    assert result == {
        "action": "reboot",
        "resource_id": DB,
        "changed": True,
        "dry_run": False,
        "message": f"reboot with failover issued for {DB} (was available)",
    }


def test_reboot_of_single_az_instance_does_not_ask_for_failover(
    make_db: Callable[..., str], rds_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    calls = record_calls(rds_client, "RebootDBInstance")

    result = rds.reboot(step_event(make_db(multi_az=False)), None)

    assert calls == [{"DBInstanceIdentifier": DB}]
    assert result["changed"] is True


def test_reboot_dry_run_makes_no_call(
    make_db: Callable[..., str], rds_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    calls = record_calls(rds_client, "RebootDBInstance")

    result = rds.reboot(step_event(make_db(), dry_run=True), None)

    assert calls == []
    assert result["changed"] is False
    assert result["message"] == f"dry run: would reboot with failover {DB} (available)"


def test_reboot_while_already_rebooting_is_a_noop_that_says_so(
    make_db: Callable[..., str], rds_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    make_db()
    set_moto_status("rebooting")
    calls = record_calls(rds_client, "RebootDBInstance")

    result = rds.reboot(step_event(DB), None)

    assert calls == []
    assert result["changed"] is False
    assert result["message"] == f"{DB} is already rebooting; no second reboot"


def test_reboot_of_stopped_instance_is_a_noop_naming_the_status(
    make_db: Callable[..., str], rds_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    make_db()
    rds_client.stop_db_instance(DBInstanceIdentifier=DB)
    calls = record_calls(rds_client, "RebootDBInstance")

    result = rds.reboot(step_event(DB), None)

    assert calls == []
    assert result["changed"] is False
    assert "is stopped; not rebootable now" in result["message"]


def test_reboot_of_instance_being_deleted_raises_resource_not_found(
    make_db: Callable[..., str], step_event: StepEvent
) -> None:
    make_db()
    set_moto_status("deleting")

    with pytest.raises(ResourceNotFound, match="deleting"):
        rds.reboot(step_event(DB), None)


def test_reboot_of_missing_instance_raises_resource_not_found(step_event: StepEvent) -> None:
    with pytest.raises(ResourceNotFound, match="DBInstanceNotFound"):
        rds.reboot(step_event("no-such-db"), None)


@pytest.mark.parametrize(
    ("method", "code", "expected"),
    [
        ("describe_db_instances", "Throttling", Throttled),
        ("describe_db_instances", "InternalFailure", TransientError),
        ("reboot_db_instance", "AccessDenied", NotPermitted),
    ],
)
def test_aws_errors_map_to_routable_error_types(
    make_db: Callable[..., str],
    rds_client: Any,
    step_event: StepEvent,
    inject_error: Callable[[Any, str, str], None],
    method: str,
    code: str,
    expected: type[Exception],
) -> None:
    make_db()
    inject_error(rds_client, method, code)

    with pytest.raises(expected, match=rf"{DB} failed: {code}"):
        rds.reboot(step_event(DB), None)
