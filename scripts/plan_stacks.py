#!/usr/bin/env python3
"""Synthesize the reviewed playbooks for a stage, draw each workflow, and plan each stack.

What ``.github/workflows/plan.yml`` runs; works the same on a laptop with AWS credentials.

    python3 scripts/plan_stacks.py --out plan [--playbooks GLOBS] [--stage STAGE] [--no-plan]

The workflow's two settings (its ``env`` at the top): which playbooks, ``--playbooks`` or
``HEALSTACK_PLAN_PLAYBOOKS``, space-separated globs relative to the working directory (the
repository root in the workflow; ``**`` recurses), default ``healstack/playbooks/*.yaml``;
a glob that matches no file is an error. Which stage, ``--stage`` or ``HEALSTACK_STAGE``
(healstack's own setting, so the stacks' names and state keys end with it), default none.

Writes, per stack, into ``--out``: ``<stack>.mmd`` (``healstack diagram``),
``<stack>.explain`` (``healstack explain --short``: the bounds of one recovery), and unless
``--no-plan``: ``<stack>.txt`` (``terraform plan -no-color``), ``<stack>.json``
(``terraform show -json`` of that plan) or ``<stack>.error`` when planning failed; and
``review.settings`` (JSON: the stage and globs, for the comment's first line).
``scripts/plan_summary.py`` turns the folder into the PR comment.

State: with ``HEALSTACK_STATE_BUCKET`` set, each stack is planned against its state in that
S3 bucket (key ``<HEALSTACK_STATE_KEY_PREFIX><stack>.tfstate``, default prefix
``healstack/``; region ``HEALSTACK_STATE_REGION`` or ``AWS_REGION``) through a Terraform
override file beside the synthesized stack; without it, against no state (all creates).
Plans never take the state lock (``-lock=false``): a review must not block an apply.
Exit 1 when any stack failed to plan (after planning all of them), 2 on a bad setting, 0
otherwise.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OVERRIDE = "backend_override.tf.json"
#: the workflow's settings (.github/workflows/plan.yml): which playbooks, which stage
PLAYBOOKS_ENV = "HEALSTACK_PLAN_PLAYBOOKS"
DEFAULT_PLAYBOOKS = "healstack/playbooks/*.yaml"
STAGE_ENV = "HEALSTACK_STAGE"  # healstack synth's own variable (healstack/settings.py)
#: what the comment shows of the settings (scripts/plan_summary.py reads it)
SETTINGS_FILE = "review.settings"
_SYNTHESIZED = re.compile(r"^synthesized: .*/stacks/([^/]+)/cdk\.tf\.json$", re.MULTILINE)


class SettingError(Exception):
    """A workflow setting is wrong (one line, exit 2)."""


def playbooks(globs: str, root: Path) -> list[Path]:
    """The files ``globs`` (space-separated, relative to ``root`` unless absolute) match,
    each once, sorted; a glob matching no file is an error naming it."""
    found: set[Path] = set()
    patterns = globs.split()
    if not patterns:
        raise SettingError(
            f"{PLAYBOOKS_ENV} is empty: give playbook globs, e.g. {DEFAULT_PLAYBOOKS}"
        )
    for pattern in patterns:
        matches = [
            (root / match).resolve()
            for match in glob.glob(pattern, root_dir=root, recursive=True)
            if (root / match).is_file()
        ]
        if not matches:
            raise SettingError(
                f"{PLAYBOOKS_ENV}: {pattern!r} matches no file under {root} "
                "(space-separated globs relative to the repository root)"
            )
        found.update(matches)
    return sorted(found)


def backend_override(stack: str, env: Mapping[str, str]) -> dict[str, object] | None:
    """The S3 backend for ``stack`` from the environment, or None (plan without state)."""
    bucket = env.get("HEALSTACK_STATE_BUCKET")
    if not bucket:
        return None
    prefix = env.get("HEALSTACK_STATE_KEY_PREFIX", "healstack/")
    region = env.get("HEALSTACK_STATE_REGION") or env.get("AWS_REGION") or "us-east-1"
    return {
        "terraform": {
            "backend": {
                "s3": {"bucket": bucket, "key": f"{prefix}{stack}.tfstate", "region": region}
            }
        }
    }


def run(
    command: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    return subprocess.run(
        list(command),
        cwd=cwd,
        env=None if env is None else dict(env),
        text=True,
        capture_output=True,
        check=False,
    )


def plan_stack(stack_dir: Path, out: Path, terraform: str, env: Mapping[str, str]) -> bool:
    name = stack_dir.name
    override = backend_override(name, env)
    if override is not None:
        (stack_dir / OVERRIDE).write_text(json.dumps(override, indent=2) + "\n")
    steps = [
        [terraform, "init", "-input=false", "-no-color"],
        [terraform, "plan", "-input=false", "-no-color", "-lock=false", "-out=tfplan"],
        [terraform, "show", "-json", "tfplan"],
    ]
    for step in steps:
        result = run(step, stack_dir, env)
        if result.returncode != 0:
            (out / f"{name}.error").write_text(
                f"$ terraform {' '.join(step[1:])}\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
            )
            return False
        if step[1] == "plan":
            (out / f"{name}.txt").write_text(result.stdout)
        elif step[1] == "show":
            (out / f"{name}.json").write_text(result.stdout)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Synthesize, draw and plan every stack.")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--no-plan", action="store_true", help="synthesize and draw only")
    parser.add_argument(
        "--playbooks",
        default=os.environ.get(PLAYBOOKS_ENV) or DEFAULT_PLAYBOOKS,
        metavar="GLOBS",
        help=f"space-separated globs; default: ${PLAYBOOKS_ENV}, else {DEFAULT_PLAYBOOKS}",
    )
    parser.add_argument(
        "--stage",
        default=os.environ.get(STAGE_ENV) or None,
        help=f"the stage to synthesize for; default: ${STAGE_ENV}, else none",
    )
    parser.add_argument("--synth-out", type=Path, default=REPO / "cdktf.out")
    parser.add_argument("--dev", default=str(REPO / "dev"), help="the project's entry point")
    parser.add_argument("--terraform", default="terraform")
    args = parser.parse_args(argv)
    root = Path.cwd()
    try:
        books = playbooks(args.playbooks, root)
    except SettingError as exc:
        print(f"plan_stacks: error: {exc}", file=sys.stderr)
        return 2
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    synth_out: Path = args.synth_out.resolve()
    (out / SETTINGS_FILE).write_text(
        json.dumps(
            {
                "stage": args.stage,
                "playbooks": args.playbooks,
                "files": [str(b.relative_to(root) if b.is_relative_to(root) else b) for b in books],
            },
            indent=2,
        )
        + "\n"
    )
    synth = [args.dev, "synth", "--out", str(synth_out)]
    if args.stage:
        synth += ["--stage", args.stage]
    for book in books:
        synth += ["--playbook", str(book)]
    result = run(synth, root)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        return 1
    stacks = _SYNTHESIZED.findall(result.stdout)  # one per playbook, in their order
    if len(stacks) != len(books):
        sys.stderr.write(f"plan_stacks: synth named {stacks} for {len(books)} playbooks\n")
        return 1
    for book, stack in zip(books, stacks, strict=True):
        drawn = run([args.dev, "healstack", "diagram", "--playbook", str(book)], root)
        if drawn.returncode != 0:
            sys.stderr.write(drawn.stderr)
            return 1
        (out / f"{stack}.mmd").write_text(drawn.stdout)
        bounds = run([args.dev, "healstack", "explain", "--short", str(book)], root)
        if bounds.returncode not in (0, 1):  # 1: a check failed, which the bounds say
            sys.stderr.write(bounds.stderr)
            return 1
        (out / f"{stack}.explain").write_text(bounds.stdout)
    if args.no_plan:
        return 0
    failed = [
        stack
        for stack in stacks
        if not plan_stack(synth_out / "stacks" / stack, out, args.terraform, os.environ)
    ]
    if failed:
        print(f"plan_stacks: planning failed for {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
