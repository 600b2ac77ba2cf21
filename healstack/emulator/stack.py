"""Synthesize stacks for a local emulator, in a fresh process, as ``healstack synth`` would.

A separate process keeps jsii's Node runtime and the cdktf bindings out of the caller's
process (which may be running the emulator) and matches what a user runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from healstack.emulator.server import EmulatorError

DEFAULT_STACK = "ec2-status-check-recovery"
_SYNTH_TIMEOUT_S = 300.0
_TAIL_LINES = 25


@dataclass(frozen=True)
class StackOutput:
    """One synthesized stack: ``out`` is the cdktf output folder, ``name`` the stack."""

    out: Path
    name: str

    @property
    def stack_dir(self) -> Path:
        """Where terraform runs: ``cdk.tf.json`` and ``assets/``."""
        return self.out / "stacks" / self.name

    @property
    def state_file(self) -> Path:
        """The local backend's state (``../../../terraform.<stack>.tfstate`` of the stack)."""
        return self.out.parent / f"terraform.{self.name}.tfstate"

    def config(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads((self.stack_dir / "cdk.tf.json").read_text())
        return loaded


def synthesize(
    out: Path,
    endpoint: str,
    *,
    playbooks: Sequence[Path] = (),
    extra_args: Sequence[str] = (),
    timeout_s: float = _SYNTH_TIMEOUT_S,
) -> dict[str, StackOutput]:
    """Run ``healstack synth --out OUT --aws-endpoint ENDPOINT`` and return the stacks by name.

    With no ``playbooks`` the shipped default playbook is synthesized. Raises ``EmulatorError``
    with the command's stderr tail when synthesis fails or times out.
    """
    command = [sys.executable, "-m", "healstack.cli", "synth", "--out", str(out)]
    command += ["--aws-endpoint", endpoint, *extra_args]
    for playbook in playbooks:
        command += ["--playbook", str(playbook)]
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    try:
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise EmulatorError(f"healstack synth did not finish within {timeout_s:g}s") from exc
    if result.returncode != 0:
        raise EmulatorError(
            f"healstack synth failed (exit {result.returncode}):\n{tail(result.stderr)}"
        )
    manifest = json.loads((out / "manifest.json").read_text())
    return {name: StackOutput(out, name) for name in sorted(manifest["stacks"])}


def tail(text: str, lines: int = _TAIL_LINES) -> str:
    """The last ``lines`` non-empty lines of ``text`` (for error messages)."""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) or "(no output)"
