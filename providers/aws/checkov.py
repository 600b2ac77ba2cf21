"""Checkov checks that do not apply to healstack, declared next to the resources they concern.

Checkov reads ``checkov:skip=<id>:<reason>`` from the lines of a resource block; cdktf
writes Terraform JSON, so the declaration goes into the block's ``//`` (comment) key, which
Terraform ignores. Every reason lives here, once; ``tests/security/test_checkov.py`` lists
the skips found in the synthesized stacks so each one is reviewed.
"""

from __future__ import annotations

from typing import Any

SKIP_REASONS: dict[str, str] = {
    "CKV_AWS_117": (
        "the functions only call AWS APIs; a VPC would add NAT/endpoint cost and cold-start "
        "time without protecting anything"
    ),
    "CKV_AWS_272": (
        "packages are reproducible zips whose hash Terraform pins; AWS Signer needs S3-staged "
        "signed artifacts, an opt-in this stack does not impose"
    ),
    "CKV_AWS_18": (
        "pipeline artifacts are short-lived build outputs; CloudTrail data events are the "
        "audit trail, not a second logging bucket"
    ),
    "CKV_AWS_144": "pipeline artifacts are rebuilt from source; replicating them adds nothing",
}


def declare_skips(resource: Any, *check_ids: str) -> None:
    """Record on ``resource`` that these checks do not apply, with their reasons."""
    lines = [f"checkov:skip={check}:{SKIP_REASONS[check]}" for check in check_ids]
    resource.add_override("//.checkov", lines)
