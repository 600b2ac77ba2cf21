"""``run_bounded`` runs a command in a process group of its own; interrupted, or asked to stop
from another thread, it stops the whole group (terraform *and* its provider plugin), not just
the process it started."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from healstack.emulator.terraform import Finished, run_bounded, stop_running


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _child_pid_once_started(tmp_path: Path) -> int:
    out = tmp_path / "child.pid"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if out.exists() and out.read_text().strip():
            return int(out.read_text())
        time.sleep(0.02)
    raise AssertionError("the command did not start its child")


@pytest.fixture
def command(tmp_path: Path) -> Iterator[list[str]]:
    """A parent that starts a child and waits on it, as terraform waits on its provider
    plugin; the child's pid goes to ``child.pid``."""
    pid_file = tmp_path / "child.pid"
    yield ["sh", "-c", f"sleep 30 & echo $! > {pid_file}; wait"]
    if pid_file.exists() and pid_file.read_text().strip():  # never leave it behind
        pid = int(pid_file.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_stop_running_stops_a_group_another_thread_waits_on(
    tmp_path: Path, command: list[str]
) -> None:
    finished: list[Finished] = []
    waiter = threading.Thread(
        target=lambda: finished.append(
            run_bounded(command, cwd=tmp_path, env=os.environ, timeout_s=60)
        )
    )
    waiter.start()
    child = _child_pid_once_started(tmp_path)
    assert stop_running() == 1
    waiter.join(timeout=15)
    assert not waiter.is_alive()
    assert finished[0].returncode != 0 and not finished[0].timed_out
    assert not _alive(child)
    assert stop_running() == 0  # nothing is left registered


def test_an_interrupted_wait_stops_the_group_before_going_on(
    tmp_path: Path, command: list[str]
) -> None:
    child: list[int] = []

    def interrupt(signum: int, frame: FrameType | None) -> None:
        child.append(_child_pid_once_started(tmp_path))
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_bounded(command, cwd=tmp_path, env=os.environ, timeout_s=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert child and not _alive(child[0])
    assert stop_running() == 0


def test_a_timeout_stops_the_group(tmp_path: Path, command: list[str]) -> None:
    done = run_bounded(command, cwd=tmp_path, env=os.environ, timeout_s=0.5)
    assert done.timed_out and done.returncode == -1
    assert not _alive(_child_pid_once_started(tmp_path))
