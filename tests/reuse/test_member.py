"""The member part of a hub-and-members deployment (issue 14): ``RecoveryMember`` and
``healstack module build --member``.

What the member grants and trusts is compared with what the hub stacks of the same playbooks
really hold (the shipped playbooks' stacks, ``synthesized``), never with a list written here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from healstack.errors import UsageError
from healstack.loader import load_playbooks, shipped_playbook_path, shipped_playbooks
from healstack.playbook import Playbook
from healstack.providers.aws import kinds, schema_check, versions
from healstack.providers.aws.naming import ROLE_PATH, hub_bus_name, member_role_name
from healstack.providers.aws.schema_check import problems
from healstack.providers.aws.steps import STAR_RESOURCE_REASONS
from healstack.providers.interfaces import DeploymentSettings, HubSpec
from healstack.tfmodule_member import OUTPUTS, REQUIRED, inputs
from tests.conftest import REPO, healstack_here, load_stack
from tests.reuse.helpers import terraform, terraform_validates
from tests.security.test_checkov import scan
from tests.security.test_iam import as_list
from tests.security.test_parliament import ACCEPTED, documents, findings

HUB_ACCOUNT = "111122223333"
HUB_REGION = "eu-west-1"
HUB_BUS = f"arn:aws:events:{HUB_REGION}:{HUB_ACCOUNT}:event-bus/recovery-hub"
ORG = "o-abcdefghij"
BUILD = (sys.executable, "-m", "healstack.cli", "module", "build", "--member")


def shipped() -> list[Playbook]:
    return load_playbooks([shipped_playbook_path(name) for name in shipped_playbooks()])


def synth_member(
    out: Path,
    playbooks: Sequence[Playbook],
    hub: HubSpec,
    settings: DeploymentSettings | None = None,
) -> dict[str, Any]:
    """A stack holding a ``RecoveryMember`` (as a platform's cdktf app would); its JSON."""
    from healstack.cdk import App, TerraformStack
    from healstack.modules.recovery_member import RecoveryMember
    from healstack.providers.aws.member import AwsMemberProvider
    from healstack.providers.aws.provider import AwsProvider

    settings = settings or DeploymentSettings()
    app = App(outdir=str(out), stack_traces=False)
    stack = TerraformStack(app, "member")
    AwsProvider().configure_stack(stack, settings)
    RecoveryMember(
        stack,
        "member",
        playbooks=playbooks,
        hub=hub,
        provider=AwsMemberProvider(),
        settings=settings,
    )
    app.synth()
    return load_stack(out, "member")


@pytest.fixture(scope="module")
def member_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cdktf.out holding the stack ``member``: every shipped playbook's member part."""
    out = tmp_path_factory.mktemp("member") / "cdktf.out"
    synth_member(out, shipped(), HubSpec(HUB_ACCOUNT, region=HUB_REGION, organization_id=ORG))
    return out


@pytest.fixture(scope="module")
def member_stack(member_out: Path) -> dict[str, Any]:
    return load_stack(member_out, "member")


# -- reading stacks --------------------------------------------------------------------


def normalized(text: str) -> str:
    """References to the stack's own partition, region and account as words: two stacks
    name them through data sources of different ids."""
    text = re.sub(r"\$\{data\.aws_partition\.[^}]+\}", "aws", text)
    text = re.sub(r"\$\{data\.aws_region\.[^}]+\}", "REGION", text)
    return re.sub(r"\$\{data\.aws_caller_identity\.[^}]+\}", "ACCOUNT", text)


def resources(stack: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return dict(stack["resource"].get(kind, {}))


def owned_by(stack: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    """Resources (``kind.name`` -> block) whose construct path starts with ``prefix``."""
    found = {}
    for kind, blocks in stack["resource"].items():
        for name, block in blocks.items():
            if block["//"]["metadata"]["path"].startswith(prefix):
                found[f"{kind}.{name}"] = block
    return found


def role_policies(stack: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Role resource name -> the statements of its inline policies."""
    out: dict[str, list[dict[str, Any]]] = {}
    for body in resources(stack, "aws_iam_role_policy").values():
        role = re.fullmatch(r"\$\{aws_iam_role\.([^.]+)\.id\}", body["role"])
        assert role is not None, body["role"]
        doc = json.loads(normalized(body["policy"]))
        out.setdefault(role.group(1), []).extend(doc["Statement"])
    return out


def kind_actions(kind: str) -> set[str]:
    """Every action the kind's operations need (the registry's, for the target)."""
    unit = kinds.get(kind)
    return {
        action
        for impl in unit.operations.values()
        for permission in impl.permissions
        for action in permission.actions
    }


def hub_acting_roles(hub: dict[str, Any], kind: str) -> dict[str, list[dict[str, Any]]]:
    """The hub's roles holding statements for the target (role ARN -> those statements)."""
    actions = kind_actions(kind)
    roles = resources(hub, "aws_iam_role")
    out = {}
    for role, statements in role_policies(hub).items():
        acting = [s for s in statements if set(as_list(s["Action"])) & actions]
        if acting:
            block = roles[role]
            arn = f"arn:aws:iam::{HUB_ACCOUNT}:role{block['path']}{block['name']}"
            out[arn] = acting
    return out


def member_roles(stack: dict[str, Any], playbook: str) -> dict[str, dict[str, Any]]:
    """The playbook part's roles by kind of role (``execution-role``, ``forward-role``)."""
    out = {}
    for address, block in owned_by(stack, f"member/member/{playbook}/").items():
        kind, name = address.split(".", 1)
        if kind == "aws_iam_role":
            out[block["//"]["metadata"]["path"].rsplit("/", 1)[1]] = {**block, "address": name}
    return out


def canonical(statements: list[dict[str, Any]]) -> set[str]:
    def one(s: dict[str, Any]) -> dict[str, Any]:
        return {**s, "Action": sorted(as_list(s["Action"])), "Resource": as_list(s["Resource"])}

    return {json.dumps(one(s), sort_keys=True) for s in statements}


# -- the construct ----------------------------------------------------------------------


def test_every_shipped_playbook_gets_its_part(member_stack: dict[str, Any]) -> None:
    names = [pb.name for pb in shipped()]
    assert len(names) >= 3
    for name in names:
        assert set(member_roles(member_stack, name)) == {"execution-role", "forward-role"}
    assert len(resources(member_stack, "aws_cloudwatch_event_rule")) == len(names)
    assert len(resources(member_stack, "aws_cloudwatch_event_target")) == len(names)


def test_the_execution_role_trusts_exactly_the_hub_roles_that_act(
    member_stack: dict[str, Any], synthesized: Path
) -> None:
    for playbook in shipped():
        hub = load_stack(synthesized, playbook.name)
        expected = sorted(hub_acting_roles(hub, playbook.target.kind))
        assert expected, playbook.name  # every shipped playbook acts on its target
        role = member_roles(member_stack, playbook.name)["execution-role"]
        assert role["path"] == ROLE_PATH
        (statement,) = json.loads(normalized(role["assume_role_policy"]))["Statement"]
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{HUB_ACCOUNT}:root"}
        assert sorted(as_list(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"])) == expected
        assert statement["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": ORG}
        # the hub finds the role by the same rule, from the event's region
        assert normalized(role["name"]) == member_role_name(f"healstack-{playbook.name}", "REGION")


def test_the_execution_role_holds_exactly_the_hub_steps_statements(
    member_stack: dict[str, Any], synthesized: Path
) -> None:
    for playbook in shipped():
        hub = load_stack(synthesized, playbook.name)
        hub_statements = [
            s for acting in hub_acting_roles(hub, playbook.target.kind).values() for s in acting
        ]
        roles = member_roles(member_stack, playbook.name)
        member = role_policies(member_stack)[roles["execution-role"]["address"]]
        assert canonical(member) == canonical(hub_statements), playbook.name
        assert len(member) == len(canonical(member))  # each once
        if playbook.target.require_tag:
            ((tag, value),) = playbook.target.require_tag.items()
            conditioned = [s for s in member if "Condition" in s]
            assert conditioned, playbook.name
            for s in conditioned:
                ((key, wanted),) = s["Condition"]["StringEquals"].items()
                assert key.endswith(f"/{tag}") and wanted == value


def test_no_organisation_no_condition_and_a_bus_name_completes_to_the_hubs_arn(
    tmp_path: Path,
) -> None:
    (ec2,) = load_playbooks([shipped_playbook_path()])
    hub = HubSpec(HUB_ACCOUNT, "recovery-hub", region="eu-west-1")
    stack = synth_member(tmp_path / "out", [ec2], hub)
    role = member_roles(stack, ec2.name)["execution-role"]
    (statement,) = json.loads(role["assume_role_policy"])["Statement"]
    assert set(statement["Condition"]) == {"ArnEquals"}
    (target,) = resources(stack, "aws_cloudwatch_event_target").values()
    assert normalized(target["arn"]) == HUB_BUS


def test_the_forwarding_rule_has_the_hub_triggers_pattern_and_targets_the_hub_bus(
    member_stack: dict[str, Any], synthesized: Path
) -> None:
    for playbook in shipped():
        hub = load_stack(synthesized, playbook.name)
        (hub_rule,) = [
            b
            for b in resources(hub, "aws_cloudwatch_event_rule").values()
            if b["//"]["metadata"]["path"].endswith("/rule")
        ]
        part = owned_by(member_stack, f"member/member/{playbook.name}/")
        (rule,) = [b for a, b in part.items() if a.startswith("aws_cloudwatch_event_rule.")]
        assert "event_bus_name" not in rule  # the default bus, where AWS services' events are
        assert json.loads(normalized(rule["event_pattern"])) == json.loads(
            normalized(hub_rule["event_pattern"])
        )
        assert json.loads(normalized(rule["event_pattern"]))["account"] == ["ACCOUNT"]
        (target,) = [b for a, b in part.items() if a.startswith("aws_cloudwatch_event_target.")]
        # the playbook's own hub bus, named after its recovery in the hub's region
        bus = f"arn:aws:events:{HUB_REGION}:{HUB_ACCOUNT}:event-bus/" + hub_bus_name(
            DeploymentSettings().base_name(playbook.name)
        )
        assert normalized(target["arn"]) == bus
        assert set(target) >= {"role_arn", "dead_letter_config", "retry_policy"}
        forward = member_roles(member_stack, playbook.name)["forward-role"]
        (put,) = role_policies(member_stack)[forward["address"]]
        assert (as_list(put["Action"]), normalized(put["Resource"])) == (["events:PutEvents"], bus)
        (trust,) = json.loads(normalized(forward["assume_role_policy"]))["Statement"]
        assert trust["Principal"] == {"Service": "events.amazonaws.com"}
        assert trust["Condition"]["ArnEquals"]["aws:SourceArn"] == (
            f"arn:aws:events:REGION:ACCOUNT:rule/{normalized(rule['name'])}"
        )
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "ACCOUNT"}


def test_no_wildcard_action_star_only_where_reviewed_and_parliament_clean(
    member_stack: dict[str, Any],
) -> None:
    count = 0
    unexpected = []
    for resource, document, policy in documents(member_stack):
        count += 1
        for statement in json.loads(policy)["Statement"]:
            for action in as_list(statement["Action"]):
                assert "*" not in action or (action == "sqs:*" and statement["Effect"] == "Deny")
            if statement["Effect"] == "Allow" and "*" in as_list(statement.get("Resource")):
                unreviewed = set(as_list(statement["Action"])) - set(STAR_RESOURCE_REASONS)
                assert not unreviewed, f"{resource}: {unreviewed}"
        for finding in findings(policy):
            if not any(
                (a.document, a.issue) == (document, finding.issue)
                and a.applies(resource)
                and a.matches(finding)
                for a in ACCEPTED
            ):
                unexpected.append(f"{resource}: {finding.issue} {finding.detail}")
    # per playbook: two trusts, two role policies, a queue policy
    assert count == 5 * len(shipped())
    assert unexpected == [], "\n".join(unexpected)


def test_checkov_finds_nothing_in_a_member(member_out: Path) -> None:
    report = scan(member_out / "stacks", ["member"])["member"]
    assert report["summary"]["parsing_errors"] == 0
    assert [f["check_id"] for f in report["results"]["failed_checks"]] == []
    assert report["summary"]["passed"] >= 10 * len(shipped())


def test_a_member_is_byte_deterministic(tmp_path: Path) -> None:
    hub = HubSpec(HUB_ACCOUNT, region=HUB_REGION, organization_id=ORG)
    first = synth_member(tmp_path / "a", shipped(), hub)
    second = synth_member(tmp_path / "b", shipped(), hub)
    assert json.dumps(first, sort_keys=False) == json.dumps(second, sort_keys=False)
    stack = "stacks/member/cdk.tf.json"
    assert (tmp_path / "a" / stack).read_bytes() == (tmp_path / "b" / stack).read_bytes()


@pytest.mark.parametrize(
    ("hub", "field"),
    [
        (HubSpec("12345", HUB_BUS), "hub.account"),
        (HubSpec(HUB_ACCOUNT, "arn:aws:sqs:eu-west-1:111122223333:q"), "hub.event_bus"),
        (HubSpec("999999999999", HUB_BUS), "hub.event_bus"),
        (HubSpec(HUB_ACCOUNT, "recovery-hub"), "hub.region"),
        (HubSpec(HUB_ACCOUNT), "hub.region"),
        (HubSpec(HUB_ACCOUNT, HUB_BUS, organization_id="org-1"), "hub.organization_id"),
    ],
)
def test_a_bad_hub_is_one_line_naming_the_field(tmp_path: Path, hub: HubSpec, field: str) -> None:
    with pytest.raises(UsageError) as raised:
        synth_member(tmp_path / "out", load_playbooks([shipped_playbook_path()]), hub)
    message = str(raised.value)
    assert field in message and "\n" not in message


def test_names_too_long_for_a_region_are_refused_before_synthesis(tmp_path: Path) -> None:
    playbooks = load_playbooks([shipped_playbook_path()])
    long_stage = DeploymentSettings(stage="s" * 20)
    with pytest.raises(UsageError, match="shorten the playbook name, prefix or stage"):
        synth_member(
            tmp_path / "out", playbooks, HubSpec(HUB_ACCOUNT, region=HUB_REGION), long_stage
        )


def test_one_bus_for_several_playbooks_is_refused(tmp_path: Path) -> None:
    """The hub listens for each playbook on a bus of its own: one bus given for several
    playbooks would drop all but one playbook's events there."""
    with pytest.raises(UsageError, match=r"hub\.event_bus names one bus, but the hub has one"):
        synth_member(tmp_path / "out", shipped(), HubSpec(HUB_ACCOUNT, HUB_BUS))


# -- the module -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def member_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("member-module") / "member"
    args = [
        a for name in shipped_playbooks() for a in ("--playbook", str(shipped_playbook_path(name)))
    ]
    assert "no provider, no backend" in healstack_here(
        "module", "build", "--member", *args, "--out", str(out)
    )
    return out


def read(module: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((module / name).read_text()))


def test_the_member_module_is_the_construct_with_the_hub_as_inputs(
    member_module: Path, member_stack: dict[str, Any]
) -> None:
    assert sorted(p.name for p in member_module.iterdir()) == [
        "README.md",
        "main.tf.json",
        "outputs.tf.json",
        "variables.tf.json",
    ]
    main = read(member_module, "main.tf.json")
    assert "provider" not in main and "backend" not in main["terraform"]
    assert {k: len(v) for k, v in main["resource"].items()} == {
        k: len(v) for k, v in member_stack["resource"].items()
    }
    text = json.dumps(main)
    assert ":${var.hub_region}:${var.hub_account_id}:event-bus/" in text
    assert HUB_ACCOUNT not in text
    variables = read(member_module, "variables.tf.json")["variable"]
    assert sorted(variables) == sorted(i.name for i in inputs(shipped()))
    for name in REQUIRED:
        assert "default" not in variables[name] and variables[name]["nullable"] is False
    assert variables["organization_id"]["default"] is None
    outputs = read(member_module, "outputs.tf.json")["output"]
    assert sorted(outputs) == sorted(o.name for o in OUTPUTS)
    assert sorted(outputs["role_arns"]["value"]) == sorted(pb.name for pb in shipped())
    readme = (member_module / "README.md").read_text()
    for item in inputs(shipped()):
        assert f"| `{item.name}` |" in readme


def test_the_member_module_builds_byte_identical_in_another_process(
    member_module: Path, tmp_path: Path
) -> None:
    args = [
        a for name in shipped_playbooks() for a in ("--playbook", str(shipped_playbook_path(name)))
    ]
    again = tmp_path / "member"
    result = subprocess.run(
        [*BUILD, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2 and "--out" in result.stderr  # --out is required
    result = subprocess.run(
        [*BUILD, *args, "--out", str(again)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in sorted(p.name for p in member_module.iterdir()):
        assert (again / name).read_bytes() == (member_module / name).read_bytes(), name
    assert str(tmp_path) not in "".join(p.read_text() for p in again.iterdir())


@pytest.mark.parametrize("version", versions.PROVEN)
def test_the_member_module_fits_both_ends_of_the_provider_range(
    member_module: Path, version: str
) -> None:
    assert problems(read(member_module, "main.tf.json"), schema_check.load_snapshot(version)) == []


def test_terraform_validates_the_member_module(
    member_module: Path, terraform_env: dict[str, str], tmp_path: Path
) -> None:
    terraform_validates(member_module, terraform_env, tmp_path)


def test_the_organisation_condition_follows_organization_id(
    member_module: Path, terraform_env: dict[str, str], tmp_path: Path
) -> None:
    """Terraform itself evaluates an execution role's trust, without and with the id (the
    data sources stand in as locals: no credentials here)."""
    main = read(member_module, "main.tf.json")
    (address, role) = next(
        (a, r) for a, r in main["resource"]["aws_iam_role"].items() if "execution-role" in a
    )
    trust = re.sub(
        r"data\.aws_partition\.[^.}]+\.partition", "local.partition", role["assume_role_policy"]
    )
    playbook = address.split("_execution-role")[0]
    names = {k: v for k, v in main["locals"].items() if k.startswith("name_")}
    work = tmp_path / "console"
    work.mkdir()
    variables = read(member_module, "variables.tf.json")["variable"]
    (work / "main.tf.json").write_text(
        json.dumps(
            {
                "variable": {k: variables[k] for k in ("organization_id", "name_prefix", "stage")}
                | {"hub_account_id": {"type": "string", "default": HUB_ACCOUNT}},
                "locals": {"partition": "aws", **names, "trust": trust},
            }
        )
    )
    terraform(work, terraform_env, "init", "-input=false")

    def condition(*args: str) -> dict[str, Any]:
        result = subprocess.run(
            ["terraform", "console", "-no-color", *args],
            cwd=work,
            env=terraform_env,
            input="jsonencode(jsondecode(local.trust).Statement[0].Condition)\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return dict(json.loads(json.loads(result.stdout.strip())))

    plain = condition()
    assert set(plain) == {"ArnEquals"}
    assert all(
        arn.startswith(f"arn:aws:iam::{HUB_ACCOUNT}:role{ROLE_PATH}healstack-{playbook}-")
        for arn in as_list(plain["ArnEquals"]["aws:PrincipalArn"])
    )
    with_org = condition("-var", f"organization_id={ORG}")
    assert with_org == {**plain, "StringEquals": {"aws:PrincipalOrgID": ORG}}


def test_a_playbook_without_a_member_part_is_one_line_and_exit_2(tmp_path: Path) -> None:
    source = {
        "name": "on-own-bus",
        "trigger": {
            "source": "acme.platform",
            "bus": {"name": "acme-ops", "publishers": [f"arn:aws:iam::{HUB_ACCOUNT}:role/ops"]},
        },
        "target": {"kind": "ec2_instance", "require_tag": {"healstack": "enabled"}},
        "steps": [{"action": "reboot"}, {"check": "status"}],
    }
    playbook = tmp_path / "on-own-bus.json"
    playbook.write_text(json.dumps(source))
    result = subprocess.run(
        [*BUILD, "--playbook", str(playbook), "--out", str(tmp_path / "m")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "trigger.bus" in line and "on-own-bus" in line
    assert not (tmp_path / "m").exists()
