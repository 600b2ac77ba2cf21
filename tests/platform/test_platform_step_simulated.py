"""simulate runs a platform step's real code (from the zip synthesis deploys) in the
recovery's own place, with the same bounds as a built-in action."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from healstack.loader import load_playbook
from healstack.simulate.runner import SynthesizedRecovery, run_playbook
from tests.platform.test_platform_steps import EVENT, PLAYBOOK, _variant

UNHEALTHY = {
    "name": "impaired",
    "mocks": {
        "CheckBeforeAction": {
            "1": {
                "return": {"healthy": False, "state": "running", "detail": {"system": "impaired"}}
            }
        }
    },
}


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


def _target_group(recovery: SynthesizedRecovery, instance_id: str) -> None:
    """The web target group the platform step drains, serving the instance."""
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    elb = boto3.client("elbv2", region_name="us-east-1")
    group = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)
    arn = group["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
    _seen["arn"] = arn
    _seen["instance"] = instance_id


_seen: dict[str, Any] = {}


def _said(run: Any) -> str:
    """Everything the execution's history recorded (the functions' outputs among it)."""
    return json.dumps(run.result.history)


def test_the_platform_step_really_drains_then_the_instance_recovers() -> None:
    event = json.loads(EVENT.read_text())
    run = run_playbook(
        load_playbook(PLAYBOOK),
        event,
        scenario=UNHEALTHY,
        prepare=lambda recovery, target_id: _target_group(recovery, target_id),
    )
    assert run.outcome == "recovered", run.notifications
    assert run.target_state_after == "running"
    # the platform's own code ran, in the event's account, with its real effect
    assert f"deregistered {_seen['instance']} from its target group" in _said(run)
    assert _seen["arn"].split(":")[4] == "111122223333"
    assert run.result.lambda_invocations["healstack-web-drain-and-restart-run-drain"] == 1


def test_a_dry_run_platform_step_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _variant(tmp_path, lambda d: d.update(dry_run=True))
    monkeypatch.chdir(path.parent)  # the pipeline's source: the repository holding the step
    event = json.loads(EVENT.read_text())
    run = run_playbook(
        load_playbook(path),
        event,
        scenario=UNHEALTHY,
        prepare=lambda recovery, target_id: _target_group(recovery, target_id),
    )
    assert f"would deregister {_seen['instance']} (dry run)" in _said(run)
    assert "deregistered" not in _said(run)
