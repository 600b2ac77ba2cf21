"""The synthesized AWS stacks: their resources, terraform's verdict, and determinism."""

from __future__ import annotations

import json
import os
import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from healstack.cli import main
from healstack.loader import shipped_playbooks
from tests.conftest import (
    REPO,
    TO_VALIDATE,
    Validation,
    all_playbook_args,
    load_stack,
    synth,
)


def resources(stack: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return list(stack["resource"].get(kind, {}).values())


def one(stack: dict[str, Any], kind: str) -> dict[str, Any]:
    found = resources(stack, kind)
    assert len(found) == 1, f"{kind}: {len(found)}"
    return found[0]


def test_one_stack_per_shipped_playbook(synthesized: Path) -> None:
    stacks = sorted(p.name for p in (synthesized / "stacks").iterdir())
    names = sorted(Path(n).stem for n in shipped_playbooks())
    assert stacks == names


def test_state_machine_is_standard_logged_traced_encrypted(default_stack: dict[str, Any]) -> None:
    machine = one(default_stack, "aws_sfn_state_machine")
    assert machine["type"] == "STANDARD"
    assert machine["name"] == "healstack-ec2-status-check-recovery"
    assert machine["logging_configuration"]["level"] == "ALL"
    # the path and errors of every recovery, but no events or step data (security review L5)
    assert machine["logging_configuration"]["include_execution_data"] is False
    assert machine["logging_configuration"]["log_destination"].endswith(".arn}:*")
    assert machine["tracing_configuration"] == {"enabled": True}
    assert machine["encryption_configuration"]["type"] == "CUSTOMER_MANAGED_KMS_KEY"
    definition = json.loads(machine["definition"])
    assert definition["TimeoutSeconds"] == 3600
    arns = {
        s["Parameters"]["FunctionName"]
        for s in definition["States"].values()
        if s["Type"] == "Task" and "lambda" in s["Resource"]
    }
    # every task calls a function of this stack (through its `live` alias)
    assert arns and all(a.startswith("${aws_lambda_") and a.endswith(".arn}") for a in arns)


def test_functions_are_short_traced_json_logged_and_bounded(default_stack: dict[str, Any]) -> None:
    functions = resources(default_stack, "aws_lambda_function")
    assert sorted(f["handler"] for f in functions) == [
        "healstack_lambda.ec2.check",
        "healstack_lambda.ec2.reboot",
        "healstack_lambda.ec2.start",
        "healstack_lambda.ec2.stop",
        "healstack_lambda.notify.notify",
        "healstack_lambda.resolve.resolve_target",
    ]
    roles = {r["name"] for r in resources(default_stack, "aws_iam_role")}
    for fn in functions:
        assert fn["runtime"] == "python3.12"
        assert fn["timeout"] == 10
        assert fn["reserved_concurrent_executions"] == 10
        assert fn["logging_config"]["log_format"] == "JSON"
        assert fn["tracing_config"] == {"mode": "Active"}
        assert fn["kms_key_arn"].startswith("${aws_kms_key.")
        # with the pipeline (the default) the code is Terraform's signed copy of the asset
        # (providers/aws/signing.py; tests/pipeline/test_code_signing.py)
        assert fn["s3_key"].startswith("${aws_signer_signing_job.") and "filename" not in fn
        assert len(fn["function_name"]) <= 64
        assert fn["function_name"] + "-fn" in roles  # each function its own role


def test_log_groups_have_retention_and_encryption(default_stack: dict[str, Any]) -> None:
    groups = resources(default_stack, "aws_cloudwatch_log_group")
    names = [g["name"] for g in groups]
    assert sum(n.startswith("/aws/lambda/") for n in names) == 6  # one per function
    assert "/aws/vendedlogs/states/healstack-ec2-status-check-recovery" in names
    for group in groups:
        assert group["retention_in_days"] == 365
        assert group["kms_key_id"].startswith("${aws_kms_key.")


def by_name(stack: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    found = [r for r in resources(stack, kind) if r.get("name") == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)}"
    return found[0]


def test_trigger_has_pattern_dlq_retry_and_scoped_role(default_stack: dict[str, Any]) -> None:
    rule = by_name(
        default_stack, "aws_cloudwatch_event_rule", "healstack-ec2-status-check-recovery"
    )
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["aws.cloudwatch"]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert pattern["detail"]["state"]["value"] == ["ALARM"]
    targets = resources(default_stack, "aws_cloudwatch_event_target")
    target = next(t for t in targets if t["target_id"] == "recovery-workflow")
    assert target["arn"].startswith("${aws_sfn_state_machine.")
    for each in targets:  # the trigger and the finalizer: both dead-letter, both bounded
        assert each["dead_letter_config"]["arn"].startswith("${aws_sqs_queue.")
        assert each["retry_policy"] == {
            # the trigger's deliveries stop at the age ResolveTarget refuses (10 minutes)
            "maximum_event_age_in_seconds": 600 if each is target else 3600,
            "maximum_retry_attempts": 8,
        }
    queue = one(default_stack, "aws_sqs_queue")
    assert queue["kms_master_key_id"].startswith("${aws_kms_key.")
    queue_policy = json.loads(one(default_stack, "aws_sqs_queue_policy")["policy"])
    allow = queue_policy["Statement"][0]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    # exactly this recovery's rules, not every rule whose name starts the same (review L1)
    rules = allow["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(r.rsplit(":rule/", 1)[1] for r in rules) == [
        "healstack-ec2-status-check-recovery",
        "healstack-ec2-status-check-recovery-ended",
        "healstack-ec2-status-check-recovery-source",
    ]
    assert queue_policy["Statement"][1]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    trigger_policy = [
        json.loads(p["policy"])
        for p in resources(default_stack, "aws_iam_role_policy")
        if "StartExecution" in p["policy"]
    ]
    assert trigger_policy[0]["Statement"] == [
        {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": target["arn"]}
    ]


def test_timed_out_or_aborted_executions_reach_the_finalizer(default_stack: dict[str, Any]) -> None:
    rule = by_name(
        default_stack, "aws_cloudwatch_event_rule", "healstack-ec2-status-check-recovery-ended"
    )
    pattern = json.loads(rule["event_pattern"])
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"]["status"] == ["TIMED_OUT", "ABORTED"]
    assert pattern["detail"]["stateMachineArn"][0].startswith("${aws_sfn_state_machine.")
    target = next(
        t
        for t in resources(default_stack, "aws_cloudwatch_event_target")
        if t["target_id"] == "finalizer"
    )
    notify = next(
        name
        for name, fn in default_stack["resource"]["aws_lambda_function"].items()
        if fn["handler"] == "healstack_lambda.notify.notify"
    )
    assert target["arn"].startswith("${aws_lambda_")
    assert notify.split("_function_")[0] in target["arn"]  # the notify function (or its alias)
    permission = one(default_stack, "aws_lambda_permission")
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["source_arn"].startswith("${aws_cloudwatch_event_rule.")


def test_store_is_encrypted_expiring_and_recoverable(default_stack: dict[str, Any]) -> None:
    table = one(default_stack, "aws_dynamodb_table")
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["ttl"] == {"attribute_name": "expires_at", "enabled": True}
    assert table["server_side_encryption"]["enabled"] is True
    assert table["server_side_encryption"]["kms_key_arn"].startswith("${aws_kms_key.")
    assert table["point_in_time_recovery"] == {"enabled": True}
    definition = json.loads(one(default_stack, "aws_sfn_state_machine")["definition"])
    lock = definition["States"]["TakeLock"]
    assert lock["Resource"] == "arn:aws:states:::dynamodb:putItem"
    assert lock["Parameters"]["TableName"].startswith("${aws_dynamodb_table.")


def test_topic_is_kms_encrypted(default_stack: dict[str, Any]) -> None:
    topic = one(default_stack, "aws_sns_topic")
    assert topic["kms_master_key_id"].startswith("${aws_kms_key.")
    for key in resources(default_stack, "aws_kms_key"):
        assert key["enable_key_rotation"] is True


def test_outputs(default_stack: dict[str, Any]) -> None:
    assert {"dlq_url", "rule_name", "state_machine_arn", "topic_arn"} <= set(
        default_stack["output"]
    )


def test_role_policies_have_no_wildcard_actions(synthesized: Path) -> None:
    for name in (p.name for p in (synthesized / "stacks").iterdir()):
        stack = load_stack(synthesized, name)
        for policy in resources(stack, "aws_iam_role_policy"):
            for statement in json.loads(policy["policy"])["Statement"]:
                actions = (
                    statement["Action"]
                    if isinstance(statement["Action"], list)
                    else [statement["Action"]]
                )
                assert all("*" not in a for a in actions), statement


def copy_stack(name: str, dest: Path, synthesized: Path) -> None:
    shutil.copytree(synthesized / "stacks" / name, dest)


for _name in shipped_playbooks():  # validated with the other configurations (tests/conftest.py)
    TO_VALIDATE[Path(_name).stem] = partial(copy_stack, Path(_name).stem)


@pytest.mark.slow
def test_terraform_validate_accepts_every_stack(synthesized: Path, validated: Validation) -> None:
    """``terraform init`` (offline) and ``validate`` accept every stack, unchanged (validated
    in one terraform run with the suite's other configurations: see ``Validation``)."""
    stacks = sorted(p.name for p in (synthesized / "stacks").iterdir())
    assert len(stacks) >= 3
    for name in stacks:
        assert validated.backend_file(name) == f"{name}/cdk.tf.json"


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.slow
def test_two_synths_are_byte_identical_and_machine_free(synthesized: Path, tmp_path: Path) -> None:
    # another process, another working directory, another output path
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = tmp_path / "again" / "out"
    synth(again, *all_playbook_args(), cwd=elsewhere)
    first, second = tree(synthesized), tree(again)
    assert sorted(first) == sorted(second)
    for name in first:
        assert first[name] == second[name], name
    machine = [str(REPO), str(tmp_path), str(synthesized), os.path.expanduser("~"), "/tmp/"]
    for name, content in first.items():
        if name.endswith(".json"):
            text = content.decode()
            for needle in machine:
                assert needle not in text, f"{needle} in {name}"


def test_bad_playbook_writes_no_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\n")
    out = tmp_path / "cdktf.out"
    assert main(["synth", "--playbook", str(bad), "--out", str(out)]) == 2
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]
    assert "name:" in capsys.readouterr().err


def write_named(tmp_path: Path, name: str) -> Path:
    playbook = tmp_path / f"{name}.yaml"
    playbook.write_text(
        f"name: {name}\ntrigger: {{source: aws.ec2}}\ntarget: {{kind: ec2_instance, scope: whole-account}}\n"
        "steps: [{action: reboot}, {check: status}]\n"
    )
    return playbook


def test_name_too_long_for_aws_fails_before_synthesis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    out = tmp_path / "out"
    assert (
        main(["synth", "--playbook", str(write_named(tmp_path, "x" * 45)), "--out", str(out)]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert 'makes the IAM role name "healstack-' in err and "-resolve-target-fn" in err
    assert not out.exists()
    # the count it names is enough to fix every name at once
    over = int(re.search(r"by (\d+)\)", err).group(1))  # type: ignore[union-attr]
    assert main(["validate", str(write_named(tmp_path, "x" * (45 - over)))]) == 0
    assert main(["validate", str(write_named(tmp_path, "x" * (46 - over)))]) == 2


def test_failed_synthesis_keeps_the_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from healstack import synth as synth_module
    from healstack.loader import load_playbook, shipped_playbook_path

    out = tmp_path / "cdktf.out"
    out.mkdir()
    (out / "previous.txt").write_text("kept")

    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("healstack.modules.stack.RecoveryStack.__init__", explode)
    with pytest.raises(RuntimeError):
        synth_module.synthesize([load_playbook(shipped_playbook_path())], out)
    assert (out / "previous.txt").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out"]
