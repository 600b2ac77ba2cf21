"""The shipped Aurora playbook, synthesized and run by moto's state machine with the real
handlers against a seeded aurora-postgresql cluster (a writer, tier 0, and a reader, tier 1;
``providers/aws/kinds/aurora_cluster.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from healstack.event_pattern import mismatch
from healstack.loader import load_playbook, shipped_playbook_path
from healstack.playbook import Playbook
from healstack.simulate.runner import (
    PlaybookRun,
    SynthesizedRecovery,
    run_playbook,
    synthesized_recovery,
)
from tests.conftest import REPO

NAME = "aurora-cluster-failover"
EVENT = REPO / "examples" / "events" / "rds-db-cluster-event.json"
SCENARIO = REPO / "examples" / "scenarios" / "aurora-writer-fails.yaml"
CLUSTER = "orders-aurora-prod"


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return load_playbook(shipped_playbook_path(f"{NAME}.yaml"))


@pytest.fixture(scope="module")
def recovery(synthesized: Path) -> SynthesizedRecovery:
    return synthesized_recovery(synthesized / "stacks" / NAME / "cdk.tf.json")


def event() -> dict[str, Any]:
    return dict(json.loads(EVENT.read_text()))


def calls(run: PlaybookRun, suffix: str) -> int:
    return sum(n for fn, n in run.result.lambda_invocations.items() if fn.endswith(suffix))


def test_the_shipped_trigger_delivers_a_failed_cluster_failover(playbook: Playbook) -> None:
    pattern = playbook.trigger.event_pattern()
    assert mismatch(pattern, event()) is None
    completed = event()
    completed["detail"]["EventID"] = "RDS-EVENT-0071"  # "Completed failover": nothing to do
    assert mismatch(pattern, completed) is not None


def test_a_broken_writer_is_failed_over_to_the_reader_and_recovered(
    playbook: Playbook, recovery: SynthesizedRecovery
) -> None:
    run = run_playbook(playbook, event(), synthesized=recovery, scenario=SCENARIO)

    assert run.result.status == "SUCCEEDED", run.result.cause
    assert (run.outcome, run.attempts) == ("recovered", 1)
    assert run.target_id == CLUSTER
    assert calls(run, "-failover") == 1
    # the real FailoverDBCluster reached moto: the reader of tier 1 is the writer now
    assert run.target_state_before == f"available (writer {CLUSTER}-1)"
    assert run.target_state_after == f"available (writer {CLUSTER}-2)"
    poll = run.result.steps_for("WaitUntilAvailable")[0]
    assert "state=available" in (poll.attempts[-1].result or "")
    assert run.locks() == []


def test_a_healthy_cluster_is_left_alone(playbook: Playbook, recovery: SynthesizedRecovery) -> None:
    run = run_playbook(playbook, event(), synthesized=recovery)

    assert run.outcome == "already_healthy"
    assert calls(run, "-failover") == 0
    assert run.target_state_after == f"available (writer {CLUSTER}-1)"


def test_simulate_cli_expects_recovered_with_the_example_scenario() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "healstack.cli",
            "simulate",
            "--playbook",
            str(shipped_playbook_path(f"{NAME}.yaml")),
            "--event",
            str(EVENT),
            "--scenario",
            str(SCENARIO),
            "--expect",
            "recovered",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert f"{CLUSTER}: available (writer {CLUSTER}-1) -> available (writer {CLUSTER}-2)" in (
        result.stdout
    )
