"""Platform-owned steps: the platform's own code, packaged as a function of its own with
exactly the permissions its playbook declares, run as an action (scope, budget, approval,
dry run, retries, notifications), shipped by the pipeline, and run for real by simulate."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from healstack.errors import PlaybookError
from healstack.loader import load_playbook
from healstack.modules.compile import compile_playbook, function_keys
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "platform-steps"
PLAYBOOK = EXAMPLE / "web-drain-and-restart.yaml"
EVENT = EXAMPLE / "events" / "web-status-check-alarm.json"


def _variant(tmp_path: Path, change: Any) -> Path:
    """A copy of the example (playbook + steps/) with ``change(data)`` applied."""
    shutil.copytree(EXAMPLE, tmp_path / "repo")
    path = tmp_path / "repo" / PLAYBOOK.name
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _drain(data: dict[str, Any]) -> dict[str, Any]:
    return dict(data["platform_steps"]["drain"])


def test_the_example_validates_and_compiles_to_a_function_of_its_own() -> None:
    playbook = load_playbook(PLAYBOOK)
    assert "run-drain" in function_keys(playbook)
    compiled = compile_playbook(playbook)
    (spec,) = [f for f in compiled.functions if f.key == "run-drain"]
    assert spec.purpose == "platform_step" and spec.platform is not None
    assert spec.platform.timeout_seconds == 8
    assert spec.platform.source_path == "examples/platform-steps/steps/drain.py"
    # it is an action: budgeted before it runs, a lost tag is told as a skip
    names = [s.name for s in compiled.workflow.states]
    assert "BudgetForDrain" in names and "Drain" in names


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["platform_steps"]["drain"]["permissions"][0].update(actions=["ec2:*"]),
            'platform_steps.drain.permissions[0].actions: "ec2:*" is not one action',
        ),
        (
            lambda d: d["platform_steps"]["drain"]["permissions"][0].update(resources=["*"]),
            '"*" lets elasticloadbalancing:DeregisterTargets change any resource',
        ),
        (
            lambda d: d["platform_steps"]["drain"]["permissions"][1].pop("reason"),
            'platform_steps.drain.permissions[1].reason: resources "*" needs the reason',
        ),
        (
            lambda d: d["platform_steps"]["drain"]["permissions"][0].update(
                resources=["arn:aws:*:*:*:*"]
            ),
            "is not a scoped resource",
        ),
        (
            lambda d: d["platform_steps"]["drain"].update(timeout="30s"),
            "platform_steps.drain.timeout: 30s is out of range (a step runs in 1s to 10s",
        ),
        (
            lambda d: d["platform_steps"]["drain"].update(handler="../outside.py:handler"),
            'platform_steps.drain.handler: "../outside.py:handler" is not a handler',
        ),
        (
            lambda d: d["platform_steps"]["drain"].update(handler="/etc/passwd.py:handler"),
            "is not a handler",
        ),
        (
            lambda d: d["platform_steps"]["drain"].update(handler="steps/missing.py:handler"),
            "platform_steps.drain.handler: steps/missing.py does not exist",
        ),
        (
            lambda d: d["platform_steps"]["drain"].update(handler="steps/drain.py:nope"),
            "steps/drain.py defines no top-level function 'nope' (found: handler)",
        ),
        (
            lambda d: d["steps"][1].update(params={"target_grop": "web"}),
            'steps[1].params.target_grop: "target_grop" is not a param of platform step drain '
            "(did you mean 'target_group'?",
        ),
        (
            lambda d: d["steps"][1].update(run="drian"),
            'steps[1].run: "drian" is not a platform step of this playbook (declared: drain)',
        ),
        (
            lambda d: d["platform_steps"].update(stop=d["platform_steps"]["drain"]),
            'platform_steps.stop: "stop" is an operation of ec2_instance already',
        ),
        (
            lambda d: d["steps"].pop(1),
            'platform_steps.drain: no step runs "drain"',
        ),
        (
            lambda d: (d["target"].pop("require_tag"), d["steps"].__delitem__(slice(2, 6))),
            "target.require_tag: this playbook changes resources (drain)",
        ),
    ],
    ids=[
        "wildcard-action",
        "star-for-a-write",
        "star-without-reason",
        "unscoped-arn",
        "over-the-10s-budget",
        "path-escape",
        "absolute-path",
        "missing-file",
        "missing-function",
        "unknown-param",
        "unknown-step",
        "shadows-a-kind-action",
        "declared-not-run",
        "acts-without-scope",
    ],
)
def test_abuse_and_mistakes_are_one_line_errors(tmp_path: Path, change: Any, message: str) -> None:
    path = _variant(tmp_path, change)
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_symlink_out_of_the_playbooks_folder_is_refused(tmp_path: Path) -> None:
    path = _variant(tmp_path, lambda d: None)
    outside = tmp_path / "outside.py"
    outside.write_text("def handler(event, context):\n    return {}\n")
    link = path.parent / "steps" / "drain.py"
    link.unlink()
    link.symlink_to(outside)
    with pytest.raises(PlaybookError, match="leaves the playbook's folder"):
        load_playbook(path)


def test_validate_cli_says_it_in_one_line_and_exits_2(tmp_path: Path) -> None:
    path = _variant(tmp_path, lambda d: d["platform_steps"]["drain"].update(timeout="11s"))
    result = subprocess.run(
        [sys.executable, "-m", "healstack.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "platform_steps.drain.timeout" in result.stderr


def test_package_command_writes_the_platform_step_as_the_pipeline_ships_it(
    tmp_path: Path,
) -> None:
    out = tmp_path / "dist"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "healstack.cli",
            "package",
            "--out",
            str(out),
            "--platform-step",
            "drain=examples/platform-steps/steps/drain.py:handler",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert "drain.handler" in manifest["packages"]
    with zipfile.ZipFile(out / manifest["packages"]["drain.handler"]["file"]) as archive:
        assert archive.namelist() == ["drain.py"]
        assert archive.read("drain.py") == (EXAMPLE / "steps" / "drain.py").read_bytes()
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "healstack.cli",
            "package",
            "--out",
            str(out),
            "--platform-step",
            "drain=steps/../x",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "not NAME=FILE:FUNCTION" in bad.stderr


def test_the_stack_grants_the_step_exactly_its_declared_permissions_and_terraform_validates(
    tmp_path: Path, terraform_env: dict[str, str]
) -> None:
    from healstack.synth import synthesize
    from tests.reuse.helpers import terraform_validates

    playbook = load_playbook(PLAYBOOK)
    result = synthesize([playbook], tmp_path / "cdktf.out")
    stack_dir = result.out_dir / "stacks" / playbook.name
    stack = json.loads((stack_dir / "cdk.tf.json").read_text())
    (function,) = [
        f
        for f in stack["resource"]["aws_lambda_function"].values()
        if f["function_name"].endswith("-run-drain")
    ]
    assert function["handler"] == "drain.handler" and function["timeout"] == 8
    (policy,) = [
        json.loads(p["policy"])
        for key, p in stack["resource"]["aws_iam_role_policy"].items()
        if "fn-run-drain" in key
    ]
    declared = playbook.platform_steps["drain"].permissions
    granted = [
        s
        for s in policy["Statement"]
        if any(a.startswith("elasticloadbalancing:") for a in s["Action"])
    ]
    assert [(sorted(s["Action"]), s["Resource"]) for s in granted] == [
        (sorted(p.actions), p.resources if p.resources != ["*"] else "*") for p in declared
    ]
    # nothing else of the target's kind: the step gets no EC2 action
    assert not [a for s in policy["Statement"] for a in s["Action"] if a.startswith("ec2:")]
    # the pipeline's Package stage packages it from the source
    assert "--platform-step drain=examples/platform-steps/steps/drain.py:handler" in json.dumps(
        stack["resource"]["aws_codebuild_project"]
    )
    terraform_validates(stack_dir, terraform_env, tmp_path)


def test_a_hub_refuses_platform_steps(tmp_path: Path) -> None:
    """A platform step runs with its own role in the account it is deployed in; a hub acts
    in member accounts: synthesis says so in one line instead of acting in the wrong place."""
    from healstack.errors import UsageError
    from healstack.providers.interfaces import DeploymentSettings, Hub
    from healstack.synth import synthesize

    playbook = load_playbook(PLAYBOOK)
    settings = DeploymentSettings(hub=Hub(members=("111122223333",)))
    with pytest.raises(UsageError, match="platform_steps act in the hub's own account"):
        synthesize([playbook], tmp_path / "cdktf.out", settings)
    assert not (tmp_path / "cdktf.out").exists()
