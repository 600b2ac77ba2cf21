"""The IAM walk over a hub's stack with a fleet budget: no wildcard action, ``*`` only for the
reviewed actions, no step permission in the hub (they live in the member roles), AssumeRole
only on the listed members' roles of this playbook, and store writes limited to their items."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from healstack.loader import shipped_playbook_path, shipped_playbooks
from healstack.providers.aws.steps import STAR_RESOURCE_REASONS, STEPS
from tests.conftest import load_stack, synth_here
from tests.security.test_hardening import store_grants
from tests.security.test_iam import as_list, statements

A, B = "111111111111", "222222222222"
STEP_ACTIONS = {a for impl in STEPS.values() for p in impl.permissions for a in p.actions}


@pytest.fixture(scope="module")
def hub_stack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    here = tmp_path_factory.mktemp("hub-iam")
    data = yaml.safe_load(shipped_playbook_path().read_text())
    data["guard"] = {**data.get("guard", {}), "fleet": {"max_in_flight": 5, "max_per_hour": 20}}
    playbook = here / "fleet.yaml"
    playbook.write_text(yaml.safe_dump(data))
    config = here / "healstack.toml"
    config.write_text(f'[hub]\nmembers = ["{A}", "{B}"]\nregions = ["eu-west-1"]\n')
    synth_here(here / "out", "--config", str(config), "--playbook", str(playbook))
    return load_stack(here / "out", data["name"])


@pytest.fixture(scope="module")
def hub_stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every shipped playbook, deployed in a hub."""
    here = tmp_path_factory.mktemp("hub-all")
    config = here / "healstack.toml"
    config.write_text(f'[hub]\nmembers = ["{A}", "{B}"]\nregions = ["eu-west-1"]\n')
    paths = [str(shipped_playbook_path(name)) for name in shipped_playbooks()]
    synth_here(
        here / "out", "--config", str(config), *(a for p in paths for a in ("--playbook", p))
    )
    return {p.name: load_stack(here / "out", p.name) for p in (here / "out" / "stacks").iterdir()}


def test_no_wildcard_action_and_star_only_where_reviewed(
    hub_stack: dict[str, Any], hub_stacks: dict[str, dict[str, Any]]
) -> None:
    for stack_name, stack in {"fleet": hub_stack, **hub_stacks}.items():
        for name, statement in statements(stack):
            actions = as_list(statement["Action"])
            assert not [a for a in actions if "*" in a], f"{stack_name}/{name}"
            if "*" in as_list(statement["Resource"]):
                unreviewed = [a for a in actions if a not in STAR_RESOURCE_REASONS]
                assert unreviewed == [], f"{stack_name}/{name}"


def test_the_hub_holds_no_step_permission_and_assumes_only_member_roles(
    hub_stacks: dict[str, dict[str, Any]],
) -> None:
    assert len(hub_stacks) == len(shipped_playbooks())
    for stack_name, stack in hub_stacks.items():
        assumed: set[str] = set()
        for name, statement in statements(stack):
            actions = as_list(statement["Action"])
            assert not STEP_ACTIONS & set(actions), f"{stack_name}/{name}: {actions}"
            if "sts:AssumeRole" in actions:
                assert actions == ["sts:AssumeRole"], name
                assumed.update(as_list(statement["Resource"]))
        assert sorted(a.split(":iam::")[1] for a in assumed) == [
            f"{account}:role/healstack/healstack-{stack_name}-eu-west-1" for account in (A, B)
        ], stack_name


def test_the_fleet_budget_touches_only_its_own_items(hub_stack: dict[str, Any]) -> None:
    policies = hub_stack["resource"]["aws_iam_role_policy"]
    (fleet,) = [body for key, body in policies.items() if "_fn-fleet-budget_" in key]
    assert store_grants(fleet) == {
        "dynamodb:GetItem": ["fleet#*"],
        "dynamodb:PutItem": ["fleet#*"],
        "dynamodb:UpdateItem": ["fleet#*"],
    }
    (notify,) = [body for key, body in policies.items() if "_fn-notify_" in key]
    assert store_grants(notify)["dynamodb:UpdateItem"] == ["fleet#*", "lock#*"]
    functions = hub_stack["resource"]["aws_lambda_function"]
    (budget,) = [body for key, body in functions.items() if "_fn-fleet-budget_" in key]
    env = budget["environment"]["variables"]
    assert env["HEALSTACK_FLEET_MAX_IN_FLIGHT"] == "5"
    assert env["HEALSTACK_FLEET_MAX_PER_HOUR"] == "20"
    definition = json.loads(
        next(iter(hub_stack["resource"]["aws_sfn_state_machine"].values()))["definition"]
    )
    assert {"FleetForReboot", "FleetForStop", "FleetForStart", "NotifyFleetLimit"} <= set(
        definition["States"]
    )


def test_the_hub_bus_denies_everyone_but_the_members(hub_stack: dict[str, Any]) -> None:
    (body,) = hub_stack["resource"]["aws_cloudwatch_event_bus_policy"].values()
    deny = [s for s in json.loads(body["policy"])["Statement"] if s["Effect"] == "Deny"]
    assert deny and all(s["Principal"] == "*" for s in deny)
    assert deny[0]["Condition"] == {"StringNotEquals": {"aws:PrincipalAccount": [A, B]}}
