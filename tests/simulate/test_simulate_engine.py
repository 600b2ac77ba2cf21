"""The simulator end to end: real ASL in moto's interpreter, handlers run in-process."""

from __future__ import annotations

import datetime
import json
import os
import time
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)

from healstack.simulate import (
    FunctionSpec,
    ScenarioError,
    SimulationError,
    SimulationResult,
    SimulationTimeoutError,
    render_text,
    simulate,
    to_json,
)
from tests.simulate.simulate_workflow import (
    MAX_ATTEMPTS,
    REGION,
    WAIT_SECONDS,
    Fleet,
    PermissionDenied,
    TransientError,
    function_arn,
    functions,
    notify,
    reboot,
    recovery_definition,
)

ALWAYS_UNHEALTHY = {
    "mocks": {"CheckHealth": {"1+": {"return": {"healthy": False, "state": "running"}}}}
}


def run(fleet: Fleet, **kwargs: Any) -> SimulationResult:
    kwargs.setdefault("functions", functions())
    return simulate(recovery_definition(), execution_input=fleet.event, setup=fleet.setup, **kwargs)


def event_types(result: SimulationResult) -> list[str]:
    return [event["type"] for event in result.history]


def entered(result: SimulationResult) -> list[str]:
    return [step.state for step in result.steps]


def failures(result: SimulationResult, state: str) -> list[dict[str, Any]]:
    """The failure details of ``state``'s Task attempts, from the execution history."""
    ids = {
        e["id"]
        for e in result.history
        if e.get("stateEnteredEventDetails", {}).get("name") == state
    }
    found = []
    for event in result.history:
        if event.get("previousEventId") in ids:
            ids.add(event["id"])
            details = event.get("taskFailedEventDetails") or event.get(
                "lambdaFunctionFailedEventDetails"
            )
            if details:
                found.append(details)
        if event["type"].endswith("StateExited"):
            ids.discard(event["id"])
    return found


def test_recovers_on_first_attempt_with_handlers_sharing_the_moto_backend() -> None:
    fleet = Fleet(health="ok")
    result = run(fleet)

    assert result.status == "SUCCEEDED"
    assert entered(result) == [
        "ResolveTarget",
        "InitAttempts",
        "CheckHealth",
        "IsHealthy",
        "Recovered",
    ]
    # resolve-target described the instance setup() created, through boto3, in the same moto.
    assert result.output["target"] == {"id": fleet.instance_id, "state": "running"}
    assert result.output["last"]["healthy"] is True
    assert result.lambda_invocations == {"check-health": 1, "resolve-target": 1}
    assert result.state_transitions == 5
    assert result.fast_forwards == ()
    assert event_types(result)[-1] == "ExecutionSucceeded"


def test_real_reboot_repairs_the_instance_after_one_wait() -> None:
    fleet = Fleet(health="bad")
    seen: dict[str, str] = {}
    result = run(fleet, after=lambda: seen.update(health=fleet.current_health()))

    assert result.status == "SUCCEEDED"
    assert seen == {"health": "ok"}  # the real reboot handler tagged the instance in moto
    assert result.state_invocations == {"CheckHealth": 2, "Reboot": 1, "ResolveTarget": 1}
    assert [(w.state, w.seconds) for w in result.waits()] == [("WaitAfterAction", WAIT_SECONDS)]
    assert result.simulated_seconds >= WAIT_SECONDS
    check = result.steps_for("CheckHealth")
    assert check[1].entered_at >= WAIT_SECONDS > check[0].entered_at


def test_loop_runs_exactly_max_attempts_then_gives_up(fleet: Fleet) -> None:
    started = time.monotonic()
    result = run(fleet, scenario=ALWAYS_UNHEALTHY)
    wall = time.monotonic() - started

    assert result.status == "FAILED"
    assert (result.error, result.cause) == (
        "RecoveryFailed",
        f"still unhealthy after {MAX_ATTEMPTS} attempts",
    )
    assert result.state_invocations["Reboot"] == MAX_ATTEMPTS
    assert result.state_invocations["CheckHealth"] == MAX_ATTEMPTS + 1
    assert [step.state for step in result.steps][-3:] == ["AttemptsLeft", "NotifyGaveUp", "GaveUp"]
    assert result.lambda_invocations["notify"] == 1  # NotifyGaveUp uses the function-ARN form
    counts = [
        json.loads(e["stateExitedEventDetails"]["output"])["attempt"]["count"]
        for e in result.history
        if e.get("stateExitedEventDetails", {}).get("name") == "CountAttempt"
    ]
    assert counts == list(range(1, MAX_ATTEMPTS + 1))  # States.MathAdd counted the attempts
    # Waits are fast-forwarded: 15 simulated minutes in a few real seconds.
    assert [w.seconds for w in result.waits("WaitAfterAction")] == [WAIT_SECONDS] * MAX_ATTEMPTS
    assert result.fast_forwarded_seconds == WAIT_SECONDS * MAX_ATTEMPTS
    assert result.simulated_seconds >= WAIT_SECONDS * MAX_ATTEMPTS
    assert wall < 30
    assert result.state_transitions == sum(t.endswith("StateEntered") for t in event_types(result))


def test_transient_throws_are_retried_with_the_backoff_sequence(fleet: Fleet) -> None:
    scenario = {
        "name": "flaky-reboot",
        "mocks": {
            "Reboot": {
                "1-2": {"throw": {"error": "TransientError", "cause": "Rate exceeded"}},
                "3+": "real",
            }
        },
    }
    result = run(fleet, scenario=scenario)

    assert result.status == "SUCCEEDED"
    assert result.state_invocations["Reboot"] == 3
    retries = result.retry_delays("Reboot")
    assert [r.nominal_seconds for r in retries] == [2, 4]  # IntervalSeconds 2, BackoffRate 2
    assert all(0 <= r.seconds <= r.nominal_seconds for r in retries)  # JitterStrategy FULL
    errors = failures(result, "Reboot")
    assert [e["error"] for e in errors] == ["TransientError", "TransientError"]
    assert json.loads(errors[0]["cause"])["errorMessage"] == "Rate exceeded"
    attempts = result.steps_for("Reboot")[0].attempts
    assert [(a.invocation, a.mocked, a.error) for a in attempts] == [
        (1, True, "TransientError"),
        (2, True, "TransientError"),
        (3, False, None),
    ]
    assert attempts[0].retry_delay_s == retries[0].seconds


def test_jitter_is_reproducible_with_a_seed(fleet: Fleet) -> None:
    scenario = {"mocks": {"Reboot": {"1-2": {"throw": {"error": "TransientError"}}}}}
    first = [r.seconds for r in run(fleet, scenario=scenario, seed=7).retry_delays()]
    second = [r.seconds for r in run(Fleet(), scenario=scenario, seed=7).retry_delays()]
    assert first == second


@pytest.mark.parametrize("error", ["Lambda.ServiceException", "Lambda.TooManyRequestsException"])
def test_injected_lambda_service_errors_are_retried(fleet: Fleet, error: str) -> None:
    scenario = {"mocks": {"Reboot": {"1": {"throw": {"error": error, "cause": "try later"}}}}}
    result = run(fleet, scenario=scenario)

    assert result.status == "SUCCEEDED"
    assert result.state_invocations["Reboot"] == 2
    assert [e["error"] for e in failures(result, "Reboot")] == [error]
    assert failures(result, "Reboot")[0]["cause"].startswith("try later (Service: AWSLambda;")


def test_service_errors_also_reach_function_arn_tasks() -> None:
    definition = {
        "StartAt": "Notify",
        "States": {
            "Notify": {
                "Type": "Task",
                "Resource": function_arn("notify"),
                "Retry": [
                    {
                        "ErrorEquals": ["Lambda.ServiceException"],
                        "IntervalSeconds": 3,
                        "BackoffRate": 2,
                        "MaxDelaySeconds": 4,
                        "MaxAttempts": 3,
                    }
                ],
                "End": True,
            }
        },
    }
    scenario = {"mocks": {"Notify": {"1-2": {"throw": {"error": "Lambda.ServiceException"}}}}}
    result = simulate(
        definition, {"notify": FunctionSpec(notify)}, {"outcome": "x"}, scenario=scenario
    )

    assert result.status == "SUCCEEDED"
    assert result.output == {"sent": True, "outcome": "x"}
    assert "LambdaFunctionFailed" in event_types(result)
    assert [e["error"] for e in failures(result, "Notify")] == ["Lambda.ServiceException"] * 2
    # IntervalSeconds 3, then 3 * 2 = 6 capped by MaxDelaySeconds 4; no jitter.
    assert [(r.nominal_seconds, r.seconds) for r in result.retry_delays("Notify")] == [
        (3, 3),
        (4, 4),
    ]


def test_a_raised_exception_is_a_lambda_function_error(fleet: Fleet) -> None:
    calls: list[dict[str, Any]] = []

    def flaky_reboot(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event)
        if len(calls) == 1:
            raise TransientError("instance is busy")
        return reboot(event, context)

    result = run(fleet, functions={**functions(), "reboot": FunctionSpec(flaky_reboot)})

    assert result.status == "SUCCEEDED"
    assert len(calls) == 2 and calls[0]["state"] == "Reboot"  # $$.State.Name in the payload
    assert calls[0]["execution_id"].endswith(":execution:healstack-simulation:simulation")
    (failure,) = failures(result, "Reboot")
    cause = json.loads(failure["cause"])
    assert failure["error"] == cause["errorType"] == "TransientError"
    assert cause["errorMessage"] == "instance is busy"
    assert cause["stackTrace"] and "flaky_reboot" in "".join(cause["stackTrace"])


def test_non_retryable_error_is_caught_and_notified(fleet: Fleet) -> None:
    notified: list[dict[str, Any]] = []

    def denied(event: dict[str, Any], context: Any) -> None:
        raise PermissionDenied("not authorized to reboot")

    def recording_notify(event: dict[str, Any], context: Any) -> dict[str, Any]:
        notified.append(event)
        return notify(event, context)

    handlers = {
        **functions(),
        "reboot": FunctionSpec(denied),
        "notify": FunctionSpec(recording_notify),
    }
    result = run(fleet, functions=handlers)

    assert result.status == "FAILED" and result.error == "ActionFailed"
    assert result.state_invocations["Reboot"] == 1  # not in the Retry list: no retry
    assert result.retry_delays() == []
    (reboot,) = result.steps_for("Reboot")
    assert reboot.caught and reboot.next_state == "NotifyActionFailed"
    assert reboot.error == "PermissionDenied"
    assert notified[0]["outcome"] == "action-failed"
    assert notified[0]["error"]["Error"] == "PermissionDenied"
    assert json.loads(notified[0]["error"]["Cause"])["errorMessage"] == "not authorized to reboot"


def test_exhausted_retries_are_caught(fleet: Fleet) -> None:
    scenario = {
        "mocks": {"Reboot": {"1+": {"throw": {"error": "TransientError", "cause": "still busy"}}}}
    }
    result = run(fleet, scenario=scenario)

    assert result.error == "ActionFailed"
    assert result.state_invocations["Reboot"] == 4  # 1 + MaxAttempts 3
    assert [r.nominal_seconds for r in result.retry_delays("Reboot")] == [2, 4, 8]
    assert result.steps_for("Reboot")[0].next_state == "NotifyActionFailed"


def test_thrown_error_names_need_not_be_python_classes(fleet: Fleet) -> None:
    scenario = {
        "mocks": {"Reboot": {"1": {"throw": {"error": "Custom.Quota-Exceeded", "cause": "quota"}}}}
    }
    result = run(fleet, scenario=scenario)

    assert result.error == "ActionFailed"
    assert [e["error"] for e in failures(result, "Reboot")] == ["Custom.Quota-Exceeded"]
    assert (
        json.loads(failures(result, "Reboot")[0]["cause"])["errorType"] == "Custom.Quota-Exceeded"
    )


def test_execution_timeout_is_measured_on_the_simulated_clock(fleet: Fleet) -> None:
    result = simulate(
        recovery_definition(timeout_seconds=700),
        functions(),
        fleet.event,
        setup=fleet.setup,
        scenario=ALWAYS_UNHEALTHY,
    )

    assert result.status == "TIMED_OUT"
    assert event_types(result)[-1] == "ExecutionTimedOut"
    assert result.simulated_seconds == pytest.approx(700)
    assert result.fast_forwards[-1].hit_timeout
    assert result.state_invocations["Reboot"] == 3


def test_every_kind_of_wait_is_fast_forwarded() -> None:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)

    def stamp(delta: datetime.timedelta) -> str:
        return (now + delta).strftime("%Y-%m-%dT%H:%M:%SZ")

    definition = {
        "StartAt": "Seconds",
        "States": {
            "Seconds": {"Type": "Wait", "Seconds": 300, "Next": "SecondsPath"},
            "SecondsPath": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Timestamp"},
            "Timestamp": {
                "Type": "Wait",
                "Timestamp": stamp(datetime.timedelta(hours=2)),
                "Next": "TimestampPath",
            },
            "TimestampPath": {"Type": "Wait", "TimestampPath": "$.until", "End": True},
        },
    }
    started = time.monotonic()
    result = simulate(definition, {}, {"delay": 60, "until": stamp(datetime.timedelta(hours=3))})

    assert time.monotonic() - started < 15
    assert result.status == "SUCCEEDED"
    waits = {w.state: (w.source, w.seconds) for w in result.waits()}
    assert waits["Seconds"] == ("Seconds", 300)
    assert waits["SecondsPath"] == ("SecondsPath", 60)
    # Timestamps are reached on the simulated clock: 2 h after start, then 1 h more.
    assert waits["Timestamp"][0] == "Timestamp"
    assert 300 + 60 + waits["Timestamp"][1] == pytest.approx(2 * 3600, abs=3)
    assert waits["TimestampPath"] == ("TimestampPath", pytest.approx(3600, abs=2))
    assert result.simulated_seconds == pytest.approx(3 * 3600, abs=3)


def test_handlers_get_their_environment_and_a_context() -> None:
    seen: dict[str, Any] = {}

    def probe(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.update(
            level=os.environ.get("LOG_LEVEL"),
            region=os.environ.get("AWS_REGION"),
            name=context.function_name,
            request=context.aws_request_id,
            remaining=context.get_remaining_time_in_millis(),
            caller=boto3.client("sts", region_name=REGION).get_caller_identity()["Account"],
        )
        return {"ok": True}

    definition = {
        "StartAt": "Probe",
        "States": {"Probe": {"Type": "Task", "Resource": function_arn("probe"), "End": True}},
    }
    result = simulate(
        definition, {"probe": FunctionSpec(probe, {"LOG_LEVEL": "DEBUG"}, timeout_s=9)}, {}
    )

    assert result.status == "SUCCEEDED"
    assert seen["level"] == "DEBUG" and seen["region"] == REGION and seen["name"] == "probe"
    assert seen["request"] == result.invocations[0].request_id
    assert 0 < seen["remaining"] <= 9000
    assert seen["caller"] == "123456789012"  # moto, not a real account
    assert "LOG_LEVEL" not in os.environ and "AWS_LAMBDA_FUNCTION_NAME" not in os.environ


def test_two_simulations_in_a_row_start_fresh() -> None:
    first_fleet, second_fleet = Fleet(), Fleet()
    counts: list[int] = []

    def count_instances() -> None:
        reservations = boto3.client("ec2", region_name=REGION).describe_instances()["Reservations"]
        counts.append(sum(len(r["Instances"]) for r in reservations))

    first = run(first_fleet, after=count_instances)
    second = run(second_fleet, scenario=ALWAYS_UNHEALTHY, after=count_instances)

    assert (first.status, second.status) == ("SUCCEEDED", "FAILED")
    assert counts == [1, 1]
    assert first.lambda_invocations["reboot"] == 1
    assert second.lambda_invocations["reboot"] == MAX_ATTEMPTS


def test_patches_are_undone_even_when_setup_fails() -> None:
    originals = (LambdaSimpleBackend.invoke, WaitFunction._wait_interval, retrier_decl.time)

    def broken_setup() -> None:
        raise RuntimeError("setup exploded")

    with pytest.raises(RuntimeError, match="setup exploded"):
        simulate(recovery_definition(), functions(), {}, setup=broken_setup)
    assert (LambdaSimpleBackend.invoke, WaitFunction._wait_interval, retrier_decl.time) == originals
    simulate({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {}, {})
    assert (LambdaSimpleBackend.invoke, WaitFunction._wait_interval, retrier_decl.time) == originals


def test_real_time_budget_stops_a_hanging_execution() -> None:
    def hangs(event: dict[str, Any], context: Any) -> None:
        time.sleep(0.6)

    definition = {
        "StartAt": "Hang",
        "States": {"Hang": {"Type": "Task", "Resource": function_arn("hang"), "End": True}},
    }
    with pytest.raises(SimulationTimeoutError, match=r"still RUNNING after 0\.2s") as caught:
        simulate(definition, {"hang": FunctionSpec(hangs)}, {}, timeout_s=0.2)
    assert caught.value.result.status == "ABORTED"
    assert [step.state for step in caught.value.result.steps] == ["Hang"]


def test_missing_handler_and_unknown_scenario_state_are_reported_before_running(
    fleet: Fleet,
) -> None:
    handlers = functions()
    del handlers["notify"]
    with pytest.raises(
        SimulationError, match="'NotifyGaveUp' invokes Lambda function 'notify' but no handler"
    ):
        run(fleet, functions=handlers)
    with pytest.raises(
        ScenarioError, match=r"^scenario.mocks.Rebot: no Lambda Task state of that name"
    ):
        run(fleet, scenario={"mocks": {"Rebot": {"1": "real"}}})


def test_refuses_to_run_inside_a_callers_mock() -> None:
    with mock_aws(), pytest.raises(SimulationError, match="call it outside mock_aws"):
        simulate({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {}, {})


def test_render_text_and_to_json(fleet: Fleet) -> None:
    result = run(
        fleet,
        scenario={
            "name": "flaky",
            "mocks": {"Reboot": {"1": {"throw": {"error": "TransientError"}}}},
        },
    )

    text = render_text(result)
    wait_line = next(line for line in text.splitlines() if "WaitAfterAction" in line)
    assert wait_line.split()[1:4] == ["Wait", "WaitAfterAction", "waited"]
    assert "(fast-forwarded)" in wait_line
    data = to_json(result)
    assert json.loads(json.dumps(data)) == data
    assert list(data)[:4] == ["status", "error", "cause", "scenario"]
    assert data["scenario"] == "flaky"
    reboot = next(step for step in data["steps"] if step["state"] == "Reboot")
    assert [a["mocked"] for a in reboot["attempts"]] == [True, False]
    assert "history" not in data and len(to_json(result, include_history=True)["history"]) == len(
        result.history
    )
