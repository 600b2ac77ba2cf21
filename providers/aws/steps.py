"""Each neutral operation's AWS implementation: its handler and the IAM it needs, once.

Each target kind's operations live in its unit (``providers/aws/kinds/<kind>.py``); the
functions every recovery has (resolve, notify, approval) are here. Permissions come from
what a step does (like aws-cdk's state graph collecting the
statements each task declares), never from a hand-written list per stack. ``*`` as a
resource appears only for actions in ``STAR_RESOURCE_REASONS``: AWS offers no resource-level
permission for them, and the reason is written next to each.
"""

from __future__ import annotations

from healstack.providers.aws import kinds
from healstack.providers.aws.permissions import (
    STAR_RESOURCE_REASONS,
    Permission,
    StepImplementation,
)
from healstack.providers.interfaces import FunctionSpec

__all__ = ["STAR_RESOURCE_REASONS", "Permission", "StepImplementation", "implementation"]

#: (target kind, operation) -> implementation: every kind unit's operations
#: (``providers/aws/kinds``), the catalog's vocabulary realised on AWS
STEPS: dict[tuple[str, str], StepImplementation] = {
    (kind.name, operation): impl
    for kind in kinds.registry().values()
    for operation, impl in sorted(kind.operations.items())
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
#: notify of a playbook with a fleet budget: it also gives the execution's slot back
NOTIFY_FLEET = StepImplementation(
    NOTIFY.handler,
    (),
    store={**NOTIFY.store, "dynamodb:UpdateItem": ("fleet#*", "lock#*")},
)
#: takes a place in the playbook's fleet budget (``healstack_lambda.fleet``): creates the
#: in-flight item once, sets and prunes its holders, counts the hour
FLEET = StepImplementation(
    "healstack_lambda.fleet_budget.handle",
    (),
    store={
        "dynamodb:GetItem": ("fleet#*",),
        "dynamodb:PutItem": ("fleet#*",),
        "dynamodb:UpdateItem": ("fleet#*",),
    },
)

#: every function: traces to X-Ray
TRACING = Permission(("xray:PutTraceSegments", "xray:PutTelemetryRecords"), "*")


ALL_IMPLEMENTATIONS = (
    *STEPS.values(),
    RESOLVE_TARGET,
    NOTIFY,
    NOTIFY_FLEET,
    APPROVAL,
    DECIDE,
    FLEET,
)


def implementation(spec: FunctionSpec) -> StepImplementation:
    if spec.purpose == "resolve_target":
        return RESOLVE_TARGET
    if spec.purpose == "notify":
        return NOTIFY_FLEET if "fleet_max_in_flight" in spec.config else NOTIFY
    if spec.purpose == "fleet":
        return FLEET
    if spec.purpose == "approval":
        return APPROVAL
    if spec.purpose == "decide":
        return DECIDE
    if spec.purpose == "platform_step":
        # its permissions are the playbook's declared ones, literal ARNs (the provider adds
        # them: ``AwsProvider.function``)
        assert spec.platform is not None
        return StepImplementation(platform_handler(spec.platform.name, spec.platform.function), ())
    assert spec.operation is not None
    return kinds.get(spec.target_kind).implementation(spec.operation)


def platform_handler(name: str, function: str) -> str:
    """A platform step's handler: its file becomes the module named after the step."""
    return f"{name}.{function}"


def handler_module(handler: str) -> str:
    """``healstack_lambda.ec2.check`` -> ``healstack_lambda/ec2.py``."""
    module = handler.rsplit(".", 1)[0]
    return module.replace(".", "/") + ".py"
