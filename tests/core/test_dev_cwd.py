"""``./dev healstack`` and ``./dev synth`` run in the caller's folder (set-up in the repository):
relative paths given from another folder work, and outputs land where the caller is.

The ``dev`` script runs from a copy of the repository's entry files whose venv forwards to
the project's: the test exercises the script itself without re-installing the shared venv.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from healstack.loader import shipped_playbook_path
from tests.conftest import REPO

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def dev_copy(tmp_path: Path) -> Path:
    """``<tmp>/repo``: ``dev``, ``pyproject.toml``, ``main.py``, and a ``.venv`` whose
    ``python``/``healstack`` forward to this interpreter's venv, stamped as set up (with the
    test extras, which serve every command)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("dev", "pyproject.toml", "main.py"):
        shutil.copy2(REPO / name, repo / name)
    bin_dir = repo / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("python", "healstack"):
        script = bin_dir / tool
        script.write_text(
            "#!/bin/sh\n"
            # a set-up attempt must fail here, never reinstall the project's venv
            'if [ "$1 $2" = "-m pip" ]; then echo "dev-test: pip $*" >&2; exit 97; fi\n'
            f'exec "{VENV_BIN / tool}" "$@"\n'
        )
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    want = hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest()
    (repo / ".venv" / ".healstack-installed").write_text(f"{want} test\n")  # serves all
    return repo


def _dev(repo: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    return subprocess.run(
        [str(repo / "dev"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def caller(tmp_path: Path) -> Path:
    """Another folder, holding a playbook under a relative path."""
    folder = tmp_path / "platform"
    (folder / "playbooks").mkdir(parents=True)
    shutil.copy2(shipped_playbook_path(), folder / "playbooks" / "ec2.yaml")
    return folder


def test_healstack_takes_paths_relative_to_the_caller(dev_copy: Path, caller: Path) -> None:
    done = _dev(dev_copy, caller, "healstack", "validate", "playbooks/ec2.yaml")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: ")
    assert not (caller / ".healstack").exists()  # set-up (the terraform CLI config) stays put


@pytest.mark.slow
def test_module_build_writes_where_the_caller_is(dev_copy: Path, caller: Path) -> None:
    done = _dev(
        dev_copy,
        caller,
        "healstack",
        "module",
        "build",
        "--playbook",
        "playbooks/ec2.yaml",
        "--out",
        "module2",
    )
    assert done.returncode == 0, done.stderr
    assert (caller / "module2" / "main.tf.json").is_file()
    assert not (dev_copy / "module2").exists()


@pytest.mark.slow
def test_synth_writes_cdktf_out_where_the_caller_is(dev_copy: Path, caller: Path) -> None:
    done = _dev(dev_copy, caller, "synth", "--playbook", "playbooks/ec2.yaml")
    assert done.returncode == 0, done.stderr
    stacks = sorted(p.name for p in (caller / "cdktf.out" / "stacks").iterdir())
    assert stacks and (caller / "cdktf.out" / "stacks" / stacks[0] / "cdk.tf.json").is_file()
    assert not (dev_copy / "cdktf.out").exists()


def test_a_missing_relative_path_is_reported_against_the_caller(
    dev_copy: Path, caller: Path
) -> None:
    done = _dev(dev_copy, caller, "healstack", "validate", "playbooks/none.yaml")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "playbooks/none.yaml" in done.stderr


def test_docs_runs_the_docs_build(dev_copy: Path, caller: Path) -> None:
    done = _dev(dev_copy, caller, "docs", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m healstack.docs_gen build")
    assert "--strict" in done.stdout


def test_emulator_help_prints_help_without_setting_up_the_cdktf_cli(dev_copy: Path) -> None:
    (dev_copy / "tests").symlink_to(REPO / "tests")  # the harness entry; no node_modules here
    done = _dev(dev_copy, dev_copy.parent, "emulator", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ./dev emulator")
    assert "installing the cdktf CLI" not in done.stderr
    assert not (dev_copy / "node_modules").exists()


@pytest.mark.parametrize("extras", ["docs", "test", ""])
def test_an_up_to_date_venv_serves_the_product_whatever_its_extras(
    dev_copy: Path, caller: Path, extras: str
) -> None:
    stamp = dev_copy / ".venv" / ".healstack-installed"
    want = stamp.read_text().split()[0]
    stamp.write_text(f"{want} {extras}\n")
    done = _dev(dev_copy, caller, "healstack", "validate", "playbooks/ec2.yaml")
    assert done.returncode == 0, done.stderr
    assert "setting up" not in done.stderr


def test_a_changed_pyproject_sets_the_venv_up_again(dev_copy: Path, caller: Path) -> None:
    with (dev_copy / "pyproject.toml").open("a") as pyproject:
        pyproject.write("# changed\n")
    done = _dev(dev_copy, caller, "healstack", "validate", "playbooks/ec2.yaml")
    assert done.returncode == 97  # the fixture's venv refuses to install
    assert "dev: setting up" in done.stderr and "dev-test: pip -m pip install" in done.stderr
