"""Each neutral operation's AWS implementation: its handler and the IAM it needs, once.

Permissions come from what a step does (like aws-cdk's state graph collecting the
statements each task declares), never from a hand-written list per stack. ``*`` as a
resource appears only for actions in ``STAR_RESOURCE_REASONS``: AWS offers no resource-level
permission for them, and the reason is written next to each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from healstack.providers.interfaces import FunctionSpec

#: Action -> why it must use Resource "*". Reviewed list; a test fails on any other "*".
STAR_RESOURCE_REASONS: dict[str, str] = {
    "ec2:DescribeInstances": "EC2 Describe* actions support no resource-level permissions",
    "ec2:DescribeInstanceStatus": "EC2 Describe* actions support no resource-level permissions",
    "xray:PutTraceSegments": "X-Ray write APIs support no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray write APIs support no resource-level permissions",
    "xray:GetSamplingRules": "X-Ray sampling APIs support no resource-level permissions",
    "xray:GetSamplingTargets": "X-Ray sampling APIs support no resource-level permissions",
    "logs:CreateLogDelivery": "CloudWatch Logs vended-delivery APIs need Resource * (Step Functions logging)",
    "logs:GetLogDelivery": "CloudWatch Logs vended-delivery APIs need Resource * (Step Functions logging)",
    "logs:UpdateLogDelivery": "CloudWatch Logs vended-delivery APIs need Resource * (Step Functions logging)",
    "logs:DeleteLogDelivery": "CloudWatch Logs vended-delivery APIs need Resource * (Step Functions logging)",
    "logs:ListLogDeliveries": "CloudWatch Logs vended-delivery APIs need Resource * (Step Functions logging)",
    "logs:PutResourcePolicy": "CloudWatch Logs resource policies are account-wide (Step Functions logging)",
    "logs:DescribeResourcePolicies": "CloudWatch Logs resource policies are account-wide (Step Functions logging)",
    "logs:DescribeLogGroups": "DescribeLogGroups supports no resource-level permissions",
}

#: ARN templates; {partition}, {region}, {account} are filled by the provider with tokens
ARN = {
    "ec2_instance": "arn:{partition}:ec2:{region}:{account}:instance/*",
    "ecs_service": "arn:{partition}:ecs:{region}:{account}:service/*",
    "rds_instance": "arn:{partition}:rds:{region}:{account}:db:*",
}

#: the condition key that limits a mutating action to resources carrying a tag
TAG_CONDITION_KEY = {
    "ec2_instance": "aws:ResourceTag",
    "ecs_service": "aws:ResourceTag",
    "rds_instance": "rds:db-tag",
}


@dataclass(frozen=True)
class Permission:
    actions: tuple[str, ...]
    #: an ARN template, or "*" (then every action must be in STAR_RESOURCE_REASONS)
    resource: str
    #: mutating: limited by the playbook's require_tag when it sets one
    mutating: bool = False


@dataclass(frozen=True)
class StepImplementation:
    handler: str
    permissions: tuple[Permission, ...]
    #: the recovery's store: action -> the leading keys of the items it may touch (each
    #: becomes a ``dynamodb:LeadingKeys`` condition), for functions that use the store
    store: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _describe(kind: str) -> tuple[Permission, ...]:
    if kind == "ec2_instance":
        return (Permission(("ec2:DescribeInstances", "ec2:DescribeInstanceStatus"), "*"),)
    if kind == "ecs_service":
        return (Permission(("ecs:DescribeServices",), ARN[kind]),)
    return (Permission(("rds:DescribeDBInstances",), ARN[kind]),)


def _act(kind: str, action: str) -> tuple[Permission, ...]:
    return (*_describe(kind), Permission((action,), ARN[kind], mutating=True))


#: (target kind, operation) -> implementation; the catalog's vocabulary, realised on AWS
STEPS: dict[tuple[str, str], StepImplementation] = {
    ("ec2_instance", "status"): StepImplementation(
        "healstack_lambda.ec2.check", _describe("ec2_instance")
    ),
    ("ec2_instance", "reboot"): StepImplementation(
        "healstack_lambda.ec2.reboot", _act("ec2_instance", "ec2:RebootInstances")
    ),
    ("ec2_instance", "stop"): StepImplementation(
        "healstack_lambda.ec2.stop", _act("ec2_instance", "ec2:StopInstances")
    ),
    ("ec2_instance", "start"): StepImplementation(
        "healstack_lambda.ec2.start", _act("ec2_instance", "ec2:StartInstances")
    ),
    ("ecs_service", "status"): StepImplementation(
        "healstack_lambda.ecs.check", _describe("ecs_service")
    ),
    ("ecs_service", "force_redeploy"): StepImplementation(
        "healstack_lambda.ecs.force_redeploy", _act("ecs_service", "ecs:UpdateService")
    ),
    ("rds_instance", "status"): StepImplementation(
        "healstack_lambda.rds.check", _describe("rds_instance")
    ),
    ("rds_instance", "reboot"): StepImplementation(
        "healstack_lambda.rds.reboot", _act("rds_instance", "rds:RebootDBInstance")
    ),
}

RESOLVE_TARGET = StepImplementation("healstack_lambda.resolve.resolve_target", ())
#: asks the approvers (records the request) and reports their decision (reads it back)
APPROVAL = StepImplementation(
    "healstack_lambda.approval.handle",
    (),
    store={"dynamodb:PutItem": ("approval#*",), "dynamodb:GetItem": ("approval#*",)},
)
#: takes an approver's decision (behind an IAM-authenticated function URL) and records who
#: decided in the audit history
DECIDE = StepImplementation(
    "healstack_lambda.decide.decide",
    (),
    store={
        "dynamodb:UpdateItem": ("approval#*",),
        "dynamodb:GetItem": ("approval#*",),
        "dynamodb:PutItem": ("history#*",),
    },
)
#: the topic and key permissions are added by the provider, which knows their ARNs; in the
#: store it releases (and counts duplicates on) locks and appends history records, no more
NOTIFY = StepImplementation(
    "healstack_lambda.notify.notify",
    (),
    store={
        "dynamodb:DeleteItem": ("lock#*",),
        "dynamodb:PutItem": ("history#*", "lock#*"),
        "dynamodb:UpdateItem": ("lock#*",),
    },
)

#: every function: traces to X-Ray
TRACING = Permission(("xray:PutTraceSegments", "xray:PutTelemetryRecords"), "*")


ALL_IMPLEMENTATIONS = (*STEPS.values(), RESOLVE_TARGET, NOTIFY, APPROVAL, DECIDE)


def implementation(spec: FunctionSpec) -> StepImplementation:
    if spec.purpose == "resolve_target":
        return RESOLVE_TARGET
    if spec.purpose == "notify":
        return NOTIFY
    if spec.purpose == "approval":
        return APPROVAL
    if spec.purpose == "decide":
        return DECIDE
    assert spec.operation is not None
    try:
        return STEPS[(spec.target_kind, spec.operation)]
    except KeyError:
        raise KeyError(f"no AWS implementation for {spec.target_kind}.{spec.operation}") from None


def handler_module(handler: str) -> str:
    """``healstack_lambda.ec2.check`` -> ``healstack_lambda/ec2.py``."""
    module = handler.rsplit(".", 1)[0]
    return module.replace(".", "/") + ".py"
