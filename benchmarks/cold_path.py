"""The Lambda cold path: each function package's size, and its handler's import time.

Packages are built exactly as synthesis builds them (``healstack.packaging`` with
``AwsProvider._modules``), one per handler in ``ALL_IMPLEMENTATIONS``. Each package is
unpacked into a folder of its own and its handler module is imported from there, in a fresh
interpreter, with nothing precompiled (Lambda cannot write ``__pycache__`` into ``/var/task``
either). Reported per handler, median of ``repeats`` processes:

- *with boto3*: the import of the handler module in a fresh interpreter;
- *own*: the same import when boto3 is already imported (the handler's own cost: boto3 ships
  with Lambda's Python runtime, but importing it still happens at the function's cold start);
- *boto3*: ``import boto3`` alone.

Targets (issue #6): each package < 50 KB; each handler's own import < 100 ms. Measured with
this machine's CPython (Lambda runs 3.12 on arm64: absolute figures differ).
"""

from __future__ import annotations

import io
import shutil
import statistics
import subprocess
import tempfile
import zipfile
from pathlib import Path

from benchmarks.common import PYTHON, Row, child_env

SIZE_TARGET_BYTES = 50 * 1024
IMPORT_TARGET_S = 0.100
_TIMED_IMPORT = """
import sys, time
sys.path.insert(0, {folder!r})
{before}
began = time.perf_counter()
import {module} as handler
elapsed = time.perf_counter() - began
assert handler.__file__.startswith({folder!r}), handler.__file__
print(elapsed)
"""


def packages() -> list[tuple[str, bytes]]:
    """(handler, zip bytes) of every function healstack can synthesize, as synthesis builds it."""
    from healstack import packaging
    from healstack.providers.aws.provider import AwsProvider
    from healstack.providers.aws.steps import ALL_IMPLEMENTATIONS

    built = {}
    for impl in ALL_IMPLEMENTATIONS:
        package = packaging.package_modules(impl.handler, AwsProvider._modules(impl))
        built[impl.handler] = package.data
    return sorted(built.items())


def import_seconds(folder: Path, module: str, *, boto3_first: bool, repeats: int) -> float:
    code = _TIMED_IMPORT.format(
        folder=str(folder), module=module, before="import boto3" if boto3_first else ""
    )
    env = child_env(PYTHONDONTWRITEBYTECODE="1")
    samples = []
    for _ in range(repeats):
        result = subprocess.run(
            [PYTHON, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        samples.append(float(result.stdout.strip()))
    return statistics.median(samples)


def boto3_seconds(repeats: int) -> float:
    code = "import time; t = time.perf_counter(); import boto3; print(time.perf_counter() - t)"
    samples = [
        float(
            subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout
        )
        for _ in range(repeats)
    ]
    return statistics.median(samples)


def measure(repeats: int = 5) -> list[Row]:
    rows: list[Row] = []
    section = "lambda cold path"
    work = Path(tempfile.mkdtemp(prefix="healstack-bench-lambda-"))
    by_module: dict[str, bytes] = {}
    try:
        for handler, data in packages():
            files = zipfile.ZipFile(io.BytesIO(data)).namelist()
            rows.append(
                Row(
                    section,
                    f"`{handler}` package",
                    f"{len(data) / 1024:.1f} KB",
                    "< 50 KB",
                    len(data) < SIZE_TARGET_BYTES,
                    f"{len(files)} modules, stored (no deflate)",
                )
            )
            by_module.setdefault(handler.rpartition(".")[0], data)
        for module, data in sorted(by_module.items()):
            folder = work / module
            zipfile.ZipFile(io.BytesIO(data)).extractall(folder)
            total = import_seconds(folder, module, boto3_first=False, repeats=repeats)
            own = import_seconds(folder, module, boto3_first=True, repeats=repeats)
            rows.append(
                Row(
                    section,
                    f"`import {module}`: own; with boto3",
                    f"{own * 1000:.0f} ms; {total * 1000:.0f} ms",
                    "own < 100 ms",
                    own < IMPORT_TARGET_S,
                    f"median of {repeats} fresh processes, from its package, no .pyc",
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows.append(
        Row(
            section,
            "`import boto3` alone",
            f"{boto3_seconds(repeats) * 1000:.0f} ms",
            note="ships with Lambda's runtime; still imported at each cold start",
        )
    )
    return rows
