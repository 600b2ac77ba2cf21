"""Shared bits of the reuse tests: the platform examples, run as their users run them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO

CDKTF_EXAMPLE = REPO / "examples" / "platform-cdktf"
PLATFORM_STACK = "acme-platform-sandbox"


def copy_example(tmp: Path) -> Path:
    """A copy of examples/platform-cdktf (tests never write into the checkout)."""
    work = tmp / "platform-cdktf"
    shutil.copytree(
        CDKTF_EXAMPLE,
        work,
        ignore=shutil.ignore_patterns("cdktf.out", "__pycache__", ".terraform*"),
    )
    return work


def run_example(python: str, work: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """``python main.py`` from the platform's folder (its own packages first on the path)."""
    env = {**os.environ, "CDKTF_OUTDIR": str(out), "STAGE": "sandbox"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [python, "main.py"], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )


def terraform_validates(stack_dir: Path, env: dict[str, str], tmp: Path) -> None:
    """``terraform init -backend=false`` (offline) and ``validate`` on a copy of the folder."""
    work = tmp / stack_dir.name
    shutil.copytree(stack_dir, work)
    terraform(work, env, "init", "-backend=false", "-input=false")
    assert "Success! The configuration is valid." in terraform(work, env, "validate").stdout


def terraform(
    work: Path, env: dict[str, str], *args: str, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """``terraform ARGS -no-color`` in ``work``; with ``ok``, exit 0 is asserted."""
    result = subprocess.run(
        ["terraform", *args, "-no-color"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if ok:
        assert result.returncode == 0, f"terraform {args[0]}\n{result.stdout}\n{result.stderr}"
    return result
