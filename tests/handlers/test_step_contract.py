"""The step payload contract and the structured logs every handler writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from healstack_lambda import aws, ec2, rds
from healstack_lambda.errors import InvalidInput, ResourceNotFound

StepEvent = Callable[..., dict[str, Any]]
INSTANCE = "i-0a1b2c3d4e5f67890"


def log_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"resource_id": None}, "resource_id"),
        ({"resource_id": 42}, "resource_id"),
        ({"dry_run": "false"}, "dry_run"),
        ({"attempt": "1"}, "attempt"),
        ({"attempt": True}, "attempt"),
        ({"attempt": 0}, "attempt"),
        ({"params": ["force"]}, "params"),
        ({"state": 3}, "state"),
        ({"playbook": ""}, "playbook"),
        ({"execution_id": None}, "execution_id"),
    ],
)
def test_wrong_or_missing_payload_fields_are_invalid_input_naming_the_field(
    step_event: StepEvent, change: dict[str, Any], field: str
) -> None:
    event = {**step_event(INSTANCE), **change}

    with pytest.raises(InvalidInput, match=field):
        ec2.check(event, None)


def test_missing_dry_run_is_refused_rather_than_assumed_false(step_event: StepEvent) -> None:
    event = step_event(INSTANCE)
    del event["dry_run"]

    with pytest.raises(InvalidInput, match="dry_run"):
        ec2.stop(event, None)


def test_params_and_attempt_and_state_are_optional(step_event: StepEvent) -> None:
    event = step_event(INSTANCE)
    for key in ("params", "attempt", "state"):
        del event[key]

    with pytest.raises(ResourceNotFound):  # validated, then looked up in the empty account
        ec2.check(event, None)


def test_unknown_params_are_refused_listing_the_accepted_ones(step_event: StepEvent) -> None:
    with pytest.raises(InvalidInput, match=r"unknown params \['hibernate'\].*force"):
        ec2.stop(step_event(INSTANCE, params={"hibernate": True}), None)


@pytest.mark.parametrize("resource_id", ["i-123", "web-1", "i-0A1B2C3D4E5F67890", "orders-db"])
def test_an_ec2_handler_refuses_an_id_that_is_not_an_instance_id(
    step_event: StepEvent, resource_id: str
) -> None:
    with pytest.raises(InvalidInput, match="EC2 instance id"):
        ec2.reboot(step_event(resource_id), None)


def test_a_payload_that_is_not_an_object_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="JSON object"):
        rds.check(["orders-db"], None)  # type: ignore[arg-type]


def test_each_invocation_writes_one_json_log_line_with_the_correlation_fields(
    step_event: StepEvent, capsys: pytest.CaptureFixture[str]
) -> None:
    instance_id = aws.client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)[
        "Instances"
    ][0]["InstanceId"]
    capsys.readouterr()
    context = SimpleNamespace(aws_request_id="0f7c1d2e-aaaa-bbbb-cccc-123456789abc")

    ec2.reboot(step_event(instance_id, state="RebootInstance", dry_run=True), context)

    lines = log_lines(capsys.readouterr().out)
    assert len(lines) == 1
    line = lines[0]
    assert line["level"] == "INFO"
    assert line["execution_id"] == step_event(instance_id)["execution_id"]
    assert line["resource_id"] == instance_id
    assert line["playbook"] == "ec2-status-check-recovery"
    assert line["step"] == "RebootInstance"
    assert line["dry_run"] is True
    assert line["handler"] == "ec2.reboot"
    assert line["aws_request_id"] == context.aws_request_id
    assert line["result"]["message"] == f"dry run: would reboot {instance_id} (running)"


def test_a_failing_invocation_logs_the_error_type_before_raising(
    step_event: StepEvent, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ResourceNotFound):
        ec2.check(step_event(INSTANCE), None)

    (line,) = log_lines(capsys.readouterr().out)
    assert line["level"] == "WARNING"
    assert line["error_type"] == "ResourceNotFound"
    assert line["resource_id"] == INSTANCE
    assert INSTANCE in line["message"]
