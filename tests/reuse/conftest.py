"""Fixtures of the reuse tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import once_per_run
from tests.reuse.helpers import copy_example, run_example


@pytest.fixture(scope="session")
def platform_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/platform-cdktf synthesized from (a copy of) its folder with the project venv
    (once per run: tests/reuse/test_platform_example.py and test_wheel.py both read it)."""

    def make(tmp: Path) -> None:
        result = run_example(sys.executable, copy_example(tmp), tmp / "out")
        assert result.returncode == 0, result.stderr

    return once_per_run(tmp_path_factory, "platform", make) / "out"
