"""The buildspecs and the plan workflow: valid YAML, and only the repository's own commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

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


def build_commands(name: str) -> list[str]:
    spec = load(REPO / "buildspecs" / f"{name}.yml")
    assert spec["version"] == 0.2
    assert spec["phases"]["install"]["runtime-versions"]["python"] == 3.12
    commands: list[str] = spec["phases"]["build"]["commands"]
    return commands


def dev_commands() -> set[str]:
    """The subcommands ``./dev`` knows (its case labels)."""
    text = (REPO / "dev").read_text()
    return set(re.findall(r"^  (\w+)\)$", text, re.MULTILINE))


def test_the_test_stage_runs_the_projects_own_test_command_on_the_handler_tests() -> None:
    (command,) = build_commands("test")
    argv = shlex.split(command)
    # ./dev test is what the README calls "the tests" and what CI (.ci/run) runs
    assert argv[:2] == ["./dev", "test"]
    assert "exec ./dev test" in (REPO / ".ci" / "run").read_text()
    assert "test" in dev_commands()
    assert all((REPO / path).is_dir() for path in argv[2:])
    assert argv[2:] == ["tests/handlers"]


def test_the_package_stage_runs_healstack_package_and_ships_its_folder() -> None:
    (command,) = build_commands("package")
    assert shlex.split(command) == ["./dev", "healstack", "package", "--out", "dist"]
    assert "healstack" in dev_commands()
    artifacts = load(REPO / "buildspecs" / "package.yml")["artifacts"]
    assert artifacts == {"base-directory": "dist", "files": ["**/*"]}


def test_the_deploy_stage_runs_the_repo_deploy_script_on_the_packages() -> None:
    setup, deploy = build_commands("deploy")
    assert shlex.split(setup) == ["./dev", "healstack", "--version"]
    argv = shlex.split(deploy)
    assert argv[0] == ".venv/bin/python"
    assert (REPO / argv[1]).is_file() and argv[1] == "scripts/deploy_functions.py"
    assert argv[2:] == ["--packages", "$CODEBUILD_SRC_DIR_packages"]


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
    # every shipped playbook, which is what the workflow promises to plan
    assert 'PLAYBOOKS.glob("*.yaml")' in text
