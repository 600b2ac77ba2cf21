"""AWS's own sample events (tests/data/aws-events), simulated as delivery would run them: in
the event's own account and region, arriving now, with the shipped playbook of the kind the
event names. Each one expected.tsv says ``recover`` recovers once its first check finds the
resource unhealthy; each ``unsupported`` one fails, told, with a message naming why. The
trigger verdict (would the shipped playbook's rule deliver it at all?) is checked as well:
the samples come from documentation, so most name alarms and categories healstack's shipped
triggers do not take.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from healstack.catalog import kind as target_kind
from healstack.event_pattern import mismatch
from healstack.loader import load_playbook, shipped_playbook_path, shipped_playbooks
from healstack.modules.compile import state_names
from healstack.playbook import Playbook
from healstack.simulate.runner import run_playbook, synthesized_recovery
from tests.conftest import REPO
from tests.handlers.test_aws_samples import SAMPLES, expectations, kind_of

#: the shipped playbook's rule delivers only this sample: the others name alarms not called
#: ``healstack-*``, EC2 state changes and Health events (the EC2 trigger takes status-check
#: alarms only), ECS service actions, RDS categories other than ``failure``; a platform
#: writes its own trigger for those
DELIVERED = {"ecs-deploy-failed-1.json"}


def _playbook_for(kind: str) -> Playbook:
    for name in shipped_playbooks():
        playbook = load_playbook(shipped_playbook_path(name))
        if playbook.target.kind == kind:
            return playbook
    raise AssertionError(f"no shipped playbook recovers {kind}")


def _first_check_unhealthy(playbook: Playbook) -> dict[str, Any]:
    """The first check of attempt 1 finds the resource unhealthy; every later one is real."""
    first = next(i for i, s in enumerate(playbook.steps) if s.check is not None)
    state = target_kind(playbook.target.kind).states[0]
    return {
        "name": "first-check-unhealthy",
        "mocks": {
            state_names(playbook)[first]: {"1": {"return": {"healthy": False, "state": state}}}
        },
    }


@pytest.mark.parametrize(("name", "expect", "resource"), expectations())
def test_each_sample_recovers_or_is_refused_with_why(
    name: str, expect: str, resource: str, synthesized: Path
) -> None:
    event = json.loads((SAMPLES / name).read_text())
    playbook = _playbook_for(kind_of(name))
    recovery = synthesized_recovery(synthesized / "stacks" / playbook.name / "cdk.tf.json")
    run = run_playbook(
        playbook, event, synthesized=recovery, scenario=_first_check_unhealthy(playbook)
    )
    assert (mismatch(playbook.trigger.event_pattern(), event) is None) == (name in DELIVERED)
    if expect == "recover":
        assert run.outcome == "recovered", run.notifications
        assert run.target_id == resource or resource.startswith("i-")  # moto names instances
        assert run.result.status == "SUCCEEDED"
    else:
        assert run.outcome == "failed", run.notifications
        why = (SAMPLES / "expected.tsv").read_text()
        assert name in why
        error = json.dumps(run.notifications[-1]["message"])
        assert "set id_path" in error or "is not an EC2 instance id" in error, error


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "healstack.cli", "simulate", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_simulate_says_when_the_trigger_would_not_deliver_and_expect_guards_ci() -> None:
    sample = str(SAMPLES / "alarm-1.json")
    result = _simulate("--event", sample, "--expect", "recovered")
    assert result.returncode == 3
    assert "not triggered" in result.stdout
    assert 'detail.alarmName is "ServerCpuTooHigh"' in result.stdout
    assert result.stderr.strip() == "healstack: expected outcome recovered, got not_triggered"
    matched = _simulate("--event", sample, "--expect", "not_triggered")
    assert matched.returncode == 0, matched.stderr


def test_simulate_runs_in_the_events_account_and_region_and_expect_passes() -> None:
    playbook = str(REPO / "healstack" / "playbooks" / "ecs-deployment-failure-recovery.yaml")
    sample = str(SAMPLES / "ecs-deploy-failed-1.json")  # 111122223333, us-west-2
    result = _simulate(
        "--playbook", playbook, "--event", sample, "--json", "--expect", "already_healthy"
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    report = json.loads(result.stdout)
    assert "arn:aws:ecs:us-west-2:111122223333:service/default/servicetest" in json.dumps(report)
    wrong = _simulate("--playbook", playbook, "--event", sample, "--expect", "gave_up")
    assert wrong.returncode == 3
    assert wrong.stderr.strip() == "healstack: expected outcome gave_up, got already_healthy"


def test_simulate_refuses_events_of_different_accounts_in_one_batch() -> None:
    from healstack.errors import UsageError
    from healstack.simulate.runner import events_home

    assert events_home([{"account": "111122223333", "region": "us-west-2"}]) == (
        "111122223333",
        "us-west-2",
    )
    with pytest.raises(UsageError, match="different accounts or regions"):
        events_home(
            [
                {"account": "111122223333", "region": "us-west-2"},
                {"account": "444455556666", "region": "us-west-2"},
            ]
        )
