"""``[hub]`` of healstack.toml: the recovery account of many. Its recoveries take the
member accounts' events (on a bus only they may put events on), and act in the event's
account and region through the member's execution role: the hub's acting functions hold
only ``sts:AssumeRole`` on those roles, never the step permissions themselves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from healstack.cli import main
from healstack.errors import UsageError
from healstack.loader import load_playbooks, shipped_playbook_path
from healstack.modules.compile import compile_playbook
from healstack.providers.interfaces import Hub
from healstack.providers.workflow import StoreWrite, Task
from healstack.settings import hub_from_table, load_hub
from tests.conftest import load_stack, synth_here

A, B = "111111111111", "222222222222"
HUB_TOML = f'[hub]\nmembers = ["{B}", "{A}"]\nregions = ["us-east-1", "eu-west-1"]\n'


def test_no_hub_table_is_a_single_account(tmp_path: Path) -> None:
    config = tmp_path / "healstack.toml"
    config.write_text('[state]\nbackend = "local"\n')
    assert load_hub(config) is None


def test_the_hub_table_is_read_sorted_and_regions_default_to_the_hubs() -> None:
    hub = hub_from_table("healstack.toml", {"members": [B, A]})
    assert hub == Hub((A, B), (), None)
    assert hub.regions_or("eu-central-1") == ("eu-central-1",)
    hub = hub_from_table(
        "healstack.toml",
        {"members": [A], "regions": ["us-west-2", "eu-west-1"], "organization_id": "o-a1b2c3d4e5"},
    )
    assert hub.regions == ("eu-west-1", "us-west-2") and hub.organization_id == "o-a1b2c3d4e5"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "hub.members: missing or empty"),
        ({"members": []}, "hub.members: missing or empty"),
        ({"members": "111111111111"}, "hub.members: is not a list of account ids"),
        ({"members": [111111111111]}, "hub.members: is not a list of account ids"),
        ({"members": ["1111"]}, 'hub.members[0]: "1111" is not a 12-digit account id'),
        ({"members": [A, A]}, "hub.members: lists a value twice"),
        ({"members": [A], "regions": ["mars-1"]}, 'hub.regions[0]: "mars-1" is not an AWS region'),
        ({"members": [A], "organization_id": "org-1"}, "hub.organization_id: 'org-1' is not"),
        ({"members": [A], "accounts": [A]}, "hub.accounts: unknown setting"),
    ],
)
def test_a_bad_hub_table_names_the_key_and_the_fix(table: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        hub_from_table("healstack.toml", table)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_bad_hub_table_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "healstack.toml"
    config.write_text('[hub]\nmembers = ["1234"]\n')
    out = tmp_path / "cdktf.out"
    assert main(["synth", "--config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'hub.members[0]: "1234"' in err, err
    assert not out.exists()


def test_a_hub_compiles_the_events_account_and_region_into_steps_keys_and_notices() -> None:
    (playbook,) = load_playbooks([shipped_playbook_path()])
    single = compile_playbook(playbook)
    hub = compile_playbook(playbook, hub=True)
    assert [f.key for f in hub.functions] == [f.key for f in single.functions]
    states = {s.name: s for s in hub.workflow.states}
    lock = states["TakeLock"]
    assert isinstance(lock, StoreWrite)
    assert lock.key.text == "lock#{}/{}/{}"  # type: ignore[union-attr]
    for state in hub.workflow.states:
        if (
            isinstance(state, Task)
            and state.name != "ResolveTarget"
            and "resource_id" in state.payload
        ):
            assert "account" in state.payload and "region" in state.payload, state.name
        if isinstance(state, StoreWrite):
            assert "{}/{}/{}" in str(state.key), state.name
    single_lock = {s.name: s for s in single.workflow.states}["TakeLock"]
    assert isinstance(single_lock, StoreWrite) and single_lock.key.text == "lock#{}"  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def hub_stack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    here = tmp_path_factory.mktemp("hub")
    config = here / "healstack.toml"
    config.write_text(HUB_TOML + 'organization_id = "o-a1b2c3d4e5"\n')
    synth_here(here / "cdktf.out", "--config", str(config))
    return load_stack(here / "cdktf.out", "ec2-status-check-recovery")


def _policies(stack: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        key: json.loads(found["policy"])["Statement"]
        for key, found in stack["resource"]["aws_iam_role_policy"].items()
    }


def test_the_hub_trigger_takes_the_members_events_on_its_own_bus(hub_stack: dict[str, Any]) -> None:
    resources = hub_stack["resource"]
    (bus_key,) = resources["aws_cloudwatch_event_bus"]
    trigger = next(r for k, r in resources["aws_cloudwatch_event_rule"].items() if "_rule_" in k)
    assert json.loads(trigger["event_pattern"])["account"] == [A, B]
    assert trigger["event_bus_name"] == f"${{aws_cloudwatch_event_bus.{bus_key}.name}}"
    # the members' forwarding rules need it (RecoveryMember's hub.event_bus)
    assert hub_stack["output"]["hub_event_bus_arn"]["value"] == (
        f"${{aws_cloudwatch_event_bus.{bus_key}.arn}}"
    )
    (bus_policy,) = resources["aws_cloudwatch_event_bus_policy"].values()
    allow, deny_account, deny_org = json.loads(bus_policy["policy"])["Statement"]
    assert allow["Effect"] == "Allow" and allow["Principal"] == {"AWS": [A, B]}
    assert allow["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    assert deny_account["Effect"] == "Deny" and deny_account["Principal"] == "*"
    assert deny_account["Condition"] == {"StringNotEquals": {"aws:PrincipalAccount": [A, B]}}
    assert deny_org["Condition"] == {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}


def test_the_hubs_acting_functions_only_assume_the_member_roles(hub_stack: dict[str, Any]) -> None:
    policies = _policies(hub_stack)
    actions = {a for statements in policies.values() for s in statements for a in s["Action"]}
    assert not {a for a in actions if a.startswith("ec2:")}, "step permissions live in members"
    reboot = next(v for k, v in policies.items() if "fn-reboot" in k)
    (assume,) = [s for s in reboot if s["Action"] == ["sts:AssumeRole"]]
    base = "healstack-ec2-status-check-recovery"
    assert sorted(r.split(":iam::")[1] for r in assume["Resource"]) == [
        f"{account}:role/healstack/{base}-{region}"
        for account in (A, B)
        for region in ("eu-west-1", "us-east-1")
    ]
    functions = hub_stack["resource"]["aws_lambda_function"]
    env = {
        k.split("_fn-")[1].split("_")[0]: v["environment"]["variables"]
        for k, v in functions.items()
    }
    assert env["reboot"]["HEALSTACK_MEMBER_ROLE"].endswith(
        f":iam::{{account}}:role/healstack/{base}-{{region}}"
    )
    for key in ("resolve-target", "notify"):
        assert env[key]["HEALSTACK_MEMBER_ACCOUNTS"] == f"{A},{B}"
        assert env[key]["HEALSTACK_MEMBER_REGIONS"] == "eu-west-1,us-east-1"
        assert "HEALSTACK_MEMBER_ROLE" not in env[key]


def test_a_hub_refuses_a_playbook_on_its_own_bus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    data = yaml.safe_load(shipped_playbook_path().read_text())
    data["trigger"]["bus"] = {
        "name": "platform-events",
        "publishers": ["arn:aws:iam::123456789012:role/x"],
    }
    playbook = tmp_path / "bus.yaml"
    playbook.write_text(yaml.safe_dump(data))
    config = tmp_path / "healstack.toml"
    config.write_text(HUB_TOML)
    code = main(
        [
            "synth",
            "--config",
            str(config),
            "--playbook",
            str(playbook),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "trigger.bus" in capsys.readouterr().err


def test_a_hub_stack_synthesizes_byte_for_byte_the_same(tmp_path: Path) -> None:
    config = tmp_path / "healstack.toml"
    config.write_text(HUB_TOML + 'organization_id = "o-a1b2c3d4e5"\n')
    texts = []
    for run in ("one", "two"):
        synth_here(tmp_path / run, "--config", str(config))
        stack = tmp_path / run / "stacks" / "ec2-status-check-recovery" / "cdk.tf.json"
        texts.append(stack.read_bytes())
    assert texts[0] == texts[1]


def test_the_hub_dashboard_shows_recoveries_by_member(hub_stack: dict[str, Any]) -> None:
    (dashboard,) = hub_stack["resource"]["aws_cloudwatch_dashboard"].values()
    widgets = json.loads(dashboard["dashboard_body"])["widgets"]
    (table,) = [w for w in widgets if w["type"] == "log"]
    query = table["properties"]["query"]
    assert "_fn-notify_logs_" in query and "by account, region, outcome" in query
