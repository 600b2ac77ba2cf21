"""A hand-written recovery workflow of the shape healstack generates, and toy handlers for it.

The workflow: resolve the target, then per attempt: check health, stop if healthy, give up
after ``MAX_ATTEMPTS`` actions, else count the attempt, reboot (with Retry and Catch), wait
``WAIT_SECONDS`` and check again. Handlers keep the instance's health in an EC2 tag, so the
real reboot handler "repairs" the instance and the next real check sees it.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3

from healstack.simulate import FunctionSpec

REGION = "us-east-1"
ACCOUNT = "123456789012"
MAX_ATTEMPTS = 3
WAIT_SECONDS = 300
EXAMPLE_AMI_ID = "ami-12c6146b"  # one of moto's built-in AMIs (listing them all is slow)
RETRY_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.TooManyRequestsException",
    "Lambda.SdkClientException",
    "TransientError",
]


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def lambda_invoke(function: str, payload: dict[str, Any], **state: Any) -> dict[str, Any]:
    """A Task in healstack's main form: the lambda:invoke integration, result in $.Payload."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": function_arn(function),
            "Payload": {
                "state.$": "$$.State.Name",
                "execution_id.$": "$$.Execution.Id",
                **payload,
            },
        },
        **state,
    }


def recovery_definition(timeout_seconds: int = 3 * 3600) -> dict[str, Any]:
    return {
        "Comment": "EC2 recovery: check, reboot, wait, re-check; bounded attempts",
        "StartAt": "ResolveTarget",
        "TimeoutSeconds": timeout_seconds,
        "States": {
            "ResolveTarget": lambda_invoke(
                "resolve-target",
                {"instance_id.$": "$.detail.instance-id"},
                ResultSelector={"id.$": "$.Payload.id", "state.$": "$.Payload.state"},
                ResultPath="$.target",
                Next="InitAttempts",
            ),
            "InitAttempts": {
                "Type": "Pass",
                "Result": {"count": 0},
                "ResultPath": "$.attempt",
                "Next": "CheckHealth",
            },
            "CheckHealth": lambda_invoke(
                "check-health",
                {"target.$": "$.target", "attempt.$": "$.attempt.count"},
                ResultSelector={"healthy.$": "$.Payload.healthy", "state.$": "$.Payload.state"},
                ResultPath="$.last",
                Next="IsHealthy",
            ),
            "IsHealthy": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.last.healthy", "BooleanEquals": True, "Next": "Recovered"}
                ],
                "Default": "AttemptsLeft",
            },
            "AttemptsLeft": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.attempt.count",
                        "NumericGreaterThanEquals": MAX_ATTEMPTS,
                        "Next": "NotifyGaveUp",
                    }
                ],
                "Default": "CountAttempt",
            },
            "CountAttempt": {
                "Type": "Pass",
                "Parameters": {"count.$": "States.MathAdd($.attempt.count, 1)"},
                "ResultPath": "$.attempt",
                "Next": "Reboot",
            },
            "Reboot": lambda_invoke(
                "reboot",
                {"target.$": "$.target"},
                ResultSelector={"rebooted.$": "$.Payload.rebooted"},
                ResultPath="$.action",
                Retry=[
                    {
                        "ErrorEquals": RETRY_ERRORS,
                        "IntervalSeconds": 2,
                        "BackoffRate": 2,
                        "MaxAttempts": 3,
                        "JitterStrategy": "FULL",
                    }
                ],
                Catch=[
                    {
                        "ErrorEquals": ["States.ALL"],
                        "ResultPath": "$.error",
                        "Next": "NotifyActionFailed",
                    }
                ],
                Next="WaitAfterAction",
            ),
            "WaitAfterAction": {"Type": "Wait", "Seconds": WAIT_SECONDS, "Next": "CheckHealth"},
            "Recovered": {"Type": "Succeed"},
            # The direct form: the function ARN as the Resource, the state input as the event.
            "NotifyGaveUp": {
                "Type": "Task",
                "Resource": function_arn("notify"),
                "Parameters": {
                    "state.$": "$$.State.Name",
                    "target.$": "$.target",
                    "outcome": "gave-up",
                },
                "ResultPath": "$.notified",
                "Next": "GaveUp",
            },
            "GaveUp": {
                "Type": "Fail",
                "Error": "RecoveryFailed",
                "Cause": f"still unhealthy after {MAX_ATTEMPTS} attempts",
            },
            "NotifyActionFailed": lambda_invoke(
                "notify",
                {"target.$": "$.target", "outcome": "action-failed", "error.$": "$.error"},
                ResultPath="$.notified",
                Next="ActionFailed",
            ),
            "ActionFailed": {"Type": "Fail", "Error": "ActionFailed", "Cause": "the reboot failed"},
        },
    }


class TransientError(Exception):
    """An error the workflow retries."""


class PermissionDenied(Exception):
    """An error the workflow does not retry."""


@functools.cache
def _ec2() -> Any:
    """One client for every simulation: building one costs ~70 ms, and moto intercepts it in
    whichever mock is active."""
    return boto3.client("ec2", region_name=REGION)


def _health_tag(instance_id: str) -> str:
    reservations = _ec2().describe_instances(InstanceIds=[instance_id])["Reservations"]
    tags = {t["Key"]: t["Value"] for t in reservations[0]["Instances"][0].get("Tags", [])}
    return tags.get("Health", "unknown")


def resolve_target(event: dict[str, Any], context: Any) -> dict[str, Any]:
    instance = _ec2().describe_instances(InstanceIds=[event["instance_id"]])["Reservations"][0][
        "Instances"
    ][0]
    return {"id": instance["InstanceId"], "state": instance["State"]["Name"]}


def check_health(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"healthy": _health_tag(event["target"]["id"]) == "ok", "state": "running"}


def reboot(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import os

    if os.environ.get("DRY_RUN") == "true":
        return {"rebooted": False}
    instance_id = event["target"]["id"]
    _ec2().reboot_instances(InstanceIds=[instance_id])
    _ec2().create_tags(Resources=[instance_id], Tags=[{"Key": "Health", "Value": "ok"}])
    return {"rebooted": True}


def notify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"sent": True, "outcome": event.get("outcome")}


def functions(dry_run: bool = False) -> dict[str, FunctionSpec]:
    return {
        "resolve-target": FunctionSpec(resolve_target),
        "check-health": FunctionSpec(check_health),
        "reboot": FunctionSpec(reboot, {"DRY_RUN": "true" if dry_run else "false"}),
        "notify": FunctionSpec(notify),
    }


class Fleet:
    """Creates one EC2 instance in moto (inside ``setup``) and builds the triggering event."""

    def __init__(self, health: str = "bad") -> None:
        self.health = health
        self.instance_id = ""

    def setup(self) -> None:
        ec2 = _ec2()
        instance = ec2.run_instances(ImageId=EXAMPLE_AMI_ID, MinCount=1, MaxCount=1)["Instances"][0]
        self.instance_id = instance["InstanceId"]
        ec2.create_tags(
            Resources=[self.instance_id], Tags=[{"Key": "Health", "Value": self.health}]
        )

    def event(self) -> dict[str, Any]:
        return {
            "source": "aws.ec2",
            "detail-type": "EC2 Instance Status Check Failed",
            "detail": {"instance-id": self.instance_id},
        }

    def current_health(self) -> str:
        return _health_tag(self.instance_id)
