"""The AWS provider version: the proven range by default, a narrower choice by setting."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from healstack.cli import main
from healstack.providers.aws.versions import DEFAULT_CONSTRAINT, intersects
from tests.conftest import TO_VALIDATE, Validation, load_stack, synth_here

STACK = "ec2-status-check-recovery"


def required(stack: dict[str, object]) -> object:
    return stack["terraform"]["required_providers"]["aws"]  # type: ignore[index]


def test_the_stacks_declare_the_proven_range(synthesized: Path) -> None:
    for stack_dir in sorted((synthesized / "stacks").iterdir()):
        stack = json.loads((stack_dir / "cdk.tf.json").read_text())
        assert required(stack) == {"source": "aws", "version": DEFAULT_CONSTRAINT}
    # a platform root on ~> 6.0 (or on 5.100) is not refused by healstack's constraint
    assert intersects("~> 6.0", DEFAULT_CONSTRAINT)
    assert intersects("= 5.100.0", DEFAULT_CONSTRAINT)


def _pinned(out: Path) -> None:
    synth_here(out, "--aws-provider-version", "5.100.0")


def write_pinned_stack(dest: Path, _synthesized: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cdktf.out"
        _pinned(out)
        shutil.copytree(out / "stacks" / STACK, dest)


TO_VALIDATE["pinned-aws-5-100"] = write_pinned_stack  # see tests/conftest.py


def test_a_setting_narrows_the_range_and_terraform_takes_it(
    tmp_path: Path, validated: Validation, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pinned(tmp_path / "option")
    assert required(load_stack(tmp_path / "option", STACK))["version"] == "5.100.0"  # type: ignore[index]
    monkeypatch.setenv("HEALSTACK_AWS_PROVIDER_VERSION", "~> 6.0")
    synth_here(tmp_path / "variable")
    assert required(load_stack(tmp_path / "variable", STACK))["version"] == "~> 6.0"  # type: ignore[index]
    validated.backend_file("pinned-aws-5-100")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("~> 4.0", "allows no version of the proven range"),
        (">= 6.0", "allows versions outside the proven range"),
        ("six", "HEALSTACK_AWS_PROVIDER_VERSION: aws provider version 'six'"),
    ],
)
def test_a_choice_outside_the_proven_range_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv("HEALSTACK_AWS_PROVIDER_VERSION", value)
    out = tmp_path / "out"
    assert main(["synth", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()
