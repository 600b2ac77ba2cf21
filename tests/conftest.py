"""Fixtures shared by the whole suite: the synthesized shipped playbooks, terraform set-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from healstack.loader import shipped_playbook_path, shipped_playbooks

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def synth(out: Path, *args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> None:
    """Run ``python main.py`` in a fresh process, as a user would."""
    result = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "--out", str(out), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def all_playbook_args() -> list[str]:
    args: list[str] = []
    for name in shipped_playbooks():
        args += ["--playbook", str(shipped_playbook_path(name))]
    return args


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cdktf.out for every shipped playbook (one stack each), synthesized once per run."""
    out = tmp_path_factory.mktemp("synth") / "cdktf.out"
    synth(out, *all_playbook_args())
    return out


def load_stack(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / "stacks" / name / "cdk.tf.json").read_text())


@pytest.fixture(scope="session")
def default_stack(synthesized: Path) -> dict[str, Any]:
    return load_stack(synthesized, "ec2-status-check-recovery")


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from healstack.terraform_cli import terraform_env as make_env

    yield make_env(tmp_path_factory.mktemp("tfcli"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the emulator applies first: with several workers (``./dev test`` runs ``-n auto
    --dist loadfile``) they then overlap the rest of the suite instead of finishing it alone.
    Stable, and whole files move together, so module fixtures are set up once."""
    items.sort(key=lambda item: item.get_closest_marker("emulator") is None)
