"""``scripts/plan_stacks.py``: what the plan workflow runs, with fake tools and for real."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, TO_VALIDATE, Validation, load_stack, synth_here
from tests.pipeline.helpers import script

plan_stacks = script("plan_stacks")
plan_summary = script("plan_summary")

FAKE_DEV = """#!/usr/bin/env bash
set -euo pipefail
case $1 in
  synth)
    # one stack per playbook, named after the file (and the stage), as healstack names them
    shift; out= stage= books=()
    while [[ $# -gt 0 ]]; do
      case $1 in
        --out) out=$2; shift ;;
        --stage) stage=-$2; shift ;;
        --playbook) books+=("$2"); shift ;;
      esac
      shift
    done
    echo "$PWD synth ${books[*]}" >> "$FAKE_LOG.dev"
    for book in "${books[@]}"; do
      name=$(basename "$book" .yaml)$stage
      mkdir -p "$out/stacks/$name"; echo '{}' > "$out/stacks/$name/cdk.tf.json"
      echo "synthesized: $out/stacks/$name/cdk.tf.json"
    done ;;
  healstack) echo "flowchart TD %% $4" ;;
esac
"""
FAKE_TERRAFORM = """#!/usr/bin/env bash
set -euo pipefail
stack=$(basename "$PWD")
echo "$stack $*" >> "$FAKE_LOG"
case $1 in
  init) echo "Terraform initialized" ;;
  plan)
    if [[ $stack == "${FAKE_FAIL:-}" ]]; then echo "Error: no credentials" >&2; exit 1; fi
    echo "Plan: 1 to add, 0 to change, 0 to destroy." ; touch tfplan ;;
  show)
    echo '{"resource_changes": [{"address": "aws_sqs_queue.q", "mode": "managed",
      "change": {"actions": ["create"]}}]}' ;;
esac
"""


def executable(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake ``dev`` and ``terraform``; the working directory is a platform repository with
    ``playbooks/alpha.yaml`` and ``playbooks/beta.yaml``."""
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "terraform.log"))
    for name in (
        "HEALSTACK_STATE_BUCKET",
        "FAKE_FAIL",
        "HEALSTACK_STATE_REGION",
        "AWS_REGION",
        plan_stacks.PLAYBOOKS_ENV,
        plan_stacks.STAGE_ENV,
    ):
        monkeypatch.delenv(name, raising=False)
    platform = tmp_path / "platform"
    (platform / "playbooks").mkdir(parents=True)
    for name in ("alpha", "beta"):
        (platform / "playbooks" / f"{name}.yaml").write_text(f"name: {name}\n")
    monkeypatch.chdir(platform)
    return {
        "dev": executable(tmp_path / "dev", FAKE_DEV),
        "terraform": executable(tmp_path / "terraform", FAKE_TERRAFORM),
    }


def run(fakes: dict[str, str], tmp_path: Path, *extra: str, globs: str | None = None) -> int:
    """plan_stacks with the fakes; ``--playbooks playbooks/*.yaml`` unless ``globs`` says
    otherwise ("" leaves the option out: the environment or the default decides)."""
    chosen = "playbooks/*.yaml" if globs is None else globs
    code: int = plan_stacks.main(
        [
            "--out",
            str(tmp_path / "plan"),
            "--synth-out",
            str(tmp_path / "cdktf.out"),
            "--dev",
            fakes["dev"],
            "--terraform",
            fakes["terraform"],
            *(["--playbooks", chosen] if chosen else []),
            *extra,
        ]
    )
    return code


def test_plans_every_stack_and_draws_every_playbook(fakes: dict[str, str], tmp_path: Path) -> None:
    assert run(fakes, tmp_path) == 0
    plan = tmp_path / "plan"
    assert sorted(p.name for p in plan.glob("*.mmd")) == ["alpha.mmd", "beta.mmd"]
    assert sorted(p.name for p in plan.glob("*.json")) == ["alpha.json", "beta.json"]
    assert (plan / "alpha.txt").read_text().startswith("Plan: 1 to add")
    log = (tmp_path / "terraform.log").read_text().splitlines()
    assert "alpha plan -input=false -no-color -lock=false -out=tfplan" in log
    assert not (tmp_path / "cdktf.out" / "stacks" / "alpha" / plan_stacks.OVERRIDE).exists()
    # synth runs where the review runs (the repository root), with each playbook's path
    (synth,) = (tmp_path / "terraform.log.dev").read_text().splitlines()
    platform = tmp_path / "platform"
    assert (
        synth == f"{platform} synth {platform}/playbooks/alpha.yaml {platform}/playbooks/beta.yaml"
    )


def test_by_default_the_shipped_playbooks_are_reviewed(
    fakes: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert run(fakes, tmp_path, "--no-plan", globs="") == 0
    shipped = {p.stem for p in (REPO / "healstack" / "playbooks").glob("*.yaml")}
    assert {p.stem for p in (tmp_path / "plan").glob("*.mmd")} == shipped
    assert plan_stacks.DEFAULT_PLAYBOOKS == "healstack/playbooks/*.yaml"


def test_the_playbooks_setting_comes_from_the_environment_and_may_recurse(
    fakes: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = tmp_path / "platform" / "playbooks" / "team-a" / "gamma.yaml"
    nested.parent.mkdir()
    nested.write_text("name: gamma\n")
    monkeypatch.setenv(plan_stacks.PLAYBOOKS_ENV, "playbooks/alpha.yaml  playbooks/**/gamma.yaml")
    assert run(fakes, tmp_path, globs="") == 0
    plan = tmp_path / "plan"
    assert sorted(p.name for p in plan.glob("*.json")) == ["alpha.json", "gamma.json"]
    settings = plan_summary.load_settings(plan)
    assert settings is not None
    assert settings["files"] == ["playbooks/alpha.yaml", "playbooks/team-a/gamma.yaml"]


@pytest.mark.parametrize("globs", ["playbooks/*.yml", "playbooks/*.yaml nowhere/*.yaml"])
def test_a_glob_that_matches_nothing_is_one_line_and_exit_2(
    fakes: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], globs: str
) -> None:
    assert run(fakes, tmp_path, globs=globs) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"plan_stacks: error: {plan_stacks.PLAYBOOKS_ENV}: ")
    assert "matches no file" in err
    assert not (tmp_path / "terraform.log.dev").exists()  # nothing synthesized


def test_the_stage_reaches_synth_and_names_the_stacks_and_the_comment(
    fakes: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(plan_stacks.STAGE_ENV, "prod")
    monkeypatch.setenv("HEALSTACK_STATE_BUCKET", "acme-tfstate")
    assert run(fakes, tmp_path) == 0
    plan = tmp_path / "plan"
    # the diagram and the plan of a stack meet under the stack's name
    assert sorted(p.name for p in plan.glob("alpha*")) == [
        "alpha-prod.explain",
        "alpha-prod.json",
        "alpha-prod.mmd",
        "alpha-prod.txt",
    ]
    override = tmp_path / "cdktf.out" / "stacks" / "alpha-prod" / plan_stacks.OVERRIDE
    key = json.loads(override.read_text())["terraform"]["backend"]["s3"]["key"]
    assert key == "healstack/alpha-prod.tfstate"
    summary = plan_summary.render(
        plan_summary.load(plan), None, plan_summary.load_settings(plan)
    ).splitlines()
    assert summary[3] == "Stage `prod` · 2 playbooks from `playbooks/*.yaml`"
    assert "| `alpha-prod` | 1 | 0 | 0 | 0 |" in summary


def test_a_state_bucket_becomes_an_s3_backend_override_per_stack(
    fakes: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALSTACK_STATE_BUCKET", "acme-tfstate")
    monkeypatch.setenv("HEALSTACK_STATE_REGION", "eu-west-1")
    assert run(fakes, tmp_path) == 0
    override = tmp_path / "cdktf.out" / "stacks" / "beta" / plan_stacks.OVERRIDE
    assert json.loads(override.read_text()) == {
        "terraform": {
            "backend": {
                "s3": {
                    "bucket": "acme-tfstate",
                    "key": "healstack/beta.tfstate",
                    "region": "eu-west-1",
                }
            }
        }
    }


def test_a_stack_that_fails_to_plan_is_recorded_and_fails_the_run_after_the_others(
    fakes: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "alpha")
    assert run(fakes, tmp_path) == 1
    plan = tmp_path / "plan"
    assert "no credentials" in (plan / "alpha.error").read_text()
    assert (plan / "beta.json").is_file()
    stacks = {s.name: s for s in plan_summary.load(plan)}
    assert stacks["alpha"].error and stacks["beta"].add == 1


def test_no_plan_only_synthesizes_and_draws(fakes: dict[str, str], tmp_path: Path) -> None:
    assert run(fakes, tmp_path, "--no-plan") == 0
    assert not list((tmp_path / "plan").glob("*.json"))
    assert not (tmp_path / "terraform.log").exists()


def write_overridden_stack(dest: Path, synthesized: Path) -> None:
    """The default stack with the override ``plan_stack`` writes beside it."""
    shutil.copytree(synthesized / "stacks" / "ec2-status-check-recovery", dest)
    override = plan_stacks.backend_override("x", {"HEALSTACK_STATE_BUCKET": "b"})
    (dest / plan_stacks.OVERRIDE).write_text(json.dumps(override))


TO_VALIDATE["overridden"] = write_overridden_stack  # see tests/conftest.py


@pytest.mark.slow
def test_the_override_file_really_replaces_the_local_backend(validated: Validation) -> None:
    """terraform accepts the synthesized stack with the override beside it, and the backend
    it then has is the override's (validated in one terraform run with the suite's other
    configurations: see ``Validation``)."""
    assert validated.backend_file("overridden") == f"overridden/{plan_stacks.OVERRIDE}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def moto_server() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_a_real_plan_summarizes_to_the_stacks_resource_count(
    moto_server: str, terraform_env: dict[str, str], tmp_path: Path
) -> None:
    """A real ``terraform plan`` / ``show -json`` (against a local emulator, no state)."""
    out = tmp_path / "cdktf.out"
    synth_here(out, "--aws-endpoint", moto_server)
    name = "ec2-status-check-recovery"
    plan = tmp_path / "plan"
    plan.mkdir()
    env = {**os.environ, **terraform_env}
    assert plan_stacks.plan_stack(out / "stacks" / name, plan, "terraform", env), (
        plan / f"{name}.error"
    ).read_text()
    (stack,) = plan_summary.load(plan)
    resources = sum(len(v) for v in load_stack(out, name)["resource"].values())
    assert (stack.add, stack.change, stack.destroy, stack.replaces) == (resources, 0, 0, [])
    assert f"Plan: {resources} to add, 0 to change, 0 to destroy." in (stack.text or "")
    assert "Warning" not in (stack.text or "")
