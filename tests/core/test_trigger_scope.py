"""Who can start a recovery: only this account's events, only cloud sources on the default
bus, and a platform's own source only through a bus of its own with named publishers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TO_VALIDATE, Validation, load_stack, stack_writer, synth_playbook

PUBLISHER = "arn:aws:iam::123456789012:role/acme-monitor"
CUSTOM = {
    "name": "acme-custom-source",
    "trigger": {
        "source": "acme.monitoring",
        "detail_type": "Instance Unhealthy",
        "bus": {"name": "acme-health", "publishers": [PUBLISHER]},
    },
    "target": {
        "kind": "ec2_instance",
        "id_path": "$.detail.instance",
        "require_tag": {"healstack": "enabled"},
    },
    "steps": [{"check": "status"}, {"action": "reboot"}, {"wait": "1m"}, {"check": "status"}],
}


@pytest.fixture(scope="module")
def custom_stack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth_playbook(tmp_path_factory.mktemp("custom") / "cdktf.out", CUSTOM)


TO_VALIDATE["custom-source-bus"] = stack_writer(CUSTOM)  # see tests/conftest.py


def _rule(stack: dict[str, Any]) -> dict[str, Any]:
    rules = stack["resource"]["aws_cloudwatch_event_rule"]
    return next(r for r in rules.values() if r["//"]["metadata"]["path"].endswith("/rule"))


def test_every_shipped_trigger_takes_only_this_accounts_events(synthesized: Path) -> None:
    for stack_dir in sorted((synthesized / "stacks").iterdir()):
        stack = load_stack(synthesized, stack_dir.name)
        pattern = json.loads(_rule(stack)["event_pattern"])
        (account,) = pattern["account"]
        assert account.startswith("${data.aws_caller_identity."), stack_dir.name
        assert all(s.startswith("aws.") for s in pattern["source"]), stack_dir.name
        assert "event_bus_name" not in _rule(stack)  # the default bus


def test_a_delivery_is_not_retried_past_the_age_the_workflow_refuses(
    default_stack: dict[str, Any],
) -> None:
    targets = default_stack["resource"]["aws_cloudwatch_event_target"]
    (trigger,) = [t for t in targets.values() if t["target_id"] == "recovery-workflow"]
    # dead-lettered (alarmed, redrivable) instead of started only to be refused as stale
    assert trigger["retry_policy"]["maximum_event_age_in_seconds"] == 600


def test_the_default_ec2_trigger_reacts_only_to_the_platforms_alarms(
    default_stack: dict[str, Any],
) -> None:
    pattern = json.loads(_rule(default_stack)["event_pattern"])
    assert pattern["detail"]["alarmName"] == [{"prefix": "healstack-ec2-"}]


def test_a_custom_source_listens_on_its_own_bus_that_only_named_publishers_may_put_to(
    custom_stack: dict[str, Any],
) -> None:
    rule = _rule(custom_stack)
    (bus_id,) = custom_stack["resource"]["aws_cloudwatch_event_bus"]
    assert custom_stack["resource"]["aws_cloudwatch_event_bus"][bus_id]["name"] == "acme-health"
    assert rule["event_bus_name"] == f"${{aws_cloudwatch_event_bus.{bus_id}.name}}"
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["acme.monitoring"]
    assert len(pattern["account"]) == 1
    (bus_policy,) = custom_stack["resource"]["aws_cloudwatch_event_bus_policy"].values()
    statements = json.loads(bus_policy["policy"])["Statement"]
    allow = next(s for s in statements if s["Effect"] == "Allow")
    assert allow["Principal"] == {"AWS": [PUBLISHER]} and allow["Action"] == "events:PutEvents"
    deny = next(s for s in statements if s["Effect"] == "Deny")
    assert deny["Principal"] == "*"
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [PUBLISHER]}}


def test_terraform_validate_accepts_the_custom_bus_stack(validated: Validation) -> None:
    validated.backend_file("custom-source-bus")
