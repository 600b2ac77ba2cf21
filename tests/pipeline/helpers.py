"""Shared bits of the pipeline tests: the synthesized resources, the repo's scripts."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from healstack.providers.interfaces import DeploymentSettings
from tests.conftest import REPO


def resources(stack: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return dict(stack["resource"].get(kind, {}))


def one(stack: dict[str, Any], kind: str) -> dict[str, Any]:
    found = list(resources(stack, kind).values())
    assert len(found) == 1, f"{kind}: {len(found)}"
    return found[0]


def ref(kind: str, name: str, attribute: str) -> str:
    return f"${{{kind}.{name}.{attribute}}}"


def named(stack: dict[str, Any], kind: str, part: str) -> tuple[str, dict[str, Any]]:
    """The one resource of ``kind`` whose Terraform name contains ``part``."""
    found = [(n, r) for n, r in resources(stack, kind).items() if part in n]
    assert len(found) == 1, f"{kind} *{part}*: {[n for n, _ in found]}"
    return found[0]


def policy_of(stack: dict[str, Any], role_part: str) -> list[dict[str, Any]]:
    """The statements of the inline policy of the pipeline role named like ``role_part``."""
    _, policy = named(stack, "aws_iam_role_policy", f"pipeline_{role_part}-policy")
    statements: list[dict[str, Any]] = json.loads(policy["policy"])["Statement"]
    return statements


def script(name: str) -> ModuleType:
    """Import ``scripts/<name>.py`` (the folder is not a package)."""
    path = REPO / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"healstack_scripts_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def synth_with_settings(
    out: Path, settings: DeploymentSettings, playbook: str | None = None
) -> dict[str, Any]:
    """Synthesize the default playbook with ``settings`` (in this process: the tests' process
    has jsii loaded already, a fresh one would pay ~7 s for it); the stack's cdk.tf.json."""
    from healstack.loader import load_playbooks, shipped_playbook_path
    from healstack.synth import synthesize

    path = playbook or str(shipped_playbook_path())
    result = synthesize(load_playbooks([path]), out, settings)
    (stack,) = result.stacks
    return dict(json.loads((out / "stacks" / stack / "cdk.tf.json").read_text()))
