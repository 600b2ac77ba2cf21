"""Checks given params.expect_state: what a wait_until poll (Retry on StateNotReached) needs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from healstack_lambda import aws, ec2, ecs, rds
from healstack_lambda.errors import InvalidInput, StateNotReached

StepEvent = Callable[..., dict[str, Any]]


@pytest.fixture
def instance_id() -> str:
    response = aws.client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
    return str(response["Instances"][0]["InstanceId"])


def wait_for(step_event: StepEvent, resource_id: str, state: str) -> dict[str, Any]:
    return step_event(resource_id, state="WaitUntilStopped", params={"expect_state": state})


def test_poll_for_stopped_raises_state_not_reached_while_the_instance_runs(
    instance_id: str, step_event: StepEvent
) -> None:
    with pytest.raises(StateNotReached, match=f"{instance_id} is running, waiting for stopped"):
        ec2.check(wait_for(step_event, instance_id, "stopped"), None)


def test_poll_for_stopped_returns_the_check_once_the_instance_is_stopped(
    instance_id: str, step_event: StepEvent
) -> None:
    ec2.stop(step_event(instance_id), None)

    result = ec2.check(wait_for(step_event, instance_id, "stopped"), None)

    assert (result["healthy"], result["state"]) == (False, "stopped")


def test_poll_for_terminated_reports_a_terminated_instance_instead_of_failing(
    instance_id: str, step_event: StepEvent
) -> None:
    aws.client("ec2").terminate_instances(InstanceIds=[instance_id])

    result = ec2.check(wait_for(step_event, instance_id, "terminated"), None)

    assert result["state"] == "terminated"


def test_a_not_yet_reached_state_is_logged_as_info_not_as_a_warning(
    instance_id: str, step_event: StepEvent, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    with pytest.raises(StateNotReached):
        ec2.check(wait_for(step_event, instance_id, "stopped"), None)

    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (line["level"], line["error_type"]) == ("INFO", "StateNotReached")


def test_poll_for_available_on_an_available_db_returns_the_check(step_event: StepEvent) -> None:
    aws.client("rds").create_db_instance(
        DBInstanceIdentifier="orders-db-prod",
        DBInstanceClass="db.t3.micro",
        Engine="mysql",
        MasterUsername="orders",
        MasterUserPassword="correct-horse-battery",
        AllocatedStorage=20,
    )

    result = rds.check(wait_for(step_event, "orders-db-prod", "available"), None)

    assert result["healthy"] is True


def test_poll_for_steady_on_a_rolling_out_service_is_not_reached(
    step_event: StepEvent,
) -> None:
    client = aws.client("ecs")
    client.create_cluster(clusterName="prod-web")
    client.register_task_definition(
        family="checkout", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}]
    )
    arn = client.create_service(
        cluster="prod-web", serviceName="checkout-api", taskDefinition="checkout", desiredCount=1
    )["service"]["serviceArn"]

    with pytest.raises(StateNotReached, match="is in_progress, waiting for steady"):
        ecs.check(wait_for(step_event, arn, "steady"), None)


@pytest.mark.parametrize("expect_state", ["", "  ", 3, ["stopped"]])
def test_an_empty_or_non_string_expect_state_is_invalid_input(
    instance_id: str, step_event: StepEvent, expect_state: Any
) -> None:
    with pytest.raises(InvalidInput, match="expect_state"):
        ec2.check(step_event(instance_id, params={"expect_state": expect_state}), None)


def test_actions_do_not_accept_expect_state(instance_id: str, step_event: StepEvent) -> None:
    with pytest.raises(InvalidInput, match="unknown params"):
        ec2.reboot(wait_for(step_event, instance_id, "running"), None)


def test_a_dry_run_poll_reports_the_state_instead_of_waiting_forever(
    instance_id: str, step_event: StepEvent
) -> None:
    # the dry-run stop changed nothing, so "stopped" would never come
    event = step_event(
        instance_id, state="WaitUntilStopped", dry_run=True, params={"expect_state": "stopped"}
    )

    result = ec2.check(event, None)

    assert result["state"] == "running"
