"""Validate playbooks, then synthesize one stack per playbook into an output folder.

The output folder is replaced whole or not at all: synthesis writes to a sibling
temporary folder and renames it into place, so a failure never leaves half a cdktf.out.
What terraform keeps in a stack folder survives a re-synth, as with the cdktf CLI: each
still-synthesized stack's ``.terraform.lock.hcl`` (meant to be committed) and ``.terraform``
(the initialized providers and modules) move into the new output before it takes the old
one's place (``TERRAFORM_KEEPS``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from healstack.errors import PlaybookError, UsageError
from healstack.modules.compile import function_keys
from healstack.playbook import Playbook
from healstack.providers import registry
from healstack.providers.interfaces import DeploymentSettings
from healstack.settings import TAGS_ENV, StateBackend

#: what ``terraform init`` leaves in a stack folder, kept across re-synthesis (globs
#: relative to the output folder)
TERRAFORM_KEEPS = ("stacks/*/.terraform.lock.hcl", "stacks/*/.terraform")


@dataclass(frozen=True)
class SynthResult:
    out_dir: Path
    stacks: tuple[str, ...]


def check_names(playbooks: Sequence[Playbook], settings: DeploymentSettings, provider: str) -> None:
    """The cloud's naming limits, before any cloud code runs."""
    rules = registry.naming_rules(provider)
    tag_problems = rules.tag_problems(settings.tags)
    if tag_problems:
        raise UsageError(f"{tag_problems[0]} (fix it in --tag or ${TAGS_ENV})")
    for playbook in playbooks:
        problems = rules.problems(playbook.name, function_keys(playbook), settings)
        if problems:
            path, message = problems[0]
            raise PlaybookError(path, f'"{playbook.name}" {message}')
        for path, principal in _principals(playbook):
            problem = rules.principal_problem(principal)
            if problem is not None:
                raise PlaybookError(path, problem)


def _principals(playbook: Playbook) -> list[tuple[str, str]]:
    """(field path, principal) of every principal the playbook names."""
    found = []
    if playbook.approval is not None:
        found += [
            (f"approval.approvers[{i}]", p) for i, p in enumerate(playbook.approval.approvers)
        ]
    if playbook.trigger.bus is not None:
        found += [
            (f"trigger.bus.publishers[{i}]", p)
            for i, p in enumerate(playbook.trigger.bus.publishers)
        ]
    return found


def synthesize(
    playbooks: Sequence[Playbook],
    out_dir: Path,
    settings: DeploymentSettings | None = None,
    provider_name: str = "aws",
    state: StateBackend | None = None,
) -> SynthResult:
    """``state``: where each stack keeps its state (default: a local file per stack)."""
    settings = settings or DeploymentSettings()
    state = state or StateBackend()
    check_names(playbooks, settings, provider_name)
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from healstack.cdk import App
    from healstack.modules.stack import RecoveryStack

    provider = registry.provider(provider_name)
    out_dir = out_dir.resolve()
    with staged_output(out_dir, keep=TERRAFORM_KEEPS) as staging:
        app = App(outdir=str(staging), stack_traces=False)
        backend = state.configure if state.kind != "local" else None
        stacks = tuple(
            RecoveryStack(app, pb, provider, settings, backend).node.id for pb in playbooks
        )
        app.synth()
        written = getattr(provider, "stack_written", None)  # e.g. a scanner's config
        if written is not None:
            for name in stacks:
                written(staging / "stacks" / name)
    return SynthResult(out_dir, stacks)


@contextmanager
def staged_output(out_dir: Path, *, keep: Sequence[str] = ()) -> Iterator[Path]:
    """A sibling folder (not created) to write the output into: when the block ends normally
    it replaces ``out_dir`` whole; otherwise ``out_dir`` stays as it was. Either way the
    staging folder is gone afterwards, so a failure never leaves half an output.

    ``keep``: globs (relative to ``out_dir``) of what the new output takes over from the old
    one, moved (not copied) when the new output has the folder it lives in and not the path
    itself; moved back should the swap fail."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    moved: list[tuple[Path, Path]] = []
    try:
        yield staging
        for pattern in keep if out_dir.is_dir() else ():
            for kept in sorted(out_dir.glob(pattern)):
                target = staging / kept.relative_to(out_dir)
                if target.parent.is_dir() and not os.path.lexists(target):
                    kept.rename(target)
                    moved.append((target, kept))
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        if out_dir.exists():
            out_dir.rename(old)
        try:
            staging.rename(out_dir)
        except BaseException:
            if old.exists():
                old.rename(out_dir)
            raise
        moved.clear()
        shutil.rmtree(old, ignore_errors=True)
    finally:
        for target, kept in reversed(moved):  # the swap failed: the old output as it was
            if os.path.lexists(target) and not os.path.lexists(kept):
                target.rename(kept)
        shutil.rmtree(staging, ignore_errors=True)
