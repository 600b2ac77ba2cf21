"""Scenario files: the format, its validation errors, and which outcome applies to which call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from healstack.simulate import Scenario, ScenarioError, load_scenario

OUTCOME_HINT = "use real, {return: VALUE} or {throw: {error: NAME, cause: TEXT}}"
EXAMPLE = """\
name: recovers-on-attempt-2
description: the check fails until the second attempt's re-check
mocks:
  CheckHealth:
    "1-3": {return: {healthy: false, state: running}}
  Reboot:
    1: {throw: {error: TransientError, cause: "Rate exceeded"}}
    "2+": real
"""


def test_yaml_file_with_every_outcome(tmp_path: Path) -> None:
    path = tmp_path / "flaky.yaml"
    path.write_text(EXAMPLE)
    scenario = load_scenario(path)

    assert scenario.name == "recovers-on-attempt-2"
    check = [scenario.outcome_for("CheckHealth", n) for n in range(1, 5)]
    assert [o.kind for o in check] == ["return", "return", "return", "real"]
    assert check[0].value == {"healthy": False, "state": "running"}
    first, later = scenario.outcome_for("Reboot", 1), scenario.outcome_for("Reboot", 9)
    assert (first.kind, first.error, first.cause, first.is_service_error) == (
        "throw", "TransientError", "Rate exceeded", False,
    )  # fmt: skip
    assert later.kind == "real"
    assert scenario.outcome_for("Unlisted", 1).kind == "real"
    assert scenario.outcome_for(None, 1).kind == "real"


def test_json_file_dict_and_round_trip(tmp_path: Path) -> None:
    data = {"mocks": {"Reboot": {"1": {"throw": {"error": "Lambda.ServiceException"}}}}}
    path = tmp_path / "service-blip.json"
    path.write_text(json.dumps(data))

    from_file = load_scenario(path)
    assert from_file.name == "service-blip"  # defaults to the file stem
    assert from_file.outcome_for("Reboot", 1).is_service_error
    assert load_scenario(data).name == "scenario"
    assert Scenario.from_dict(from_file.to_dict()) == from_file


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"mocks": {"Reboot": {"1-x": "real"}}},
            'scenario.mocks.Reboot["1-x"]: not an invocation range (use 1, 2-3 or 4+)',
        ),
        (
            {"mocks": {"Reboot": {"0": "real"}}},
            'scenario.mocks.Reboot["0"]: invocations are numbered from 1',
        ),
        (
            {"mocks": {"Reboot": {"3-2": "real"}}},
            'scenario.mocks.Reboot["3-2"]: empty range (write 2-3)',
        ),
        (
            {"mocks": {"Reboot": {"1-3": "real", "3+": "real"}}},
            'scenario.mocks.Reboot["3+"]: overlaps "1-3" (both cover invocation 3)',
        ),
        (
            {"mocks": {"Reboot": {"1": "fake"}}},
            f'scenario.mocks.Reboot["1"]: not an outcome ({OUTCOME_HINT})',
        ),
        (
            {"mocks": {"Reboot": {"1": {"raise": {}}}}},
            f"scenario.mocks.Reboot[\"1\"]: unknown outcome 'raise' ({OUTCOME_HINT})",
        ),
        (
            {"mocks": {"Reboot": {"1": {"throw": {"cause": "x"}}}}},
            'scenario.mocks.Reboot["1"].throw.error: '
            "must be a non-empty error name, e.g. TransientError",
        ),
        (
            {"mocks": {"Reboot": {"1": {"throw": {"error": "States.Timeout"}}}}},
            'scenario.mocks.Reboot["1"].throw.error: '
            "States.Timeout is reserved for Step Functions; a Lambda cannot throw it",
        ),
        (
            {"mocks": {"Reboot": {"1": {"throw": {"error": "X", "message": "y"}}}}},
            "scenario.mocks.Reboot[\"1\"].throw: unknown field 'message' (expected error, cause)",
        ),
        (
            {"mocks": {"Reboot": []}},
            'scenario.mocks.Reboot: must map invocation ranges to outcomes, e.g. {"1": real}',
        ),
        (
            {"mocks": {"Wait a bit": {}}},
            'scenario.mocks["Wait a bit"]: must map invocation ranges to outcomes, '
            'e.g. {"1": real}',
        ),
        (
            {"mock": {}},
            "scenario: unknown field 'mock' (expected name, description, mocks, approvals)",
        ),
        ({"name": 3}, "scenario.name: must be text, got a int"),
        ([1], "scenario: must be a mapping, got a list"),
    ],
)
def test_invalid_scenarios_name_the_field(data: Any, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(data)
    assert str(caught.value) == message


def test_yaml_values_that_are_not_json_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dates.yaml"
    path.write_text("mocks:\n  CheckHealth:\n    '1': {return: {since: 2024-01-01}}\n")
    with pytest.raises(
        ScenarioError, match=r'^scenario.mocks.CheckHealth\["1"\].return: must be plain JSON'
    ):
        load_scenario(path)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"missing\.yaml: cannot be read"):
        load_scenario(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("mocks: {Reboot: [\n")
    with pytest.raises(ScenarioError, match=r"broken\.yaml: is not valid YAML") as caught:
        load_scenario(broken)
    assert "\n" not in str(caught.value)
