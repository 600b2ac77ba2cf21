"""Shared bits of the pipeline tests: the synthesized resources, the repo's scripts."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

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
    out: Path, settings: str, playbook: str | None = None, prelude: str = ""
) -> dict[str, Any]:
    """Synthesize the default playbook with ``DeploymentSettings(<settings>)`` in a fresh
    process (after running ``prelude``); the stack's cdk.tf.json."""
    from healstack.loader import shipped_playbook_path

    path = playbook or str(shipped_playbook_path())
    code = (
        "from pathlib import Path\n"
        "from healstack.loader import load_playbooks\n"
        "from healstack.providers.interfaces import DeploymentSettings, PipelineSource, Rollout\n"
        "from healstack.synth import synthesize\n"
        f"{prelude}\n"
        f"result = synthesize(load_playbooks([{path!r}]), Path({str(out)!r}), "
        f"DeploymentSettings({settings}))\n"
        "print(result.stacks[0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    stack = result.stdout.strip().splitlines()[-1]
    return dict(json.loads((out / "stacks" / stack / "cdk.tf.json").read_text()))
