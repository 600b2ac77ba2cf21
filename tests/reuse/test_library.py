"""``RecoveryWorkflow`` as a library construct in a platform's own stack: what the platform
already owns (key, topic) replaces what healstack would create, its tags land on every
resource, and the construct hands back what the platform wires downstream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from healstack.errors import UsageError
from healstack.loader import load_playbook, shipped_playbook_path
from healstack.providers.interfaces import DeploymentSettings
from tests.conftest import load_stack

KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/0b1c2d3e-4f50-6a7b-8c9d-0e1f2a3b4c5d"
TOPIC_ARN = "arn:aws:sns:eu-west-1:111122223333:platform-alerts"


def platform_app(out: Path, build: Any) -> dict[str, Any]:
    """A stack the way a platform writes it (its own provider block, no healstack
    stack), with ``build(stack, provider)`` adding to it; the synthesized JSON."""
    from cdktf import App, TerraformStack

    from healstack.providers.aws import resources as aws
    from healstack.providers.registry import provider

    app = App(outdir=str(out), stack_traces=False)
    stack = TerraformStack(app, "platform")
    aws.AwsProvider(stack, "aws", region="eu-west-1")
    build(stack, provider("aws"))
    app.synth()
    return load_stack(out, "platform")


def recovery(stack: Any, cloud: Any, **settings: Any) -> Any:
    from healstack.modules.recovery_workflow import RecoveryWorkflow

    return RecoveryWorkflow(
        stack,
        "recovery",
        playbook=load_playbook(shipped_playbook_path()),
        provider=cloud,
        settings=DeploymentSettings(pipeline=False, **settings),
    )


def kinds(stack: dict[str, Any]) -> set[str]:
    return set(stack["resource"])


def all_of(stack: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return list(stack["resource"].get(kind, {}).values())


@pytest.fixture(scope="module")
def owned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The platform's own key and topic, handed in as references of the same stack."""
    made: dict[str, Any] = {}

    def build(stack: Any, cloud: Any) -> None:
        from healstack.providers.aws import resources as aws

        key = aws.KmsKey(stack, "platform-key", enable_key_rotation=True)
        topic = aws.SnsTopic(stack, "alerts", name="alerts", kms_master_key_id=key.arn)
        made["recovery"] = recovery(
            stack,
            cloud,
            existing_notifier_id=topic.arn,
            encryption_key_id=key.arn,
            tags={"team": "platform", "managed-by": "platform-ci"},
            log_retention_days=400,
            name_prefix="acme",
            stage="sandbox",
        )

    made["stack"] = platform_app(tmp_path_factory.mktemp("owned"), build)
    return made


def test_a_given_key_and_topic_replace_the_recoverys_own(owned: dict[str, Any]) -> None:
    stack = owned["stack"]
    # only the platform's key and topic exist: healstack created neither, nor their policy
    assert list(stack["resource"]["aws_kms_key"]) == ["platform-key"]
    assert "aws_kms_alias" not in kinds(stack)
    assert list(stack["resource"]["aws_sns_topic"]) == ["alerts"]
    assert "aws_sns_topic_policy" not in kinds(stack)
    key = "${aws_kms_key.platform-key.arn}"
    topic = "${aws_sns_topic.alerts.arn}"
    (machine,) = all_of(stack, "aws_sfn_state_machine")
    assert machine["encryption_configuration"]["kms_key_id"] == key
    for group in all_of(stack, "aws_cloudwatch_log_group"):
        assert group["kms_key_id"] == key
        assert group["retention_in_days"] == 400
    for fn in all_of(stack, "aws_lambda_function"):
        assert fn["kms_key_arn"] == key
        assert fn["function_name"].startswith("acme-ec2-status-check-recovery-sandbox-")
    (table,) = all_of(stack, "aws_dynamodb_table")
    assert table["server_side_encryption"]["kms_key_arn"] == key
    (queue,) = all_of(stack, "aws_sqs_queue")
    assert queue["kms_master_key_id"] == key
    # outcomes and alarms go to the platform's topic; the notify function may publish there
    for alarm in all_of(stack, "aws_cloudwatch_metric_alarm"):
        assert alarm["alarm_actions"] == [topic]
    notify = next(
        fn for fn in all_of(stack, "aws_lambda_function") if fn["handler"].endswith("notify")
    )
    assert notify["environment"]["variables"]["HEALSTACK_TOPIC_ARN"] == topic
    statements = [
        s
        for p in all_of(stack, "aws_iam_role_policy")
        for s in json.loads(p["policy"])["Statement"]
        if "sns:Publish" in s["Action"]
    ]
    assert statements and all(s["Resource"] == topic for s in statements)


def test_settings_tags_land_on_every_taggable_resource_of_the_recovery(
    owned: dict[str, Any],
) -> None:
    stack = owned["stack"]
    tagged = 0
    for kind, blocks in stack["resource"].items():
        for name, block in blocks.items():
            if name in ("platform-key", "alerts"):
                assert "tags" not in block, "the platform's own resources are left alone"
            elif "tags" in block:
                tagged += 1
                # the platform's tags win over healstack's default
                assert block["tags"] == {"managed-by": "platform-ci", "team": "platform"}, kind
    assert tagged >= 40
    taggable_kinds = {"aws_lambda_function", "aws_iam_role", "aws_sfn_state_machine"}
    for kind in taggable_kinds:
        assert all("tags" in block for block in all_of(stack, kind)), kind


def test_the_construct_hands_back_what_a_platform_wires(owned: dict[str, Any]) -> None:
    from cdktf import Token

    made = owned["recovery"]
    assert made.base_name == "acme-ec2-status-check-recovery-sandbox"
    assert set(made.function_ids) == set(made.function_names) == set(made.function_roles)
    assert "notify" in made.function_ids
    for value in (
        made.workflow_id,
        made.notifier_id,
        made.trigger_name,
        made.dead_letter_id,
        *made.function_ids.values(),
    ):
        assert Token.is_unresolved(value)
    assert made.workflow_name == "acme-ec2-status-check-recovery-sandbox"
    assert made.workflow_role is made.parts.workflow.role is not None
    assert made.parts.notifier.resource is None  # the platform's topic, not a construct of ours
    assert set(made.outputs()) == {"state_machine_arn", "rule_name", "topic_arn", "dlq_url"}
    assert made.monitoring.alarms and made.store.name


def test_literal_arns_of_what_the_platform_owns(tmp_path: Path) -> None:
    def build(stack: Any, cloud: Any) -> None:
        recovery(stack, cloud, existing_notifier_id=TOPIC_ARN, encryption_key_id=KEY_ARN)

    stack = platform_app(tmp_path, build)
    assert not {"aws_kms_key", "aws_kms_alias", "aws_sns_topic"} & kinds(stack)
    (machine,) = all_of(stack, "aws_sfn_state_machine")
    assert machine["encryption_configuration"]["kms_key_id"] == KEY_ARN
    alarms = all_of(stack, "aws_cloudwatch_metric_alarm")
    assert alarms and all(a["alarm_actions"] == [TOPIC_ARN] for a in alarms)


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        (
            "encryption_key_id",
            "alias/platform",
            'encryption_key_id "alias/platform" is not a KMS key ARN',
        ),
        ("encryption_key_id", TOPIC_ARN, "is not a KMS key ARN"),
        ("existing_notifier_id", KEY_ARN, "is not an SNS topic ARN"),
        ("existing_notifier_id", "platform-alerts", "is not an SNS topic ARN"),
    ],
)
def test_a_wrong_kind_of_id_is_one_clear_error(
    tmp_path: Path, setting: str, value: str, expected: str
) -> None:
    def build(stack: Any, cloud: Any) -> None:
        recovery(stack, cloud, **{setting: value})

    with pytest.raises(UsageError, match=expected) as raised:
        platform_app(tmp_path, build)
    assert "\n" not in str(raised.value)


def test_an_empty_id_is_rejected_by_the_settings() -> None:
    with pytest.raises(UsageError, match="existing_notifier_id is empty"):
        DeploymentSettings(existing_notifier_id=" ")


def test_healstacks_own_stacks_keep_tags_stack_wide(default_stack: dict[str, Any]) -> None:
    # RecoveryStack puts the tags in the provider's default_tags, not on each resource
    assert default_stack["provider"]["aws"][0]["default_tags"] == [
        {"tags": {"managed-by": "healstack"}}
    ]
    assert not [
        name
        for blocks in default_stack["resource"].values()
        for name, b in blocks.items()
        if "tags" in b
    ]
