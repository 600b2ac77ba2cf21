"""``RecoveryWorkflow``'s integration API: grants for the platform's own principals and the
metrics its own alarms watch (like AWS CDK's ``grant*``/``metric*``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from healstack.catalog import OUTCOMES
from healstack.errors import UsageError
from healstack.loader import load_playbook, playbook_from_dict, shipped_playbook_path
from healstack.providers.interfaces import DeploymentSettings
from tests.reuse.test_library import platform_app

APPROVER = "arn:aws:iam::111122223333:role/oncall"


def _approving() -> Any:
    data = load_playbook(shipped_playbook_path()).model_dump(mode="json", exclude_none=True)
    data["approval"] = {"before": ["stop"], "approvers": [APPROVER]}
    return playbook_from_dict(data)


def _workflow(stack: Any, cloud: Any, playbook: Any) -> Any:
    from healstack.modules.recovery_workflow import RecoveryWorkflow

    return RecoveryWorkflow(
        stack,
        "recovery",
        playbook=playbook,
        provider=cloud,
        settings=DeploymentSettings(pipeline=False),
    )


def test_grant_approve_lets_a_listed_approver_call_the_decide_url_only(tmp_path: Path) -> None:
    made: dict[str, Any] = {}

    def build(stack: Any, cloud: Any) -> None:
        recovery = _workflow(stack, cloud, _approving())
        made["policy"] = recovery.grant_approve("oncall")
        made["metrics"] = {o: recovery.metric_outcome(o) for o in OUTCOMES}
        made["duration"] = recovery.metric_duration()

    stack = platform_app(tmp_path, build)
    (policy,) = [
        p for key, p in stack["resource"]["aws_iam_role_policy"].items() if "grant-approve" in key
    ]
    assert policy["role"] == "oncall"
    (statement,) = json.loads(policy["policy"])["Statement"]
    assert statement["Action"] == ["lambda:InvokeFunctionUrl"]
    assert statement["Resource"].startswith("${aws_lambda_alias.recovery_fn-decide-approval_live")
    assert statement["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}
    # one metric per outcome, all from the notify log's one filter
    assert {m.dimensions["Outcome"] for m in made["metrics"].values()} == set(OUTCOMES)
    assert made["duration"].namespace == "AWS/States"
    assert made["duration"].name == "ExecutionTime"


@pytest.mark.parametrize(
    ("playbook", "principal", "message"),
    [
        (lambda: load_playbook(shipped_playbook_path()), "oncall", "has no approval"),
        (
            _approving,
            "arn:aws:iam::111122223333:role/intruder",
            "is not in approval.approvers",
        ),
    ],
    ids=["nothing-to-approve", "not-an-approver"],
)
def test_grant_approve_refuses_what_the_decide_function_would_refuse(
    tmp_path: Path, playbook: Any, principal: str, message: str
) -> None:
    def build(stack: Any, cloud: Any) -> None:
        _workflow(stack, cloud, playbook()).grant_approve(principal)

    with pytest.raises(UsageError, match=message):
        platform_app(tmp_path, build)


def test_an_unknown_outcome_metric_is_refused(tmp_path: Path) -> None:
    def build(stack: Any, cloud: Any) -> None:
        _workflow(stack, cloud, load_playbook(shipped_playbook_path())).metric_outcome("won")

    with pytest.raises(UsageError, match="'won' is not one of recovered"):
        platform_app(tmp_path, build)
