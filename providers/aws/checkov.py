"""Checkov checks that do not apply to healstack: declared next to the resources they
concern, and written where checkov itself reads them.

Each skip is declared on its resource as ``checkov:skip=<id>:<reason>`` in the block's
``//`` (comment) key, which Terraform ignores. checkov's ``terraform_json`` runner does not
read those (it reads no skip comments at all), so synthesis also writes ``.checkov.yaml``
beside each stack's ``cdk.tf.json``: checkov reads that file from the directory it scans
(``checkov -d <stack dir>``; ``checkov/common/util/config_utils.py``: the ``-d`` folder,
then the working directory, then the home folder), so a plain ``checkov -d
cdktf.out/stacks/<stack>`` honours the reviewed skips with no flags. A config skips a check
for the whole folder; the file names the resources each skip was reviewed for, and
``tests/security/test_checkov.py`` fails when a skipped check fails on any other resource
or passes everywhere. Every reason lives here, once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CONFIG_FILE = ".checkov.yaml"

SKIP_REASONS: dict[str, str] = {
    "CKV_AWS_117": (
        "a trade-off: the functions only call AWS APIs, so no VPC keeps them working without "
        "NAT or endpoint cost and cold-start time; a VPC with interface endpoints and no NAT "
        "would add one thing, stopping replaced code from sending the role's credentials or "
        "data out to the internet (review 2026-12, C1), where code signing (Enforce) "
        "already keeps out code the recovery's own profile did not sign"
    ),
    "CKV_AWS_18": (
        "pipeline artifacts are short-lived build outputs; the audit trail of who wrote "
        "source/ is CloudTrail S3 data events, a deployment prerequisite (README, Security): "
        "the account must log data events for this bucket"
    ),
    "CKV_AWS_144": "pipeline artifacts are rebuilt from source; replicating them adds nothing",
    "CKV_AWS_285": (
        "execution data is every state's input and output: the triggering events, results "
        "and approval tokens (review 2026-12, L5, M2); the log keeps every state's start, end "
        "and error at level ALL, and DeploymentSettings.log_execution_data turns the data on "
        "for debugging"
    ),
}


def declare_skips(resource: Any, *check_ids: str) -> None:
    """Record on ``resource`` that these checks do not apply, with their reasons."""
    lines = [f"checkov:skip={check}:{SKIP_REASONS[check]}" for check in check_ids]
    resource.add_override("//.checkov", lines)


def declared_skips(stack: Mapping[str, Any]) -> dict[str, list[str]]:
    """check id -> the resources (``type.name``) it is declared skipped on, sorted."""
    found: dict[str, list[str]] = {}
    for kind, blocks in sorted(stack.get("resource", {}).items()):
        for name, body in sorted(blocks.items()):
            for line in body.get("//", {}).get("checkov", []):
                check = line.split("=", 1)[1].split(":", 1)[0]
                found.setdefault(check, []).append(f"{kind}.{name}")
    return dict(sorted(found.items()))


def config_text(stack: Mapping[str, Any]) -> str:
    """``.checkov.yaml`` for one synthesized stack: its declared skips, each with its
    reason and the resources it was reviewed for (YAML comments)."""
    lines = [
        "# checkov reads this file when it scans this folder: checkov -d <this folder>",
        "# Written by healstack synth from the skips declared on the resources",
        "# (providers/aws/checkov.py); do not edit. Each check is skipped for this folder;",
        "# the resources it was reviewed for are listed with its reason.",
    ]
    skips = declared_skips(stack)
    if not skips:
        return "\n".join([*lines, "skip-check: []", ""])
    lines.append("skip-check:")
    for check, resources in skips.items():
        lines.append(f"  # {check}: {SKIP_REASONS[check]}")
        lines.extend(f"  #   reviewed for {resource}" for resource in resources)
        lines.append(f"  - {check}")
    return "\n".join([*lines, ""])


def write_config(stack_dir: Path) -> None:
    """Write ``.checkov.yaml`` beside ``stack_dir``'s ``cdk.tf.json``."""
    stack = json.loads((stack_dir / "cdk.tf.json").read_text())
    (stack_dir / CONFIG_FILE).write_text(config_text(stack), encoding="utf-8")
