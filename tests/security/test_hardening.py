"""The AWS hardening of a recovery (security review 2026-12: M2, M3, L1, L2, L3, L5), on the
synthesized JSON of every shipped stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from healstack.providers.aws.provider import ROLE_PATH, assume_role
from tests.conftest import load_stack


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def blocks(stack: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = stack["resource"].get(kind, {})
    return found


def document(body: dict[str, Any], attribute: str = "policy") -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(body[attribute])
    return loaded


def only(found: dict[str, dict[str, Any]], part: str) -> dict[str, Any]:
    (body,) = [b for name, b in found.items() if part in name]
    return body


@pytest.fixture(scope="module")
def stacks(synthesized: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name: load_stack(synthesized, p.name) for p in sorted((synthesized / "stacks").iterdir())
    }


# -- M3: roles bound to their resource ---------------------------------------------------


def test_every_role_is_on_the_healstack_path(stacks: dict[str, dict[str, Any]]) -> None:
    for name, stack in stacks.items():
        roles = blocks(stack, "aws_iam_role")
        assert len(roles) >= 8, name
        assert {role: body.get("path") for role, body in roles.items()} == dict.fromkeys(
            roles, ROLE_PATH
        ), name


def test_service_roles_trust_only_their_own_resource(stacks: dict[str, dict[str, Any]]) -> None:
    """Step Functions: the state machine; EventBridge: the rules the target role serves.
    Lambda sends no aws:SourceArn for an execution role: account only (and the path)."""
    for name, stack in stacks.items():
        trusts = {
            role: document(body, "assume_role_policy")["Statement"]
            for role, body in blocks(stack, "aws_iam_role").items()
        }
        for role, (statement,) in trusts.items():
            service = statement["Principal"]["Service"]
            condition = statement["Condition"]
            assert "aws:SourceAccount" in condition["StringEquals"], (name, role)
            if service == "lambda.amazonaws.com":
                assert set(condition) == {"StringEquals"}, (name, role)
            elif service in (
                "states.amazonaws.com",
                "events.amazonaws.com",
                "codebuild.amazonaws.com",
                "codepipeline.amazonaws.com",
            ):
                arns = as_list(condition["ArnEquals"]["aws:SourceArn"])
                assert all("*" not in arn for arn in arns), (name, role)
            elif service == "codedeploy.amazonaws.com":  # its deployment groups, by app
                (group,) = as_list(condition["ArnLike"]["aws:SourceArn"])
                assert group.endswith(f":deploymentgroup:healstack-{name}/*"), (name, role)
            else:
                raise AssertionError(f"{name} {role}: unreviewed service {service}")
        workflow = trusts[next(r for r in trusts if "workflow-role" in r)][0]
        assert workflow["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(
            ":stateMachine:healstack-" + name
        )
        trigger = trusts[next(r for r in trusts if "trigger-role" in r)][0]
        assert trigger["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(
            ":rule/healstack-" + name
        )
        start = trusts[next(r for r in trusts if "pipeline_start-role" in r)][0]
        assert start["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(
            f":rule/healstack-{name}-source"
        )
        # each build role only for its own project, the pipeline role for its pipeline
        for role, project in (("test", "test"), ("build", "package"), ("deploy", "deploy")):
            (trust,) = trusts[next(r for r in trusts if f"pipeline_{role}-role" in r)]
            assert trust["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(
                f":project/healstack-{name}-{project}"
            ), (name, role)
        (trust,) = trusts[next(r for r in trusts if "pipeline_pipeline-role" in r)]
        assert trust["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(f":healstack-{name}")


def test_assume_role_binds_to_source_arns() -> None:
    one = json.loads(assume_role("codebuild.amazonaws.com", "1", "arn:aws:codebuild:r:1:project/p"))
    assert one["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "1"},
        "ArnEquals": {"aws:SourceArn": "arn:aws:codebuild:r:1:project/p"},
    }
    group = "arn:aws:codedeploy:r:1:deploymentgroup:app/*"
    like = json.loads(assume_role("codedeploy.amazonaws.com", "1", [group]))
    assert like["Statement"][0]["Condition"]["ArnLike"] == {"aws:SourceArn": group}
    legacy = json.loads(assume_role("lambda.amazonaws.com", "1"))  # pipeline.py's call
    assert legacy["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "1"}}


# -- L1: the DLQ admits this recovery's rules only ----------------------------------------


def test_dead_letter_queue_admits_exactly_the_recoverys_rules(
    stacks: dict[str, dict[str, Any]],
) -> None:
    for name, stack in stacks.items():
        (queue_policy,) = blocks(stack, "aws_sqs_queue_policy").values()
        statements = {s["Sid"]: s for s in document(queue_policy)["Statement"]}
        condition = statements["RulesDeadLetter"]["Condition"]
        assert set(condition) == {"ArnEquals"}, name
        arns = as_list(condition["ArnEquals"]["aws:SourceArn"])
        assert all("*" not in arn for arn in arns), name
        base = "healstack-" + name
        assert sorted(arn.rsplit("rule/", 1)[1] for arn in arns) == sorted(
            [base, base + "-ended", base + "-source"]
        ), name


# -- L2: KMS ------------------------------------------------------------------------------


def test_roles_use_the_key_only_through_their_services(stacks: dict[str, dict[str, Any]]) -> None:
    for name, stack in stacks.items():
        for policy_name, body in blocks(stack, "aws_iam_role_policy").items():
            if "workflow-policy" not in policy_name and "_fn-" not in policy_name:
                continue  # the trigger uses no key; the pipeline has its own (pipeline.py)
            grants = [
                s
                for s in document(body)["Statement"]
                if any(a.startswith("kms:") for a in as_list(s["Action"]))
            ]
            assert grants, (name, policy_name)
            services = set()
            for grant in grants:
                via = as_list(grant["Condition"]["StringEquals"]["kms:ViaService"])
                services.update(v.split(".", 1)[0] for v in via)
            actions = [tuple(sorted(as_list(g["Action"]))) for g in grants]
            assert len(actions) == len(set(actions)), (name, policy_name)  # no duplicates
            if "workflow-policy" in policy_name:
                assert services == {"states", "dynamodb"}, name
            elif "_fn-notify_" in policy_name:
                assert services == {"lambda", "sqs", "sns", "dynamodb"}, name
            else:
                assert {"lambda", "sqs"} <= services <= {"lambda", "sqs", "sns"}, policy_name
                lambda_only = [g for g in grants if "lambda" in str(g["Condition"])]
                assert lambda_only[0]["Action"] == ["kms:Decrypt"], policy_name
            # a function decrypts only its own environment (review L2)
            for grant in grants:
                if "lambda." in str(grant["Condition"]["StringEquals"]["kms:ViaService"]):
                    function = grant["Condition"]["StringEquals"][
                        "kms:EncryptionContext:LambdaFunctionName"
                    ]
                    assert function.startswith(f"healstack-{name}-"), (name, policy_name)


def recovery_key(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    body = only(blocks(stack, "aws_kms_key"), "recovery_aws_key")
    return {s["Sid"]: s for s in document(body)["Statement"]}


def test_the_key_serves_only_the_recoverys_own_log_groups(
    stacks: dict[str, dict[str, Any]],
) -> None:
    for name, stack in stacks.items():
        statements = recovery_key(stack)
        logs = statements["CloudWatchLogsEncrypts"]
        listed = as_list(logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"])
        own = {
            body["name"]
            for body in blocks(stack, "aws_cloudwatch_log_group").values()
            if "recovery_aws_key" in body["kms_key_id"]
        }
        assert {arn.split(":log-group:", 1)[1] for arn in listed} == own, name
        assert "kms:DescribeKey" not in logs["Action"], name  # its own statement (parliament)
        assert "Condition" not in statements["CloudWatchLogsEncryptsDescribes"]


def test_services_use_the_key_for_this_recoverys_rules_and_alarms(
    stacks: dict[str, dict[str, Any]],
) -> None:
    for name, stack in stacks.items():
        condition = recovery_key(stack)["AwsServicesUseTopicAndQueue"]["Condition"]
        sources = as_list(condition["ArnLike"]["aws:SourceArn"])
        base = "healstack-" + name
        assert any(s.endswith(f":alarm:{base}-*") for s in sources), name
        assert any(s.endswith(f":rule/{base}") for s in sources), name
        alarms = [b["alarm_name"] for b in blocks(stack, "aws_cloudwatch_metric_alarm").values()]
        assert alarms and all(a.startswith(base + "-") for a in alarms), name


# -- L3: the store ------------------------------------------------------------------------


def store_grants(body: dict[str, Any]) -> dict[str, list[str]]:
    """DynamoDB action -> the leading keys it is limited to."""
    out: dict[str, list[str]] = {}
    for statement in document(body)["Statement"]:
        for action in as_list(statement["Action"]):
            if action.startswith("dynamodb:"):
                keys = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                out[action] = sorted(keys)
    return out


def test_store_writes_are_limited_to_their_items(stacks: dict[str, dict[str, Any]]) -> None:
    for name, stack in stacks.items():
        policies = blocks(stack, "aws_iam_role_policy")
        assert store_grants(only(policies, "_fn-notify_")) == {
            "dynamodb:DeleteItem": ["lock#*"],
            "dynamodb:PutItem": ["history#*", "lock#*"],
            "dynamodb:UpdateItem": ["lock#*"],
        }, name
        workflow = store_grants(only(policies, "workflow-policy"))
        assert workflow["dynamodb:PutItem"] == ["history#*", "lock#*"], name
        assert workflow["dynamodb:UpdateItem"] == ["limit#*"], name
        assert set(workflow) <= {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
        assert workflow.get("dynamodb:DeleteItem", ["lock#*"]) == ["lock#*"], name
        other = [
            n
            for n, body in policies.items()
            if store_grants(body) and "_fn-notify_" not in n and "workflow-policy" not in n
        ]
        assert other == [], name


def test_the_store_is_protected_from_deletion(stacks: dict[str, dict[str, Any]]) -> None:
    for name, stack in stacks.items():
        (table,) = blocks(stack, "aws_dynamodb_table").values()
        assert table["deletion_protection_enabled"] is True, name


def test_an_emulator_stack_can_be_destroyed(tmp_path: Path) -> None:
    from tests.conftest import synth_here

    synth_here(tmp_path / "out", "--aws-endpoint", "http://127.0.0.1:5000")
    stack = load_stack(tmp_path / "out", "ec2-status-check-recovery")
    (table,) = blocks(stack, "aws_dynamodb_table").values()
    assert table["deletion_protection_enabled"] is False


# -- L5: the workflow log -----------------------------------------------------------------


def test_the_workflow_log_holds_no_execution_data(stacks: dict[str, dict[str, Any]]) -> None:
    for name, stack in stacks.items():
        (machine,) = blocks(stack, "aws_sfn_state_machine").values()
        logging = machine["logging_configuration"]
        assert logging["include_execution_data"] is False, name
        assert logging["level"] == "ALL", name


# -- M2: the topic ------------------------------------------------------------------------


def test_only_the_recoverys_publishers_and_alarms_publish(
    stacks: dict[str, dict[str, Any]],
) -> None:
    for name, stack in stacks.items():
        (topic_policy,) = blocks(stack, "aws_sns_topic_policy").values()
        statements = {s["Sid"]: s for s in document(topic_policy)["Statement"]}
        deny = statements["DenyPublishButOwnRoles"]
        assert deny["Effect"] == "Deny" and deny["Action"] == "sns:Publish"
        publishers = as_list(deny["Condition"]["StringNotLike"]["aws:PrincipalArn"])
        publishing_roles = {
            body["name"]
            for body in blocks(stack, "aws_iam_role").values()
            if body["name"].endswith(("-notify-fn", "-approval-fn", "-decide-fn"))
        }
        assert {arn.rsplit(":role" + ROLE_PATH, 1)[1] for arn in publishers} >= {
            f"healstack-{name}-notify-fn"
        }, name
        assert {arn.rsplit(":role" + ROLE_PATH, 1)[1] for arn in publishers} <= publishing_roles
        services = statements["DenyPublishByOtherServices"]["Condition"]
        assert services["StringNotEquals"] == {
            "aws:PrincipalServiceName": "cloudwatch.amazonaws.com"
        }
        alarms = statements["DenyPublishByOtherAlarms"]["Condition"]["ArnNotLike"]
        assert alarms["aws:SourceArn"].endswith(f":alarm:healstack-{name}-*"), name
        subscribe = statements["DenySubscribeButAdmins"]
        assert subscribe["Effect"] == "Deny" and subscribe["Action"] == "sns:Subscribe"
        assert as_list(subscribe["Condition"]["StringNotLike"]["aws:PrincipalArn"])[0].endswith(
            ":root"
        )
        assert statements["DenyInsecureTransport"]["Action"] == "sns:*", name
