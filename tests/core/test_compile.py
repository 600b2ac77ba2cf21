"""The playbook -> workflow graph -> ASL compilation, without any cloud code."""

from __future__ import annotations

import json
from typing import Any

import pytest
from statelint.config import Config
from statelint.linter import Linter
from statelint.problem.problem_type import ProblemType

from healstack.loader import (
    load_playbook,
    playbook_from_dict,
    shipped_playbook_path,
    shipped_playbooks,
)
from healstack.modules.compile import (
    LOCK_MARGIN_SECONDS,
    THROTTLED_RETRY,
    TRANSIENT_RETRY,
    compile_playbook,
    function_keys,
)
from healstack.providers.aws.asl import render
from healstack.providers.workflow import Choice, Increment, StoreWrite, Task, Wait
from tests.conftest import REPO

ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def asl_of(playbook_file: str) -> dict[str, Any]:
    compiled = compile_playbook(load_playbook(shipped_playbook_path(playbook_file)))
    return render(
        compiled.workflow, {k: ARN.format(k) for k in compiled.workflow.functions}, "table"
    )


@pytest.mark.parametrize("name", shipped_playbooks())
def test_generated_definition_passes_statelint(name: str) -> None:
    # FLOAT is ignored: statelint wrongly rejects an integer-valued BackoffRate.
    config = Config(ignored_problem_types=[ProblemType.FLOAT.name])
    assert Linter.validate(asl_of(name), config) == []


def test_default_playbook_shape() -> None:
    asl = asl_of("ec2-status-check-recovery.yaml")
    states = asl["States"]
    assert asl["StartAt"] == "ResolveTarget"
    assert asl["TimeoutSeconds"] == 3600
    # the attempt counter starts at 1 and is incremented by the loop
    assert states["ResolveTarget"]["ResultSelector"]["attempt"] == 1
    assert states["NextAttempt"]["Parameters"]["attempt.$"] == "States.MathAdd($.ctx.attempt, 1)"
    assert states["NextAttempt"]["Next"] == "CheckBeforeAction"
    # bounded: the loop continues only while attempt < 3
    assert states["AttemptsLeft"]["Choices"][0] == {
        "Variable": "$.ctx.attempt",
        "NumericLessThan": 3,
        "Next": "WaitBetweenAttempts",
    }
    assert states["AttemptsLeft"]["Default"] == "NotifyGaveUp"
    assert states["NotifyGaveUp"]["Next"] == "GaveUp"
    assert states["GaveUp"]["Type"] == "Fail"
    # success ends in a notification
    verdict = states["CheckAfterActionHealthy"]
    assert verdict["Choices"][0] == {
        "Variable": "$.last.healthy",
        "BooleanEquals": True,
        "Next": "NotifyRecovered",
    }
    assert states["NotifyRecovered"]["End"] is True
    assert states["WaitForStatusChecks"] == {
        "Type": "Wait",
        "Comment": "wait 3m",
        "Seconds": 180,
        "Next": "CheckAfterAction",
    }
    assert states["WaitBetweenAttempts"]["Seconds"] == 60


def test_attempt_gates_fuse_into_the_verdict_choice() -> None:
    states = asl_of("ec2-status-check-recovery.yaml")["States"]
    before = states["CheckBeforeActionHealthy"]
    assert [c["Next"] for c in before["Choices"]] == [
        "NotifySkipped",
        "NotifyAlreadyHealthy",
        "BudgetForReboot",
        "BudgetForStop",
    ]
    assert before["Choices"][2] == {
        "Variable": "$.ctx.attempt",
        "NumericEquals": 1,
        "Next": "BudgetForReboot",
    }
    assert before["Choices"][3]["And"] == [
        {"Variable": "$.ctx.attempt", "NumericGreaterThanEquals": 2},
        {"Variable": "$.ctx.attempt", "NumericLessThanEquals": 3},
    ]
    # no Choice leads straight into another Choice
    for state in states.values():
        if state["Type"] == "Choice":
            assert states[state["Default"]]["Type"] != "Choice"


def test_every_task_retries_transient_errors_with_backoff_and_jitter() -> None:
    states = asl_of("ec2-status-check-recovery.yaml")["States"]
    tasks = {n: s for n, s in states.items() if s["Type"] == "Task" and "lambda" in s["Resource"]}
    assert len(tasks) >= 8
    for name, task in tasks.items():
        transient = [r for r in task["Retry"] if "Lambda.ServiceException" in r["ErrorEquals"]]
        assert transient, name
        retry = transient[0]
        assert {"Lambda.SdkClientException", "TransientError"} <= set(retry["ErrorEquals"])
        assert retry["BackoffRate"] == 2.0 and retry["JitterStrategy"] == "FULL"
        assert retry["MaxDelaySeconds"] == 30
        assert task["TimeoutSeconds"] == 30
        assert task["Resource"] == "arn:aws:states:::lambda:invoke"


THROTTLED = {
    # a throttled invoke rides out a storm like a throttled API call (an event must not end
    # unresolved because the functions' concurrency was used up)
    "ErrorEquals": ["Throttled", "Lambda.TooManyRequestsException"],
    "IntervalSeconds": 5,
    "MaxAttempts": 12,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 120,
    "JitterStrategy": "FULL",
}


@pytest.mark.parametrize("name", shipped_playbooks())
def test_every_task_retries_a_throttled_call_for_minutes_with_full_jitter(name: str) -> None:
    states = asl_of(name)["States"]
    tasks = {n: s for n, s in states.items() if s["Type"] == "Task" and "lambda" in s["Resource"]}
    assert tasks
    for task_name, task in tasks.items():
        throttled = [r for r in task["Retry"] if "Throttled" in r["ErrorEquals"]]
        assert throttled == [THROTTLED], task_name  # its own policy, not the short one
        transient = [r for r in task["Retry"] if "TransientError" in r["ErrorEquals"]]
        assert transient and transient[0]["MaxAttempts"] == 4, task_name


def test_a_poll_and_an_approval_retry_throttled_calls_too() -> None:
    data = {
        "name": "careful",
        "trigger": {"source": "aws.ec2"},
        "target": {"kind": "ec2_instance", "scope": "whole-account"},
        "steps": [
            {"action": "stop"},
            {"wait_until": {"state": "stopped"}},
            {"check": "status"},
        ],
        "approval": {"before": ["stop"], "approvers": ["arn:aws:iam::123456789012:role/oncall"]},
    }
    compiled = compile_playbook(playbook_from_dict(data))
    asl = render(compiled.workflow, {k: ARN.format(k) for k in compiled.workflow.functions}, "t")
    poll = asl["States"]["WaitUntilStopped"]["Retry"]
    assert poll[0]["ErrorEquals"] == ["StateNotReached"]  # the poll itself comes first
    assert poll[2] == THROTTLED
    assert asl["States"]["ApproveStop"]["Retry"][1] == THROTTLED


def test_the_throttled_policy_outlasts_a_documented_ec2_storm() -> None:
    # EC2's RebootInstances bucket: 50 tokens, 5 per second ("Request throttling for the
    # Amazon EC2 API"): 1,000 reboots at once need (1,000 - 50) / 5 = 190 s of refills
    refills = (1000 - 50) / 5
    assert THROTTLED_RETRY.delays() == (5, 10, 20, 40, 80) + (120,) * 7
    assert THROTTLED_RETRY.longest_wait_seconds == 995
    # full jitter waits half the nominal delays on average: still past 5 minutes
    assert THROTTLED_RETRY.expected_wait_seconds >= 300 > refills
    # the short transient policy gives up after 30 s at the very most
    assert TRANSIENT_RETRY.delays() == (2, 4, 8, 16)
    assert TRANSIENT_RETRY.longest_wait_seconds == 30 < refills


PLAYBOOK_FILES = [shipped_playbook_path(n) for n in shipped_playbooks()] + sorted(
    (REPO / "examples").glob("*/playbooks/*.yaml")
)


@pytest.mark.parametrize("path", PLAYBOOK_FILES, ids=lambda p: p.parent.parent.name + "/" + p.name)
def test_the_lock_outlives_the_workflow_and_a_throttled_step_fits_its_timeout(path: Any) -> None:
    playbook = load_playbook(path)
    compiled = compile_playbook(playbook)
    lock = compiled.workflow.state("TakeLock")
    assert isinstance(lock, StoreWrite)
    # the engine ends an execution at TimeoutSeconds whatever its retries want: a lock that
    # expires a margin after that never expires under a running execution
    timeout = compiled.workflow.timeout_seconds
    assert timeout == playbook.timeout
    assert isinstance(lock.expires_at, Increment)
    assert lock.expires_at.by == timeout + LOCK_MARGIN_SECONDS
    # every wait of every attempt plus the longest a throttled step can retry fit inside it
    assert playbook.minimum_run_seconds() + THROTTLED_RETRY.longest_wait_seconds < timeout


def test_every_non_notify_task_catches_into_a_failure_notification() -> None:
    states = asl_of("ec2-status-check-recovery.yaml")["States"]
    for name, state in states.items():
        if state["Type"] != "Task" or name.startswith("Notify") or name.startswith("Approve"):
            continue
        catch_all = [c for c in state["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
        assert catch_all, name
        target = catch_all[0]["Next"]
        if name == "ReleaseLockAfterNotifyFailed":  # telling already failed: end, alarmed
            assert states[target] == {
                "Type": "Fail",
                "Error": "NotificationFailed",
                "Cause": "the outcome could not be told; the lock was released",
            }
            continue
        assert target in ("NotifyFailed", "NotifyUnresolvedEvent")
        assert states[states[target]["Next"]]["Type"] == "Fail"


def test_wait_until_is_one_task_whose_retry_is_the_bounded_poll() -> None:
    states = asl_of("ec2-status-check-recovery.yaml")["States"]
    poll = states["WaitUntilStopped"]
    assert poll["Parameters"]["Payload"]["params"] == {"expect_state": "stopped"}
    assert poll["Retry"][0] == {
        "ErrorEquals": ["StateNotReached"],
        "IntervalSeconds": 15,
        "MaxAttempts": 19,
        "BackoffRate": 1.0,
    }
    assert poll["Catch"][0] == {
        "ErrorEquals": ["StateNotReached"],
        "ResultPath": "$.error",
        "Next": "RecordFailedAttempt",
    }


def test_payloads_carry_execution_and_state_and_dry_run() -> None:
    states = asl_of("ec2-status-check-recovery.yaml")["States"]
    payload = states["Reboot"]["Parameters"]["Payload"]
    assert payload["execution_id.$"] == "$$.Execution.Id"
    assert payload["state.$"] == "$$.State.Name"
    assert payload["resource_id.$"] == "$.ctx.resource_id"
    assert payload["dry_run"] is False
    assert states["Reboot"]["ResultPath"] is None  # actions keep the data small


def test_single_attempt_playbook_has_no_loop() -> None:
    data = {
        "name": "one-shot",
        "trigger": {"source": "aws.rds"},
        "target": {"kind": "rds_instance", "scope": "whole-account"},
        "steps": [{"action": "reboot"}, {"wait": "1m"}, {"check": "status"}],
        "attempts": {"max": 1},
    }
    compiled = compile_playbook(playbook_from_dict(data))
    names = [s.name for s in compiled.workflow.states]
    assert "AttemptsLeft" not in names and "NextAttempt" not in names
    assert "NotifyAlreadyHealthy" not in names  # unreachable: no check before the action
    verdict = compiled.workflow.state("CheckStatusHealthy")
    assert isinstance(verdict, Choice) and verdict.default == "RecordFailedAttempt"
    record = compiled.workflow.state("RecordFailedAttempt")
    assert isinstance(record, StoreWrite) and record.next == "NotifyGaveUp"


def test_function_keys_one_per_distinct_operation() -> None:
    playbook = load_playbook(shipped_playbook_path("ec2-status-check-recovery.yaml"))
    assert function_keys(playbook) == [
        "resolve-target",
        "check-status",
        "reboot",
        "stop",
        "start",
        "notify",
    ]
    compiled = compile_playbook(playbook)
    tasks = [s for s in compiled.workflow.states if isinstance(s, Task)]
    assert {t.function for t in tasks} == set(function_keys(playbook))
    waits = [s for s in compiled.workflow.states if isinstance(s, Wait)]
    assert sorted(w.seconds for w in waits) == [60, 180]


def test_dry_run_reaches_every_step_payload() -> None:
    data = {
        "name": "dry",
        "trigger": {"source": "aws.ec2"},
        "target": {"kind": "ec2_instance", "scope": "whole-account"},
        "steps": [{"action": "reboot"}, {"check": "status"}],
        "dry_run": True,
    }
    compiled = compile_playbook(playbook_from_dict(data))
    asl = render(compiled.workflow, {k: ARN.format(k) for k in compiled.workflow.functions}, "t")
    for name, state in asl["States"].items():
        if state["Type"] == "Task" and "lambda" in state["Resource"]:
            assert state["Parameters"]["Payload"]["dry_run"] is True, name


def test_lock_then_anti_flap_guard_every_recovery() -> None:
    states = asl_of("ec2-status-check-recovery.yaml")["States"]
    assert states["ResolveTarget"]["Next"] == "TakeLock"
    lock = states["TakeLock"]
    assert (
        lock["Parameters"]["ConditionExpression"] == "attribute_not_exists(pk) OR expires_at < :now"
    )
    # the lock expires a minute after the workflow's own timeout (3600 s)
    assert lock["Parameters"]["Item"]["expires_at"] == {
        "N.$": "States.Format('{}', States.MathAdd($.ctx.started_at, 3660))"
    }
    assert lock["Catch"][0] == {
        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
        "ResultPath": "$.error",
        "Next": "NotifyAlreadyRecovering",
    }
    assert states["NotifyAlreadyRecovering"]["End"] is True
    # the budget is taken right before each action, never for a healthy or skipped resource
    assert lock["Next"] == "CheckBeforeAction"
    for action in ("Reboot", "Stop", "Start"):
        budget = states[f"BudgetFor{action}"]
        assert budget["Next"] == action
        assert budget["Resource"] == "arn:aws:states:::dynamodb:updateItem"
        params = budget["Parameters"]
        # one execution counts once, however many actions it runs
        assert params["UpdateExpression"].startswith("ADD executions :me ")
        assert params["ConditionExpression"] == (
            "attribute_not_exists(executions) OR size(executions) < :limit "
            "OR contains(executions, :member)"
        )
        assert params["ExpressionAttributeValues"][":limit"] == {"N": "3"}
        assert params["ExpressionAttributeValues"][":me"] == {
            "SS.$": "States.Array($$.Execution.Id)"
        }
        assert budget["Catch"][0]["Next"] == "NotifyRecoveryLimit"
        assert budget["TimeoutSeconds"] == 10
    assert states["NotifyRecoveryLimit"]["Next"] == "RecoveryLimitReached"
    assert not any(
        s.get("Next", "").startswith("BudgetFor")
        for n, s in states.items()
        if n in ("TakeLock", "CheckBeforeAction")
    )


def test_failed_attempts_are_recorded_before_the_loop() -> None:
    states = asl_of("ec2-status-check-recovery.yaml")["States"]
    assert states["CheckAfterActionHealthy"]["Default"] == "RecordFailedAttempt"
    record = states["RecordFailedAttempt"]
    assert record["Next"] == "AttemptsLeft"
    assert record["Parameters"]["Item"]["sk"] == {
        "S.$": "States.Format('{}#{}#attempt-{}', $.ctx.started_at, $$.Execution.Name, $.ctx.attempt)"
    }
    # the loop carries the whole context forward
    assert states["NextAttempt"]["Parameters"] == {
        "resource_id.$": "$.ctx.resource_id",
        "attempt.$": "States.MathAdd($.ctx.attempt, 1)",
        "started_at.$": "$.ctx.started_at",
        "window.$": "$.ctx.window",
        "own_stop": {"done": False},  # each attempt's start undoes only its own stop
    }


def test_approval_pauses_on_a_callback_before_each_listed_action() -> None:
    data = {
        "name": "careful",
        "trigger": {"source": "aws.ec2"},
        "target": {"kind": "ec2_instance", "scope": "whole-account"},
        "steps": [{"action": "reboot"}, {"action": "stop"}, {"check": "status"}],
        "approval": {
            "before": ["stop"],
            "timeout": "30m",
            "approvers": ["arn:aws:iam::123456789012:role/oncall"],
        },
    }
    compiled = compile_playbook(playbook_from_dict(data))
    asl = render(compiled.workflow, {k: ARN.format(k) for k in compiled.workflow.functions}, "t")
    states = asl["States"]
    assert states["Reboot"]["Next"] == "ApproveStop"
    request = states["ApproveStop"]
    # no callback token: nothing an approver (or anyone) could replay or forward
    assert request["Resource"] == "arn:aws:states:::lambda:invoke"
    assert "$$.Task.Token" not in json.dumps(asl)
    assert request["Parameters"]["Payload"]["params"] == {
        "phase": "request",
        "action": "stop",
        "timeout_seconds": 1800,
    }
    assert request["Next"] == "AwaitStopDecision"
    wait = states["AwaitStopDecision"]
    assert wait["Parameters"]["Payload"]["params"] == {"phase": "await", "action": "stop"}
    assert wait["Retry"][0] == {
        "ErrorEquals": ["ApprovalPending"],
        "IntervalSeconds": 15,
        "MaxAttempts": 120,  # 30 minutes
        "BackoffRate": 1.0,
    }
    catches = {tuple(c["ErrorEquals"]): c["Next"] for c in wait["Catch"]}
    assert catches[("ApprovalPending",)] == "NotifyApprovalTimedOut"
    assert catches[("ApprovalRejected",)] == "NotifyApprovalRejected"
    assert catches[("States.ALL",)] == "NotifyFailed"
    # approved, the action still takes its place in the anti-flap budget first
    assert wait["Next"] == "BudgetForStop"
    assert states["BudgetForStop"]["Next"] == "Stop"
    assert states["NotifyApprovalTimedOut"]["Next"] == "ApprovalTimedOut"
    assert {"request-approval", "decide-approval"} <= set(compiled.workflow.functions) | {
        f.key for f in compiled.functions
    }
    decide = next(f for f in compiled.functions if f.key == "decide-approval")
    assert decide.purpose == "decide"
    assert decide.config["approvers"] == "arn:aws:iam::123456789012:role/oncall"


def test_a_day_long_approval_polls_less_often_to_keep_the_history_bounded() -> None:
    data = {
        "name": "slow",
        "trigger": {"source": "aws.ec2"},
        "target": {"kind": "ec2_instance", "scope": "whole-account"},
        "steps": [{"action": "reboot"}, {"check": "status"}],
        "timeout": "2d",
        "approval": {
            "before": ["reboot"],
            "timeout": "24h",
            "approvers": ["arn:aws:iam::123456789012:role/oncall"],
        },
    }
    compiled = compile_playbook(playbook_from_dict(data))
    asl = render(compiled.workflow, {k: ARN.format(k) for k in compiled.workflow.functions}, "t")
    poll = asl["States"]["AwaitRebootDecision"]["Retry"][0]
    assert poll["IntervalSeconds"] == 87 and poll["MaxAttempts"] == 994
    assert poll["IntervalSeconds"] * poll["MaxAttempts"] >= 86400


def test_approval_must_name_an_action_of_the_steps(tmp_path: Any) -> None:
    from healstack.errors import PlaybookError

    data = {
        "name": "careful",
        "trigger": {"source": "aws.ec2"},
        "target": {"kind": "ec2_instance", "scope": "whole-account"},
        "steps": [{"action": "reboot"}, {"check": "status"}],
        "approval": {"before": ["stop"], "approvers": ["arn:aws:iam::123456789012:role/oncall"]},
    }
    with pytest.raises(
        PlaybookError,
        match=r"approval.before\[0\]: \"stop\" is not an action of this playbook's steps \(use one of: reboot\)",
    ):
        playbook_from_dict(data)


def test_the_workflow_names_its_finalizer_and_store() -> None:
    compiled = compile_playbook(load_playbook(shipped_playbook_path()))
    assert compiled.workflow.finalizer == "notify"
    assert compiled.workflow.store == "recoveries"
    notify = next(f for f in compiled.functions if f.key == "notify")
    assert notify.uses_store and notify.uses_notifier
    assert notify.config == {
        "playbook": "ec2-status-check-recovery",
        "target_kind": "ec2_instance",
        "id_path": "",
        "history_days": "90",
    }


def test_a_step_never_enters_a_gate_that_cannot_admit_its_attempt() -> None:
    states = asl_of("ec2-status-check-recovery.yaml")["States"]
    # Reboot runs on attempt 1 only; the stop/start steps on 2-3: straight to the wait
    assert states["Reboot"]["Next"] == "WaitForStatusChecks"
    assert "StopOnThisAttempt" not in states  # unreachable, so not generated
    assert states["CheckBeforeActionHealthy"]["Default"] == "WaitForStatusChecks"


def test_the_workflows_tell_exactly_the_catalogs_outcomes() -> None:
    """Every outcome a compiled workflow can tell is one ``catalog.OUTCOMES`` names (the
    words notifications, metrics and ``simulate --expect`` use), and each of them is told by
    some workflow: the list is neither stale nor padded."""
    from healstack.catalog import OUTCOMES

    data = {
        "name": "careful",
        "trigger": {"source": "aws.ec2"},
        "target": {"kind": "ec2_instance", "scope": "whole-account"},
        "steps": [{"action": "stop"}, {"wait_until": {"state": "stopped"}}, {"check": "status"}],
        "approval": {"before": ["stop"], "approvers": ["arn:aws:iam::123456789012:role/oncall"]},
        "guard": {"fleet": {"max_in_flight": 2, "max_per_hour": 5}},
    }
    playbooks = [load_playbook(shipped_playbook_path(n)) for n in shipped_playbooks()]
    told: set[str] = set()
    for playbook in [*playbooks, playbook_from_dict(data)]:
        workflow = compile_playbook(playbook).workflow
        for state in workflow.states:
            payload = getattr(state, "payload", None) or {}
            outcome = payload.get("outcome") if isinstance(payload, dict) else None
            if isinstance(outcome, str) and outcome != "unhealthy":  # a step result, not told
                told.add(outcome)
    assert told == set(OUTCOMES)
