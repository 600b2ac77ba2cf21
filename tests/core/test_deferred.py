"""Deferred resources (issue 12): while healstack builds a recovery, its resources get no
JavaScript object; the stack's arguments element writes their whole blocks and their
references are worked out in Python. These tests hold that to the construct path: the same
stacks built with a construct per resource write the same bytes, and whatever a platform
does with a handle afterwards (escape hatches, tokens in other stacks, aspects) works as it
did when every resource had its construct from the start.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsii
import pytest
from cdktf import IAspect

from healstack.cdk import App, Aspects, TerraformOutput, TerraformStack, Token
from healstack.errors import UsageError
from healstack.loader import load_playbook, shipped_playbook_path, shipped_playbooks
from healstack.modules.recovery_member import RecoveryMember
from healstack.modules.recovery_workflow import RecoveryWorkflow
from healstack.modules.stack import RecoveryStack
from healstack.providers.aws import resource_base
from healstack.providers.aws import resources as aws
from healstack.providers.aws.member import AwsMemberProvider
from healstack.providers.aws.provider import AwsProvider
from healstack.providers.aws.resource_base import deferring, members_under
from healstack.providers.interfaces import DeploymentSettings, Hub, HubSpec

MEMBER = "111122223333"
#: resource type -> the layer's class for it
CLASSES = {
    cls.KIND: cls
    for cls in (getattr(aws, name) for name in aws.__all__)
    if isinstance(cls, type) and issubclass(cls, resource_base.AwsResource)
}


def build_everything(app: App) -> None:
    """Every shipped playbook's stack, a hub's stack, a recovery inside a platform's own
    stack (tagged resource by resource) and a member part: every way healstack builds."""
    provider = AwsProvider()
    for name in shipped_playbooks():
        RecoveryStack(
            app, load_playbook(shipped_playbook_path(name)), provider, DeploymentSettings()
        )
    ec2 = load_playbook(shipped_playbook_path())
    RecoveryStack(app, ec2, provider, DeploymentSettings(stage="hub", hub=Hub(members=(MEMBER,))))
    platform = TerraformStack(app, "platform")
    aws.AwsProvider(platform, "aws", region="eu-west-1")
    RecoveryWorkflow(
        platform,
        "recovery",
        playbook=ec2,
        provider=provider,
        settings=DeploymentSettings(pipeline=False, tags={"team": "platform"}),
    )
    member = TerraformStack(app, "member")
    aws.AwsProvider(member, "aws", region="eu-west-1")
    RecoveryMember(
        member,
        "member",
        playbooks=[ec2],
        hub=HubSpec(account=MEMBER, region="eu-west-1"),
        provider=AwsMemberProvider(),
    )


def synthesized(out: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(out)): path.read_bytes()
        for path in sorted(out.glob("stacks/*/cdk.tf.json"))
    }


@contextlib.contextmanager
def constructs_from_the_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Build as before deferring: every resource gets its construct when it is made."""
    with monkeypatch.context() as patch:
        patch.setattr(resource_base, "deferring", contextlib.nullcontext)
        yield


def test_deferred_stacks_write_what_constructs_would_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deferred_app = App(outdir=str(tmp_path / "deferred"), stack_traces=False)
    build_everything(deferred_app)
    built = [m for s in deferred_app.node.children for m in members_under(s)]
    assert len(built) > 500 and all(m._virtual for m in built)  # no construct was needed
    deferred_app.synth()
    with constructs_from_the_start(monkeypatch):
        eager_app = App(outdir=str(tmp_path / "eager"), stack_traces=False)
        build_everything(eager_app)
        assert not any(m._virtual for s in eager_app.node.children for m in members_under(s))
        eager_app.synth()
    deferred = synthesized(tmp_path / "deferred")
    assert len(deferred) == len(shipped_playbooks()) + 3
    assert deferred == synthesized(tmp_path / "eager")


def recovery_in(stack: TerraformStack) -> RecoveryWorkflow:
    aws.AwsProvider(stack, "aws", region="eu-west-1")
    return RecoveryWorkflow(
        stack,
        "recovery",
        playbook=load_playbook(shipped_playbook_path()),
        provider=AwsProvider(),
        settings=DeploymentSettings(pipeline=False),
    )


def load(out: Path, stack: str) -> dict[str, Any]:
    return dict(json.loads((out / "stacks" / stack / "cdk.tf.json").read_text()))


def test_a_handle_a_platform_reaches_into_gets_its_construct_at_the_same_address(
    tmp_path: Path,
) -> None:
    app = App(outdir=str(tmp_path), stack_traces=False)
    stack = TerraformStack(app, "platform")
    workflow = recovery_in(stack)
    (machine,) = [m for m in members_under(stack) if m.KIND == "aws_sfn_state_machine"]
    address = machine._fqn()
    assert machine._virtual
    assert workflow.parts.workflow.resource is machine  # reading the handle ...
    assert not machine._virtual  # ... made the construct its id is the token of
    assert machine.node.path == "platform/recovery/state-machine"
    assert f"aws_sfn_state_machine.{machine.friendly_unique_id}" == address
    machine.add_override("tracing_configuration.enabled", False)
    machine.add_override("//.note", "the platform's")
    role = workflow.workflow_role
    assert Token.is_unresolved(role.arn)  # a token once built, not the worked-out string
    app.synth()
    doc = load(tmp_path, "platform")
    block = doc["resource"]["aws_sfn_state_machine"][address.split(".")[1]]
    assert block["tracing_configuration"] == {"enabled": False}
    assert block["//"]["note"] == "the platform's"
    assert block["//"]["metadata"]["path"] == "platform/recovery/state-machine"
    # references to it, written while it had no construct, name the same address
    assert f"${{{address}.arn}}" in json.dumps(doc["resource"]["aws_cloudwatch_event_target"])


def test_what_a_platform_reads_from_a_recovery_is_a_token_another_stack_can_use(
    tmp_path: Path,
) -> None:
    app = App(outdir=str(tmp_path), stack_traces=False)
    workflow = recovery_in(TerraformStack(app, "recovery-stack"))
    assert Token.is_unresolved(workflow.workflow_id)
    assert all(Token.is_unresolved(arn) for arn in workflow.function_ids.values())
    assert Token.is_unresolved(workflow.parts.trigger.dead_letter_id)
    other = TerraformStack(app, "alarms")
    aws.AwsProvider(other, "aws", region="eu-west-1")
    TerraformOutput(other, "machine", value=workflow.workflow_id)
    app.synth()
    alarms = load(tmp_path, "alarms")
    assert "terraform_remote_state" in alarms["data"]  # cdktf's cross-stack reference
    outputs = load(tmp_path, "recovery-stack")["output"]
    machine = [o for name, o in outputs.items() if name.startswith("cross-stack-output")]
    assert machine and machine[0]["value"].startswith("${aws_sfn_state_machine.")


def test_an_aspect_visits_and_changes_every_resource_of_a_recovery(tmp_path: Path) -> None:
    seen: list[str] = []

    @jsii.implements(IAspect)  # type: ignore[misc]
    class Owner:
        def visit(self, node: Any) -> None:
            if isinstance(node, resource_base.AwsResource) and node.takes("tags"):
                seen.append(node.KIND)
                node.add_override("tags.owner", "aspect")

    app = App(outdir=str(tmp_path), stack_traces=False)
    stack = TerraformStack(app, "platform")
    recovery_in(stack)
    Aspects.of(stack).add(Owner())  # (cdktf invokes a stack's aspects, not the app's)
    app.synth()
    resources = load(tmp_path, "platform")["resource"]
    taggable = [
        block
        for kind, blocks in resources.items()
        if CLASSES[kind].takes("tags")
        for block in blocks.values()
    ]
    assert len(taggable) == len(seen) > 30
    assert all(block["tags"]["owner"] == "aspect" for block in taggable)


def test_renaming_a_resource_others_refer_to_is_one_clear_error(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path), stack_traces=False)
    workflow = recovery_in(TerraformStack(app, "platform"))
    with pytest.raises(UsageError, match=r"^override_logical_id on aws_iam_role .*keep the id"):
        workflow.workflow_role.override_logical_id("renamed")


def test_two_deferred_resources_cannot_share_an_id(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path), stack_traces=False)
    stack = TerraformStack(app, "s")
    with deferring():
        aws.SqsQueue(stack, "queue", name="a")
        with pytest.raises(UsageError, match="already a construct with id 'queue'"):
            aws.SqsQueue(stack, "queue", name="b")


def test_a_deferred_resource_depends_on_a_renamed_one_at_its_new_address(
    tmp_path: Path,
) -> None:
    app = App(outdir=str(tmp_path), stack_traces=False)
    stack = TerraformStack(app, "s")
    aws.AwsProvider(stack, "aws", region="eu-west-1")
    with deferring():
        first = aws.SqsQueue(stack, "first", name="a")
        aws.SqsQueue(stack, "second", name="b", depends_on=[first])
    first.override_logical_id("renamed")  # nothing refers to it by a reference
    app.synth()
    queues = load(tmp_path, "s")["resource"]["aws_sqs_queue"]
    assert sorted(queues) == ["renamed", "second"]
    assert queues["second"]["depends_on"] == ["aws_sqs_queue.renamed"]
