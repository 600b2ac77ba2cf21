"""``healstack module build``: a self-contained plain Terraform module (no provider, no
backend), its inputs and outputs, its zips, determinism, and a non-cdktf consumer."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from healstack.cli import main
from healstack.loader import load_playbooks, shipped_playbook_path
from healstack.tfmodule import OUTPUTS, inputs
from tests.conftest import REPO, healstack_here
from tests.reuse.helpers import terraform, terraform_validates

EXAMPLE = REPO / "examples" / "platform-terraform"
WEB = EXAMPLE / "playbooks" / "web-instance-recovery.yaml"
PLAYBOOKS = [shipped_playbook_path(), WEB]


def build(out: Path, *playbooks: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [a for p in playbooks for a in ("--playbook", str(p))]
    return subprocess.run(
        [sys.executable, "-m", "healstack.cli", "module", "build", *args, "--out", str(out)],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def build_here(out: Path, *playbooks: Path, cwd: Path = REPO) -> str:
    """``healstack module build`` in this process (it has jsii loaded already); its stdout.
    ``test_two_builds_are_byte_identical_and_machine_free`` builds in another process."""
    args = [a for p in playbooks for a in ("--playbook", str(p))]
    return healstack_here("module", "build", *args, "--out", str(out), cwd=cwd)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tfmodule") / "module"
    assert "no provider, no backend" in build_here(out, *PLAYBOOKS)
    return out


def read(module: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((module / name).read_text()))


def blocks(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return dict(doc["resource"].get(kind, {}))


def test_the_module_configures_no_provider_and_no_backend(module_dir: Path) -> None:
    files = sorted(p.name for p in module_dir.iterdir())
    assert files == [
        "README.md",
        "functions",
        "main.tf.json",
        "outputs.tf.json",
        "variables.tf.json",
    ]
    main_tf = read(module_dir, "main.tf.json")
    assert "provider" not in main_tf
    assert "backend" not in main_tf["terraform"]
    # a range, not a pin: a root on aws 5.100 or on ~> 6.0 both take the module
    assert main_tf["terraform"]["required_providers"] == {
        "aws": {"source": "aws", "version": ">= 5.100.0, < 7.0.0"}
    }
    assert main_tf["//"]["generator"] == "healstack module build"
    for name in ("variables.tf.json", "outputs.tf.json"):
        assert set(read(module_dir, name)) <= {"variable", "output"}


def test_names_region_tags_and_retention_are_inputs(module_dir: Path) -> None:
    main_tf = read(module_dir, "main.tf.json")
    text = json.dumps(main_tf)
    # no literal name, region or sentinel is left: every name follows name_prefix and stage
    for literal in ("healstack-ec2-status-check-recovery", "hsname", "us-east-1", "assets/"):
        assert literal not in text, literal
    assert main_tf["locals"]["name_ec2_status_check_recovery"] == (
        '${join("-", compact([var.name_prefix, "ec2-status-check-recovery", '
        'var.stage == null ? "" : var.stage]))}'
    )
    assert main_tf["locals"]["region"].startswith("${data.aws_region.")
    for fn in blocks(main_tf, "aws_lambda_function").values():
        assert fn["function_name"].startswith(("${local.name_ec2_", "${local.name_web_"))
        assert fn["tags"] == "${local.tags}"
    for group in blocks(main_tf, "aws_cloudwatch_log_group").values():
        assert group["retention_in_days"] == "${var.log_retention_days}"
    assert main_tf["locals"]["tags"] == '${merge({"managed-by": "healstack"}, var.tags)}'
    (dashboard,) = [
        d for n, d in blocks(main_tf, "aws_cloudwatch_dashboard").items() if n.startswith("ec2")
    ]
    assert '"region": "${local.region}"' in dashboard["dashboard_body"]


def test_emails_are_one_for_each_per_playbook_defaulting_to_the_playbooks(
    module_dir: Path,
) -> None:
    subscriptions = blocks(read(module_dir, "main.tf.json"), "aws_sns_topic_subscription")
    assert sorted(subscriptions) == [
        "ec2-status-check-recovery_notify-emails",
        "web-instance-recovery_notify-emails",
    ]
    web = subscriptions["web-instance-recovery_notify-emails"]
    assert web["for_each"] == (
        '${toset(lookup(var.notify_emails, "web-instance-recovery", ["web-oncall@acme.example"]))}'
    )
    assert web["endpoint"] == "${each.value}"
    assert web["topic_arn"].startswith("${aws_sns_topic.web-instance-recovery_topic_")


def test_the_functions_ship_inside_the_module_with_the_stacks_hashes(
    module_dir: Path, default_stack: dict[str, Any]
) -> None:
    # the stack deploys each function's package signed (the pipeline's Signer profile signs
    # the zip Terraform uploads as initial/<function>.zip): compare with that upload's hash
    uploaded = {
        obj["key"]: obj["source_hash"]
        for obj in default_stack["resource"]["aws_s3_object"].values()
        if obj["key"].startswith("initial/")
    }
    stack_hashes = {
        fn["handler"]: uploaded[f"initial/{fn['function_name']}.zip"]
        for fn in default_stack["resource"]["aws_lambda_function"].values()
    }
    assert len(stack_hashes) == 6
    functions = blocks(read(module_dir, "main.tf.json"), "aws_lambda_function")
    assert len(functions) == 12
    for fn in functions.values():
        assert fn["filename"].startswith("${path.module}/functions/")
        path = module_dir / fn["filename"].removeprefix("${path.module}/")
        digest = base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
        assert digest == fn["source_code_hash"]
        if fn["handler"] in stack_hashes:
            assert fn["source_code_hash"] == stack_hashes[fn["handler"]]


def test_the_modules_resources_are_the_stacks_without_the_pipeline(
    module_dir: Path, default_stack: dict[str, Any]
) -> None:
    def paths(doc: dict[str, Any], prefix: str) -> set[str]:
        found = set()
        for kind, named in doc["resource"].items():
            for block in named.values():
                if "//" in block:
                    path = block["//"]["metadata"]["path"]
                    if path.startswith(prefix):
                        found.add(f"{kind} {path.removeprefix(prefix)}")
        return found

    in_stack = {
        p
        for p in paths(default_stack, "ec2-status-check-recovery/recovery/")
        # the pipeline, and the code signing that exists only to check what it ships
        if " pipeline/" not in p and " signing/" not in p
    }
    assert paths(read(module_dir, "main.tf.json"), "module/ec2-status-check-recovery/") == in_stack


def test_outputs_are_maps_by_playbook(module_dir: Path) -> None:
    outputs = read(module_dir, "outputs.tf.json")["output"]
    assert sorted(outputs) == sorted(o.name for o in OUTPUTS)
    for output in outputs.values():
        assert sorted(output["value"]) == ["ec2-status-check-recovery", "web-instance-recovery"]
    assert outputs["state_machine_arns"]["value"]["web-instance-recovery"].startswith(
        "${aws_sfn_state_machine.web-instance-recovery_state-machine_"
    )


def test_variables_and_readme_come_from_the_same_definitions(module_dir: Path) -> None:
    variables = read(module_dir, "variables.tf.json")["variable"]
    definitions = inputs(load_playbooks(PLAYBOOKS))
    assert sorted(variables) == sorted(i.name for i in definitions)
    assert {"name_prefix", "stage", "tags", "log_retention_days", "notify_emails"} <= set(variables)
    assert variables["stage"]["default"] is None and variables["stage"]["nullable"] is True
    assert variables["name_prefix"]["default"] == "healstack"
    length_rules = [
        v for v in variables["stage"]["validation"] if "too long for AWS" in v["error_message"]
    ]
    assert len(length_rules) == 2  # one per playbook
    readme = (module_dir / "README.md").read_text()
    for item in definitions:
        assert f"| `{item.name}` | `{item.type}` |" in readme
    for output in OUTPUTS:
        assert f"| `{output.name}` | {output.description} |" in readme
    assert "no provider" in readme.lower() or "configures no provider" in readme


@pytest.mark.slow
def test_two_builds_are_byte_identical_and_machine_free(module_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = tmp_path / "again" / "recovery"
    result = build(again, *PLAYBOOKS, cwd=elsewhere)
    assert result.returncode == 0, result.stderr

    def tree(folder: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }

    first, second = tree(module_dir), tree(again)
    assert first == second
    for name, content in first.items():
        if not name.endswith(".zip"):
            for needle in (str(REPO), str(tmp_path), str(module_dir), "/tmp/"):
                assert needle not in content.decode(), f"{needle} in {name}"


@pytest.mark.slow
def test_terraform_validates_the_module_of_two_playbooks(
    module_dir: Path, terraform_env: dict[str, str], tmp_path: Path
) -> None:
    terraform_validates(module_dir, terraform_env, tmp_path)


def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a folder it did not build is never replaced (it would be deleted whole)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "main.tf").write_text("# the platform's own file\n")
    assert main(["module", "build", "--out", str(mine)]) == 2
    assert "is not a module healstack built" in capsys.readouterr().err
    assert (mine / "main.tf").read_text() == "# the platform's own file\n"
    # a file
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["module", "build", "--out", str(a_file)]) == 2
    assert "is a file" in capsys.readouterr().err
    # a bad playbook writes nothing
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\n")
    out = tmp_path / "out"
    assert main(["module", "build", "--playbook", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "name:" in err
    assert not out.exists()
    # --out is required
    assert main(["module", "build"]) == 2
    assert "--out" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "file", "mine"]


def consumer(tmp_path: Path) -> Path:
    """examples/platform-terraform with the module built the way its main.tf says."""
    work = tmp_path / "platform-terraform"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("module", ".terraform*"))
    build_here(work / "module", work / "playbooks" / "web-instance-recovery.yaml", cwd=work)
    return work


@pytest.mark.slow
def test_a_plain_terraform_consumer_inits_and_validates(
    tmp_path: Path, terraform_env: dict[str, str]
) -> None:
    work = consumer(tmp_path)
    terraform(work, terraform_env, "init", "-backend=false", "-input=false")
    result = terraform(work, terraform_env, "validate")
    assert "Success! The configuration is valid." in result.stdout
    # the consumer's variables reach the module; names too long for AWS are refused at plan
    env = {
        **terraform_env,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    plan = terraform(
        work,
        env,
        "plan",
        "-input=false",
        "-lock=false",
        "-refresh=false",
        "-var",
        "stage=abcdefghijklmnopqrst",
        ok=False,
    )
    assert plan.returncode != 0
    said = " ".join(plan.stderr.split())  # terraform wraps its messages
    assert 'names of playbook "web-instance-recovery" too long for AWS' in said
    assert "may have at most 46 characters" in said


def test_the_examples_readme_command_matches_the_test() -> None:
    # the consumer's main.tf says how to build its module; keep it the command we test
    text = (EXAMPLE / "main.tf").read_text()
    assert (
        "healstack module build --playbook playbooks/web-instance-recovery.yaml --out module"
        in text
    )
    assert 'source = "./module"' in text
    assert (EXAMPLE / ".gitignore").read_text().splitlines()[0] == "module/"
    assert os.path.isfile(WEB)
