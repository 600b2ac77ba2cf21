"""``guard.fleet``: validated in the model, compiled into a fleet state before every action,
and counted by ``explain``, which fails a workflow whose action can be entered around it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import yaml

from healstack.errors import PlaybookError
from healstack.explain import (
    aws_prices,
    explain_playbook,
    explain_workflow,
    failures,
    short_form,
    to_json,
)
from healstack.loader import playbook_from_dict, shipped_playbook_path
from healstack.modules.compile import FLEET_FUNCTION, compile_playbook
from healstack.playbook import Playbook
from healstack.providers.workflow import StoreWrite, Task


def with_fleet(fleet: Any) -> dict[str, Any]:
    data = yaml.safe_load(shipped_playbook_path().read_text())
    data["guard"] = {**data.get("guard", {}), "fleet": fleet}
    return dict(data)


def plain_playbook() -> Playbook:
    """The shipped playbook as it is: no fleet budget."""
    return playbook_from_dict(yaml.safe_load(shipped_playbook_path().read_text()))


def fleet_playbook() -> Playbook:
    return playbook_from_dict(with_fleet({"max_in_flight": 2, "max_per_hour": 5}))


@pytest.mark.parametrize(
    ("fleet", "message"),
    [
        ({"max_in_flight": 0, "max_per_hour": 5}, "guard.fleet.max_in_flight"),
        ({"max_in_flight": 2000, "max_per_hour": 5000}, "guard.fleet.max_in_flight"),
        ({"max_in_flight": 10, "max_per_hour": 5}, "guard.fleet.max_per_hour: 5 is below"),
        ({"max_in_flight": 1}, "guard.fleet.max_per_hour"),
        ({"max_in_flight": 1, "max_per_hour": 1, "per_day": 3}, "guard.fleet.per_day"),
    ],
)
def test_a_bad_fleet_budget_names_the_field(fleet: dict[str, Any], message: str) -> None:
    with pytest.raises(PlaybookError, match=message):
        playbook_from_dict(with_fleet(fleet))


def test_every_action_is_entered_through_its_fleet_state() -> None:
    compiled = compile_playbook(fleet_playbook())
    states = {s.name: s for s in compiled.workflow.states}
    assert FLEET_FUNCTION in [f.key for f in compiled.functions]
    for action in ("Reboot", "Stop", "Start"):
        budget = states[f"BudgetFor{action}"]
        assert isinstance(budget, StoreWrite) and budget.next == f"FleetFor{action}"
        fleet = states[f"FleetFor{action}"]
        assert isinstance(fleet, Task) and fleet.next == action
    assert states["NotifyFleetLimit"].next == "FleetLimitReached"  # type: ignore[union-attr]


def test_without_a_fleet_budget_nothing_changes() -> None:
    compiled = compile_playbook(plain_playbook())
    assert FLEET_FUNCTION not in [f.key for f in compiled.functions]
    assert not [s for s in compiled.workflow.states if s.name.startswith("Fleet")]
    notify = next(f for f in compiled.functions if f.key == "notify")
    assert not [k for k in notify.config if k.startswith("fleet")]


def test_explain_bounds_the_fleet_per_hour() -> None:
    explanation = explain_playbook(fleet_playbook())
    assert explanation.fleet is not None and explanation.fleet.covers_every_action
    assert failures(explanation) == []
    per_recovery = int(explanation.figure("every_retry", "mutating_calls"))
    assert "fleet: at most 2 in flight, 5 per hour" in "\n".join(short_form(explanation))
    assert to_json(explanation)["fleet"]["calls_per_hour"] == 5 * per_recovery > 0
    assert to_json(explain_playbook(plain_playbook()))["fleet"] is None


def test_explain_fails_an_action_entered_around_the_fleet_budget() -> None:
    compiled = compile_playbook(fleet_playbook())
    states = [
        dataclasses.replace(s, next="Stop")
        if isinstance(s, StoreWrite) and s.name == "BudgetForStop"
        else s
        for s in compiled.workflow.states
    ]
    workflow = dataclasses.replace(compiled.workflow, states=tuple(states))
    explanation = explain_workflow(workflow, compiled.functions, aws_prices())
    assert explanation.fleet is not None and not explanation.fleet.covers_every_action
    assert "the fleet budget does not count the recovery before every action" in failures(
        explanation
    )
