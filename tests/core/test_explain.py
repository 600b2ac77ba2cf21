"""``healstack explain``: bounds from the generated workflow, checked by hand on small graphs
and against simulated worst cases of the shipped EC2 playbook.

Which figures are exact and which are upper bounds (also in docs/explain.md):

- ``no_faults`` (every Wait and poll to its last try, no transient fault): for the ending a
  simulation reaches, states entered, billed transitions, Lambda invocations, mutating calls
  and Wait seconds are *exact* when the simulation takes that ending's longest path (the
  never-recovers scenario with every poll used: tested equal below); poll seconds are exact
  (polls do not jitter). Durations are upper bounds: each try is counted to its timeout.
- ``every_retry``: an upper bound on everything. The tries of one action (every retrier used:
  Step Functions counts each retrier on its own) are exact (tested equal below).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from healstack.cli import main
from healstack.explain import (
    ExplainError,
    Explanation,
    Prices,
    explain_playbook,
    explain_workflow,
    failures,
    render_json,
    render_table,
    short_form,
)
from healstack.loader import load_playbook, playbook_from_dict, shipped_playbook_path
from healstack.loader import shipped_playbooks as shipped_names
from healstack.modules.compile import NOTIFY_FUNCTION, compile_playbook
from healstack.playbook import Playbook
from healstack.providers.interfaces import FunctionSpec
from healstack.providers.workflow import (
    Assign,
    Catch,
    Choice,
    ErrorCategory,
    Fail,
    Increment,
    IsTrue,
    NumberBelow,
    Ref,
    RetryPolicy,
    Rule,
    StoreWrite,
    Succeed,
    Task,
    Wait,
    Workflow,
)
from tests.conftest import REPO

ATTEMPT = Ref(("ctx", "attempt"))
#: round prices, so a test can price a path by hand
PRICES = Prices(
    per_transition_usd=1.0,
    per_request_usd=10.0,
    per_gb_second_usd=100.0,
    function_timeout_s=10,
    function_memory_mb=1024,
    as_of="test",
)
POLL = RetryPolicy((ErrorCategory.NOT_READY,), 3, 4, backoff_rate=1.0, jitter=False)
FAULT = RetryPolicy((ErrorCategory.STEP_TRANSIENT,), 2, 3, backoff_rate=2.0, max_delay_seconds=5)
FUNCTIONS = (
    FunctionSpec("init", "resolve_target", "ec2_instance"),
    FunctionSpec("reboot", "step", "ec2_instance", "reboot"),
    FunctionSpec(NOTIFY_FUNCTION, "notify", "ec2_instance"),
)


def _init(next_state: str) -> Task:
    """Sets the counter; failing, it reaches Tell before the counter has a value."""
    return Task(
        "Init",
        "init",
        {},
        next_state,
        result={"attempt": 1},
        result_at="ctx",
        catch=(Catch((ErrorCategory.ANY,), "Tell"),),
    )


def _tell(name: str = "Tell", next_state: str | None = "Done") -> Task:
    return Task(name, NOTIFY_FUNCTION, {}, next_state, timeout_seconds=20)


def _loop(max_attempts: int, pause: int) -> Workflow:
    """Init -> Work (polls, retries faults, reboots) -> More? -> Pause -> Bump -> Work ...
    -> Tell -> Done."""
    return Workflow(
        name="loop",
        comment="",
        start_at="Init",
        states=(
            _init("Work"),
            Task("Work", "reboot", {}, "More", timeout_seconds=30, retry=(POLL, FAULT)),
            Choice("More", (Rule(NumberBelow(ATTEMPT, max_attempts), "Pause"),), "Tell"),
            Wait("Pause", pause, "Bump"),
            Assign("Bump", "ctx", {"attempt": Increment(ATTEMPT)}, "Work"),
            _tell(),
            Succeed("Done"),
        ),
        timeout_seconds=100_000,
    )


def test_a_counted_loop_unrolls_to_its_bound_and_every_figure_adds_up() -> None:
    x = explain_workflow(_loop(3, 10), FUNCTIONS, PRICES)
    attempts, work_tries = 3, 1 + POLL.max_attempts
    assert x.figure("no_faults", "states_entered") == 1 + 2 * attempts + 2 * (attempts - 1) + 2
    assert x.figure("no_faults", "invocations") == 1 + attempts * work_tries + 1
    assert x.figure("no_faults", "transitions") == (
        x.figure("no_faults", "states_entered") + attempts * POLL.max_attempts
    )
    assert x.figure("no_faults", "wait_s") == 10 * (attempts - 1)
    nofault = x.worst["no_faults"]["duration_s"].tally
    assert nofault.poll_s == attempts * POLL.max_attempts * 3
    assert nofault.retry_s == 0
    assert nofault.task_s == 30 + attempts * work_tries * 30 + 20
    # every retry: the fault retrier adds its own tries (2 s, 4 s, then capped at 5 s)
    every = x.worst["every_retry"]["duration_s"].tally
    all_tries = 1 + POLL.max_attempts + FAULT.max_attempts
    assert every.retry_s == attempts * (2 + 4 + 5)
    assert x.figure("every_retry", "invocations") == 1 + attempts * all_tries + 1
    assert x.action_tries["no_faults"] == {"reboot": attempts * work_tries}
    assert x.action_tries["every_retry"] == {"reboot": attempts * all_tries}
    assert x.figure("every_retry", "mutating_calls") == attempts * all_tries
    # priced by hand: transitions, requests, and each try billed to the 10 s function timeout
    # at 1 GB
    bill = every.states + every.retries + 10 * every.invocations + 100 * every.invocations * 10
    assert x.figure("every_retry", "cost_usd") == bill
    assert x.worst["no_faults"]["states_entered"].path[-3:] == ("More", "Tell", "Done")
    assert not failures(x) and x.notifies_every_ending


def test_the_workflow_timeout_caps_the_duration_and_its_finalizer_is_counted() -> None:
    capped = explain_workflow(
        replace(_loop(3, 10), timeout_seconds=60, finalizer=NOTIFY_FUNCTION),
        FUNCTIONS,
        PRICES,
    )
    assert capped.may_time_out and capped.capped_duration_s == 60
    assert capped.max_invocations == capped.figure("every_retry", "invocations") + 1
    roomy = explain_workflow(_loop(3, 10), FUNCTIONS, PRICES)
    assert not roomy.may_time_out
    assert roomy.capped_duration_s == roomy.figure("every_retry", "duration_s")


def test_a_loop_no_counter_bounds_is_an_error() -> None:
    workflow = Workflow(
        name="forever",
        comment="",
        start_at="Init",
        states=(
            _init("Work"),
            Task("Work", "reboot", {}, "Healthy", result={"healthy": True}, result_at="last"),
            Choice("Healthy", (Rule(IsTrue(Ref(("last", "healthy"))), "Tell"),), "Work"),
            _tell(),
            Succeed("Done"),
        ),
        timeout_seconds=600,
    )
    with pytest.raises(ExplainError, match="a loop no counter bounds runs through Healthy, Work"):
        explain_workflow(workflow, FUNCTIONS, PRICES)


def test_an_ending_nobody_is_told_of_is_a_failure() -> None:
    workflow = Workflow(
        name="silent",
        comment="",
        start_at="Init",
        states=(
            _init("Work"),
            Task("Work", "reboot", {}, "Tell", catch=(Catch((ErrorCategory.ANY,), "Broken"),)),
            _tell(),
            Succeed("Done"),
            Fail("Broken", "Broken", "nobody hears of this"),
        ),
        timeout_seconds=600,
    )
    x = explain_workflow(workflow, FUNCTIONS, PRICES)
    assert not x.notifies_every_ending
    assert failures(x) == ["no notification on a path to Broken"]
    assert "NOT TOLD" in render_table(x) and "FAILED" in render_table(x)
    assert short_form(x)[-1] == "every path ends in a notification: NO (see healstack explain)"


def test_an_action_the_budget_does_not_count_first_is_a_failure() -> None:
    budget = StoreWrite(
        "Budget", "count", "k", "s", "Work", limit=3, expires_at=Increment(ATTEMPT, 600)
    )
    workflow = Workflow(
        name="unbudgeted",
        comment="",
        start_at="Init",
        states=(
            _init("Which"),
            Choice("Which", (Rule(IsTrue(Ref(("ctx", "careful"))), "Budget"),), "Work"),
            budget,
            Task("Work", "reboot", {}, "Tell"),
            _tell(),
            Succeed("Done"),
        ),
        timeout_seconds=600,
    )
    x = explain_workflow(workflow, FUNCTIONS, PRICES)
    assert x.guard.budget_states == ("Budget",) and not x.guard.covers_every_action
    assert x.calls_per_window is None
    assert failures(x) == ["the guard's budget does not count the recovery before reboot"]


@pytest.mark.parametrize("name", shipped_names())
def test_every_shipped_playbook_tells_every_ending_and_budgets_every_action(name: str) -> None:
    playbook = load_playbook(shipped_playbook_path(name))
    x = explain_playbook(playbook)
    assert failures(x) == []
    # read off the BudgetFor<Action> states, they are the playbook's guard
    assert (x.guard.limit, x.guard.window_s) == (
        playbook.guard.max_recoveries,
        playbook.guard.window,
    )
    assert x.calls_per_window == playbook.guard.max_recoveries * x.figure(
        "every_retry", "mutating_calls"
    )
    assert x.timeout_s == playbook.timeout
    for regime in ("no_faults", "every_retry"):
        # one path's calls: at least the most-tried action's, at most every action's most
        tries = x.action_tries[regime].values()
        assert max(tries) <= x.figure(regime, "mutating_calls") <= sum(tries)


def _ec2(**changes: Any) -> Playbook:
    data = load_playbook(shipped_playbook_path()).model_dump(mode="json", exclude_none=True)
    data.update(changes)
    return playbook_from_dict(data)


def test_the_approval_wait_is_bounded_by_the_approval_timeout() -> None:
    approver = "arn:aws:iam::123456789012:role/oncall"
    timeout = 30 * 60
    x = explain_playbook(
        _ec2(approval={"before": ["reboot"], "timeout": timeout, "approvers": [approver]})
    )
    approval = next(e for e in x.endings if e.state == "ApprovalTimedOut")
    plain = explain_playbook(_ec2())
    polls = x.worst["no_faults"]["duration_s"].tally.poll_s
    without = plain.worst["no_faults"]["duration_s"].tally.poll_s
    # the approval poll fits the timeout to within one interval (and on every attempt that
    # asks: attempt 1 only, reboot's)
    assert timeout <= polls - without < timeout + 15
    assert approval.notified == "yes" and failures(x) == []


def test_a_dry_run_makes_no_mutating_call() -> None:
    x = explain_playbook(_ec2(dry_run=True))
    assert x.dry_run
    assert x.figure("every_retry", "mutating_calls") == 0
    assert x.action_tries["every_retry"]["reboot"] > 0  # still tried, never acting


def test_every_output_is_deterministic_and_the_short_form_is_three_to_five_lines() -> None:
    playbook = load_playbook(shipped_playbook_path())
    first, second = explain_playbook(playbook), explain_playbook(playbook)
    assert render_table(first) == render_table(second)
    assert render_json(first) == render_json(second)
    lines = short_form(first)
    assert 3 <= len(lines) <= 5 and all(line and "\n" not in line for line in lines)
    data = json.loads(render_json(first))
    assert data["worst"]["every_retry"]["transitions"]["value"] == first.figure(
        "every_retry", "transitions"
    )


def test_cli_prints_the_table_json_and_short_form(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(shipped_playbook_path())
    assert main(["explain", path]) == 0
    assert capsys.readouterr().out == render_table(explain_playbook(load_playbook(path)))
    assert main(["explain", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["notifies_every_ending"] is True
    assert main(["explain", path, "--short"]) == 0
    assert 3 <= len(capsys.readouterr().out.splitlines()) <= 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explain", "no-such.yaml"], "no-such.yaml: no such file (check the path)"),
        (["explain"], "the following arguments are required: PLAYBOOK"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_the_plan_review_shows_the_short_form_of_each_stack_that_changes(tmp_path: Path) -> None:
    from tests.pipeline.helpers import script

    summary = script("plan_summary")
    lines = short_form(explain_playbook(load_playbook(shipped_playbook_path())))
    create = {"address": "a.b", "mode": "managed", "change": {"actions": ["create"]}}
    (tmp_path / "changed.json").write_text(json.dumps({"resource_changes": [create]}))
    (tmp_path / "same.json").write_text(json.dumps({"resource_changes": []}))
    for stack in ("changed", "same"):
        (tmp_path / f"{stack}.explain").write_text("\n".join(lines) + "\n")
    text = summary.render(summary.load(tmp_path))
    assert "## Bounds of one recovery (`healstack explain`)" in text
    assert [f"- {line}" for line in lines] == [
        line for line in text.splitlines() if line.startswith("- ")
    ]  # once: the stack without changes shows none


# -- against the simulator -------------------------------------------------------------

SCENARIOS = REPO / "examples" / "scenarios"
UNHEALTHY = {"return": {"healthy": False, "state": "running"}}
NOT_YET = {"throw": {"error": "StateNotReached", "cause": "still stopping"}}


@pytest.fixture(scope="module")
def simulation_env() -> Iterator[None]:
    """No real credentials or endpoints leak in; moto skips its default AMIs."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("AWS_", "MOTO_")):
            del os.environ[name]
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def ec2(
    simulation_env: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Playbook, Any, Explanation]:
    from healstack.providers.aws.asl import render
    from healstack.simulate.runner import synthesize_for_simulation

    playbook = load_playbook(shipped_playbook_path())
    recovery = synthesize_for_simulation(playbook, tmp_path_factory.mktemp("explain"))
    workflow = compile_playbook(playbook).workflow
    # what is simulated is the graph explain walked, state for state
    rendered = render(workflow, {k: k for k in workflow.functions}, "store")
    assert list(recovery.definition["States"]) == list(rendered["States"])
    assert recovery.definition["TimeoutSeconds"] == rendered["TimeoutSeconds"]
    for name, state in rendered["States"].items():
        assert recovery.definition["States"][name].get("Retry") == state.get("Retry"), name
    return playbook, recovery, explain_playbook(playbook)


def _simulate(ec2: tuple[Playbook, Any, Explanation], scenario: Any) -> Any:
    from healstack.simulate.runner import run_playbook

    playbook, recovery, _ = ec2
    event = json.loads(
        (REPO / "examples/events/cloudwatch-alarm-ec2-status-check.json").read_text()
    )
    return run_playbook(playbook, event, scenario=scenario, synthesized=recovery)


def _measured(run: Any) -> dict[str, float]:
    result = run.result
    retries = sum(max(0, len(step.attempts) - 1) for step in result.steps)
    actions = ("Reboot", "Stop", "Start")
    return {
        "states_entered": result.state_transitions,
        "transitions": result.state_transitions + retries,
        "invocations": sum(result.lambda_invocations.values()),
        "mutating_calls": sum(result.state_invocations.get(a, 0) for a in actions),
        "wait_s": sum(ff.requested_seconds for ff in result.waits()),
        "poll_s": sum(ff.nominal_seconds for ff in result.retry_delays("WaitUntilStopped")),
        "duration_s": result.simulated_seconds,
    }


def _max_polls(playbook: Playbook) -> int:
    (until,) = [s.wait_until for s in playbook.steps if s.wait_until is not None]
    return until.max_polls


def _ending(x: Explanation, state: str) -> Mapping[str, Mapping[str, float]]:
    return next(e.worst for e in x.endings if e.state == state)


def _within_bounds(x: Explanation, measured: Mapping[str, float]) -> None:
    for figure in ("states_entered", "transitions", "invocations", "mutating_calls", "wait_s"):
        assert measured[figure] <= x.figure("every_retry", figure), figure
    assert measured["duration_s"] <= x.capped_duration_s


def test_never_recovers_meets_the_bounds_of_giving_up(
    ec2: tuple[Playbook, Any, Explanation],
) -> None:
    run = _simulate(ec2, SCENARIOS / "ec2-never-recovers.yaml")
    x = ec2[2]
    assert (run.outcome, run.result.steps[-1].state) == ("gave_up", "GaveUp")
    measured, bound = _measured(run), _ending(x, "GaveUp")["no_faults"]
    _within_bounds(x, measured)
    # every attempt used: the states, the Wait seconds and the actions are the bound's
    assert measured["states_entered"] == bound["states_entered"]
    assert measured["wait_s"] == bound["wait_s"] == x.figure("no_faults", "wait_s")
    assert measured["mutating_calls"] == bound["mutating_calls"]
    # the stop took at once, so the polls it did not need are all the bound has more
    unused_polls = 2 * (_max_polls(ec2[0]) - 1)
    assert measured["invocations"] + unused_polls == bound["invocations"]
    assert measured["transitions"] + unused_polls == bound["transitions"]


def test_never_recovers_with_every_poll_used_is_exactly_the_bound(
    ec2: tuple[Playbook, Any, Explanation],
) -> None:
    polls = _max_polls(ec2[0])
    scenario = {
        "mocks": {
            "CheckBeforeAction": {"1+": UNHEALTHY},
            "CheckAfterAction": {"1+": UNHEALTHY},
            # the instance stops on the last poll of each attempt that stops it
            "WaitUntilStopped": {
                f"1-{polls - 1}": NOT_YET,
                str(polls): "real",
                f"{polls + 1}-{2 * polls - 1}": NOT_YET,
                f"{2 * polls}+": "real",
            },
        }
    }
    run = _simulate(ec2, scenario)
    x = ec2[2]
    assert run.outcome == "gave_up"
    measured, bound = _measured(run), _ending(x, "GaveUp")["no_faults"]
    _within_bounds(x, measured)
    for figure in ("states_entered", "transitions", "invocations", "mutating_calls", "wait_s"):
        assert measured[figure] == bound[figure], figure
    assert measured["poll_s"] == x.worst["no_faults"]["duration_s"].tally.poll_s
    assert measured["duration_s"] <= bound["duration_s"]


def test_an_action_retried_to_its_last_try_is_exactly_the_bound(
    ec2: tuple[Playbook, Any, Explanation],
) -> None:
    from healstack.modules.compile import THROTTLED_RETRY, TRANSIENT_RETRY

    transient, throttled = TRANSIENT_RETRY.max_attempts, THROTTLED_RETRY.max_attempts
    scenario = {
        "mocks": {
            "CheckBeforeAction": {"1": UNHEALTHY},
            "Reboot": {
                f"1-{transient}": {"throw": {"error": "TransientError"}},
                f"{transient + 1}-{transient + throttled}": {"throw": {"error": "Throttled"}},
            },
        }
    }
    run = _simulate(ec2, scenario)
    x = ec2[2]
    assert run.outcome == "recovered"
    measured = _measured(run)
    _within_bounds(x, measured)
    # one attempt reboots: every try of it, every retrier used, is the bound's reboot
    assert run.result.state_invocations["Reboot"] == x.action_tries["every_retry"]["reboot"]
    delays = sum(ff.nominal_seconds for ff in run.result.retry_delays("Reboot"))
    assert delays == TRANSIENT_RETRY.longest_wait_seconds + THROTTLED_RETRY.longest_wait_seconds
    assert measured["invocations"] <= _ending(x, "NotifyRecovered")["every_retry"]["invocations"]
