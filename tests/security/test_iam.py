"""Every IAM policy in every synthesized stack: least privilege, checked statement by statement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from healstack.providers.aws.steps import STAR_RESOURCE_REASONS, STEPS
from tests.conftest import load_stack

MUTATING = {a for impl in STEPS.values() for p in impl.permissions if p.mutating for a in p.actions}


def policies(stack: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for kind in ("aws_iam_role_policy", "aws_iam_policy"):
        for name, body in stack["resource"].get(kind, {}).items():
            found.append((name, json.loads(body["policy"])))
    return found


def statements(stack: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, s) for name, doc in policies(stack) for s in doc["Statement"]]


def as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def stacks(synthesized: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name: load_stack(synthesized, p.name) for p in sorted((synthesized / "stacks").iterdir())
    }


def test_no_wildcard_action_anywhere(stacks: dict[str, dict[str, Any]]) -> None:
    for stack_name, stack in stacks.items():
        for name, statement in statements(stack):
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{stack_name}/{name}: {action}"


def test_star_resource_only_for_reviewed_actions(stacks: dict[str, dict[str, Any]]) -> None:
    for stack_name, stack in stacks.items():
        for name, statement in statements(stack):
            if "*" in as_list(statement["Resource"]):
                unreviewed = [
                    a for a in as_list(statement["Action"]) if a not in STAR_RESOURCE_REASONS
                ]
                assert unreviewed == [], f"{stack_name}/{name}: {unreviewed}"


def test_mutating_actions_are_scoped_to_the_target_kind(stacks: dict[str, dict[str, Any]]) -> None:
    patterns = {
        "ec2:": ":instance/*",
        "ecs:": ":service/*",
        "rds:FailoverDBCluster": ":cluster:*",
        "rds:": ":db:*",
        "autoscaling:": ":autoScalingGroup:*:autoScalingGroupName/*",
    }
    seen = 0
    for stack_name, stack in stacks.items():
        for name, statement in statements(stack):
            for action in as_list(statement["Action"]):
                if action in MUTATING:
                    seen += 1
                    suffix = next(v for k, v in patterns.items() if action.startswith(k))
                    resources = as_list(statement["Resource"])
                    assert all(r.endswith(suffix) for r in resources), f"{stack_name}/{name}"
    assert seen >= 5


def test_each_step_function_holds_only_its_own_step(stacks: dict[str, dict[str, Any]]) -> None:
    stack = stacks["ec2-status-check-recovery"]
    by_function = {}
    for name, doc in policies(stack):
        if "_fn-" in name:
            key = name.split("_fn-")[1].rsplit("_policy", 1)[0]
            by_function[key] = {a for s in doc["Statement"] for a in as_list(s["Action"])}
    assert "ec2:RebootInstances" in by_function["reboot"]
    assert not by_function["reboot"] & {"ec2:StopInstances", "ec2:StartInstances"}
    assert not any(
        a.startswith("ec2:") and a not in {"ec2:DescribeInstances", "ec2:DescribeInstanceStatus"}
        for a in by_function["check-status"]
    )
    assert not any(a.startswith(("ec2:", "sns:")) for a in by_function["resolve-target"])
    assert "sns:Publish" in by_function["notify"] and "dynamodb:DeleteItem" in by_function["notify"]


def test_require_tag_limits_mutating_actions(tmp_path: Path) -> None:
    from tests.conftest import synth_here

    playbook = tmp_path / "tagged.json"
    playbook.write_text(
        json.dumps(
            {
                "name": "tagged",
                "trigger": {"source": "aws.ec2"},
                "target": {"kind": "ec2_instance", "require_tag": {"healstack": "enabled"}},
                "steps": [{"action": "reboot"}, {"check": "status"}],
            }
        )
    )
    out = tmp_path / "out"
    synth_here(out, "--playbook", str(playbook))
    stack = load_stack(out, "tagged")
    reboot = [s for _, s in statements(stack) if "ec2:RebootInstances" in as_list(s["Action"])]
    assert reboot[0]["Condition"] == {"StringEquals": {"aws:ResourceTag/healstack": "enabled"}}
