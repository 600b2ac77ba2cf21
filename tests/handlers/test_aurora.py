"""Aurora DB cluster check and failover against real moto clusters (a writer and readers).

The event shapes come from AWS: an "RDS DB Cluster Event" as the Aurora User Guide shows it
("Example of a DB cluster event", USER_Events.overview; AWS's own copy is
tests/data/aws-events/rds-cluster-1.json), RDS-EVENT-0069 "Cluster failover failed" from its
"DB cluster events" table (USER_Events.Messages), and the IAM facts from the Service
Authorization Reference for Amazon RDS (list_amazonrds).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from moto.rds.models import rds_backends

from healstack_lambda import aurora, aws
from healstack_lambda.errors import (
    EventRefused,
    InvalidInput,
    NotInScope,
    ResourceNotFound,
    StateNotReached,
    Throttled,
    TransientError,
)
from healstack_lambda.events import resolve
from healstack_lambda.step import REQUIRE_TAG_ENV
from tests.conftest import REPO

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER = "orders-aurora-prod"
WRITER = "orders-aurora-prod-w"
ENGINE = "aurora-postgresql"
SCOPE = {"healstack": "enabled"}

StepEvent = Callable[..., dict[str, Any]]
Recorder = Callable[[Any, str], list[dict[str, Any]]]


@pytest.fixture
def rds_client() -> Any:
    return aws.client("rds")


@pytest.fixture
def make_cluster(rds_client: Any) -> Callable[..., str]:
    """A cluster whose first instance (``WRITER``, tier 0) is the writer, then ``readers``
    (name -> promotion tier)."""

    def make(
        readers: dict[str, int] | None = None,
        tags: dict[str, str] | None = None,
        writer: bool = True,
    ) -> str:
        tag_list = [{"Key": k, "Value": v} for k, v in (SCOPE if tags is None else tags).items()]
        rds_client.create_db_cluster(
            DBClusterIdentifier=CLUSTER,
            Engine=ENGINE,
            MasterUsername="orders",
            MasterUserPassword="correct-horse-battery",
            Tags=tag_list,
        )
        members = {WRITER: 0} if writer else {}
        members.update({} if readers is None else readers)
        for name, tier in members.items():
            rds_client.create_db_instance(
                DBInstanceIdentifier=name,
                DBClusterIdentifier=CLUSTER,
                Engine=ENGINE,
                DBInstanceClass="db.r6g.large",
                PromotionTier=tier,
            )
        return CLUSTER

    return make


def set_cluster_status(status: str) -> None:
    rds_backends[ACCOUNT][REGION].clusters[CLUSTER].status = status


def set_instance_status(instance: str, status: str) -> None:
    rds_backends[ACCOUNT][REGION].databases[instance].status = status


def writer_now(rds_client: Any) -> str:
    members = rds_client.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0][
        "DBClusterMembers"
    ]
    return str(next(m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"]))


def failover_event(step_event: StepEvent, **params: Any) -> dict[str, Any]:
    return step_event(CLUSTER, state="Failover", params=params)


@pytest.fixture
def scoped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_TAG_ENV, "healstack=enabled")


# -- check -----------------------------------------------------------------------------


def test_check_on_an_available_cluster_and_writer_is_healthy(
    make_cluster: Callable[..., str], step_event: StepEvent
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1})

    result = aurora.check(step_event(CLUSTER), None)

    assert (result["healthy"], result["state"], result["skip"]) == (True, "available", None)
    assert result["detail"]["writer"] == WRITER
    assert result["detail"]["readers"] == [
        {"instance": "orders-aurora-prod-r1", "status": "available", "promotion_tier": 1}
    ]
    assert result["detail"]["available_readers"] == 1


@pytest.mark.parametrize("status", ["failed", "storage-full", "incompatible-parameters"])
def test_a_broken_writer_of_an_available_cluster_is_a_recovery_case(
    make_cluster: Callable[..., str], step_event: StepEvent, status: str
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1})
    set_instance_status(WRITER, status)

    result = aurora.check(step_event(CLUSTER), None)

    assert (result["healthy"], result["state"], result["skip"]) == (
        False,
        "writer-unavailable",
        None,
    )
    assert result["detail"]["writer_status"] == status


def test_a_cluster_without_a_writer_is_a_recovery_case(
    make_cluster: Callable[..., str], step_event: StepEvent
) -> None:
    make_cluster(writer=False)

    result = aurora.check(step_event(CLUSTER), None)

    assert (result["healthy"], result["state"], result["skip"]) == (
        False,
        "writer-unavailable",
        None,
    )
    assert result["detail"]["writer"] is None


@pytest.mark.parametrize(
    ("status", "skip"),
    [
        ("stopped", "stopped_on_purpose"),
        ("stopping", "stopped_on_purpose"),
        ("deleting", "stopped_on_purpose"),
        ("failing-over", "changing"),
        ("modifying", "changing"),
        ("backing-up", "changing"),
        ("upgrading", "changing"),
        ("inaccessible-encryption-credentials", None),
        ("migration-failed", None),
    ],
)
def test_the_cluster_status_decides_the_skip(
    make_cluster: Callable[..., str], step_event: StepEvent, status: str, skip: str | None
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1})
    set_cluster_status(status)

    result = aurora.check(step_event(CLUSTER), None)

    assert (result["healthy"], result["state"], result["skip"]) == (False, status, skip)


@pytest.mark.parametrize("status", ["rebooting", "modifying", "configuring-log-exports"])
def test_a_writer_someone_is_changing_is_skipped_as_changing(
    make_cluster: Callable[..., str], step_event: StepEvent, status: str
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1})
    set_instance_status(WRITER, status)

    result = aurora.check(step_event(CLUSTER), None)

    assert (result["state"], result["skip"]) == ("writer-unavailable", "changing")


def test_check_reports_a_cluster_without_the_required_tag_as_not_in_scope(
    make_cluster: Callable[..., str], step_event: StepEvent, scoped: None
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1}, tags={"team": "orders"})

    result = aurora.check(step_event(CLUSTER), None)

    assert (result["healthy"], result["state"], result["skip"]) == (
        False,
        "available",
        "not_in_scope",
    )


def test_a_wait_until_poll_waits_for_the_writer_too(
    make_cluster: Callable[..., str], step_event: StepEvent
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1})
    set_instance_status(WRITER, "failed")
    poll = step_event(CLUSTER, params={"expect_state": "available"})

    with pytest.raises(StateNotReached, match="is writer-unavailable, waiting for available"):
        aurora.check(poll, None)
    set_instance_status(WRITER, "available")
    assert aurora.check(poll, None)["healthy"] is True


def test_check_on_a_missing_cluster_raises_resource_not_found(step_event: StepEvent) -> None:
    with pytest.raises(ResourceNotFound, match="DBClusterNotFoundFault"):
        aurora.check(step_event("no-such-cluster"), None)


def test_a_cluster_that_is_not_aurora_is_refused(
    rds_client: Any, step_event: StepEvent, record_calls: Recorder
) -> None:
    rds_client.create_db_cluster(
        DBClusterIdentifier=CLUSTER,
        Engine="postgres",  # a Multi-AZ DB cluster: same API, not Aurora
        MasterUsername="orders",
        MasterUserPassword="correct-horse-battery",
        DBClusterInstanceClass="db.m6gd.large",
        AllocatedStorage=100,
        StorageType="io1",
        Iops=1000,
    )
    failovers = record_calls(rds_client, "FailoverDBCluster")

    with pytest.raises(InvalidInput, match="runs engine 'postgres', not Aurora"):
        aurora.check(step_event(CLUSTER), None)
    with pytest.raises(InvalidInput, match="not Aurora"):
        aurora.failover(failover_event(step_event), None)
    assert failovers == []


def test_an_arn_is_not_a_cluster_identifier(step_event: StepEvent) -> None:
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{CLUSTER}"
    with pytest.raises(InvalidInput, match="is not an Aurora DB cluster identifier"):
        aurora.check(step_event(arn), None)


# -- failover --------------------------------------------------------------------------


def test_failover_promotes_the_available_reader_of_the_lowest_tier_ties_by_name(
    make_cluster: Callable[..., str],
    step_event: StepEvent,
    rds_client: Any,
    record_calls: Recorder,
) -> None:
    make_cluster(
        {
            "orders-aurora-prod-b": 1,
            "orders-aurora-prod-a": 1,
            "orders-aurora-prod-c": 0,  # the best tier, but broken
            "orders-aurora-prod-d": 2,
        }
    )
    set_instance_status(WRITER, "failed")
    set_instance_status("orders-aurora-prod-c", "failed")
    calls = record_calls(rds_client, "FailoverDBCluster")

    result = aurora.failover(failover_event(step_event), None)

    assert result["changed"] is True
    assert "orders-aurora-prod-a (tier 1" in result["message"]
    assert calls == [
        {"DBClusterIdentifier": CLUSTER, "TargetDBInstanceIdentifier": "orders-aurora-prod-a"}
    ]
    assert writer_now(rds_client) == "orders-aurora-prod-a"


def test_failover_promotes_the_named_reader_whatever_its_case(
    make_cluster: Callable[..., str], step_event: StepEvent, rds_client: Any
) -> None:
    make_cluster({"orders-aurora-prod-r1": 0, "orders-aurora-prod-r2": 5})

    result = aurora.failover(
        failover_event(step_event, target_instance="Orders-Aurora-Prod-R2"), None
    )

    assert result["changed"] is True
    assert writer_now(rds_client) == "orders-aurora-prod-r2"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("orders-aurora-other", "is not a member of Aurora DB cluster orders-aurora-prod"),
        ("not an id!", "params.target_instance must be a DB instance identifier"),
        (7, "params.target_instance must be a DB instance identifier"),
    ],
)
def test_failover_refuses_a_target_that_is_not_a_member(
    make_cluster: Callable[..., str],
    step_event: StepEvent,
    rds_client: Any,
    record_calls: Recorder,
    target: Any,
    message: str,
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1})
    calls = record_calls(rds_client, "FailoverDBCluster")

    with pytest.raises(InvalidInput, match=message):
        aurora.failover(failover_event(step_event, target_instance=target), None)
    assert calls == []


@pytest.mark.parametrize(
    ("target", "status", "message"),
    [
        (WRITER, "available", f"{WRITER} is already the writer"),
        ("orders-aurora-prod-r1", "rebooting", "reader orders-aurora-prod-r1 of"),
    ],
)
def test_failover_to_the_writer_or_an_unavailable_reader_is_a_no_op(
    make_cluster: Callable[..., str],
    step_event: StepEvent,
    rds_client: Any,
    record_calls: Recorder,
    target: str,
    status: str,
    message: str,
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1, "orders-aurora-prod-r2": 1})
    set_instance_status("orders-aurora-prod-r1", status)
    calls = record_calls(rds_client, "FailoverDBCluster")

    result = aurora.failover(failover_event(step_event, target_instance=target), None)

    assert (result["changed"], calls) == (False, [])
    assert message in result["message"]
    assert writer_now(rds_client) == WRITER


def test_failover_without_an_available_reader_is_refused_without_any_call(
    make_cluster: Callable[..., str],
    step_event: StepEvent,
    rds_client: Any,
    record_calls: Recorder,
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1, "orders-aurora-prod-r2": 2})
    for instance in (WRITER, "orders-aurora-prod-r1", "orders-aurora-prod-r2"):
        set_instance_status(instance, "failed")
    calls = record_calls(rds_client, "FailoverDBCluster")

    result = aurora.failover(failover_event(step_event), None)

    assert (result["changed"], calls) == (False, [])
    assert result["message"] == (
        "no available reader to promote in orders-aurora-prod (readers: "
        "orders-aurora-prod-r1 (failed, tier 1), orders-aurora-prod-r2 (failed, tier 2)); "
        "no failover requested, nothing done"
    )


def test_failover_of_a_single_instance_cluster_is_refused(
    make_cluster: Callable[..., str], step_event: StepEvent, record_calls: Recorder
) -> None:
    make_cluster()
    calls = record_calls(aws.client("rds"), "FailoverDBCluster")

    result = aurora.failover(failover_event(step_event), None)

    assert (result["changed"], calls) == (False, [])
    assert "(readers: none)" in result["message"]


def test_a_dry_run_says_which_reader_it_would_promote_and_changes_nothing(
    make_cluster: Callable[..., str],
    step_event: StepEvent,
    rds_client: Any,
    record_calls: Recorder,
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1})
    set_instance_status(WRITER, "failed")
    calls = record_calls(rds_client, "FailoverDBCluster")

    result = aurora.failover(step_event(CLUSTER, state="Failover", dry_run=True), None)

    assert (result["changed"], result["dry_run"], calls) == (False, True, [])
    assert result["message"] == (
        "dry run: would fail over orders-aurora-prod to reader orders-aurora-prod-r1 "
        f"(tier 1; writer {WRITER} (failed))"
    )
    assert writer_now(rds_client) == WRITER


@pytest.mark.parametrize("dry_run", [False, True])
def test_failover_of_a_cluster_out_of_scope_raises_before_any_change(
    make_cluster: Callable[..., str],
    step_event: StepEvent,
    rds_client: Any,
    record_calls: Recorder,
    scoped: None,
    dry_run: bool,
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1}, tags={"healstack": "disabled"})
    calls = record_calls(rds_client, "FailoverDBCluster")

    with pytest.raises(NotInScope, match="code: not_in_scope"):
        aurora.failover(step_event(CLUSTER, state="Failover", dry_run=dry_run), None)
    assert calls == []
    assert writer_now(rds_client) == WRITER


def test_a_tagged_cluster_in_scope_fails_over(
    make_cluster: Callable[..., str], step_event: StepEvent, rds_client: Any, scoped: None
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1})

    assert aurora.failover(failover_event(step_event), None)["changed"] is True
    assert writer_now(rds_client) == "orders-aurora-prod-r1"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("failing-over", "orders-aurora-prod is already failing over; no second failover"),
        ("modifying", "orders-aurora-prod is modifying; RDS fails over only an available"),
        ("stopped", "orders-aurora-prod is stopped; RDS fails over only an available"),
    ],
)
def test_failover_of_a_cluster_that_is_not_available_is_a_no_op(
    make_cluster: Callable[..., str],
    step_event: StepEvent,
    rds_client: Any,
    record_calls: Recorder,
    status: str,
    message: str,
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1})
    set_cluster_status(status)
    calls = record_calls(rds_client, "FailoverDBCluster")

    result = aurora.failover(failover_event(step_event), None)

    assert (result["changed"], calls) == (False, [])
    assert message in result["message"]


def test_a_second_failover_while_the_first_runs_is_a_no_op(
    make_cluster: Callable[..., str],
    step_event: StepEvent,
    rds_client: Any,
    record_calls: Recorder,
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1, "orders-aurora-prod-r2": 2})
    calls = record_calls(rds_client, "FailoverDBCluster")
    assert aurora.failover(failover_event(step_event), None)["changed"] is True
    set_cluster_status("failing-over")  # what RDS shows while it promotes the reader

    second = aurora.failover(failover_event(step_event), None)

    assert second["changed"] is False and len(calls) == 1


def test_failover_of_a_deleting_or_missing_cluster_raises_resource_not_found(
    make_cluster: Callable[..., str], step_event: StepEvent
) -> None:
    with pytest.raises(ResourceNotFound):
        aurora.failover(failover_event(step_event), None)
    make_cluster({"orders-aurora-prod-r1": 1})
    set_cluster_status("deleting")
    with pytest.raises(ResourceNotFound, match="is deleting"):
        aurora.failover(failover_event(step_event), None)


@pytest.mark.parametrize("code", ["InvalidDBClusterStateFault", "InvalidDBInstanceStateFault"])
def test_rds_refusing_the_failover_for_its_state_is_a_no_op(
    make_cluster: Callable[..., str],
    step_event: StepEvent,
    rds_client: Any,
    inject_error: Callable[[Any, str, str], None],
    code: str,
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1})
    inject_error(rds_client, "failover_db_cluster", code)

    result = aurora.failover(failover_event(step_event), None)

    assert result["changed"] is False
    assert f"({code}: it left the state just read); nothing done" in result["message"]


def test_a_throttled_failover_raises_throttled(
    make_cluster: Callable[..., str],
    step_event: StepEvent,
    rds_client: Any,
    inject_error: Callable[[Any, str, str], None],
) -> None:
    make_cluster({"orders-aurora-prod-r1": 1})
    inject_error(rds_client, "failover_db_cluster", "Throttling")

    with pytest.raises(Throttled):
        aurora.failover(failover_event(step_event), None)


def _context(remaining_ms: int) -> Any:
    return SimpleNamespace(aws_request_id="r-1", get_remaining_time_in_millis=lambda: remaining_ms)


def test_the_failover_is_only_called_when_its_timeout_fits_in_the_lambdas_time(
    make_cluster: Callable[..., str],
    step_event: StepEvent,
    rds_client: Any,
    record_calls: Recorder,
) -> None:
    """Three calls may not fit the function's timeout: the third (the change) is made only
    when its own connect + read timeout fits in what is left, else the workflow retries."""
    make_cluster({"orders-aurora-prod-r1": 1})
    calls = record_calls(rds_client, "FailoverDBCluster")
    config = rds_client.meta.config
    needed = int(1000 * (config.connect_timeout + config.read_timeout))

    with pytest.raises(TransientError, match="not called"):
        aurora.failover(failover_event(step_event), _context(needed - 1))
    assert calls == [] and writer_now(rds_client) == WRITER

    assert aurora.failover(failover_event(step_event), _context(needed))["changed"] is True
    assert len(calls) == 1


# -- events ----------------------------------------------------------------------------


def _resolve(event: dict[str, Any], *, check_origin: bool = False) -> str:
    payload = {
        "event": event,
        "target_kind": "aurora_cluster",
        "execution_id": "e",
        "playbook": "p",
    }
    found = resolve(payload, {}, check_age=False, check_origin=check_origin)
    return str(found["resource_id"])


def test_awss_own_db_cluster_event_sample_names_its_cluster() -> None:
    """AWS's sample (rds:-prefixed SourceIdentifier) resolves by its ARN; its expected.tsv
    row predates this kind (it says no kind covers DB clusters)."""
    sample = json.loads((REPO / "tests" / "data" / "aws-events" / "rds-cluster-1.json").read_text())
    assert _resolve(sample) == "my-db-cluster"


def test_the_example_event_and_its_spellings_name_one_cluster() -> None:
    event = json.loads((REPO / "examples" / "events" / "rds-db-cluster-event.json").read_text())
    assert _resolve(event) == CLUSTER
    upper = json.loads(json.dumps(event).replace(CLUSTER, CLUSTER.upper()))
    assert _resolve(upper) == CLUSTER
    no_arn = {**event, "resources": [], "detail": {**event["detail"], "SourceArn": None}}
    assert _resolve(no_arn) == CLUSTER  # detail.SourceIdentifier


def test_an_event_naming_another_accounts_cluster_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = json.loads((REPO / "examples" / "events" / "rds-db-cluster-event.json").read_text())
    foreign = "arn:aws:rds:us-east-1:999999999999:cluster:orders-aurora-prod"
    event["resources"] = [foreign]
    with pytest.raises(EventRefused, match="belongs to another account"):
        _resolve(event, check_origin=True)


def test_an_alarm_on_the_db_cluster_identifier_dimension_names_the_cluster() -> None:
    alarm = json.loads(
        (REPO / "examples" / "events" / "cloudwatch-alarm-ec2-status-check.json").read_text()
    )
    for metric in alarm["detail"]["configuration"]["metrics"]:
        metric["metricStat"]["metric"]["dimensions"] = {"DBClusterIdentifier": "Orders-Aurora-Prod"}
    assert _resolve(alarm) == CLUSTER
