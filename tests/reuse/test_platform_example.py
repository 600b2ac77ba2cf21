"""examples/platform-cdktf: a platform repo with its own cdktf app and its own ``modules`` and
``providers`` packages adds ``RecoveryWorkflow`` to its stack, with its own playbook, names,
tags, key and topic; it synthesizes from its own folder and Terraform validates it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_stack
from tests.reuse.helpers import PLATFORM_STACK, copy_example, terraform_validates

STACK = PLATFORM_STACK


@pytest.fixture(scope="module")
def stack(platform_out: Path) -> dict[str, Any]:
    return load_stack(platform_out, STACK)


def test_the_platforms_packages_and_healstacks_do_not_collide(tmp_path: Path) -> None:
    work = copy_example(tmp_path)
    code = (
        "import json, modules, providers, healstack.modules.recovery_workflow as r, "
        "healstack.providers.interfaces as i; "
        "print(json.dumps([modules.__file__, providers.__file__, r.__file__, i.__file__, "
        "modules.PLATFORM, providers.REGION]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    mine, theirs, workflow, interfaces, platform, region = json.loads(result.stdout)
    assert Path(mine).is_relative_to(work) and Path(theirs).is_relative_to(work)
    assert not Path(workflow).is_relative_to(work) and not Path(interfaces).is_relative_to(work)
    assert (platform, region) == ("acme", "eu-west-1")


def test_the_recovery_uses_the_platforms_key_and_topic(stack: dict[str, Any]) -> None:
    resources = stack["resource"]
    assert list(resources["aws_kms_key"]) == ["platform-key"]
    assert list(resources["aws_sns_topic"]) == ["alerts"]
    assert list(resources["aws_sns_topic_policy"]) == ["alerts-policy"]  # the platform's
    (subscription,) = resources["aws_sns_topic_subscription"].values()
    assert subscription["topic_arn"] == "${aws_sns_topic.alerts.arn}"
    assert subscription["endpoint"] == "web-oncall@acme.example"  # the playbook's
    (machine,) = resources["aws_sfn_state_machine"].values()
    assert machine["name"] == "acme-web-instance-recovery-sandbox"
    assert machine["encryption_configuration"]["kms_key_id"] == "${aws_kms_key.platform-key.arn}"


def test_the_platforms_names_tags_and_retention(stack: dict[str, Any]) -> None:
    assert stack["provider"]["aws"][0]["region"] == "eu-west-1"
    assert stack["provider"]["aws"][0]["default_tags"] == [
        {"tags": {"owner": "platform-team", "stage": "sandbox"}}
    ]
    for fn in stack["resource"]["aws_lambda_function"].values():
        assert fn["function_name"].startswith("acme-web-instance-recovery-sandbox-")
        assert fn["tags"] == {
            "cost-center": "ops-42",
            "managed-by": "healstack",
            "team": "platform",
        }
    for group in stack["resource"]["aws_cloudwatch_log_group"].values():
        assert group["retention_in_days"] == 400
    assert "aws_codepipeline" not in stack["resource"]  # pipeline=False


def test_the_platform_wires_the_recoverys_outputs(stack: dict[str, Any]) -> None:
    outputs = stack["output"]
    assert outputs["recovery_state_machine_arn"]["value"].startswith(
        "${aws_sfn_state_machine.web-recovery_state-machine_"
    )
    assert outputs["recovery_workflow_role"]["value"].startswith(
        "${aws_iam_role.web-recovery_workflow-role_"
    )
    assert sorted(outputs["recovery_function_arns"]["value"]) == [
        "check-status",
        "notify",
        "reboot",
        "resolve-target",
        "start",
        "stop",
    ]


def test_the_platform_grants_a_start_and_alarms_on_a_metric(stack: dict[str, Any]) -> None:
    """``grant_start`` gives the platform's own role exactly StartExecution on the state
    machine; ``metric_gave_up`` is what the platform's own alarm watches, and the metric
    exists: the notify log's outcome filter writes it, with the same dimension."""
    resources = stack["resource"]
    (grant,) = [p for key, p in resources["aws_iam_role_policy"].items() if "grant-start" in key]
    assert grant["role"].startswith("${aws_iam_role.oncall.name}")
    (statement,) = json.loads(grant["policy"])["Statement"]
    assert statement["Action"] == ["states:StartExecution"]
    assert statement["Resource"].startswith("${aws_sfn_state_machine.web-recovery_state-machine_")
    alarm = resources["aws_cloudwatch_metric_alarm"]["recoveries-giving-up"]
    (outcomes,) = [
        f for key, f in resources["aws_cloudwatch_log_metric_filter"].items() if "outcomes" in key
    ]
    transformation = outcomes["metric_transformation"]
    assert (alarm["namespace"], alarm["metric_name"]) == (
        transformation["namespace"],
        transformation["name"],
    )
    assert alarm["dimensions"] == {"Outcome": "gave_up"}
    assert transformation["dimensions"] == {"Outcome": "$.outcome"}


@pytest.mark.slow
def test_terraform_validates_the_platform_stack(
    platform_out: Path, terraform_env: dict[str, str], tmp_path: Path
) -> None:
    terraform_validates(platform_out / "stacks" / STACK, terraform_env, tmp_path)
