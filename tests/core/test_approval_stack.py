"""A playbook with approval: where approvers answer, who may, and what each part may touch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from healstack.cli import main
from tests.conftest import TO_VALIDATE, Validation, stack_writer, synth_playbook

ONCALL = "arn:aws:iam::123456789012:role/oncall"
LEAD = "arn:aws:iam::123456789012:user/lead"
CAREFUL = {
    "name": "careful-ec2",
    "trigger": {"source": "aws.cloudwatch", "detail_type": "CloudWatch Alarm State Change"},
    "target": {"kind": "ec2_instance", "require_tag": {"healstack": "enabled"}},
    "steps": [{"check": "status"}, {"action": "reboot"}, {"wait": "1m"}, {"check": "status"}],
    "approval": {"before": ["reboot"], "timeout": "30m", "approvers": [ONCALL, LEAD]},
}


@pytest.fixture(scope="module")
def careful_stack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth_playbook(tmp_path_factory.mktemp("careful") / "cdktf.out", CAREFUL)


TO_VALIDATE["approval"] = stack_writer(CAREFUL)  # see tests/conftest.py


def _of_function(stack: dict[str, Any], kind: str, key: str) -> list[dict[str, Any]]:
    return [
        r
        for r in stack["resource"].get(kind, {}).values()
        if f"/fn-{key}/" in r["//"]["metadata"]["path"]
    ]


def _policy(stack: dict[str, Any], key: str) -> list[dict[str, Any]]:
    (found,) = _of_function(stack, "aws_iam_role_policy", key)
    return list(json.loads(found["policy"])["Statement"])


def test_approvers_answer_at_an_iam_authenticated_url_only_they_may_call(
    careful_stack: dict[str, Any],
) -> None:
    (url,) = careful_stack["resource"]["aws_lambda_function_url"].values()
    assert url["authorization_type"] == "AWS_IAM"
    assert url["qualifier"].startswith("${aws_lambda_alias.") and "_live_" in url["qualifier"]
    assert "decide-approval" in url["function_name"]
    grants = [
        p
        for p in _of_function(careful_stack, "aws_lambda_permission", "decide-approval")
        if p["action"] == "lambda:InvokeFunctionUrl"
    ]
    assert sorted(g["principal"] for g in grants) == sorted([ONCALL, LEAD])
    assert all(g["function_url_auth_type"] == "AWS_IAM" for g in grants)
    (fn,) = _of_function(careful_stack, "aws_lambda_function", "decide-approval")
    assert fn["environment"]["variables"]["HEALSTACK_APPROVERS"] == f"{ONCALL},{LEAD}"


def _store_grants(statements: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for statement in statements:
        actions = [a for a in statement["Action"] if a.startswith("dynamodb:")]
        keys = statement.get("Condition", {}).get("ForAllValues:StringLike", {})
        for action in actions:
            out.setdefault(action, []).extend(keys.get("dynamodb:LeadingKeys", ["*"]))
    return {a: sorted(k) for a, k in out.items()}


def test_the_approval_parts_touch_only_approval_requests_and_the_history(
    careful_stack: dict[str, Any],
) -> None:
    assert _store_grants(_policy(careful_stack, "request-approval")) == {
        "dynamodb:GetItem": ["approval#*"],
        "dynamodb:PutItem": ["approval#*"],
    }
    assert _store_grants(_policy(careful_stack, "decide-approval")) == {
        "dynamodb:GetItem": ["approval#*"],
        "dynamodb:PutItem": ["history#*"],
        "dynamodb:UpdateItem": ["approval#*"],
    }
    # nobody may complete a task with a token: none is ever handed out
    text = json.dumps(careful_stack)
    assert "states:SendTaskSuccess" not in text and "Task.Token" not in text


def test_terraform_validate_accepts_the_approval_stack(validated: Validation) -> None:
    validated.backend_file("approval")


@pytest.mark.parametrize(
    ("approver", "field"),
    [("oncall", "approval.approvers[0]"), ("arn:aws:iam::123:role/x", "approval.approvers[0]")],
)
def test_validate_refuses_an_approver_aws_would_not_take(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], approver: str, field: str
) -> None:
    data = {**CAREFUL, "approval": {**CAREFUL["approval"], "approvers": [approver]}}  # type: ignore[dict-item]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f'{field}: "{approver}" is not an IAM role, user or account ARN' in err
