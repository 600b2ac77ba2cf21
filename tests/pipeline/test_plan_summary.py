"""``scripts/plan_summary.py`` on a fabricated ``terraform show -json`` plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.helpers import script

summary = script("plan_summary")


def change(address: str, *actions: str, **extra: Any) -> dict[str, Any]:
    kind, name = address.split(".", 1)
    return {
        "address": address,
        "mode": extra.pop("mode", "managed"),
        "type": kind,
        "name": name,
        "change": {"actions": list(actions), "before": {}, "after": {}, **extra},
    }


PLAN: dict[str, Any] = {
    "format_version": "1.2",
    "terraform_version": "1.11.4",
    "resource_changes": [
        change("aws_lambda_alias.live", "create"),
        change("aws_codepipeline.pipeline", "create"),
        change("aws_iam_role_policy.deploy", "update"),
        change("aws_sqs_queue.old", "delete"),
        change(
            "aws_lambda_function.check",
            "delete",
            "create",
            replace_paths=[["function_name"], ["architectures", 0]],
        ),
        {
            **change("aws_s3_bucket.artifacts", "create", "delete"),
            "action_reason": "replace_because_cannot_update",
        },
        change("aws_kms_key.key", "no-op"),
        change("data.aws_caller_identity.caller", "read", mode="data"),
        change("aws_cloudwatch_log_group.gone", "forget"),
    ],
}


def test_counts_like_terraform_and_classifies_every_change() -> None:
    stack = summary.summarize("ec2", PLAN)
    # Terraform's own "Plan: 4 to add, 1 to change, 3 to destroy." (a replace is both)
    assert (stack.add, stack.change, stack.destroy) == (4, 1, 3)
    assert stack.creates == ["aws_lambda_alias.live", "aws_codepipeline.pipeline"]
    assert stack.updates == ["aws_iam_role_policy.deploy"]
    assert stack.deletes == ["aws_sqs_queue.old"]
    assert stack.forgets == ["aws_cloudwatch_log_group.gone"]
    assert stack.replaces == [
        ("aws_lambda_function.check", "forced by `architectures.0`, `function_name`"),
        ("aws_s3_bucket.artifacts", "replace because cannot update"),
    ]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "ec2.json").write_text(json.dumps(PLAN))
    (tmp_path / "ec2.txt").write_text("Plan: 4 to add, 1 to change, 3 to destroy.\n")
    (tmp_path / "ec2.mmd").write_text('flowchart TD\n  s0["A"]\n')
    (tmp_path / "rds.json").write_text(json.dumps({"resource_changes": []}))
    (tmp_path / "rds.mmd").write_text('flowchart TD\n  s0["B"]\n')
    (tmp_path / "ecs.error").write_text("$ terraform plan\nError: No valid credential sources\n")
    return tmp_path


def test_comment_has_the_table_the_loud_callouts_and_the_diagrams(folder: Path) -> None:
    text = summary.render(summary.load(folder))
    assert text.startswith(summary.MARKER + "\n")
    assert "| `ec2` | 4 | 1 | 3 | **2** |" in text
    assert "| `rds` | 0 | 0 | 0 | 0 |" in text
    assert "| `ecs` | - | - | - | **plan failed** |" in text
    assert "> **2 resource(s) will be REPLACED**" in text
    assert (
        "> - `ec2`: `aws_lambda_function.check` (forced by `architectures.0`, `function_name`)"
        in text
    )
    assert "> **1 resource(s) will be DESTROYED**:" in text
    assert "> **Planning `ecs` FAILED**:" in text and "No valid credential sources" in text
    assert "<summary><code>ec2</code>: 4 to add, 1 to change, 3 to destroy</summary>" in text
    assert "| replace | `aws_s3_bucket.artifacts` |" in text
    assert "Plan: 4 to add, 1 to change, 3 to destroy." in text  # the plan text, folded
    assert text.count("```mermaid") == 2 and '  s0["B"]' in text
    # the loud parts come before any folded detail
    assert text.index("REPLACED") < text.index("<details>")


def test_no_changes_says_so(tmp_path: Path) -> None:
    (tmp_path / "rds.json").write_text(json.dumps({"resource_changes": [change("a.b", "no-op")]}))
    text = summary.render(summary.load(tmp_path))
    assert "No changes." in text and "REPLACED" not in text and "DESTROYED" not in text


def test_diagrams_only_with_a_note_when_no_plan_ran(tmp_path: Path) -> None:
    (tmp_path / "ec2.mmd").write_text('flowchart TD\n  s0["A"]\n')
    text = summary.render(summary.load(tmp_path), "No plan: set the role.")
    assert "> No plan: set the role." in text
    assert "| stack |" not in text and "```mermaid" in text


def test_long_plans_are_cut_to_fit_one_comment(tmp_path: Path) -> None:
    (tmp_path / "big.json").write_text(json.dumps(PLAN))
    (tmp_path / "big.txt").write_text("x" * 200_000)
    text = summary.render(summary.load(tmp_path))
    assert len(text) <= summary.MAX_COMMENT
    assert "(cut; the full plan is in the job log)" in text


def test_cli_writes_markdown_and_rejects_a_missing_folder(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert summary.main(["--dir", str(folder)]) == 0
    assert capsys.readouterr().out.startswith(summary.MARKER)
    assert summary.main(["--dir", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_marker_is_the_one_pr_comment_looks_for() -> None:
    assert summary.MARKER == script("pr_comment").DEFAULT_MARKER
