"""Many executions in one moto world: the lock, the anti-flap limit and the finalizer, for real.

Every execution here is a real execution of the synthesized EC2 workflow with the real
handlers (``run_playbook_many``): nothing is pre-seeded in the store, the lock and the counter
are written by earlier executions. ``Start(event, at=...)`` starts an event at a simulated
moment; executions share one simulated clock, so an event at +60 s arrives while an earlier
execution is in its 3-minute wait. The handlers' own clock is real time, so the lock's expiry
and the 6-hour anti-flap window (both real time) span every simulation here.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from healstack.loader import load_playbook, playbook_from_dict, shipped_playbook_path
from healstack.playbook import Playbook
from healstack.simulate import (
    FunctionSpec,
    SimulationError,
    SimulationTimeoutError,
    simulate_many,
)
from healstack.simulate.runner import (
    PlaybookRun,
    Start,
    SynthesizedRecovery,
    run_playbook_many,
    synthesize_for_simulation,
)
from tests.conftest import REPO
from tests.simulate.simulate_workflow import (
    WAIT_SECONDS,
    Fleet,
    function_arn,
    functions,
    recovery_definition,
)

EC2 = "ec2-status-check-recovery"
EVENT = json.loads((REPO / "examples/events/cloudwatch-alarm-ec2-status-check.json").read_text())
NEVER_RECOVERS = REPO / "examples/scenarios/ec2-never-recovers.yaml"
UNHEALTHY = {"return": {"healthy": False, "state": "running"}}
RECOVERS = {"mocks": {"CheckBeforeAction": {"1": UNHEALTHY}}}  # the real reboot repairs it
LATER = 2 * 3600  # simulated seconds: long after any earlier recovery of this workflow ended


def calls(run: PlaybookRun, suffix: str) -> int:
    return sum(n for fn, n in run.result.lambda_invocations.items() if fn.endswith(suffix))


def outcomes(runs: list[PlaybookRun]) -> list[str | None]:
    return [run.outcome for run in runs]


def each_ends_in_one_notification(runs: list[PlaybookRun]) -> bool:
    return all(len(run.notifications) == 1 for run in runs)


def stored(runs: list[PlaybookRun], prefix: str) -> list[dict[str, Any]]:
    return [i for i in runs[0].store_items if i["pk"].startswith(prefix)]


@pytest.mark.parametrize("second_at", [0, 60], ids=["same-moment", "during-the-wait"])
def test_two_events_for_one_resource_recover_it_once(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery, second_at: int
) -> None:
    runs = run_playbook_many(
        ec2_playbook,
        [EVENT, Start(EVENT, at=second_at)],
        synthesized=ec2_recovery,
        scenario=RECOVERS,
    )

    assert runs[0].target_id == runs[1].target_id  # one simulated instance
    assert sorted(outcomes(runs), key=str) == ["already_recovering", "recovered"]
    assert each_ends_in_one_notification(runs)
    winner, loser = sorted(runs, key=lambda r: r.outcome != "recovered")
    assert winner.result.status == loser.result.status == "SUCCEEDED"
    assert sum(calls(run, "-reboot") for run in runs) == 1  # one reboot in the whole world
    assert calls(loser, "-check-status") == 0  # refused before touching the instance
    assert winner.target_state_after == "running"
    kinds = sorted(item["outcome"] for item in stored(runs, "history#"))
    assert kinds == ["already_recovering", "recovered"]
    (counter,) = stored(runs, "limit#")
    assert counter["executions"] == [winner.result.execution_arn]  # the refused one is not counted
    assert runs[0].locks() == []


CHECK_THEN_CRASH = {
    "mocks": {
        "CheckBeforeAction": {"1": UNHEALTHY},
        "Reboot": {
            "1": {
                "throw": {
                    "error": "Runtime.ExitError",
                    "cause": "Error: Runtime exited with error: exit status 1",
                }
            }
        },
    }
}


@pytest.mark.parametrize(
    ("first_scenario", "first_outcome", "first_status"),
    [
        (RECOVERS, "recovered", "SUCCEEDED"),
        (NEVER_RECOVERS, "gave_up", "FAILED"),
        (CHECK_THEN_CRASH, "failed", "FAILED"),
    ],
    ids=["after-success", "after-giving-up", "after-a-handler-crash"],
)
def test_the_lock_is_released_and_the_next_event_recovers_normally(
    ec2_playbook: Playbook,
    ec2_recovery: SynthesizedRecovery,
    first_scenario: Any,
    first_outcome: str,
    first_status: str,
) -> None:
    first, second = run_playbook_many(
        ec2_playbook,
        [Start(EVENT, scenario=first_scenario), Start(EVENT, at=LATER, scenario=RECOVERS)],
        synthesized=ec2_recovery,
    )

    assert (first.result.status, first.outcome) == (first_status, first_outcome)
    # the lock expires only 61 min after the first event (real time): only a release lets the
    # next event in
    assert (second.result.status, second.outcome) == ("SUCCEEDED", "recovered")
    assert calls(second, "-reboot") == 1
    assert each_ends_in_one_notification([first, second])
    assert first.locks() == []


def test_the_anti_flap_limit_stops_the_recovery_after_the_limit(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    limit = ec2_playbook.guard.max_recoveries
    events = [Start(EVENT, at=n * 3600) for n in range(limit + 1)]

    runs = run_playbook_many(
        ec2_playbook, events, synthesized=ec2_recovery, scenario=RECOVERS, timeout_s=120
    )

    assert outcomes(runs) == ["recovered"] * limit + ["recovery_limit_reached"]
    assert runs[-1].result.error == "RecoveryLimitReached"
    assert [calls(run, "-reboot") for run in runs] == [1] * limit + [0]
    assert each_ends_in_one_notification(runs)
    (counter,) = stored(runs, "limit#")
    # the recoveries that acted, each once; the refused one did not count itself
    assert sorted(counter["executions"]) == sorted(r.result.execution_arn for r in runs[:limit])
    assert runs[0].locks() == []  # the escalation released the lock it took


TIMES_OUT = {
    "mocks": {
        "CheckBeforeAction": {"1+": UNHEALTHY},
        "CheckAfterAction": {"1+": UNHEALTHY},
        # the stop does not take (the instance keeps running), so the poll never sees it
        # stopped; a real stop would leave it stopped, which the next event then skips as
        # stopped on purpose (healstack never starts what it did not stop in that execution)
        "Stop": {
            "1+": {
                "return": {
                    "action": "stop",
                    "changed": False,
                    "stopped_here": False,
                    "dry_run": False,
                    "message": "stop refused (simulated)",
                }
            }
        },
        "WaitUntilStopped": {"1+": {"throw": {"error": "StateNotReached", "cause": "running"}}},
    }
}


@pytest.fixture(scope="module")
def short_timeout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Playbook, SynthesizedRecovery]:
    """The EC2 playbook with a 12-minute timeout: just above its waits (11 minutes), so a
    ``wait_until`` poll that never sees the instance stopped runs past it."""
    data = load_playbook(shipped_playbook_path()).model_dump(mode="json")
    data["timeout"] = 12 * 60
    playbook = playbook_from_dict(data)
    return playbook, synthesize_for_simulation(playbook, tmp_path_factory.mktemp("timeout"))


def test_a_timed_out_execution_keeps_its_lock_without_the_finalizer(
    short_timeout: tuple[Playbook, SynthesizedRecovery],
) -> None:
    playbook, recovery = short_timeout
    first, second = run_playbook_many(
        playbook,
        [Start(EVENT, scenario=TIMES_OUT), Start(EVENT, at=LATER, scenario=RECOVERS)],
        synthesized=recovery,
        finalizer=False,
    )

    assert first.result.status == "TIMED_OUT"
    assert first.result.simulated_seconds == pytest.approx(12 * 60)
    assert first.notifications == [] and first.finalizer_event is None
    assert second.outcome == "already_recovering"  # the lock outlived its execution
    (lock,) = first.locks()
    assert lock["execution"] == first.result.execution_arn


def test_the_finalizer_finishes_a_timed_out_execution_and_the_next_event_recovers(
    short_timeout: tuple[Playbook, SynthesizedRecovery],
) -> None:
    playbook, recovery = short_timeout
    first, second = run_playbook_many(
        playbook,
        [Start(EVENT, scenario=TIMES_OUT), Start(EVENT, at=LATER, scenario=RECOVERS)],
        synthesized=recovery,
    )

    assert first.result.status == "TIMED_OUT"
    event = first.finalizer_event
    assert event is not None and first.finalizer_error is None
    assert (event["source"], event["detail-type"]) == (
        "aws.states",
        "Step Functions Execution Status Change",
    )
    assert event["detail"]["status"] == "TIMED_OUT"
    assert event["detail"]["executionArn"] == first.result.execution_arn
    assert json.loads(event["detail"]["input"]) == first.result.input  # the original event
    (note,) = first.notifications
    assert note["message"]["outcome"] == "timed_out"
    assert note["message"]["resource_id"] == first.target_id
    assert note["message"]["error"]["Error"] == "States.TimedOut"
    assert (second.result.status, second.outcome) == ("SUCCEEDED", "recovered")
    assert each_ends_in_one_notification([first, second])
    assert first.locks() == []
    history = Counter(item["outcome"] for item in first.history() if item["kind"] == "outcome")
    assert history == {"timed_out": 1, "recovered": 1}


def test_waits_of_concurrent_executions_overlap_on_the_shared_clock() -> None:
    early, late = Fleet(), Fleet()  # two impaired instances; each reboot repairs its own

    def setup() -> None:
        early.setup()
        late.setup()

    first, second = simulate_many(
        recovery_definition(),
        functions(),
        [early.event, Start(late.event, at=100)],
        setup=setup,
    )

    assert first.status == second.status == "SUCCEEDED"
    # invocation times are on the shared clock: the second execution ran at +100 s, while
    # the first one was in its wait, and the first one's re-check came after that
    assert second.invocations[0].started_at == pytest.approx(100, abs=1)
    assert first.invocations[-1].started_at == pytest.approx(WAIT_SECONDS, abs=1)
    assert second.invocations[-1].started_at == pytest.approx(100 + WAIT_SECONDS, abs=1)
    # each lived through its own wait once: overlapping waits are not added up
    assert first.simulated_seconds == pytest.approx(WAIT_SECONDS, abs=1)
    assert second.simulated_seconds == pytest.approx(WAIT_SECONDS, abs=1)
    assert [w.execution for w in second.waits()] == [second.execution_name]


def test_the_real_time_budget_covers_the_whole_batch() -> None:
    def hangs(event: dict[str, Any], context: Any) -> None:
        time.sleep(0.4)

    definition = {
        "StartAt": "Hang",
        "States": {"Hang": {"Type": "Task", "Resource": function_arn("hang"), "End": True}},
    }
    with pytest.raises(SimulationTimeoutError, match=r"^2 of 2 executions still RUNNING") as caught:
        simulate_many(definition, {"hang": FunctionSpec(hangs)}, [{}, {}], timeout_s=0.2)
    assert [r.status for r in caught.value.results] == ["ABORTED", "ABORTED"]


def test_execution_names_must_be_unique() -> None:
    with pytest.raises(SimulationError, match=r"inputs\[1\]: execution name 'x' is used twice"):
        simulate_many(
            {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
            {},
            [
                Start({}, name="x"),
                Start({}, name="x"),
            ],
        )
