"""The generated buildspecs and the plan workflow: valid YAML, and only the repository's own
commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from healstack.settings import SETTINGS_ENV
from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "plan.yml"
#: programs a workflow step may call that are not files of this repository
RUNNER_COMMANDS = {"python3", "cat", "exit", "if", "then", "else", "fi", "["}
#: actions the workflow may use, each pinned to a major version
ACTIONS = {
    "actions/checkout",
    "actions/setup-python",
    "actions/setup-node",
    "hashicorp/setup-terraform",
    "aws-actions/configure-aws-credentials",
}


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def dev_commands() -> set[str]:
    """The subcommands ``./dev`` knows (its case labels)."""
    text = (REPO / "dev").read_text()
    return set(re.findall(r"^  (\w+)\)$", text, re.MULTILINE))


def build_spec(name: str) -> dict[str, Any]:
    """The buildspec synthesis stores inline in the ``name`` project (generated)."""
    from healstack.providers.aws.pipeline import buildspec

    spec = yaml.safe_load(buildspec(name))
    assert isinstance(spec, dict)
    assert spec["version"] == 0.2
    assert spec["phases"]["install"]["runtime-versions"]["python"] == "3.12"
    return spec


def build_commands(name: str) -> list[str]:
    commands: list[str] = build_spec(name)["phases"]["build"]["commands"]
    return commands


def test_the_test_stage_runs_the_linters_and_the_handler_tests() -> None:
    lint, form, types, tests = build_commands("test")
    venv = "/opt/healstack/venv/bin/"
    assert shlex.split(lint) == [venv + "ruff", "check", "."]
    assert shlex.split(form) == [venv + "ruff", "format", "--check", "."]
    assert shlex.split(types) == [venv + "mypy"]
    argv = shlex.split(tests)
    assert argv[:3] == [venv + "python", "-m", "pytest"]
    assert argv[-1] == "tests/handlers" and (REPO / argv[-1]).is_dir()


def test_the_package_stage_runs_healstack_package_signs_and_ships_its_folder() -> None:
    package, write_script, sign = build_commands("package")
    assert shlex.split(package)[1:] == ["-m", "healstack.cli", "package", "--out", "dist"]
    assert write_script.startswith("cat > /opt/healstack/sign_packages.py <<")
    assert shlex.split(sign)[1:] == ["-I", "/opt/healstack/sign_packages.py", "--packages", "dist"]
    artifacts = build_spec("package")["artifacts"]
    assert artifacts == {"base-directory": "dist", "files": ["**/*"]}


def test_the_deploy_stage_runs_the_inlined_deploy_script_on_the_packages() -> None:
    write_script, deploy = build_commands("deploy")
    assert write_script.startswith("cat > /opt/healstack/deploy_functions.py <<")
    argv = shlex.split(deploy)
    assert argv[1:] == [
        "-I",
        "/opt/healstack/deploy_functions.py",
        "--packages",
        "$CODEBUILD_SRC_DIR",
    ]


def test_plan_workflow_is_valid_and_sets_up_the_pinned_tools() -> None:
    workflow = load(WORKFLOW)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as true
    assert triggers == {"pull_request": None}
    assert workflow["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "id-token": "write",
    }
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert set(uses) == ACTIONS
    for step in uses.values():
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
    assert uses["actions/setup-python"]["with"]["python-version"] == "3.11"
    assert uses["actions/setup-node"]["with"]["node-version"] == "20"
    assert uses["hashicorp/setup-terraform"]["with"]["terraform_version"] == "1.11.4"
    assert uses["hashicorp/setup-terraform"]["with"]["terraform_wrapper"] is False
    credentials = uses["aws-actions/configure-aws-credentials"]
    assert credentials["with"]["role-to-assume"] == "${{ vars.HEALSTACK_PLAN_ROLE_ARN }}"


def test_plan_workflow_runs_only_commands_that_exist_in_the_repo() -> None:
    workflow = load(WORKFLOW)
    (job,) = workflow["jobs"].values()
    scripts_called = set()
    for step in job["steps"]:
        for line in step.get("run", "").splitlines():
            line = re.sub(r"\$\{\{.*?\}\}", "X", line).strip()
            if not line:
                continue
            for command in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
                argv = shlex.split(command.split(">")[0])
                if not argv:
                    continue
                program = argv[0]
                if program not in RUNNER_COMMANDS:
                    assert (REPO / program).is_file(), f"{program} is not in the repo"
                for arg in argv[1:]:
                    if arg.startswith(("scripts/", "./", "buildspecs/")):
                        assert (REPO / arg).is_file(), f"{arg} is not in the repo"
                        scripts_called.add(arg)
    assert scripts_called == {
        "scripts/plan_stacks.py",
        "scripts/plan_summary.py",
        "scripts/pr_comment.py",
    }


def test_the_plan_script_drives_the_project_entry_point() -> None:
    text = (REPO / "scripts" / "plan_stacks.py").read_text()
    assert '"synth"' in text and '"healstack", "diagram"' in text
    assert {"synth", "healstack"} <= dev_commands()


def test_the_plan_workflow_settings_are_at_the_top_and_documented() -> None:
    """Which playbooks and which stage are the workflow's settings (its env, from repository
    variables); the playbook default is the script's, the stage is healstack's own variable."""
    from tests.pipeline.helpers import script

    plan_stacks = script("plan_stacks")
    workflow = load(WORKFLOW)
    env = workflow["env"]
    assert list(env)[:2] == [plan_stacks.PLAYBOOKS_ENV, plan_stacks.STAGE_ENV]
    assert env[plan_stacks.PLAYBOOKS_ENV] == (
        f"${{{{ vars.HEALSTACK_PLAN_PLAYBOOKS || '{plan_stacks.DEFAULT_PLAYBOOKS}' }}}}"
    )
    assert env[plan_stacks.STAGE_ENV] == "${{ vars.HEALSTACK_PLAN_STAGE }}"
    assert plan_stacks.STAGE_ENV in SETTINGS_ENV.values()
    # the synthesized region is the plan role's
    assert env[SETTINGS_ENV["region"]] == env["HEALSTACK_STATE_REGION"]
    header = WORKFLOW.read_text().split("\nname:")[0]
    for name in (plan_stacks.PLAYBOOKS_ENV, plan_stacks.STAGE_ENV, "HEALSTACK_PLAN_STAGE"):
        assert name in header, f"{name} is not documented at the top of plan.yml"
