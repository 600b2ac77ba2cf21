"""checkov scans every synthesized stack: every failure must be a skip declared, with its
reason, on the resource itself (``providers/aws/checkov.py``); the skips are listed here so
each one is reviewed, and a skip that is no longer needed fails too.

checkov's terraform_json runner does not read skip comments, so this test applies the
declarations (the ``//.checkov`` lines cdktf writes into each resource block) itself.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, load_stack

#: (resource type, check) pairs a reviewer accepted; reasons live in providers/aws/checkov.py
REVIEWED_SKIPS = {
    ("aws_lambda_function", "CKV_AWS_117"),  # no VPC: the functions only call AWS APIs
    ("aws_lambda_function", "CKV_AWS_272"),  # no code signing: reproducible, hash-pinned zips
    ("aws_s3_bucket", "CKV_AWS_18"),  # artifact bucket: no access-log bucket
    ("aws_s3_bucket", "CKV_AWS_144"),  # artifact bucket: no cross-region replication
}


def checkov() -> str:
    path = os.environ.get("HEALSTACK_CHECKOV") or str(REPO / ".venv-checkov" / "bin" / "checkov")
    if not Path(path).is_file():
        pytest.fail("checkov is not installed: run ./dev test (it installs .venv-checkov)")
    return path


def scan(stacks: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """One checkov run over the stacks (its start-up, ~6 s, is most of a scan), its report
    split into one per stack: the failed checks and the count of passed ones of that file."""
    files = [a for name in names for a in ("-f", f"{name}/cdk.tf.json")]
    result = subprocess.run(
        [checkov(), *files, "--framework", "terraform_json", "-o", "json"],
        cwd=stacks,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RENDER_MAX_LEN": "0"},
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    results = report["results"]

    def stack_of(entry: dict[str, Any] | str) -> str:
        path = entry if isinstance(entry, str) else entry["file_path"]  # /<stack>/cdk.tf.json
        (name,) = [part for part in Path(path).parts if part in names] or [path]
        assert name in names, f"{path}: not a file of one stack"
        return name

    split: dict[str, dict[str, Any]] = {
        name: {
            "summary": {"passed": 0, "parsing_errors": 0},
            "results": {"failed_checks": []},
        }
        for name in names
    }
    for check in results.get("passed_checks", []):
        split[stack_of(check)]["summary"]["passed"] += 1
    for check in results.get("failed_checks", []):
        split[stack_of(check)]["results"]["failed_checks"].append(check)
    for path in results.get("parsing_errors", []):
        split[stack_of(path)]["summary"]["parsing_errors"] += 1
    # nothing lost in the split: the stacks' counts add up to checkov's own summary
    summary = report["summary"]
    counts = [(r["summary"], len(r["results"]["failed_checks"])) for r in split.values()]
    assert sum(c["passed"] for c, _ in counts) == summary["passed"]
    assert sum(failed for _, failed in counts) == summary["failed"]
    assert sum(c["parsing_errors"] for c, _ in counts) == summary["parsing_errors"]
    return split


def declared_skips(stack: dict[str, Any]) -> dict[str, tuple[str, set[str]]]:
    """logical name -> (resource type, checks declared not to apply)."""
    out: dict[str, tuple[str, set[str]]] = {}
    for kind, blocks in stack["resource"].items():
        for name, body in blocks.items():
            lines = body.get("//", {}).get("checkov", [])
            checks = {line.split("=", 1)[1].split(":", 1)[0] for line in lines}
            for line in lines:
                assert line.split(":", 2)[2].strip(), f"{name}: a skip without a reason: {line}"
            out[name] = (kind, checks)
    return out


@pytest.fixture(scope="module")
def scans(synthesized: Path) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    stacks = sorted(p.name for p in (synthesized / "stacks").iterdir())
    reports = scan(synthesized / "stacks", stacks)
    return {name: (reports[name], load_stack(synthesized, name)) for name in stacks}


def test_every_checkov_failure_is_a_declared_and_reviewed_skip(
    scans: dict[str, tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    for name, (report, stack) in scans.items():
        assert report["summary"]["parsing_errors"] == 0, name
        declared = declared_skips(stack)
        unexplained = []
        used: set[tuple[str, str]] = set()
        for failure in report["results"]["failed_checks"]:
            logical = failure["resource"].rsplit(".", 1)[-1]
            kind, checks = declared.get(logical, ("?", set()))
            if failure["check_id"] in checks:
                used.add((logical, failure["check_id"]))
                assert (kind, failure["check_id"]) in REVIEWED_SKIPS, (kind, failure["check_id"])
            else:
                unexplained.append(
                    f"{failure['check_id']} {failure['resource']}: {failure['check_name']}"
                )
        assert unexplained == [], (
            f"{name}: checkov failures without a declared skip:\n" + "\n".join(unexplained)
        )
        stale = {(n, c) for n, (_, checks) in declared.items() for c in checks} - used
        assert stale == set(), f"{name}: skips declared for checks that pass: {stale}"


def test_checkov_passes_hundreds_of_checks(
    scans: dict[str, tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    for name, (report, _) in scans.items():
        assert report["summary"]["passed"] > 150, name
