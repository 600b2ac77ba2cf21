"""The IAM vocabulary of healstack's functions: a permission, a step's implementation, and
the reviewed list of actions that may use ``Resource: "*"``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: Action -> why it must use Resource "*". Reviewed list; a test fails on any other "*".
STAR_RESOURCE_REASONS: dict[str, str] = {
    "ec2:DescribeInstances": "EC2 Describe* actions support no resource-level permissions",
    "ec2:DescribeInstanceStatus": "EC2 Describe* actions support no resource-level permissions",
    "autoscaling:DescribeAutoScalingInstances": (
        "Auto Scaling Describe* actions support no resource-level permissions"
    ),
    "autoscaling:DescribeAutoScalingGroups": (
        "Auto Scaling Describe* actions support no resource-level permissions"
    ),
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


@dataclass(frozen=True)
class Permission:
    actions: tuple[str, ...]
    #: an ARN template ({partition}, {region}, {account} filled by the provider), or "*"
    #: (then every action must be in STAR_RESOURCE_REASONS)
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
