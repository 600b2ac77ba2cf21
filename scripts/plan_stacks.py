#!/usr/bin/env python3
"""Synthesize every shipped playbook, draw each workflow, and plan each stack.

What ``.github/workflows/plan.yml`` runs; works the same on a laptop with AWS credentials.

    python3 scripts/plan_stacks.py --out plan [--no-plan]

Writes, per stack, into ``--out``: ``<stack>.mmd`` (``healstack diagram``), and unless
``--no-plan``: ``<stack>.txt`` (``terraform plan -no-color``), ``<stack>.json``
(``terraform show -json`` of that plan) or ``<stack>.error`` when planning failed.
``scripts/plan_summary.py`` turns the folder into the PR comment.

State: with ``HEALSTACK_STATE_BUCKET`` set, each stack is planned against its state in that
S3 bucket (key ``<HEALSTACK_STATE_KEY_PREFIX><stack>.tfstate``, default prefix
``healstack/``; region ``HEALSTACK_STATE_REGION`` or ``AWS_REGION``) through a Terraform
override file beside the synthesized stack; without it, against no state (all creates).
Plans never take the state lock (``-lock=false``): a review must not block an apply.
Exit 1 when any stack failed to plan (after planning all of them), 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLAYBOOKS = REPO / "healstack" / "playbooks"
OVERRIDE = "backend_override.tf.json"


def playbooks() -> list[Path]:
    return sorted(PLAYBOOKS.glob("*.yaml"))


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
    parser.add_argument("--synth-out", type=Path, default=REPO / "cdktf.out")
    parser.add_argument("--dev", default=str(REPO / "dev"), help="the project's entry point")
    parser.add_argument("--terraform", default="terraform")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    books = playbooks()
    synth = [args.dev, "synth", "--out", str(args.synth_out)]
    for book in books:
        synth += ["--playbook", str(book)]
    result = run(synth, REPO)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        return 1
    for book in books:
        drawn = run([args.dev, "healstack", "diagram", "--playbook", str(book)], REPO)
        if drawn.returncode != 0:
            sys.stderr.write(drawn.stderr)
            return 1
        (out / f"{book.stem}.mmd").write_text(drawn.stdout)
    if args.no_plan:
        return 0
    failed = [
        stack.name
        for stack in sorted((args.synth_out / "stacks").iterdir())
        if not plan_stack(stack, out, args.terraform, os.environ)
    ]
    if failed:
        print(f"plan_stacks: planning failed for {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
