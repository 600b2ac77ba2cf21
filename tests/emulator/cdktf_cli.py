"""The cdktf CLI (npm ``cdktf-cli``, pinned in package-lock.json) driven like a user drives it.

It runs in the repository (its ``cdktf.json`` names the app: ``.venv/bin/python main.py``),
with ``--output`` pointing at the test's folder, bounded, in its own process group, and with
the emulator's terraform environment (offline mirror, no real AWS credentials). Settings reach
``main.py`` through the documented ``HEALSTACK_*`` variables, as they would in a user's shell.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from healstack.emulator.stack import tail
from healstack.emulator.terraform import run_bounded

REPO = Path(__file__).resolve().parents[2]
#: set by ``./dev test`` / ``./dev emulator`` after ``npm ci``
CLI_ENV = "HEALSTACK_CDKTF_CLI"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PLAN = re.compile(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy")
_APPLIED = re.compile(r"Apply complete! Resources: (\d+) added, (\d+) changed, (\d+) destroyed")
#: `terraform providers lock` (which diff/deploy run after init) needs registry.terraform.io;
#: the emulator runs offline on the mirror, so the CLI is asked to skip it
_LOCKING_COMMANDS = frozenset({"diff", "deploy", "destroy"})


class CdktfCliError(AssertionError):
    """The CLI failed, timed out or is missing; the message carries its output's tail."""


@dataclass(frozen=True)
class Counts:
    """Resources to add/change/destroy (a plan) or added/changed/destroyed (an apply)."""

    add: int
    change: int
    destroy: int


def cli_path() -> Path:
    path = Path(os.environ.get(CLI_ENV) or REPO / "node_modules" / ".bin" / "cdktf")
    if not path.exists():
        raise CdktfCliError(
            f"the cdktf CLI is not installed at {path}: `./dev test` and `./dev emulator` "
            "install it (npm ci from package-lock.json); or run `npm ci` in the repository"
        )
    return path


def run_cdktf(
    command: str,
    *args: str,
    output: Path,
    env: Mapping[str, str],
    timeout_s: float,
) -> str:
    """``cdktf COMMAND ARGS --output OUTPUT`` in the repository; its stdout without colours."""
    argv = [str(cli_path()), command, *args, "--output", str(output)]
    if command in _LOCKING_COMMANDS:
        argv.append("--skip-provider-lock")
    full_env = {
        **env,
        "CHECKPOINT_DISABLE": "1",  # no version check call to HashiCorp
        "CDKTF_DISABLE_PLUGIN_CACHE_ENV": "1",  # no plugin cache in the user's home
        "CI": "1",  # plain, non-interactive output
        "FORCE_COLOR": "0",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    began = time.monotonic()
    done = run_bounded(argv, cwd=REPO, env=full_env, timeout_s=timeout_s)
    if done.timed_out:
        raise CdktfCliError(
            f"cdktf {command} did not finish within {timeout_s:g}s (killed); last output:\n"
            f"{tail(plain(done.stderr or done.stdout))}"
        )
    if done.returncode != 0:
        raise CdktfCliError(
            f"cdktf {command} failed (exit {done.returncode}) after "
            f"{time.monotonic() - began:.0f}s:\n{tail(plain(done.stderr + done.stdout))}"
        )
    return plain(done.stdout)


def plain(text: str) -> str:
    return _ANSI.sub("", text)


def plan_counts(output: str) -> Counts | None:
    """The ``Plan:`` line's counts; ``Counts(0, 0, 0)`` for "No changes."; None for neither."""
    found = _PLAN.search(output)
    if found:
        return Counts(*(int(n) for n in found.groups()))
    return Counts(0, 0, 0) if "No changes." in output else None


def applied_counts(output: str) -> Counts | None:
    found = _APPLIED.search(output)
    return Counts(*(int(n) for n in found.groups())) if found else None
