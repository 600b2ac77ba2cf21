"""``healstack module build --member``: the member part of a hub-and-members deployment as a
plain Terraform module, for a platform's account vending or StackSets-like rollout.

Made as ``tfmodule`` makes the recovery module, from the very construct a cdktf app uses
(``RecoveryMember`` with the AWS member provider), then post-processed with the same
machinery: provider and backend go; each playbook is synthesized with a sentinel name
prefix of its own that becomes ``${local.name_<playbook>}``; the tags become
``merge(managed-by, var.tags)``; and the hub becomes inputs: a sentinel hub account and bus
region become ``var.hub_account_id`` and ``var.hub_region`` (each playbook's events go to
its own hub bus there, named after its recovery). The organisation condition
is synthesized with a sentinel id; each execution role's trust then becomes a choice
between the synthesized document with ``var.organization_id`` and the same document without
the condition (``var.organization_id = null``). A sentinel left anywhere fails the build.

The member's region and account are the caller's provider's (data sources): the module is
applied once per member account and region.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from healstack import __version__
from healstack.errors import PlaybookError, UsageError
from healstack.playbook import Playbook
from healstack.providers.interfaces import MANAGED_BY, DeploymentSettings, HubSpec
from healstack.synth import staged_output
from healstack.tfmodule import (
    GENERATOR,
    REQUIRED_TERRAFORM,
    SENTINEL_PREFIX,
    Input,
    ModuleResult,
    Output,
    _blocks,
    _check_out,
    _strings,
    _variable,
    base_expression,
    hcl_string,
    interface_tables,
    local_name,
    naming_inputs,
    write_module_files,
)

#: the hub while synthesizing (12 digits, a region and an organisation id AWS would take)
SENTINEL_HUB_ACCOUNT = "919191919191"
SENTINEL_HUB_REGION = "hs-sentinel-hub-9"
SENTINEL_ORGANIZATION = "o-hssentinel09"
ORGANIZATION_KEY = "aws:PrincipalOrgID"
#: inputs without a default: the module cannot guess the hub
REQUIRED = ("hub_account_id", "hub_region")

OUTPUTS = (
    Output("role_arns", "playbook name -> the execution role the hub's steps assume here"),
    Output("rule_arns", "playbook name -> the rule forwarding its events to the hub's bus"),
)


def inputs(playbooks: Sequence[Playbook]) -> list[Input]:
    """The member module's variables: one definition for the blocks and the README."""
    from healstack.providers.aws.member import ACCOUNT_ID, ORGANIZATION_ID, REGION
    from healstack.providers.aws.naming import MAX_REGION_LENGTH, max_member_base_length

    longest = max_member_base_length()
    length_checks = tuple(
        (
            f"${{length({base_expression(pb.name)}) <= {longest}}}",
            f'name_prefix and stage make the member names of playbook "{pb.name}" too long '
            f'for AWS: "<name_prefix>-{pb.name}-<stage>" may have at most {longest} '
            f"characters (with regions of up to {MAX_REGION_LENGTH}; shorten the prefix or "
            "the stage).",
        )
        for pb in playbooks
    )
    return [
        Input(
            "hub_account_id",
            "string",
            None,
            "The recovery account (the hub): only its step roles of each playbook may assume "
            "the execution roles.",
            (
                (
                    f"${{can(regex({hcl_string(ACCOUNT_ID.pattern)}, var.hub_account_id))}}",
                    "hub_account_id must be a 12-digit AWS account id.",
                ),
            ),
        ),
        Input(
            "hub_region",
            "string",
            None,
            "The hub's region: each playbook's events are forwarded to its own hub bus there "
            "(named after its recovery, like the hub stack's output `hub_event_bus_arn`).",
            (
                (
                    f"${{can(regex({hcl_string(REGION.pattern)}, var.hub_region))}}",
                    "hub_region must be an AWS region (e.g. eu-west-1).",
                ),
            ),
        ),
        Input(
            "organization_id",
            "string",
            None,
            "The AWS Organizations id (`o-...`): the hub's roles must also belong to it; "
            "null: no organisation condition.",
            (
                (
                    "${var.organization_id == null || can(regex("
                    f"{hcl_string(ORGANIZATION_ID.pattern)}, var.organization_id))}}",
                    "organization_id must look like o-abcdefghij (o- and 10-32 lower-case "
                    "letters or digits).",
                ),
            ),
        ),
        *naming_inputs(
            length_checks,
            prefix=(
                "The hub's `name_prefix`: the hub's role names and the member's names start "
                "with `<name_prefix>-<playbook>[-<stage>]`."
            ),
            stage="The hub's `stage` (e.g. `prod`); null: no stage.",
        ),
    ]


def build_member_module(playbooks: Sequence[Playbook], out_dir: Path) -> ModuleResult:
    """Write the member module into ``out_dir``, replacing it whole (or leaving it untouched)."""
    from healstack.modules.recovery_member import member_spec
    from healstack.providers.aws.naming import member_problems

    if not playbooks:
        raise UsageError("module build --member: give at least one playbook")
    _check_out(out_dir)
    hub = HubSpec(
        SENTINEL_HUB_ACCOUNT, region=SENTINEL_HUB_REGION, organization_id=SENTINEL_ORGANIZATION
    )
    for playbook in playbooks:
        member_spec(playbook, hub)  # refuses what has no member part, before any synthesis
        problems = member_problems(DeploymentSettings().base_name(playbook.name))
        if problems:  # the defaults must fit
            raise PlaybookError("name", f'"{playbook.name}" {problems[0]}')
        text = playbook.model_dump_json()
        for reserved in (
            SENTINEL_PREFIX[:6],
            SENTINEL_HUB_ACCOUNT,
            SENTINEL_HUB_REGION,
            SENTINEL_ORGANIZATION,
        ):
            if reserved in text:
                raise PlaybookError("", f'"{reserved}" is reserved (module build --member)')
    out_dir = out_dir.resolve()
    with (
        staged_output(out_dir) as module,
        tempfile.TemporaryDirectory(prefix=f".{out_dir.name}.synth-", dir=out_dir.parent) as tmp,
    ):
        doc = _synthesize(playbooks, hub, Path(tmp) / "synth")
        module.mkdir()
        result = _write(doc, module, playbooks)
    return ModuleResult(out_dir, result.playbooks, result.resources, result.files)


def _synthesize(playbooks: Sequence[Playbook], hub: HubSpec, out: Path) -> dict[str, Any]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from healstack.cdk import App, TerraformOutput, TerraformStack
    from healstack.modules.recovery_member import RecoveryMember
    from healstack.providers.aws.member import AwsMemberProvider
    from healstack.providers.aws.provider import AwsProvider

    app = App(outdir=str(out), stack_traces=False)
    stack = TerraformStack(app, "member")
    AwsProvider().configure_stack(stack, DeploymentSettings())  # dropped
    provider = AwsMemberProvider()
    values: dict[str, dict[str, str]] = {}
    for index, playbook in enumerate(playbooks):
        # a part per playbook, each with a sentinel prefix of its own (as tfmodule does)
        settings = DeploymentSettings(name_prefix=SENTINEL_PREFIX.format(index))
        member = RecoveryMember(
            stack,
            playbook.name,
            playbooks=[playbook],
            hub=hub,
            provider=provider,
            settings=settings,
        )
        for name, (by_playbook, _description) in member.outputs().items():
            values.setdefault(name, {}).update(by_playbook)
    if sorted(values) != sorted(o.name for o in OUTPUTS):  # a new output: describe it here
        raise RuntimeError(f"module build --member: outputs {sorted(values)} are not OUTPUTS")
    for output in OUTPUTS:
        TerraformOutput(
            stack, output.name, value=values[output.name], description=output.description
        )
    app.synth()
    loaded: dict[str, Any] = json.loads((out / "stacks" / "member" / "cdk.tf.json").read_text())
    return loaded


def _organization_choice(document: str) -> str:
    """A trust document synthesized with the sentinel organisation, as the Terraform choice
    between it with ``var.organization_id`` and it without the organisation condition."""
    without = json.loads(document)
    for statement in without["Statement"]:
        equals = statement.get("Condition", {}).get("StringEquals", {})
        if equals.pop(ORGANIZATION_KEY, None) is not None and not equals:
            del statement["Condition"]["StringEquals"]
    plain = json.dumps(without, indent=2)
    with_org = document.replace(SENTINEL_ORGANIZATION, "${var.organization_id}")
    return f"${{var.organization_id == null ? {json.dumps(plain)} : {json.dumps(with_org)}}}"


def _write(doc: dict[str, Any], module: Path, playbooks: Sequence[Playbook]) -> ModuleResult:
    doc.pop("provider", None)
    doc.pop("//", None)
    terraform = doc["terraform"]
    terraform.pop("backend", None)
    terraform["required_version"] = REQUIRED_TERRAFORM
    names = {pb.name: index for index, pb in enumerate(playbooks)}

    for _kind, _name, block in _blocks(doc, "resource"):
        if block.get("tags") == dict(MANAGED_BY):
            block["tags"] = "${local.tags}"

    def substitute(text: str) -> str:
        for name, index in names.items():
            text = text.replace(
                f"{SENTINEL_PREFIX.format(index)}-{name}", f"${{local.{local_name(name)}}}"
            )
        text = text.replace(f":{SENTINEL_HUB_REGION}:", ":${var.hub_region}:")
        return text.replace(SENTINEL_HUB_ACCOUNT, "${var.hub_account_id}")

    for section in ("resource", "data", "output"):
        doc[section] = _strings(doc.get(section, {}), substitute)
    chosen = 0
    for kind, _name, block in _blocks(doc, "resource"):
        if kind == "aws_iam_role" and SENTINEL_ORGANIZATION in block["assume_role_policy"]:
            block["assume_role_policy"] = _organization_choice(block["assume_role_policy"])
            chosen += 1
    if chosen != len(playbooks):  # one execution role per playbook: a healstack bug
        raise RuntimeError(f"module build --member: {chosen} organisation conditions")
    text = json.dumps(doc)
    leftover = [
        s
        for s in ("hsname", "hs-sentinel", SENTINEL_HUB_ACCOUNT, SENTINEL_ORGANIZATION)
        if s in text
    ]
    if leftover:  # a value was transformed where the module cannot follow: a healstack bug
        raise RuntimeError(f"module build --member: {leftover[0]!r} left in the module")

    doc["locals"] = {
        "tags": f"${{merge({{{hcl_string('managed-by')}: "
        f"{hcl_string(MANAGED_BY['managed-by'])}}}, var.tags)}}",
        **{local_name(pb.name): f"${{{base_expression(pb.name)}}}" for pb in playbooks},
    }
    module_outputs = doc.pop("output")
    main = {
        "//": {
            "generator": GENERATOR,
            "part": "member",
            "healstack": __version__,
            "edit": "rebuild, do not edit",
        },
        **{k: doc[k] for k in ("terraform", "locals", "data", "resource")},
    }
    variables = {"variable": {i.name: _member_variable(i) for i in inputs(playbooks)}}
    count = sum(len(blocks) for blocks in doc["resource"].values())
    return write_module_files(
        module, main, variables, module_outputs, readme(playbooks, count), names, count
    )


def _member_variable(item: Input) -> dict[str, Any]:
    block = _variable(item)
    if item.name in REQUIRED:
        del block["default"]
        block["nullable"] = False
    return block


def readme(playbooks: Sequence[Playbook], resource_count: int) -> str:
    """The member module's README: what it makes, its inputs and outputs (same definitions)."""
    from healstack.providers.aws.naming import ROLE_PATH
    from healstack.providers.aws.versions import DEFAULT_CONSTRAINT

    names = [pb.name for pb in playbooks]
    first = names[0]
    lines = [
        "# healstack member module",
        "",
        f"Generated by `{GENERATOR} --member` (healstack {__version__}); rebuild it, do not "
        "edit it.",
        f"Playbooks: {', '.join(f'`{n}`' for n in names)} ({resource_count} resources).",
        "",
        "Apply it in every member account and region the recovery account (the hub) serves, "
        "after the hub is deployed. Per playbook it creates:",
        "",
        "- an EventBridge rule on the default bus with the playbook's trigger pattern (the "
        "hub's own, limited to this account) that forwards the events to the hub's bus "
        "through a role allowed only `events:PutEvents` on that bus, with a dead-letter queue "
        "and a retry policy;",
        f"- an execution role (path `{ROLE_PATH}`, named `<name_prefix>-<playbook>[-<stage>]-"
        "<region>`) that only the hub's step roles of that playbook can assume (and only "
        "members of `organization_id` when given), holding exactly the permissions those "
        "steps hold in the hub, with the playbook's `require_tag` conditions.",
        "",
        "The module configures no provider and no backend: your root module does (the member "
        "account and region are your provider's). It needs Terraform "
        f"`{REQUIRED_TERRAFORM}` and `hashicorp/aws` `{DEFAULT_CONSTRAINT}`. Use the hub's "
        "`name_prefix` and `stage`: the hub's role names derive from them.",
        "",
        "```hcl",
        'module "healstack_member" {',
        '  source = "./member"',
        "",
        '  hub_account_id    = "111122223333"',
        '  hub_region        = "eu-west-1"',
        '  organization_id   = "o-abcdefghij"',
        '  name_prefix       = "acme"',
        '  stage             = "prod"',
        '  tags              = { team = "platform" }',
        "}",
        "",
        'output "recovery_role" {',
        f'  value = module.healstack_member.role_arns["{first}"]',
        "}",
        "```",
        "",
    ]
    return "\n".join([*lines, *interface_tables(inputs(playbooks), OUTPUTS, REQUIRED)])
