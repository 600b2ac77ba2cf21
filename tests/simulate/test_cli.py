"""``healstack simulate`` from the command line: one line and exit 2 on bad input; JSON out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from healstack.cli import main
from tests.conftest import REPO

EVENT = REPO / "examples" / "events" / "cloudwatch-alarm-ec2-status-check.json"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--event", "/no/such.json"], "--event /no/such.json: no such file (check the path)"),
        (
            ["--event", str(EVENT), "--scenario", "/no/such.yaml"],
            "--scenario /no/such.yaml: no such file",
        ),
    ],
)
def test_missing_files_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    assert main(["simulate", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err


def test_a_broken_scenario_fails_before_synthesis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text('mocks:\n  Reboot:\n    "1-x": {return: {}}\n')
    assert main(["simulate", "--event", str(EVENT), "--scenario", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert 'scenario.mocks.Reboot["1-x"]: not an invocation range (use 1, 2-3 or 4+)' in err


def test_an_event_that_is_not_json_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "e.json"
    bad.write_text('{"detail":')
    assert main(["simulate", "--event", str(bad)]) == 2
    assert "not valid JSON at line 1 (fix the syntax)" in capsys.readouterr().err


def test_json_output_reports_outcome_attempts_and_notifications(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = REPO / "examples" / "scenarios" / "ec2-never-recovers.yaml"
    assert main(["simulate", "--event", str(EVENT), "--scenario", str(scenario), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["outcome"], report["attempts"]) == ("gave_up", 3)
    assert report["execution"]["status"] == "FAILED"
    assert [n["message"]["outcome"] for n in report["notifications"]] == ["gave_up"]
    assert not [i for i in report["store"] if i["pk"].startswith("lock#")]
