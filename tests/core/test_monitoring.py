"""Every way a recovery can go wrong raises an alarm on the topic; one dashboard per playbook."""

from __future__ import annotations

import json
from typing import Any

from tests.core.test_synth import one, resources

BASE = "healstack-ec2-status-check-recovery"
FUNCTIONS = ("resolve-target", "check-status", "reboot", "stop", "start", "notify")


def alarms_by_name(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["alarm_name"]: a for a in resources(stack, "aws_cloudwatch_metric_alarm")}


def test_state_machine_alarms(default_stack: dict[str, Any]) -> None:
    alarms = alarms_by_name(default_stack)
    for metric in (
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
        "ExecutionThrottled",
    ):
        alarm = alarms[f"{BASE}-{metric}"]
        assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/States", metric)
        assert alarm["dimensions"]["StateMachineArn"].startswith("${aws_sfn_state_machine.")


def test_function_errors_and_throttles_are_alarmed_per_function(
    default_stack: dict[str, Any],
) -> None:
    alarms = alarms_by_name(default_stack)
    for key in FUNCTIONS:
        errors = alarms[f"{BASE}-{key}-step-errors"]
        assert errors["namespace"] == f"healstack/{BASE}"
        throttles = alarms[f"{BASE}-{key}-throttles"]
        assert throttles["dimensions"] == {"FunctionName": f"{BASE}-{key}"}


def test_step_errors_leave_out_polls_and_retried_throttles(default_stack: dict[str, Any]) -> None:
    filters = resources(default_stack, "aws_cloudwatch_log_metric_filter")
    errors = [f for f in filters if f["name"].endswith("-step-errors")]
    assert len(errors) == len(FUNCTIONS)
    for metric_filter in errors:
        assert '$.error_type != "StateNotReached"' in metric_filter["pattern"]
        assert '$.error_type != "TransientError"' in metric_filter["pattern"]
        assert metric_filter["log_group_name"].startswith("${aws_cloudwatch_log_group.")


def test_rules_and_dead_letters_are_alarmed(default_stack: dict[str, Any]) -> None:
    alarms = alarms_by_name(default_stack)
    for key in ("trigger", "finalizer"):
        alarm = alarms[f"{BASE}-{key}-failed-invocations"]
        assert (alarm["namespace"], alarm["metric_name"]) == ("AWS/Events", "FailedInvocations")
    dlq = alarms[f"{BASE}-dead-letters"]
    assert dlq["metric_name"] == "ApproximateNumberOfMessagesVisible"
    assert dlq["threshold"] == 0 and dlq["comparison_operator"] == "GreaterThanThreshold"


def test_every_recovery_alarm_notifies_the_topic(default_stack: dict[str, Any]) -> None:
    topic = next(iter(default_stack["resource"]["aws_sns_topic"]))
    ours = [
        a
        for a in resources(default_stack, "aws_cloudwatch_metric_alarm")
        if a["alarm_name"].startswith(f"{BASE}-") and not a["alarm_name"].endswith("-live-errors")
    ]  # the pipeline's rollout alarms (-live-errors) roll back deployments instead
    assert len(ours) >= 2 * len(FUNCTIONS) + 4 + 2 + 1
    for alarm in ours:
        assert alarm["alarm_actions"] == [f"${{aws_sns_topic.{topic}.arn}}"], alarm["alarm_name"]
        assert alarm["treat_missing_data"] == "notBreaching"


def test_dashboard_shows_outcomes_attempts_duration_errors_and_dlq(
    default_stack: dict[str, Any],
) -> None:
    body = json.loads(one(default_stack, "aws_cloudwatch_dashboard")["dashboard_body"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == [
        "Executions by outcome",
        "Attempts per recovery",
        "Recovery duration (ms)",
        "Step errors (not retried, not polling)",
        "Dead-letter queue depth",
        "Function throttles",
    ]
    attempts = [
        f
        for f in resources(default_stack, "aws_cloudwatch_log_metric_filter")
        if f["name"].endswith("-attempts")
    ]
    assert attempts[0]["metric_transformation"]["value"] == "$.attempts"
