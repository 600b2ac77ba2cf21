"""Fixtures for the simulator tests: no real AWS, and a faster moto EC2."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from healstack.loader import load_playbook, shipped_playbook_path
from healstack.playbook import Playbook
from healstack.simulate.runner import SynthesizedRecovery, synthesized_recovery
from tests.simulate.simulate_workflow import Fleet

EC2 = "ec2-status-check-recovery"


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


@pytest.fixture(scope="module")
def ec2_playbook() -> Playbook:
    """The shipped EC2 playbook."""
    return load_playbook(shipped_playbook_path())


@pytest.fixture(scope="module")
def ec2_recovery(synthesized: Path) -> SynthesizedRecovery:
    """Its synthesized state machine and functions (from the session's synthesis)."""
    return synthesized_recovery(synthesized / "stacks" / EC2 / "cdk.tf.json")
