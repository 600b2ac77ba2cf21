"""RDS check and reboot against real moto DB instances."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from moto.rds.models import rds_backends

from healstack_lambda import aws, rds
from healstack_lambda.errors import (
    InvalidInput,
    NotInScope,
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
    def make(multi_az: bool = True, tags: dict[str, str] | None = None) -> str:
        rds_client.create_db_instance(
            DBInstanceIdentifier=DB,
            DBInstanceClass="db.t3.medium",
            Engine="postgres",
            MasterUsername="orders",
            MasterUserPassword="correct-horse-battery",
            AllocatedStorage=20,
            MultiAZ=multi_az,
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
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


@pytest.mark.parametrize(
    "status",
    ["storage-full", "failed", "incompatible-parameters", "inaccessible-encryption-credentials"],
)
def test_check_on_a_broken_instance_is_unhealthy_and_a_recovery_case(
    make_db: Callable[..., str], step_event: StepEvent, status: str
) -> None:
    make_db()
    set_moto_status(status)

    result = rds.check(step_event(DB), None)

    assert (result["healthy"], result["state"], result["skip"]) == (False, status, None)


@pytest.mark.parametrize("status", ["stopped", "stopping", "delete-precheck", "deleting"])
def test_a_stopped_db_is_skipped_not_rebooted(
    make_db: Callable[..., str], step_event: StepEvent, status: str
) -> None:
    make_db()
    set_moto_status(status)

    result = rds.check(step_event(DB), None)

    assert (result["healthy"], result["state"], result["skip"]) == (
        False,
        status,
        "stopped_on_purpose",
    )


@pytest.mark.parametrize(
    "status",
    [
        "starting",
        "modifying",
        "rebooting",
        "upgrading",
        "backing-up",
        "maintenance",
        "renaming",
        "resetting-master-credentials",
        "configuring-enhanced-monitoring",
        "configuring-log-exports",
        "storage-optimization",
    ],
)
def test_a_db_someone_else_is_changing_is_skipped(
    make_db: Callable[..., str], step_event: StepEvent, status: str
) -> None:
    make_db()
    set_moto_status(status)

    result = rds.check(step_event(DB), None)

    assert (result["healthy"], result["skip"]) == (False, "changing")


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


# --- scope: HEALSTACK_REQUIRE_TAG (H2) --------------------------------------------------------


def test_untagged_db_is_not_in_scope_for_the_check(
    make_db: Callable[..., str], step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_db(tags={"team": "payments"})
    monkeypatch.setenv("HEALSTACK_REQUIRE_TAG", "healstack=enabled")

    result = rds.check(step_event(DB), None)

    assert (result["healthy"], result["state"], result["skip"]) == (
        False,
        "available",
        "not_in_scope",
    )


@pytest.mark.parametrize("dry_run", [False, True], ids=["live", "dry-run"])
def test_reboot_of_an_untagged_db_raises_not_in_scope_and_makes_no_call(
    make_db: Callable[..., str],
    rds_client: Any,
    step_event: StepEvent,
    record_calls: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    dry_run: bool,
) -> None:
    make_db()
    monkeypatch.setenv("HEALSTACK_REQUIRE_TAG", "healstack=enabled")
    calls = record_calls(rds_client, "RebootDBInstance")

    with pytest.raises(NotInScope, match=f"RDS DB instance {DB} does not carry"):
        rds.reboot(step_event(DB, dry_run=dry_run), None)
    assert calls == []


def test_a_tagged_db_is_checked_and_rebooted_as_usual(
    make_db: Callable[..., str], step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_db(tags={"healstack": "enabled"})
    monkeypatch.setenv("HEALSTACK_REQUIRE_TAG", "healstack=enabled")

    assert rds.check(step_event(DB), None)["skip"] is None
    assert rds.reboot(step_event(DB), None)["changed"] is True
