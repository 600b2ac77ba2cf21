"""Fixtures for the simulator tests: no real AWS, and a faster moto EC2."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.simulate.simulate_workflow import Fleet


@pytest.fixture(autouse=True)
def offline_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No real credentials or endpoints leak in; moto skips loading its ~2,600 default AMIs."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("MOTO_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    yield


@pytest.fixture
def fleet() -> Fleet:
    """One unhealthy EC2 instance, created by the simulation's ``setup``."""
    return Fleet(health="bad")
