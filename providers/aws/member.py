"""The AWS member part of a hub-and-members deployment (``MemberProvider``).

In a member account and region, per playbook:

* a rule on the default bus with the playbook's own pattern, narrowed to the member's
  account as the hub's trigger narrows it to the hub's (``trigger_pattern``), whose target is
  the hub's event bus: EventBridge puts the events there through a role that may only
  ``events:PutEvents`` on that one bus and that only this rule may make EventBridge assume;
  a delivery that keeps failing lands in a dead-letter queue of its own;
* an execution role only the hub's step functions of that playbook may assume: the trust
  names the hub account and, through ``aws:PrincipalArn``, exactly their role ARNs (the hub
  names them with ``naming.function_role_name``; a role recreated in the hub keeps its
  trust, which a role principal would not), optionally ``aws:PrincipalOrgID``. It holds the
  statements the hub's step functions hold for the target (``step_statements``: the same
  actions, resources and ``require_tag`` conditions), in the member's partition, region and
  account.

IAM names are global to an account, so both roles carry the region: each region's member
part is independent (``naming.member_role_name``, which the hub uses to find it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from constructs import Construct

from healstack.cdk import Token
from healstack.errors import UsageError
from healstack.providers.aws import resources as aws
from healstack.providers.aws.naming import (
    DLQ_SUFFIX,
    ROLE_PATH,
    function_role_name,
    hub_bus_name,
    member_forward_role_name,
    member_problems,
    member_role_name,
    member_rule_name,
    role_arn,
)
from healstack.providers.aws.provider import (
    DLQ_RETENTION_SECONDS,
    AwsProvider,
    _Account,
    allow,
    assume_role,
    deny_insecure_transport,
    policy,
    step_statements,
    trigger_pattern,
)
from healstack.providers.aws.resource_base import building, exported
from healstack.providers.aws.steps import implementation
from healstack.providers.interfaces import (
    DeploymentSettings,
    FunctionSpec,
    HubSpec,
    MemberHandle,
    MemberSpec,
)

ACCOUNT_ID = re.compile(r"^\d{12}$")
REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d+$")
EVENT_BUS_ARN = re.compile(
    r"^arn:aws[a-z-]*:events:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):event-bus/"
    r"(?P<name>[A-Za-z0-9._\-/]{1,256})$"
)
EVENT_BUS_NAME = re.compile(r"^[A-Za-z0-9._\-/]{1,256}$")
ORGANIZATION_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
#: the target id of the forwarding rule's one target
HUB_TARGET = "hub"


def hub_problem(hub: HubSpec) -> str | None:
    """Why AWS would not take ``hub`` (one line naming the field, with the fix); None when
    it would. References (tokens) pass: Terraform resolves them."""
    if not Token.is_unresolved(hub.account) and not ACCOUNT_ID.match(hub.account):
        return f'hub.account "{hub.account}" is not a 12-digit AWS account id'
    if hub.region is not None and not REGION.match(hub.region):
        return f'hub.region "{hub.region}" is not an AWS region (e.g. eu-west-1)'
    if hub.organization_id is not None and not ORGANIZATION_ID.match(hub.organization_id):
        return (
            f'hub.organization_id "{hub.organization_id}" is not an AWS Organizations id '
            "(o- and 10-32 lower-case letters or digits)"
        )
    bus = hub.event_bus
    if bus is None:
        if hub.region is None:
            return (
                "hub.region: give the hub's region (each playbook's hub bus is named after its "
                "recovery there), or hub.event_bus for a member part of one playbook"
            )
        return None
    if Token.is_unresolved(bus):
        return None
    if bus.startswith("arn:"):
        found = EVENT_BUS_ARN.match(bus)
        if found is None:
            return (
                f'hub.event_bus "{bus}" is not an event bus ARN '
                "(arn:aws:events:REGION:ACCOUNT:event-bus/NAME)"
            )
        if not Token.is_unresolved(hub.account) and found["account"] != hub.account:
            return f'hub.event_bus "{bus}" is not in the hub account {hub.account}'
        if hub.region is not None and found["region"] != hub.region:
            return f'hub.event_bus "{bus}" is not in the hub region {hub.region}'
        return None
    if not EVENT_BUS_NAME.match(bus) or bus == "default":
        return (
            f'hub.event_bus "{bus}" is not the name of a bus of the hub\'s own (letters, '
            "digits, . _ - /; not the default bus)"
        )
    if hub.region is None:
        return f'hub.event_bus "{bus}" is a name: give hub.region too (or the bus ARN)'
    return None


def hub_bus_arn(hub: HubSpec, partition: str, base_name: str) -> str:
    """The hub's bus of the playbook named ``base_name``, as an ARN: the given one, a given
    name completed with the hub's account and region, else the recovery's own hub bus
    (``hub_bus_name``) there."""
    bus = hub.event_bus if hub.event_bus is not None else hub_bus_name(base_name)
    if Token.is_unresolved(bus) or bus.startswith("arn:"):
        return bus
    return f"arn:{partition}:events:{hub.region}:{hub.account}:event-bus/{bus}"


def acting_functions(functions: tuple[FunctionSpec, ...]) -> list[FunctionSpec]:
    """The hub's functions of a playbook that act on the target (their step needs
    permissions): the ones that assume the member's role."""
    return [spec for spec in functions if implementation(spec).permissions]


def member_trust(
    partition: str,
    hub: HubSpec,
    base_name: str,
    functions: list[FunctionSpec],
) -> dict[str, Any]:
    """The execution role's trust statement: the hub account, and in it only ``functions``'
    roles (by ``aws:PrincipalArn``), and only principals of the organisation when given."""
    arns = [
        role_arn(partition, hub.account, function_role_name(base_name, f.key)) for f in functions
    ]
    condition: dict[str, Any] = {
        "ArnEquals": {"aws:PrincipalArn": arns[0] if len(arns) == 1 else arns}
    }
    if hub.organization_id is not None:
        condition["StringEquals"] = {"aws:PrincipalOrgID": hub.organization_id}
    return {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{hub.account}:root"},
        "Action": "sts:AssumeRole",
        "Condition": condition,
    }


def _unique(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each statement once (every step of a kind describes its target), first one first."""
    seen: set[str] = set()
    out = []
    for statement in statements:
        text = json.dumps(statement, sort_keys=True)
        if text not in seen:
            seen.add(text)
            out.append(statement)
    return out


class AwsMemberProvider:
    """``MemberProvider`` for AWS."""

    name = "aws"

    def tag_resources(self, scope: Construct, tags: Mapping[str, str]) -> None:
        AwsProvider().tag_resources(scope, tags)

    def exported(self, scope: Construct, value: Any) -> Any:
        """As ``MemberProvider.exported`` (``resource_base.exported``)."""
        return exported(scope, value)

    @building
    def member(
        self, scope: Construct, spec: MemberSpec, base_name: str, settings: DeploymentSettings
    ) -> MemberHandle:
        problem = hub_problem(spec.hub)
        if problem is not None:
            raise UsageError(f"member {spec.key}: {problem}")
        names = member_problems(base_name)
        if names:
            raise UsageError(f'member {spec.key}: name: "{base_name}" {names[0]}')
        acting = acting_functions(spec.functions)
        if not acting:
            raise UsageError(
                f"member {spec.key}: no step acts on the target, so the hub never acts in a "
                "member account (leave the playbook out of the member part)"
            )
        partition = aws.DataAwsPartition(scope, "partition")
        region = aws.DataAwsRegion(scope, "region")
        caller = aws.DataAwsCallerIdentity(scope, "caller")
        acct = _Account(partition.partition, region.name, caller.account_id)
        bus_arn = hub_bus_arn(spec.hub, acct.partition, base_name)

        # the execution role: only the hub's acting steps of this playbook, only their actions
        role = aws.IamRole(
            scope,
            "execution-role",
            name=member_role_name(base_name, acct.region),
            path=ROLE_PATH,
            description=f"healstack member: what the hub's {spec.key} steps do here"[:1000],
            assume_role_policy=policy(member_trust(acct.partition, spec.hub, base_name, acting)),
        )
        statements = _unique(
            [
                statement
                for function in acting
                for statement in step_statements(
                    implementation(function), spec.target_kind, acct, spec.scope_tag
                )
            ]
        )
        aws.IamRolePolicy(
            scope,
            "execution-policy",
            name="least-privilege",
            role=role.id,
            policy=policy(*statements),
        )

        # the forwarding rule: the hub's pattern, this account's events, onto the hub's bus
        rule_name = member_rule_name(base_name)
        rule_arn = acct.arn("arn:{partition}:events:{region}:{account}:rule/") + rule_name
        rule = aws.CloudwatchEventRule(
            scope,
            "forward-rule",
            name=rule_name,
            description=spec.description[:512],
            event_pattern=json.dumps(trigger_pattern(spec.event_pattern, acct.account), indent=2),
            state="ENABLED",
        )
        forward = aws.IamRole(
            scope,
            "forward-role",
            name=member_forward_role_name(base_name, acct.region),
            path=ROLE_PATH,
            description=f"healstack member: put {spec.key} events on the hub's bus"[:1000],
            assume_role_policy=assume_role("events.amazonaws.com", acct.account, rule_arn),
        )
        aws.IamRolePolicy(
            scope,
            "forward-policy",
            name="least-privilege",
            role=forward.id,
            policy=policy(allow(["events:PutEvents"], bus_arn)),
        )
        queue = aws.SqsQueue(
            scope,
            "forward-dead-letters",
            name=rule_name + DLQ_SUFFIX,
            sqs_managed_sse_enabled=True,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
        )
        aws.SqsQueuePolicy(
            scope,
            "forward-dead-letters-policy",
            queue_url=queue.url,
            policy=policy(
                {
                    "Sid": "ForwardingRuleDeadLetters",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue.arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                },
                deny_insecure_transport("sqs:*", queue.arn),
            ),
        )
        aws.CloudwatchEventTarget(
            scope,
            "forward-target",
            rule=rule.name,
            target_id=HUB_TARGET,
            arn=bus_arn,
            role_arn=forward.arn,
            dead_letter_config={"arn": queue.arn},
            retry_policy={
                "maximum_event_age_in_seconds": min(
                    settings.trigger_max_event_age_seconds,
                    spec.max_event_age_seconds or settings.trigger_max_event_age_seconds,
                ),
                "maximum_retry_attempts": settings.trigger_max_retries,
            },
        )
        return MemberHandle(spec.key, rule.name, rule.arn, role.name, role.arn, rule, role)


__all__ = ["AwsMemberProvider", "acting_functions", "hub_bus_arn", "hub_problem", "member_trust"]
