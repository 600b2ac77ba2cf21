"""Registers the ``emulator`` marker here too, so the folder also runs before pyproject does."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "emulator: terraform apply into an in-process moto server (tests/emulator)"
    )
