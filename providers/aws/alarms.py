"""CloudWatch alarms on the functions, shared by whatever needs them.

Today the pipeline's gradual rollouts roll back on them; a monitoring module can reuse
``function_error_alarm`` (or hand its own alarms to the pipeline) without redefining them.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from healstack.providers.aws import resources as aws

ALARM_PERIOD_SECONDS = 60


def function_error_alarm_name(function_name: str, alias: str) -> str:
    return f"{function_name}-{alias}-errors"


def function_error_alarm(scope: Construct, id_: str, function_name: str, alias: str) -> Any:
    """ALARM as soon as the function's ``alias`` reports one error in a minute.

    The alias's ``Resource`` dimension counts only invocations through it (the workflow's),
    so a test invocation of another version never trips it. No data is not breaching: a
    recovery stack is idle most of the time.

    Note: an error a step raises on purpose (a ``wait_until`` poll's "not yet") is a Lambda
    error too; a rollout that overlaps such a poll rolls back. A monitoring module that
    separates expected errors (e.g. a log metric on the error type) should hand its
    alarms to the pipeline instead.
    """
    return aws.CloudwatchMetricAlarm(
        scope,
        id_,
        alarm_name=function_error_alarm_name(function_name, alias),
        alarm_description=f"healstack: {function_name}:{alias} raised an error",
        namespace="AWS/Lambda",
        metric_name="Errors",
        dimensions={"FunctionName": function_name, "Resource": f"{function_name}:{alias}"},
        statistic="Sum",
        period=ALARM_PERIOD_SECONDS,
        evaluation_periods=1,
        threshold=0,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
    )
