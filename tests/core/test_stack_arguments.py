"""The resource layer's fast path keeps cdktf's output: arguments reach the JSON through one
element per stack (``resource_base._StackArguments``), logical ids are worked out in Python,
references are read once. What cdktf would have done with each resource's own
``synthesizeAttributes`` is pinned here through the escape hatches a platform uses on
healstack's resources (the expected values are what that path wrote; the shipped stacks'
byte-for-byte equality is the suite's synthesis and address checks).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from healstack.cdk import App, TerraformOutput, TerraformStack
from healstack.errors import UsageError
from healstack.providers.aws import resources as aws
from healstack.providers.aws.resource_base import (
    ARGUMENTS_ID,
    AwsDataSource,
    AwsResource,
    deferring,
    logical_id,
    members_under,
)


def synthesized(app: Any, out: Path, stack: str) -> dict[str, Any]:
    app.synth()
    return dict(json.loads((out / "stacks" / stack / "cdk.tf.json").read_text()))


@pytest.fixture(scope="module", params=["constructs", "deferred"])
def hatches(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """Two stacks whose healstack resources a platform has reached into every way it can:
    with a construct per resource from the start, and built ``deferring`` (as healstack
    builds a recovery: overrides given while deferred are merged in Python; a rename, a
    move or a read from another stack gives the resource its construct then)."""
    from constructs import Construct

    deferred = request.param == "deferred"
    out = tmp_path_factory.mktemp("hatches")
    building = deferring() if deferred else contextlib.nullcontext()
    building.__enter__()
    app = App(outdir=str(out), stack_traces=False)
    stack = TerraformStack(app, "s")
    other = TerraformStack(app, "o")
    aws.AwsProvider(other, "aws", region="eu-west-1")
    group = Construct(stack, "group")  # before the provider and every resource
    aws.AwsProvider(stack, "aws", region="eu-west-1")
    key = aws.KmsKey(group, "key", enable_key_rotation=True, description="k")
    grouped = aws.IamRole(group, "role", assume_role_policy="{}", managed_policy_arns=["a"])
    grouped.add_override("managed_policy_arns", ["b"])
    topic = aws.SnsTopic(
        group,
        "topic",
        name="x",
        display_name="d",
        tags={"a": "b", "c": "d"},
        kms_master_key_id=key.arn,
    )
    topic.add_override("display_name", None)
    topic.add_override("tags.a", None)
    topic.add_override("tags.e", "f")
    topic.add_override("policy", {"x": None, "y": 1})
    role = aws.IamRole(
        stack,
        "role",
        assume_role_policy="{}",
        managed_policy_arns=["a", "b"],
        inline_policy=[{"name": "p", "policy": "{}"}],
    )
    role.add_override("managed_policy_arns", ["c"])
    role.add_override("inline_policy.0.name", "q")
    role.add_override("description", None)
    role.add_override("description", "set after delete")
    role.add_override("name", None)
    queue = aws.SqsQueue(
        stack,
        "queue",
        name="q",
        tags={"k": "v"},
        depends_on=[role],
        lifecycle={"prevent_destroy": True},
    )
    queue.override_logical_id("renamed_queue")
    queue.add_override("lifecycle.ignore_changes", ["tags"])
    second = aws.SqsQueue(stack, "queue2", name="q2", policy=queue.arn)
    moved = aws.SqsQueue(stack, "moved", name="m")
    moved.move_to_id("aws_sqs_queue.renamed_queue")
    gone = aws.SqsQueue(stack, "gone", name="g")
    if deferred:
        assert gone._virtual and gone.node.id == "gone"  # reached: it has its construct now
    stack.node.try_remove_child("gone")
    region = aws.DataAwsRegion(group, "region")
    aws.S3Bucket(group, "Default", bucket="default-bucket")
    aws.S3Bucket(group, "Resource", bucket="resource")
    building.__exit__(None, None, None)  # the platform's own code, reading a reference
    aws.SnsTopic(other, "remote", name=second.arn)
    TerraformOutput(stack, "region_name", value=region.name)
    stack.add_override("resource.aws_sqs_queue.queue2.visibility_timeout_seconds", 5)
    app.synth()
    return {
        name: json.loads((out / "stacks" / name / "cdk.tf.json").read_text()) for name in ("s", "o")
    }


def test_an_override_replaces_deletes_or_extends_an_argument_as_cdktf_does(
    hatches: dict[str, dict[str, Any]],
) -> None:
    resources = hatches["s"]["resource"]
    topic = resources["aws_sns_topic"]["group_topic_ED81AFF3"]
    assert "display_name" not in topic  # deleted
    assert topic["tags"] == {"c": "d", "e": "f"}  # one key deleted, one added
    assert topic["policy"] == {"y": 1}
    assert topic["kms_master_key_id"] == "${aws_kms_key.group_key_84AF2309.arn}"
    role = resources["aws_iam_role"]["role"]
    assert role["managed_policy_arns"] == ["a", "b", "c"]  # a list override extends
    # also where the tree holds the resource before the stack's arguments element
    grouped = resources["aws_iam_role"]["group_role_64735D70"]
    assert grouped["managed_policy_arns"] == ["a", "b"]
    assert role["inline_policy"] == [{"name": "q", "policy": "{}"}]
    assert role["description"] == "set after delete"
    assert "name" not in role
    assert hatches["s"]["//"]["metadata"]["overrides"]["aws_iam_role"] == [
        "managed_policy_arns",  # the grouped role's
        "managed_policy_arns",
        "inline_policy",
        "description",
        "name",
    ]


def test_a_renamed_moved_or_removed_resource_is_where_cdktf_puts_it(
    hatches: dict[str, dict[str, Any]],
) -> None:
    doc = hatches["s"]
    queues = doc["resource"]["aws_sqs_queue"]
    assert sorted(queues) == ["queue2", "renamed_queue"]  # moved and removed: no block
    assert queues["renamed_queue"]["name"] == "q"
    assert queues["renamed_queue"]["lifecycle"] == {
        "ignore_changes": ["tags"],
        "prevent_destroy": True,
    }
    assert queues["renamed_queue"]["depends_on"] == ["aws_iam_role.role"]
    assert queues["queue2"]["policy"] == "${aws_sqs_queue.renamed_queue.arn}"
    assert queues["queue2"]["visibility_timeout_seconds"] == 5  # the stack's own override
    assert doc["moved"] == [{"from": "aws_sqs_queue.moved", "to": "aws_sqs_queue.renamed_queue"}]
    buckets = doc["resource"]["aws_s3_bucket"]
    assert buckets["group"]["bucket"] == "default-bucket"  # "Default" is left out of the id
    assert buckets["group_C397F008"]["bucket"] == "resource"  # "Resource": only in the hash
    assert doc["output"]["region_name"]["value"] == (
        "${data.aws_region.group_region_2B904AB3.name}"
    )


def test_a_reference_across_stacks_still_becomes_an_output_and_remote_state(
    hatches: dict[str, dict[str, Any]],
) -> None:
    remote = hatches["o"]["resource"]["aws_sns_topic"]["remote"]
    assert remote["name"] == (
        "${data.terraform_remote_state.cross-stack-reference-input-s.outputs."
        "cross-stack-output-aws_sqs_queuequeue2arn}"
    )
    output = hatches["s"]["output"]["cross-stack-output-aws_sqs_queuequeue2arn"]
    assert output == {"sensitive": True, "value": "${aws_sqs_queue.queue2.arn}"}


def test_logical_ids_are_cdktfs(tmp_path: Path) -> None:
    """``logical_id`` against the stack's own allocation, for awkward construct ids too."""
    from constructs import Construct

    app = App(outdir=str(tmp_path), stack_traces=False)
    stack = TerraformStack(app, "ids")
    aws.AwsProvider(stack, "aws", region="eu-west-1")
    deep = Construct(Construct(stack, "a-b.c"), "Default")
    cases: list[tuple[Any, str]] = [
        (stack, "top"),
        (stack, "weird id!*"),
        (deep, "x"),
        (deep, "Resource"),
        (Construct(stack, "recovery"), "recovery-role"),  # a duplicate term
        (Construct(stack, "long"), "n" * 300),
    ]
    for scope, id_ in cases:
        topic = aws.SnsTopic(scope, id_, name="t")
        components = [c for c in topic.node.path.split("/")[1:]]
        assert logical_id(components) == topic.friendly_unique_id, id_
    with pytest.raises(ValueError):
        logical_id(["Default"])


def test_the_default_stacks_resources_have_cdktfs_logical_ids(tmp_path: Path) -> None:
    from healstack.loader import load_playbook, shipped_playbook_path
    from healstack.modules.stack import RecoveryStack
    from healstack.providers import registry
    from healstack.providers.interfaces import DeploymentSettings

    app = App(outdir=str(tmp_path), stack_traces=False)
    stack = RecoveryStack(
        app,
        load_playbook(shipped_playbook_path()),
        registry.provider("aws"),
        DeploymentSettings(),
    )
    members = members_under(stack)
    assert len(members) > 100
    assert all(member._virtual for member in members)  # built without constructs
    for member in members:
        worked_out = member._logical_id(True)
        assert member.friendly_unique_id == worked_out  # cdktf's, once it has the construct
        assert not member._virtual


def test_the_arguments_element_comes_first_and_its_id_is_kept_free(tmp_path: Path) -> None:
    from constructs import Construct

    app = App(outdir=str(tmp_path), stack_traces=False)
    stack = TerraformStack(app, "first")
    nested = Construct(stack, "platform-thing")
    aws.AwsProvider(stack, "aws", region="eu-west-1")
    aws.SnsTopic(nested, "topic", name="t")
    assert [c.node.id for c in stack.node.children] == [ARGUMENTS_ID, "platform-thing", "aws"]
    taken = TerraformStack(app, "taken")
    Construct(taken, ARGUMENTS_ID)
    with pytest.raises(UsageError, match="construct id '0'"):
        aws.SnsTopic(taken, "topic", name="t")


def test_a_reference_is_one_token_read_once(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path), stack_traces=False)
    stack = TerraformStack(app, "refs")
    role = aws.IamRole(stack, "role", assume_role_policy="{}")
    assert role.arn is role.arn
    assert role.attr("arn") is role.arn
    arns = role.managed_policy_arns
    arns.append("mutated")  # a copy: the next read is the reference again
    assert role.managed_policy_arns != arns


def test_attribute_properties_are_neither_hidden_nor_hiding() -> None:
    """The generated properties come after the core's classes in the MRO (jsii looks for
    overrides only before them): none may share a name with anything before them."""
    for name in aws.__all__:
        cls = getattr(aws, name)
        if not (isinstance(cls, type) and issubclass(cls, AwsResource | AwsDataSource)):
            continue
        mro = [c.__name__ for c in cls.__mro__]
        core = "TerraformResource" if issubclass(cls, AwsResource) else "TerraformDataSource"
        assert mro.index(f"_{name}Attributes") > mro.index(core), mro
        attributes = cls.__mro__[mro.index(f"_{name}Attributes")]
        for prop, value in vars(attributes).items():
            if isinstance(value, property):
                assert getattr(cls, prop) is value, f"{name}.{prop} is hidden"
