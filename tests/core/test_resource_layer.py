"""healstack's own AWS resource layer: checked against the provider's schema as it is used.

The synthesized JSON is what the prebuilt bindings wrote (tests/reuse/addresses-default.txt,
the emulator's empty re-plan against a state, the suite's byte-for-byte synthesis checks);
these tests pin what the layer adds: a mistake is an error at synthesis naming the resource
and the argument, before Terraform sees it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from healstack.providers.aws import resources as aws
from healstack.providers.aws.resource_base import (
    DEFAULT_CONSTRAINT,
    PINNED,
    ResourceSchemaError,
    schema,
)


@pytest.fixture
def stack(tmp_path: Path) -> Any:
    from cdktf import App, TerraformStack

    app = App(outdir=str(tmp_path / "out"), stack_traces=False)
    return app, TerraformStack(app, "layer")


def synthesized(app: Any, tmp_path: Path) -> dict[str, Any]:
    app.synth()
    return dict(json.loads((tmp_path / "out" / "stacks" / "layer" / "cdk.tf.json").read_text()))


def test_an_argument_the_schema_lacks_names_the_resource_and_the_argument(stack: Any) -> None:
    _, scope = stack
    with pytest.raises(ResourceSchemaError) as caught:
        aws.KmsKey(scope, "key", enable_key_rotation=True, rotate_yearly=True)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(
        "aws_kms_key layer/key: rotate_yearly is not an argument of aws_kms_key"
    )
    assert f"hashicorp/aws {PINNED}" in message and "enable_key_rotation" in message


def test_a_mistake_inside_a_nested_block_names_its_path(stack: Any) -> None:
    _, scope = stack
    with pytest.raises(ResourceSchemaError, match=r"tracing_config\[0\]: mod is not an argument"):
        aws.LambdaFunction(
            scope,
            "fn",
            function_name="f",
            role="arn:aws:iam::1:role/r",
            tracing_config={"mod": "Active"},  # type: ignore[arg-type]
        )


def test_a_read_only_attribute_or_a_missing_required_argument_is_refused(stack: Any) -> None:
    _, scope = stack
    with pytest.raises(ResourceSchemaError, match="arn is read-only in aws_sqs_queue"):
        aws.SqsQueue(scope, "q", arn="arn:x")  # type: ignore[arg-type]
    with pytest.raises(ResourceSchemaError, match="aws_iam_role needs assume_role_policy"):
        aws.IamRole(scope, "role", name="r")
    role = aws.IamRole(scope, "ok", assume_role_policy="{}")
    with pytest.raises(ResourceSchemaError, match="nme is not an argument"):
        role.set_argument("nme", "x")


def test_a_refused_resource_leaves_nothing_in_the_tree(stack: Any, tmp_path: Path) -> None:
    app, scope = stack
    aws.AwsProvider(scope, "aws", region="eu-west-1")
    with pytest.raises(ResourceSchemaError):
        aws.SnsTopic(scope, "bad", nme="x")  # type: ignore[arg-type]
    aws.SnsTopic(scope, "good", name="alerts")
    doc = synthesized(app, tmp_path)
    assert list(doc["resource"]["aws_sns_topic"]) == ["good"]


def test_references_are_tokens_and_the_provider_version_is_a_range(
    stack: Any, tmp_path: Path
) -> None:
    app, scope = stack
    aws.AwsProvider(scope, "aws", region="eu-west-1", default_tags=[{"tags": {"a": "b"}}])
    key = aws.KmsKey(scope, "key", enable_key_rotation=True)
    job = aws.SignerSigningJob(
        scope,
        "job",
        profile_name="p",
        source={"s3": {"bucket": "b", "key": "k", "version": "1"}},
        destination={"s3": {"bucket": "b"}},
    )
    topic = aws.SnsTopic(
        scope, "topic", kms_master_key_id=key.arn, name=job.attr("signed_object[0].s3[0].key")
    )
    topic.add_override("display_name", "escape hatch")
    doc = synthesized(app, tmp_path)
    body = doc["resource"]["aws_sns_topic"]["topic"]
    assert body["kms_master_key_id"] == "${aws_kms_key.key.arn}"
    assert body["name"] == "${aws_signer_signing_job.job.signed_object[0].s3[0].key}"
    assert body["display_name"] == "escape hatch"
    assert doc["provider"]["aws"] == [
        {"default_tags": [{"tags": {"a": "b"}}], "region": "eu-west-1"}
    ]
    assert doc["terraform"]["required_providers"]["aws"] == {
        "source": "aws",
        "version": DEFAULT_CONSTRAINT,
    }


def test_every_generated_type_is_in_the_pinned_snapshot() -> None:
    snapshot = schema()
    kinds = {
        getattr(aws, name).KIND
        for name in aws.__all__
        if isinstance(getattr(aws, name), type) and hasattr(getattr(aws, name), "KIND")
    }
    assert kinds - {"aws"} == set(snapshot["resource_schemas"]) | set(
        snapshot["data_source_schemas"]
    )
