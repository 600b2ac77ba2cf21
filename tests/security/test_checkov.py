"""checkov scans every synthesized stack, as anyone would: plain ``checkov -d <stack dir>``
(no flags, no skips applied by the test) must report no failed check. The reviewed skips
reach checkov through the ``.checkov.yaml`` synthesis writes beside each stack
(``providers/aws/checkov.py``); a raw scan without that file checks that every failure is
a skip declared on its resource, reviewed here, and that no skip is stale.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, load_stack

#: (resource type, check) pairs a reviewer accepted; reasons live in providers/aws/checkov.py
REVIEWED_SKIPS = {
    ("aws_lambda_function", "CKV_AWS_117"),  # no VPC: a trade-off (see the reason)
    ("aws_s3_bucket", "CKV_AWS_18"),  # artifact bucket: CloudTrail data events instead
    ("aws_s3_bucket", "CKV_AWS_144"),  # artifact bucket: no cross-region replication
    ("aws_sfn_state_machine", "CKV_AWS_285"),  # no execution data in the logs (L5)
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


def test_the_checkov_config_skips_exactly_the_declared_checks(synthesized: Path) -> None:
    from healstack.providers.aws.checkov import SKIP_REASONS, config_text

    for stack_dir in sorted((synthesized / "stacks").iterdir()):
        stack = json.loads((stack_dir / "cdk.tf.json").read_text())
        config = (stack_dir / ".checkov.yaml").read_text()
        assert config == config_text(stack), stack_dir.name
        listed = {line.strip()[2:] for line in config.splitlines() if line.startswith("  - ")}
        declared = {c for _, checks in declared_skips(stack).values() for c in checks}
        assert listed == declared, stack_dir.name
        for check in listed:
            assert f"# {check}: {SKIP_REASONS[check]}" in config
        assert "CKV_AWS_272" not in config  # never a skip: code signing fixes it


def plain_checkov(stack_dir: Path, cwd: Path) -> tuple[int, list[tuple[str, str]], str]:
    """``checkov -d stack_dir`` with no flags, from a folder without a config (what a
    consumer's CI runs): (exit code, (check id, resource) of each failure, output)."""
    result = subprocess.run(
        [checkov(), "-d", str(stack_dir)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        # environment only (no flags): no call home for the guideline mapping
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "NO_COLOR": "1"},
    )
    failures, check = [], ""
    for line in result.stdout.splitlines():
        found = re.match(r"^Check: (\S+?):", line)
        if found:
            check = found.group(1)
        failed = re.match(r"^\s*FAILED for resource: (\S+)", line)
        if failed:
            failures.append((check, failed.group(1)))
    return result.returncode, failures, result.stdout


def test_plain_checkov_finds_nothing_in_any_stack(synthesized: Path, tmp_path: Path) -> None:
    for stack_dir in sorted((synthesized / "stacks").iterdir()):
        code, failures, output = plain_checkov(stack_dir, tmp_path)
        assert "Passed checks: " in output, output[-2000:]
        unexpected = [f"{check} {resource}" for check, resource in failures]
        assert unexpected == [], f"{stack_dir.name}: checkov -d fails:\n" + "\n".join(unexpected)
        assert code == 0, output[-2000:]  # checkov's own verdict, as a consumer's CI sees it
