"""What every benchmark shares: the result row, timing of fresh processes, the machine."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
#: the last commit whose AWS resources came from the prebuilt bindings (before healstack's own
#: layer): the synthesis benchmark and the emulator's migration check compare against it
BINDINGS_COMMIT = "de21a8d"


@dataclass(frozen=True)
class Row:
    """One line of the results table. ``met`` is None when the figure has no target."""

    section: str
    measure: str
    value: str
    target: str = ""
    met: bool | None = None
    note: str = ""


def child_env(**extra: str) -> dict[str, str]:
    """The environment for measured child processes (jsii's Node banner silenced)."""
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    env.update(extra)
    return env


def run_timed(args: Sequence[str], *, cwd: Path = REPO, env: dict[str, str] | None = None) -> float:
    """Wall seconds of one fresh process; raises with its stderr if it fails."""
    began = time.perf_counter()
    result = subprocess.run(
        list(args), cwd=cwd, env=env or child_env(), capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - began
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr[-800:]}")
    return elapsed


def run_measured(
    args: Sequence[str], *, cwd: Path = REPO, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh process; CPU is user + system time of the process and
    of what it waited for (jsii's Node processes), less sensitive to a shared machine's load."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = run_timed(args, cwd=cwd, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def median_of(count: int, args: Sequence[str], **kwargs: object) -> tuple[float, list[float]]:
    """The median wall time of ``count`` fresh processes, and every sample."""
    samples = [run_timed(args, **kwargs) for _ in range(count)]  # type: ignore[arg-type]
    return statistics.median(samples), samples


def machine() -> str:
    """CPU count, model and Python of this machine, plus the load when the run began."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load {load:.1f} at start"
    )


def today() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%d")


def seconds(value: float) -> str:
    return f"{value:.2f} s"
