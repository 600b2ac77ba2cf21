"""CloudWatch alarms and a dashboard for one recovery; every alarm notifies the topic.

Step errors are counted from the functions' JSON logs, not from ``AWS/Lambda Errors``:
a ``wait_until`` poll raises ``StateNotReached`` on purpose, a throttled API raises
``Throttled`` and a brief fault ``TransientError``, both retried by the workflow, and none of
them should page anyone. What is left (a step that was not permitted, a missing resource, a
crash) alarms at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from healstack.providers.aws import resources as aws
from healstack.providers.interfaces import MetricRef

NAMESPACE = "healstack"
PERIOD_SECONDS = 300
#: log lines that mean a step failed in a way the workflow does not absorb by itself
STEP_ERROR_PATTERN = (
    '{ ($.level = "ERROR") || ($.level = "WARNING" && $.error_type != "TransientError" '
    '&& $.error_type != "Throttled" && $.error_type != "StateNotReached") }'
)
#: the notify function logs the attempts each finished recovery used
ATTEMPTS_PATTERN = "{ $.attempts >= 0 }"
STATE_MACHINE_ALARMS = (
    "ExecutionsFailed",
    "ExecutionsTimedOut",
    "ExecutionsAborted",
    "ExecutionThrottled",
)


@dataclass(frozen=True)
class Watched:
    """What monitoring needs to know about one recovery's resources."""

    base_name: str
    region: str
    topic_arn: str
    state_machine_arn: str
    rule_names: Mapping[str, str]  # key -> rule name
    queue_name: str
    functions: Mapping[str, str]  # key -> function name
    log_groups: Mapping[str, Any]  # key -> log group resource
    #: a hub's recovery: the dashboard also shows the outcomes by member account and region
    per_member: bool = False


def metric_name(kind: str, key: str) -> str:
    return f"{kind}-{key}"


def metric_namespace(base_name: str) -> str:
    return f"{NAMESPACE}/{base_name}"


def _alarm(
    scope: Construct, id_: str, w: Watched, what: str, statistic: str = "Sum", **metric: Any
) -> Any:
    """ALARM when the metric is above zero in a period; notifies on ALARM and on OK."""
    return aws.CloudwatchMetricAlarm(
        scope,
        id_,
        alarm_name=f"{w.base_name}-{what}",
        alarm_description=f"healstack {w.base_name}: {what}",
        statistic=statistic,
        period=PERIOD_SECONDS,
        evaluation_periods=1,
        threshold=0,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[w.topic_arn],
        ok_actions=[w.topic_arn],
        **metric,
    )


#: the notify function logs the outcome each recovery was told with (one line per notice)
OUTCOME_PATTERN = '{ $.outcome = "*" }'
OUTCOMES_METRIC = "Outcomes"


def metrics(w: Watched, outcomes: tuple[str, ...]) -> dict[str, MetricRef]:
    """What a platform may alarm on itself: recoveries by outcome (from the notify log, one
    metric with an ``Outcome`` dimension), execution time, attempts per recovery."""
    namespace = metric_namespace(w.base_name)
    found = {
        f"outcome:{outcome}": MetricRef(
            namespace, OUTCOMES_METRIC, {"Outcome": outcome}, "Sum", PERIOD_SECONDS, "Count"
        )
        for outcome in outcomes
    }
    found["duration"] = MetricRef(
        "AWS/States",
        "ExecutionTime",
        {"StateMachineArn": w.state_machine_arn},
        "Maximum",
        PERIOD_SECONDS,
        "Milliseconds",
    )
    found["attempts"] = MetricRef(
        namespace, "AttemptsPerRecovery", {}, "Average", PERIOD_SECONDS, "Count"
    )
    return found


def create(scope: Construct, w: Watched) -> dict[str, Any]:
    """Every alarm (by a short key) plus the dashboard; returns the alarms."""
    alarms: dict[str, Any] = {}
    namespace = metric_namespace(w.base_name)
    for key, function in w.functions.items():
        aws.CloudwatchLogMetricFilter(
            scope,
            f"step-errors-{key}",
            name=f"{function}-step-errors",
            log_group_name=w.log_groups[key].name,
            pattern=STEP_ERROR_PATTERN,
            metric_transformation={
                "name": metric_name("StepErrors", key),
                "namespace": namespace,
                "value": "1",
                "default_value": "0",
            },
        )
        alarms[f"step-errors-{key}"] = _alarm(
            scope,
            f"alarm-step-errors-{key}",
            w,
            f"{key}-step-errors",
            namespace=namespace,
            metric_name=metric_name("StepErrors", key),
        )
        alarms[f"throttles-{key}"] = _alarm(
            scope,
            f"alarm-throttles-{key}",
            w,
            f"{key}-throttles",
            namespace="AWS/Lambda",
            metric_name="Throttles",
            dimensions={"FunctionName": function},
        )
    if "notify" in w.functions:
        aws.CloudwatchLogMetricFilter(
            scope,
            "outcomes",
            name=f"{w.functions['notify']}-outcomes",
            log_group_name=w.log_groups["notify"].name,
            pattern=OUTCOME_PATTERN,
            metric_transformation={
                "name": OUTCOMES_METRIC,
                "namespace": namespace,
                "value": "1",
                "unit": "Count",
                "dimensions": {"Outcome": "$.outcome"},
            },
        )
        aws.CloudwatchLogMetricFilter(
            scope,
            "attempts",
            name=f"{w.functions['notify']}-attempts",
            log_group_name=w.log_groups["notify"].name,
            pattern=ATTEMPTS_PATTERN,
            metric_transformation={
                "name": "AttemptsPerRecovery",
                "namespace": namespace,
                "value": "$.attempts",
            },
        )
    for metric in STATE_MACHINE_ALARMS:
        alarms[metric] = _alarm(
            scope,
            f"alarm-{metric}",
            w,
            metric,
            namespace="AWS/States",
            metric_name=metric,
            dimensions={"StateMachineArn": w.state_machine_arn},
        )
    for key, rule in w.rule_names.items():
        alarms[f"failed-invocations-{key}"] = _alarm(
            scope,
            f"alarm-failed-invocations-{key}",
            w,
            f"{key}-failed-invocations",
            namespace="AWS/Events",
            metric_name="FailedInvocations",
            dimensions={"RuleName": rule},
        )
    alarms["dlq-depth"] = _alarm(
        scope,
        "alarm-dlq-depth",
        w,
        "dead-letters",
        statistic="Maximum",
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": w.queue_name},
    )
    aws.CloudwatchDashboard(
        scope, "dashboard", dashboard_name=w.base_name, dashboard_body=dashboard_body(w)
    )
    return alarms


def dashboard_body(w: Watched) -> str:
    sfn = {"StateMachineArn": w.state_machine_arn}
    namespace = metric_namespace(w.base_name)

    def widget(
        title: str, metrics: list[list[Any]], stat: str = "Sum", x: int = 0, y: int = 0
    ) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": w.region,
                "stat": stat,
                "period": PERIOD_SECONDS,
                "view": "timeSeries",
                "metrics": metrics,
            },
        }

    def sfn_metric(name: str) -> list[Any]:
        return ["AWS/States", name, *[v for pair in sfn.items() for v in pair]]

    widgets = [
        widget(
            "Executions by outcome",
            [
                sfn_metric(m)
                for m in (
                    "ExecutionsSucceeded",
                    "ExecutionsFailed",
                    "ExecutionsTimedOut",
                    "ExecutionsAborted",
                )
            ],
        ),
        widget("Attempts per recovery", [[namespace, "AttemptsPerRecovery"]], stat="Average", x=12),
        widget("Recovery duration (ms)", [sfn_metric("ExecutionTime")], stat="p90", y=6),
        widget(
            "Step errors (not retried, not polling)",
            [[namespace, metric_name("StepErrors", key)] for key in w.functions],
            x=12,
            y=6,
        ),
        widget(
            "Dead-letter queue depth",
            [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", w.queue_name]],
            stat="Maximum",
            y=12,
        ),
        widget(
            "Function throttles",
            [["AWS/Lambda", "Throttles", "FunctionName", fn] for fn in w.functions.values()],
            x=12,
            y=12,
        ),
    ]
    if w.per_member and "notify" in w.log_groups:
        widgets.append(_outcomes_by_member(w, y=18))
    return json.dumps({"widgets": widgets}, indent=2)


def _outcomes_by_member(w: Watched, y: int) -> dict[str, Any]:
    """A hub's recoveries by member account, region and outcome: a Logs Insights table over
    the notify log, whose closing line carries all three (``healstack_lambda.notify``)."""
    query = (
        f"SOURCE '{w.log_groups['notify'].name}' "
        '| filter handler = "notify.notify" and ispresent(account) and ispresent(outcome) '
        "| stats count(*) as recoveries by account, region, outcome "
        "| sort recoveries desc"
    )
    return {
        "type": "log",
        "x": 0,
        "y": y,
        "width": 24,
        "height": 6,
        "properties": {
            "title": "Recoveries by member account, region and outcome",
            "region": w.region,
            "query": query,
            "view": "table",
        },
    }
