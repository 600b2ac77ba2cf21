"""``./dev emulator`` (``python -m tests.emulator.run``): ``--help`` starts nothing; Ctrl-C or
SIGTERM stops a run and leaves no terraform (nor its provider plugin) behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

ENTRY = [sys.executable, "-m", "tests.emulator.run"]
#: how long the run may take to reach the terraform provider (synth + init + plugin start)
REACH_PROVIDER_S = 180.0
STOP_S = 60.0


def _children() -> dict[int, list[int]]:
    """Every live process's children, from /proc (pid -> child pids)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _descendants(pid: int) -> dict[int, str]:
    """pid -> (command name, start time) key of every live descendant of ``pid``."""
    found: dict[int, str] = {}
    tree = _children()
    todo = list(tree.get(pid, []))
    while todo:
        child = todo.pop()
        key = _identity(child)
        if key is not None:
            found[child] = key
        todo.extend(tree.get(child, []))
    return found


def _identity(pid: int) -> str | None:
    """``name start-time`` of a live process (None once gone): a reused pid differs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else f"{name} {fields[19]}"


def test_help_prints_help_and_starts_nothing() -> None:
    done = subprocess.run(
        [*ENTRY, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ./dev emulator")
    assert "Ctrl-C" in done.stdout
    assert "moto server on http" not in done.stdout + done.stderr  # no run started


def test_an_unknown_option_is_one_line_and_exit_2() -> None:
    done = subprocess.run(
        [*ENTRY, "--bogus"], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "unrecognized arguments: --bogus" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stopped_run_leaves_no_terraform_or_provider_behind(sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run = subprocess.Popen(
        ENTRY,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the test's own group stays out of the signal
    )
    seen: dict[int, str] = {}
    try:
        deadline = time.monotonic() + REACH_PROVIDER_S
        while time.monotonic() < deadline and run.poll() is None:
            seen.update(_descendants(run.pid))
            if any(key.startswith("terraform-provi") for key in seen.values()):
                break
            time.sleep(0.2)
        assert run.poll() is None, f"the run ended early:\n{run.communicate()[0]}"
        assert any(k.startswith("terraform-provi") for k in seen.values()), (
            f"no provider plugin within {REACH_PROVIDER_S:g}s: {sorted(seen.values())}"
        )
        seen.update(_descendants(run.pid))
        run.send_signal(sig)  # to the harness only, as a terminal's Ctrl-C reaches it
        output, _ = run.communicate(timeout=STOP_S)
    finally:
        if run.poll() is None:  # the test failed: do not leave the run itself behind
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    left = {pid: key for pid, key in seen.items() if _identity(pid) == key}
    for pid in left:  # reported below; not left running on this machine either
        os.kill(pid, signal.SIGKILL)
    assert left == {}, f"still running after the run stopped: {left}"
    assert run.returncode == 130, output
    assert "interrupted" in output
