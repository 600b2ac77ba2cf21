"""ECS check and force_redeploy against real moto services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from moto.ecs.models import ecs_backends

from healstack_lambda import aws, ecs
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
CLUSTER = "prod-web"
SERVICE = "checkout-api"
SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{SERVICE}"

StepEvent = Callable[..., dict[str, Any]]
ServiceFactory = Callable[..., str]


@pytest.fixture
def ecs_client() -> Any:
    return aws.client("ecs")


@pytest.fixture
def make_service(monkeypatch: pytest.MonkeyPatch) -> ServiceFactory:
    """Create a service; ``running`` tasks at creation decide moto's rolloutState."""

    def make(
        running: int = 2,
        desired: int = 2,
        region: str = REGION,
        tags: dict[str, str] | None = None,
    ) -> str:
        client = aws.client("ecs", region)
        client.create_cluster(clusterName=CLUSTER)
        client.register_task_definition(
            family="checkout",
            containerDefinitions=[{"name": "app", "image": "nginx:1.27", "memory": 256}],
        )
        monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", str(running))
        service = client.create_service(
            cluster=CLUSTER,
            serviceName=SERVICE,
            taskDefinition="checkout",
            desiredCount=desired,
            tags=[{"key": k, "value": v} for k, v in (tags or {}).items()],
        )["service"]
        monkeypatch.delenv("MOTO_ECS_SERVICE_RUNNING")
        return str(service["serviceArn"])

    return make


def deployment_ids(client: Any) -> list[str]:
    service = client.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    return [str(d["id"]) for d in service["deployments"]]


def moto_service(region: str = REGION) -> Any:
    return ecs_backends[ACCOUNT][region].services[f"{CLUSTER}:{SERVICE}"]


# --- check -------------------------------------------------------------------------------


def test_check_on_service_at_desired_count_with_completed_rollout_is_steady_and_healthy(
    make_service: ServiceFactory, step_event: StepEvent
) -> None:
    arn = make_service(running=2, desired=2)

    result = ecs.check(step_event(arn), None)

    assert result["healthy"] is True
    assert result["state"] == "steady"
    assert result["detail"]["running_count"] == 2
    assert result["detail"]["desired_count"] == 2
    assert result["detail"]["rollout_state"] == "COMPLETED"


def test_service_someone_else_is_rolling_out_is_skipped_as_changing(
    make_service: ServiceFactory, step_event: StepEvent
) -> None:
    arn = make_service(running=0, desired=2)

    result = ecs.check(step_event(arn), None)

    assert result["healthy"] is False
    assert result["state"] == "in_progress"
    assert result["skip"] == "changing"


def test_a_rollout_whose_tasks_already_fail_is_the_recovery_case_not_a_skip(
    make_service: ServiceFactory, step_event: StepEvent
) -> None:
    arn = make_service(running=0, desired=2)
    moto_service().deployments[0]["failedTasks"] = 3

    result = ecs.check(step_event(arn), None)

    assert (result["healthy"], result["state"], result["skip"]) == (False, "in_progress", None)


def test_service_scaled_to_zero_is_skipped_as_stopped_on_purpose(
    make_service: ServiceFactory, step_event: StepEvent
) -> None:
    arn = make_service(running=0, desired=0)

    result = ecs.check(step_event(arn), None)

    assert (result["healthy"], result["skip"]) == (False, "stopped_on_purpose")


def test_check_on_failed_rollout_reports_failed(
    make_service: ServiceFactory, step_event: StepEvent
) -> None:
    arn = make_service(running=0, desired=2)
    moto_service().deployments[0]["rolloutState"] = "FAILED"

    result = ecs.check(step_event(arn), None)

    assert (result["healthy"], result["state"], result["skip"]) == (False, "failed", None)


def test_check_on_completed_rollout_with_missing_tasks_is_degraded(
    make_service: ServiceFactory, step_event: StepEvent
) -> None:
    arn = make_service(running=2, desired=2)
    moto_service().running_count = 1

    result = ecs.check(step_event(arn), None)

    assert (result["healthy"], result["state"]) == (False, "degraded")


def test_check_calls_the_region_named_in_the_service_arn(
    make_service: ServiceFactory, step_event: StepEvent
) -> None:
    arn = make_service(region="eu-west-1")

    result = ecs.check(step_event(arn), None)

    assert arn.startswith("arn:aws:ecs:eu-west-1:")
    assert result["state"] == "steady"


def test_check_on_missing_service_raises_resource_not_found(
    make_service: ServiceFactory, step_event: StepEvent
) -> None:
    make_service()
    missing = SERVICE_ARN.replace(SERVICE, "no-such-service")

    with pytest.raises(ResourceNotFound, match="no-such-service"):
        ecs.check(step_event(missing), None)


def test_check_on_missing_cluster_raises_resource_not_found_with_the_aws_code(
    step_event: StepEvent,
) -> None:
    with pytest.raises(ResourceNotFound, match="ClusterNotFoundException"):
        ecs.check(step_event(SERVICE_ARN), None)


@pytest.mark.parametrize("status", ["INACTIVE", "DRAINING"])
def test_check_on_deleted_or_draining_service_is_skipped_as_stopped_on_purpose(
    make_service: ServiceFactory, step_event: StepEvent, status: str
) -> None:
    arn = make_service()
    moto_service().status = status

    result = ecs.check(step_event(arn), None)

    assert (result["healthy"], result["skip"]) == (False, "stopped_on_purpose")
    assert result["detail"]["status"] == status


def test_force_redeploy_on_deleted_service_still_raises_resource_not_found(
    make_service: ServiceFactory, ecs_client: Any, step_event: StepEvent
) -> None:
    arn = make_service()
    ecs_client.delete_service(cluster=CLUSTER, service=SERVICE, force=True)

    with pytest.raises(ResourceNotFound, match="INACTIVE"):
        ecs.force_redeploy(step_event(arn), None)


def test_check_refuses_a_resource_id_that_is_not_a_service_arn(step_event: StepEvent) -> None:
    with pytest.raises(InvalidInput, match="ECS service ARN"):
        ecs.check(step_event(f"{CLUSTER}/{SERVICE}"), None)


# --- force_redeploy ----------------------------------------------------------------------


def test_force_redeploy_on_steady_service_starts_a_new_deployment(
    make_service: ServiceFactory, ecs_client: Any, step_event: StepEvent
) -> None:
    arn = make_service(running=2, desired=2)
    before = deployment_ids(ecs_client)

    result = ecs.force_redeploy(step_event(arn, state="ForceRedeploy"), None)

    after = deployment_ids(ecs_client)
    assert after != before
    assert result["changed"] is True
    assert result["action"] == "force_redeploy"
    assert result["message"] == (
        f"forced new deployment {after[0]} of {SERVICE} in cluster {CLUSTER} (was {before[0]})"
    )


def test_force_redeploy_while_a_deployment_is_in_progress_is_a_noop_that_says_so(
    make_service: ServiceFactory, ecs_client: Any, step_event: StepEvent, record_calls: Any
) -> None:
    arn = make_service(running=0, desired=2)
    before = deployment_ids(ecs_client)
    calls = record_calls(ecs_client, "UpdateService")

    result = ecs.force_redeploy(step_event(arn), None)

    assert calls == []
    assert deployment_ids(ecs_client) == before
    assert result["changed"] is False
    assert "already in progress" in result["message"]
    assert before[0] in result["message"]


def test_force_redeploy_dry_run_changes_nothing(
    make_service: ServiceFactory, ecs_client: Any, step_event: StepEvent
) -> None:
    arn = make_service(running=2, desired=2)
    before = deployment_ids(ecs_client)

    result = ecs.force_redeploy(step_event(arn, dry_run=True), None)

    assert deployment_ids(ecs_client) == before
    assert result["changed"] is False
    assert result["dry_run"] is True
    assert result["message"].startswith("dry run: would force a new deployment of checkout-api")


def test_force_redeploy_on_missing_service_raises_resource_not_found(
    make_service: ServiceFactory, step_event: StepEvent
) -> None:
    make_service()

    with pytest.raises(ResourceNotFound):
        ecs.force_redeploy(step_event(SERVICE_ARN.replace(SERVICE, "gone")), None)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AccessDeniedException", NotPermitted),
        ("ThrottlingException", Throttled),
        ("ServerException", TransientError),
        ("ServiceNotActiveException", ResourceNotFound),
    ],
)
def test_update_service_errors_map_to_routable_error_types(
    make_service: ServiceFactory,
    ecs_client: Any,
    step_event: StepEvent,
    inject_error: Callable[[Any, str, str], None],
    code: str,
    expected: type[Exception],
) -> None:
    arn = make_service(running=2, desired=2)
    inject_error(ecs_client, "update_service", code)

    with pytest.raises(expected, match=rf"UpdateService on {arn} failed: {code}"):
        ecs.force_redeploy(step_event(arn), None)


# --- scope: HEALSTACK_REQUIRE_TAG (H2) --------------------------------------------------------


def test_untagged_service_is_not_in_scope_for_the_check(
    make_service: ServiceFactory, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = make_service(running=2, desired=2, tags={"team": "web"})
    monkeypatch.setenv("HEALSTACK_REQUIRE_TAG", "healstack=enabled")

    result = ecs.check(step_event(arn), None)

    assert (result["healthy"], result["state"], result["skip"]) == (False, "steady", "not_in_scope")


def test_tagged_service_is_checked_as_usual(
    make_service: ServiceFactory, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = make_service(running=2, desired=2, tags={"healstack": "enabled"})
    monkeypatch.setenv("HEALSTACK_REQUIRE_TAG", "healstack=enabled")

    result = ecs.check(step_event(arn), None)

    assert (result["healthy"], result["skip"]) == (True, None)


@pytest.mark.parametrize("dry_run", [False, True], ids=["live", "dry-run"])
def test_force_redeploy_of_an_untagged_service_raises_not_in_scope_and_changes_nothing(
    make_service: ServiceFactory,
    ecs_client: Any,
    step_event: StepEvent,
    record_calls: Any,
    monkeypatch: pytest.MonkeyPatch,
    dry_run: bool,
) -> None:
    arn = make_service(running=2, desired=2)
    monkeypatch.setenv("HEALSTACK_REQUIRE_TAG", "healstack=enabled")
    before = deployment_ids(ecs_client)
    calls = record_calls(ecs_client, "UpdateService")

    with pytest.raises(NotInScope, match=rf"{SERVICE} in cluster {CLUSTER} does not carry"):
        ecs.force_redeploy(step_event(arn, dry_run=dry_run), None)
    assert calls == []
    assert deployment_ids(ecs_client) == before


def test_force_redeploy_of_a_tagged_service_goes_ahead(
    make_service: ServiceFactory, step_event: StepEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = make_service(running=2, desired=2, tags={"healstack": "enabled"})
    monkeypatch.setenv("HEALSTACK_REQUIRE_TAG", "healstack=enabled")

    assert ecs.force_redeploy(step_event(arn), None)["changed"] is True
