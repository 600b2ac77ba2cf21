"""parliament (an IAM policy linter, with its community auditors) over every identity and
resource policy document of every shipped stack: any finding that is not on the reviewed
list below, each with its reason, fails.

parliament checks ARN shapes, so the Terraform references in a synthesized policy
(``${data.aws_region...}``, ``${aws_sqs_queue.x.arn}``) become plausible concrete values
first: partition ``aws``, one region and account, an ARN of the referenced resource's kind.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_stack

ACCOUNT, REGION = "123456789012", "us-east-1"

#: resource type -> the attribute holding its policy document, and what kind of document
DOCUMENTS = {
    "aws_iam_role": ("assume_role_policy", "trust"),
    "aws_iam_role_policy": ("policy", "identity"),
    "aws_iam_policy": ("policy", "identity"),
    "aws_kms_key": ("policy", "key"),
    "aws_sqs_queue_policy": ("policy", "resource"),
    "aws_sns_topic_policy": ("policy", "resource"),
    "aws_s3_bucket_policy": ("policy", "resource"),
}

#: an ARN for a reference to a resource of each kind (others: a generic ARN of the service)
ARNS = {
    "aws_sqs_queue": "arn:aws:sqs:{r}:{a}:{n}",
    "aws_sns_topic": "arn:aws:sns:{r}:{a}:{n}",
    "aws_lambda_function": "arn:aws:lambda:{r}:{a}:function:{n}",
    "aws_lambda_alias": "arn:aws:lambda:{r}:{a}:function:{n}:live",
    "aws_dynamodb_table": "arn:aws:dynamodb:{r}:{a}:table/{n}",
    "aws_kms_key": "arn:aws:kms:{r}:{a}:key/{n}",
    "aws_cloudwatch_log_group": "arn:aws:logs:{r}:{a}:log-group:{n}",
    "aws_sfn_state_machine": "arn:aws:states:{r}:{a}:stateMachine:{n}",
    "aws_s3_bucket": "arn:aws:s3:::{n}",
    "aws_codepipeline": "arn:aws:codepipeline:{r}:{a}:{n}",
    "aws_codebuild_project": "arn:aws:codebuild:{r}:{a}:project/{n}",
    "aws_iam_role": "arn:aws:iam::{a}:role/healstack/{n}",
}


def concrete(document: str) -> str:
    """``document`` with every Terraform reference replaced by a plausible value."""
    document = re.sub(r"\$\{data\.aws_partition\.[^}]+\}", "aws", document)
    document = re.sub(r"\$\{data\.aws_region\.[^}]+\}", REGION, document)
    document = re.sub(r"\$\{data\.aws_caller_identity\.[^}]+\}", ACCOUNT, document)

    def arn(found: re.Match[str]) -> str:
        kind, name = found.group(1), found.group(2).lower().replace("_", "-")
        template = ARNS.get(kind, "arn:aws:" + kind.split("_")[1] + ":{r}:{a}:{n}")
        return template.format(r=REGION, a=ACCOUNT, n=name)

    document = re.sub(r"\$\{(aws_[a-z0-9_]+)\.([^.}]+)\.arn\}", arn, document)
    return re.sub(r"\$\{[^}]+\}", "name", document)


@dataclass(frozen=True)
class Accepted:
    """A reviewed finding: ``issue`` on documents of ``document`` kind (whose resource name
    ``applies`` accepts), that ``matches``; ``why`` it is accepted."""

    document: str
    issue: str
    why: str
    matches: Callable[[Any], bool] = lambda finding: True
    applies: Callable[[str], bool] = lambda resource: True
    #: every run of the shipped stacks shows it (else it is listed for some stacks only)
    always: bool = True


ACCEPTED = (
    Accepted(
        "trust",
        "MALFORMED",
        "a trust policy has no Resource; parliament reads every document as an identity policy",
        matches=lambda f: "neither Resource nor NotResource" in str(f.detail),
    ),
    Accepted(
        "key",
        "MISMATCHED_TYPE",
        "kms:EncryptionContext:aws:logs:arn with ArnEquals on log-group ARNs is the form AWS "
        "documents for CloudWatch Logs; parliament types the key as a String",
        matches=lambda f: "ArnEquals requires a value of type Arn" in str(f.detail),
    ),
    Accepted("key", "RESOURCE_STAR", "in a key policy, Resource * means this key"),
    Accepted(
        "key",
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "the account root administers the key (key policy, grants), so the account's IAM "
        "policies can delegate its use: AWS's default key policy",
    ),
    Accepted(
        "identity",
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "logs:PutResourcePolicy on * is what AWS requires for a state machine's logging to "
        "CloudWatch Logs; the workflow role may be assumed only by its own state machine (M3)",
        matches=lambda f: f.location.get("actions") == ["logs:putresourcepolicy"],
        applies=lambda resource: "workflow-policy" in resource,
    ),
    Accepted(
        "identity",
        "PRIVILEGE_ESCALATION",
        "the pipeline's deploy role exists to update this recovery's functions' code "
        "(lambda:UpdateFunctionCode on those functions only); what code may run is decided by "
        "code signing (review C1), which IAM cannot express",
        matches=lambda f: f.location.get("type") == "EditExistingLambdaFunctionWithRole",
        applies=lambda resource: "pipeline_deploy-policy" in resource,
    ),
    Accepted(
        "resource",
        "MISMATCHED_TYPE_BUT_USABLE",
        "the artifact bucket's policy compares s3:x-amz-server-side-encryption-aws-kms-key-id "
        "(a String key that carries the key's ARN) with the pipeline key's ARN, the form AWS "
        "documents for requiring a KMS key (review C1)",
        matches=lambda f: (
            "StringNotEquals requires a value of type String but given Arn" in str(f.detail)
        ),
        applies=lambda resource: "pipeline_artifacts-policy" in resource,
    ),
    Accepted(
        "identity",
        "UNKNOWN_CONDITION_FOR_ACTION",
        "rds:db-tag/<key> (require_tag on RDS): parliament's own data lists it on the db "
        "resource type that RebootDBInstance acts on; its per-action table lacks it",
        matches=lambda f: "rds:db-tag/" in str(f.detail),
        always=False,
    ),
    Accepted(
        "identity",
        "UNKNOWN_CONDITION_FOR_ACTION",
        "rds:cluster-tag/<key> (require_tag on Aurora): parliament's own data lists it on the "
        "cluster resource type that FailoverDBCluster acts on; its per-action table lacks it",
        matches=lambda f: "rds:cluster-tag/" in str(f.detail),
        always=False,
    ),
)


def documents(stack: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(resource, document kind, policy JSON) for every policy document in ``stack``."""
    found = []
    for kind, (attribute, document) in DOCUMENTS.items():
        for name, body in stack["resource"].get(kind, {}).items():
            found.append((f"{kind}.{name}", document, body[attribute]))
    return found


def findings(policy: str) -> list[Any]:
    from parliament import analyze_policy_string

    with warnings.catch_warnings():  # parliament imports pkg_resources
        warnings.simplefilter("ignore", DeprecationWarning)
        analyzed = analyze_policy_string(concrete(policy), include_community_auditors=True)
    found: list[Any] = analyzed.findings
    return found


@pytest.fixture(scope="module")
def stacks(synthesized: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name: load_stack(synthesized, p.name) for p in sorted((synthesized / "stacks").iterdir())
    }


def test_parliament_finds_only_reviewed_findings(stacks: dict[str, dict[str, Any]]) -> None:
    unexpected: list[str] = []
    used: set[Accepted] = set()
    count = 0
    for stack_name, stack in stacks.items():
        for resource, document, policy in documents(stack):
            count += 1
            for finding in findings(policy):
                accepted = next(
                    (
                        a
                        for a in ACCEPTED
                        if (a.document, a.issue) == (document, finding.issue)
                        and a.applies(resource)
                        and a.matches(finding)
                    ),
                    None,
                )
                if accepted is None:
                    unexpected.append(
                        f"{stack_name}/{resource}: {finding.issue} {finding.title} {finding.detail}"
                    )
                else:
                    used.add(accepted)
    assert count > 60, count  # every stack's documents were read (85 in 3 stacks)
    assert unexpected == [], "parliament findings not reviewed:\n" + "\n".join(unexpected)
    stale = [f"{a.document} {a.issue}" for a in ACCEPTED if a.always and a not in used]
    assert stale == [], f"accepted findings parliament no longer reports: {stale}"


def test_parliament_sees_a_real_problem() -> None:
    """The linter is really run: a wildcard grant is reported."""
    policy = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": "s3:GetObject", "Resource": "*"}]}'
    )
    assert any(f.issue == "RESOURCE_STAR" for f in findings(policy))
