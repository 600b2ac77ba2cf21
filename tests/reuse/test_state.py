"""Stages and state: every stage its own state (a local file, or its own S3 key), and the
S3 backend with native locking from ``healstack.toml``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from healstack.cli import main
from healstack.settings import StateBackend, load_state_backend
from tests.conftest import TO_VALIDATE, Validation, load_stack, synth_here

S3_CONFIG = """\
# the team's state
[state]
backend = "s3"
bucket = "acme-terraform-state"
region = "eu-west-1"
key_prefix = "recoveries/"
"""


def test_the_default_stack_keeps_a_local_state_file_beside_the_output(
    default_stack: dict[str, Any],
) -> None:
    assert default_stack["terraform"]["backend"] == {
        "local": {"path": "../../../terraform.ec2-status-check-recovery.tfstate"}
    }


def synth_stage(work: Path, stage: str, *args: str) -> Path:
    """``healstack synth --stage STAGE --out STAGE ARGS`` from ``work``, with ``S3_CONFIG`` as
    its ``./healstack.toml``; the stack's folder."""
    (work / "healstack.toml").write_text(S3_CONFIG)
    synth_here(work / stage, "--stage", stage, *args, cwd=work)
    return work / stage / "stacks" / f"ec2-status-check-recovery-{stage}"


@pytest.fixture(scope="module")
def team_stacks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``./healstack.toml`` with an S3 backend, synthesized for two stages."""
    work = tmp_path_factory.mktemp("team")
    synth_stage(work, "prod")
    synth_stage(work, "sandbox", "--region", "us-west-2")
    return work


def test_s3_state_with_native_locking_and_a_key_per_stage(team_stacks: Path) -> None:
    prod = load_stack(team_stacks / "prod", "ec2-status-check-recovery-prod")
    sandbox = load_stack(team_stacks / "sandbox", "ec2-status-check-recovery-sandbox")
    assert prod["terraform"]["backend"] == {
        "s3": {
            "bucket": "acme-terraform-state",
            "key": "recoveries/ec2-status-check-recovery-prod.tfstate",
            "region": "eu-west-1",
            "encrypt": True,
            "use_lockfile": True,
        }
    }
    assert sandbox["terraform"]["backend"]["s3"]["key"] == (
        "recoveries/ec2-status-check-recovery-sandbox.tfstate"
    )
    # the bucket's region is the config's, whatever region the stack deploys to
    assert sandbox["terraform"]["backend"]["s3"]["region"] == "eu-west-1"
    assert sandbox["provider"]["aws"][0]["region"] == "us-west-2"
    assert "dynamodb_table" not in prod["terraform"]["backend"]["s3"]


def test_stages_never_share_a_name(team_stacks: Path) -> None:
    prod = load_stack(team_stacks / "prod", "ec2-status-check-recovery-prod")
    sandbox = load_stack(team_stacks / "sandbox", "ec2-status-check-recovery-sandbox")

    def names(stack: dict[str, Any]) -> set[str]:
        return {
            block[key]
            for blocks in stack["resource"].values()
            for block in blocks.values()
            for key in ("name", "function_name", "alarm_name")
            if isinstance(block.get(key), str) and "ec2-status-check-recovery" in block[key]
        }

    assert len(names(prod)) > 40
    assert all("ec2-status-check-recovery-prod" in n for n in names(prod))
    assert not names(prod) & names(sandbox)


def write_s3_stack(dest: Path, _synthesized: Path) -> None:
    """The prod stack of ``team_stacks``."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(synth_stage(Path(tmp), "prod"), dest)


TO_VALIDATE["s3-prod"] = write_s3_stack  # see tests/conftest.py


@pytest.mark.slow
def test_terraform_validates_the_s3_stack_offline(validated: Validation) -> None:
    """``terraform init -backend=false`` (offline: no bucket, no credentials) and ``validate``
    accept it (validated in one terraform run with the suite's other configurations: see
    ``Validation``)."""
    assert validated.backend_file("s3-prod") == "s3-prod/cdk.tf.json"


def test_no_config_file_means_local_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_state_backend(None, "us-east-1") == StateBackend()


def test_config_is_read_from_the_working_directory_or_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "healstack.toml").write_text('[state]\nbackend = "s3"\nbucket = "here-state"\n')
    here = load_state_backend(None, "ap-south-1")
    assert (here.kind, here.bucket, here.region, here.key_prefix) == (
        "s3",
        "here-state",
        "ap-south-1",  # default: the stacks' region
        "healstack/",  # the plan job's default too (scripts/plan_stacks.py)
    )
    other = tmp_path / "team.toml"
    other.write_text('[state]\nbackend = "local"\n')
    assert load_state_backend(other, "us-east-1") == StateBackend()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[state\n", "not valid TOML"),
        ('[backend]\ntype = "s3"\n', "[backend]: unknown table"),
        ('[state]\nbackend = "gcs"\n', 'state.backend: "gcs" is not a backend (use local or s3)'),
        ('[state]\nbackend = "s3"\n', "state.bucket: missing"),
        ('[state]\nbackend = "s3"\nbucket = "Bad_Bucket"\n', "is not an S3 bucket name"),
        ('[state]\nbackend = "s3"\nbucket = "ok-bucket"\nregion = "eu"\n', "state.region"),
        ('[state]\nbackend = "s3"\nbucket = "ok-bucket"\nkey_prefix = "/abs/"\n', "key_prefix"),
        ('[state]\nbackend = "s3"\nbuckt = "typo"\n', "state.buckt: unknown setting"),
        ('[state]\nbucket = "ok-bucket"\n', 'only for backend = "s3"'),
        ("[state]\nuse_lockfile = false\n", "state.use_lockfile: unknown setting"),
    ],
)
def test_a_bad_config_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, message: str
) -> None:
    path = tmp_path / "healstack.toml"
    path.write_text(config)
    out = tmp_path / "out"
    assert main(["synth", "--config", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"healstack: error: {path}: ")
    assert message in err
    assert not out.exists()


def test_a_missing_config_file_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.toml"
    assert main(["synth", "--config", str(missing), "--out", str(tmp_path / "out")]) == 2
    assert f"--config {missing}: no such file" in capsys.readouterr().err
