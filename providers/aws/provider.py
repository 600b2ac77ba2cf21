"""The AWS implementation of ``CloudProvider``: each neutral part becomes AWS resources.

Secure by default: one customer-managed KMS key per recovery encrypts the topic, the
dead-letter queue, every log group, the state machine and the functions' environment;
every role holds only what its part does (``steps.py`` for the step actions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs import Construct

from healstack import packaging
from healstack.catalog import OUTCOMES
from healstack.cdk import (
    AssetType,
    DefaultTokenResolver,
    StringConcat,
    TerraformAsset,
    TerraformStack,
    Token,
    Tokenization,
)
from healstack.errors import UsageError
from healstack.providers.aws import kinds, monitoring
from healstack.providers.aws import resources as aws
from healstack.providers.aws.asl import (
    DYNAMODB,
    EXPIRY_ATTRIBUTE,
    PARTITION_KEY,
    SORT_KEY,
    render_json,
)
from healstack.providers.aws.checkov import declare_skips
from healstack.providers.aws.checkov import write_config as write_checkov_config
from healstack.providers.aws.function_settings import (
    LAMBDA_ARCHITECTURE,
    LAMBDA_MEMORY_MB,
    LAMBDA_RUNTIME,
    LAMBDA_TIMEOUT_SECONDS,
)
from healstack.providers.aws.naming import (
    DLQ_SUFFIX,
    FINALIZER_SUFFIX,
    LIVE_ALIAS,
    ROLE_PATH,
    ROLE_SUFFIX_TRIGGER,
    ROLE_SUFFIX_WORKFLOW,
    AwsNamingRules,
    function_name,
    function_role_name,
    hub_bus_name,
    member_role_name,
    principal_problem,
    role_arn,
)
from healstack.providers.aws.packages import function_modules, platform_package
from healstack.providers.aws.resource_base import (
    AwsResource,
    building,
    exported,
    members_under,
)
from healstack.providers.aws.steps import (
    STAR_RESOURCE_REASONS,
    TRACING,
    Permission,
    StepImplementation,
    implementation,
)
from healstack.providers.interfaces import (
    MANAGED_BY,
    DeploymentSettings,
    EventBusSpec,
    FunctionHandle,
    FunctionSpec,
    Grant,
    Hub,
    MonitoringHandle,
    NotifierHandle,
    NotifierSpec,
    PipelineHandle,
    PipelineSpec,
    PlatformCode,
    RecoveryParts,
    StoreHandle,
    StoreSpec,
    TriggerHandle,
    TriggerSpec,
    WorkflowHandle,
)
from healstack.providers.workflow import StoreWrite, Template, Workflow

KMS_DATA_KEY_REUSE_SECONDS = 300
DLQ_RETENTION_SECONDS = 14 * 24 * 3600

#: the AWS services healstack's own resources touch (each kind adds its handlers' own:
#: ``emulated_services``): the endpoints an emulator must serve
EMULATED_SERVICES = (
    "cloudwatch",
    "codebuild",
    "codedeploy",
    "codepipeline",
    "dynamodb",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "s3",
    "sfn",
    "signer",
    "sns",
    "sqs",
    "sts",
)


def emulated_services() -> tuple[str, ...]:
    """Every service the emulator gives an endpoint: healstack's own and every kind's."""
    own = set(EMULATED_SERVICES)
    for kind in kinds.registry().values():
        own.update(kind.services)
    return tuple(sorted(own))


#: the key administrators (the account root, so IAM policies can delegate use)
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
KEY_USE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
LOGS_KEY_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)
STATE_MACHINE_LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
)


#: what a platform may hand in instead of healstack creating it (``DeploymentSettings``)
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")


def given_arn(value: str, pattern: re.Pattern[str], setting: str, what: str) -> str:
    """A platform's own resource: a literal ARN of the right kind, or a cdktf reference
    (e.g. ``topic.arn`` of a topic in the same stack), which Terraform resolves."""
    if Token.is_unresolved(value) or pattern.match(value):
        return value
    raise UsageError(f'settings: {setting} "{value}" is not {what} or a reference to one')


def policy(*statements: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def allow(
    actions: tuple[str, ...] | list[str], resources: str | list[str], **extra: Any
) -> dict[str, Any]:
    if resources == "*":
        unreviewed = [a for a in actions if a not in STAR_RESOURCE_REASONS]
        if unreviewed:
            raise ValueError(f"Resource '*' for actions without a reviewed reason: {unreviewed}")
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": resources, **extra}


def deny_insecure_transport(actions: str, resource: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def assume_role(service: str, account: str, source_arns: str | Sequence[str] | None = None) -> str:
    """A trust policy: ``service`` may assume the role for resources of ``account`` and, given
    ``source_arns``, only for those resources (``aws:SourceArn``: ``ArnEquals``, or
    ``ArnLike`` when an ARN holds a ``*``). Build the ARNs from names, not from the
    resource's own ``arn`` attribute: the resource needs the role first (a cycle).

    ``source_arns=None`` binds to the account alone: only for a service that sends no
    ``aws:SourceArn`` when it assumes the role (Lambda, for its execution role)."""
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account}}
    if source_arns is not None:
        arns = [source_arns] if isinstance(source_arns, str) else list(source_arns)
        if not arns:
            raise ValueError(f"assume_role({service}): source_arns is empty")
        operator = "ArnLike" if any("*" in arn for arn in arns) else "ArnEquals"
        condition[operator] = {"aws:SourceArn": arns[0] if len(arns) == 1 else arns}
    return policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": condition,
        }
    )


def customer_key(
    scope: Construct,
    acct: _Account,
    *,
    description: str,
    alias: str,
    log_groups: Mapping[str, str | list[str]],
    sid: str = "CloudWatchLogsEncrypts",
    extra: tuple[Mapping[str, Any], ...] = (),
) -> Any:
    """A customer-managed key (rotation on) and its alias. The account administers it (so
    IAM policies can delegate its use) and CloudWatch Logs may encrypt the log groups that
    ``log_groups`` matches (``{"ArnLike" | "ArnEquals": arn pattern or list of ARNs}``)."""
    key = aws.KmsKey(
        scope,
        "key",
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=key_policy(acct, log_groups, sid, extra),
    )
    aws.KmsAlias(scope, "key-alias", name=alias, target_key_id=key.key_id)
    return key


def key_policy(
    acct: _Account,
    log_groups: Mapping[str, str | list[str]],
    sid: str = "CloudWatchLogsEncrypts",
    extra: tuple[Mapping[str, Any], ...] = (),
) -> str:
    """``customer_key``'s policy (see there)."""
    ((operator, pattern),) = log_groups.items()
    return policy(
        {
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": acct.arn("arn:{partition}:iam::{account}:root")},
            "Action": list(KEY_ADMIN_ACTIONS),
            "Resource": "*",  # a key policy's "*" means this key
        },
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": acct.arn("logs.{region}.amazonaws.com")},
            "Action": [a for a in LOGS_KEY_ACTIONS if a != "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {operator: {"kms:EncryptionContext:aws:logs:arn": pattern}},
        },
        {
            # DescribeKey carries no encryption context: a condition on it never matches
            "Sid": sid + "Describes",
            "Effect": "Allow",
            "Principal": {"Service": acct.arn("logs.{region}.amazonaws.com")},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
        *extra,
    )


@dataclass
class _Account:
    partition: str
    region: str
    account: str

    def arn(self, template: str) -> str:
        return template.format(partition=self.partition, region=self.region, account=self.account)


class _Recovery(Construct):
    """Per-recovery shared AWS bits: account facts and the KMS key (the recovery's own,
    created on first use, or the platform's ``encryption_key_id``).

    The policies that name this recovery's own resources (the key's log groups and rules,
    the DLQ's rules, the topic's publishers) are written again each time such a resource
    is added, from names, so they list exactly what the stack ends up with."""

    def __init__(self, scope: Construct, base_name: str, settings: DeploymentSettings) -> None:
        super().__init__(scope, "aws")
        partition = aws.DataAwsPartition(self, "partition")
        region = aws.DataAwsRegion(self, "region")
        caller = aws.DataAwsCallerIdentity(self, "caller")
        self.account = _Account(partition.partition, region.name, caller.account_id)
        self.base_name = base_name
        self.retention = settings.log_retention_days
        #: function key -> the platform step code it runs (the pipeline packages these too)
        self.platform_code: dict[str, PlatformCode] = {}
        self.settings = settings
        self.store: StoreHandle | None = None
        self._dlq: Any = None
        self._dlq_policy: Any = None
        self.function_log_groups: dict[str, Any] = {}
        self.rule_names: dict[str, str] = {}
        #: names of this recovery's log groups and of the rules that deliver to its DLQ
        self.log_group_names: list[str] = []
        self.dead_letter_rules: list[str] = []
        #: the roles EventBridge targets use (by the ARN tokens given for them; the tokens of
        #: one role share its entry), and the rules each one is assumed for
        self._target_roles: dict[str, tuple[Any, list[str]]] = {}
        #: the topic healstack owns (None: the platform's ``existing_notifier_id``)
        self.topic: Any = None
        self._topic_policy: Any = None
        self.publisher_roles: list[str] = []
        #: the recovery's own key, or None when the platform gave ``encryption_key_id``
        self.key: Any = None
        self.key_arn: str
        if settings.encryption_key_id is not None:
            self.key_arn = given_arn(
                settings.encryption_key_id,
                KMS_KEY_ARN,
                "encryption_key_id",
                "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
            )
        else:
            self.key = customer_key(
                self,
                self.account,
                description=f"healstack {base_name}: topic, queue, logs, state machine, functions",
                alias=f"alias/{base_name}",
                log_groups=self._log_group_condition(),
                extra=self._key_extra(),
            )
            self.key_arn = self.key.arn

    # -- ARNs from names (no reference, so no cycle) -----------------------------------

    def rule_arn(self, name: str) -> str:
        """An EventBridge rule: ``name`` on the default bus, ``<bus>/<name>`` on another."""
        return self.account.arn("arn:{partition}:events:{region}:{account}:rule/") + name

    def role_arn(self, name: str) -> str:
        return self.account.arn("arn:{partition}:iam::{account}:role") + ROLE_PATH + name

    def log_group_arn(self, name: str) -> str:
        return self.account.arn("arn:{partition}:logs:{region}:{account}:log-group:") + name

    def alarm_arns(self) -> str:
        """Every alarm of this recovery: their names all start with ``<base>-``
        (``monitoring.py``, ``alarms.py``)."""
        return self.account.arn(
            "arn:{partition}:cloudwatch:{region}:{account}:alarm:" + self.base_name + "-*"
        )

    # -- the key -------------------------------------------------------------------------

    def _log_group_condition(self) -> dict[str, str | list[str]]:
        """CloudWatch Logs may use the key for this recovery's own log groups only."""
        arns = [self.log_group_arn(name) for name in self.log_group_names]
        if not arns:  # before the first log group: one that cannot exist yet
            arns = [self.log_group_arn(f"/aws/vendedlogs/states/{self.base_name}")]
        return {"ArnEquals": arns[0] if len(arns) == 1 else arns}

    def _key_extra(self) -> tuple[Mapping[str, Any], ...]:
        """EventBridge (a rule's dead letters into the queue) and CloudWatch (an alarm into
        the topic) use the key for this recovery's rules and alarms only."""
        sources = [*(self.rule_arn(n) for n in self.dead_letter_rules), self.alarm_arns()]
        return (
            {
                "Sid": "AwsServicesUseTopicAndQueue",
                "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]},
                "Action": list(KEY_USE_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": self.account.account},
                    "ArnLike": {"aws:SourceArn": sources},
                },
            },
        )

    def _refresh_key(self) -> None:
        if self.key is not None:
            self.key.policy = key_policy(
                self.account, self._log_group_condition(), extra=self._key_extra()
            )

    # -- the dead-letter queue -----------------------------------------------------------

    @property
    def dead_letter_queue(self) -> Any:
        """One DLQ per recovery for every EventBridge target (trigger and finalizer)."""
        if self._dlq is None:
            scope = self.node.scope
            assert scope is not None
            self._dlq = aws.SqsQueue(
                scope,
                "dead-letter-queue",
                name=self.base_name + DLQ_SUFFIX,
                kms_master_key_id=self.key_arn,
                kms_data_key_reuse_period_seconds=KMS_DATA_KEY_REUSE_SECONDS,
                message_retention_seconds=DLQ_RETENTION_SECONDS,
            )
            self._dlq_policy = aws.SqsQueuePolicy(
                scope,
                "dead-letter-queue-policy",
                queue_url=self._dlq.url,
                policy=self._dead_letter_policy(),
            )
        return self._dlq

    def _dead_letter_policy(self) -> str:
        """Only this recovery's rules (each by its exact ARN) may dead-letter here."""
        statements: list[dict[str, Any]] = []
        if self.dead_letter_rules:
            arns = [self.rule_arn(name) for name in self.dead_letter_rules]
            statements.append(
                {
                    "Sid": "RulesDeadLetter",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": self._dlq.arn,
                    "Condition": {
                        "ArnEquals": {"aws:SourceArn": arns[0] if len(arns) == 1 else arns}
                    },
                }
            )
        statements.append(deny_insecure_transport("sqs:*", self._dlq.arn))
        return policy(*statements)

    def event_target(
        self,
        scope: Construct,
        id_: str,
        rule: Any,
        arn: str,
        settings: DeploymentSettings,
        role_arn: str | None = None,
        max_event_age_seconds: int | None = None,
    ) -> Any:
        """An EventBridge target with the recovery's DLQ and a bounded retry policy; a
        delivery older than ``max_event_age_seconds`` (when given, else the settings') goes to
        the DLQ instead.

        Here rule, DLQ and role meet: the rule joins the DLQ's and the key's lists, and the
        target's role (found in this recovery by its ARN) may be assumed by EventBridge for
        the rules it serves, by their exact ARNs (M3)."""
        # a rule on a bus of its own (a hub's, a playbook's trigger.bus): its target names the
        # bus too, and its ARN is rule/<bus>/<name>
        bus = rule.argument("event_bus_name")
        target = aws.CloudwatchEventTarget(
            scope,
            id_,
            rule=rule.name,
            event_bus_name=bus,
            target_id=id_,
            arn=arn,
            role_arn=role_arn,
            dead_letter_config={"arn": self.dead_letter_queue.arn},
            retry_policy={
                "maximum_event_age_in_seconds": min(
                    settings.trigger_max_event_age_seconds,
                    max_event_age_seconds or settings.trigger_max_event_age_seconds,
                ),
                "maximum_retry_attempts": settings.trigger_max_retries,
            },
        )
        name = rule.argument("name") if bus is None else f"{bus}/{rule.argument('name')}"
        if name not in self.dead_letter_rules:
            self.dead_letter_rules.append(name)
        self._dlq_policy.policy = self._dead_letter_policy()
        self._refresh_key()
        if role_arn is not None:
            self._bind_target_role(role_arn, name)
        return target

    def _bind_target_role(self, role_arn: str, rule_name: str) -> None:
        if role_arn not in self._target_roles:
            scope = self.node.scope
            assert scope is not None
            roles = [node for node in members_under(scope) if isinstance(node, aws.IamRole)]
            # a role hands out one token per attribute: the same string is the same role
            found = [role for role in roles if role.arn == role_arn]
            if not found:  # another token for it: compare the expressions (round trips)
                wanted = _reference(self, role_arn)
                found = [role for role in roles if _reference(self, role.arn) == wanted]
            if len(found) != 1:
                raise ValueError(
                    f"event target role {_reference(self, role_arn)}: not one role of this recovery"
                )
            known = [entry for entry in self._target_roles.values() if entry[0] is found[0]]
            self._target_roles[role_arn] = known[0] if known else (found[0], [])
        role, rules = self._target_roles[role_arn]
        if rule_name not in rules:
            rules.append(rule_name)
        role.assume_role_policy = assume_role(
            "events.amazonaws.com", self.account.account, [self.rule_arn(r) for r in rules]
        )

    # -- log groups ----------------------------------------------------------------------

    def log_group(self, scope: Construct, id_: str, name: str) -> Any:
        group = aws.CloudwatchLogGroup(
            scope,
            id_,
            name=name,
            retention_in_days=self.retention,
            kms_key_id=self.key_arn,
        )
        self.log_group_names.append(name)
        self._refresh_key()
        return group

    # -- the topic -----------------------------------------------------------------------

    def own_topic(self, scope: Construct) -> Any:
        """The recovery's topic and its policy (publishers are added as functions are)."""
        self.topic = aws.SnsTopic(
            scope, "topic", name=self.base_name, kms_master_key_id=self.key_arn
        )
        self._topic_policy = aws.SnsTopicPolicy(
            scope, "topic-policy", arn=self.topic.arn, policy=self._topic_policy_document()
        )
        return self.topic

    def add_publisher(self, role_name: str) -> None:
        if self.topic is None:  # the platform's topic: its policy is the platform's
            return
        self.publisher_roles.append(role_name)
        self._topic_policy.policy = self._topic_policy_document()

    def _topic_policy_document(self) -> str:
        """Publish: only this recovery's publishing roles and its own alarms (through
        CloudWatch); Subscribe: only the account root and ``topic_subscriber_admins``;
        every call over TLS. Denies by ``aws:PrincipalArn``, so the roles need not exist
        yet (an Allow naming a missing role is refused by SNS)."""
        acct, topic = self.account, self.topic.arn
        root = acct.arn("arn:{partition}:iam::{account}:root")
        publishers = [self.role_arn(name) for name in self.publisher_roles] or [
            self.role_arn(self.base_name + "-no-publisher")
        ]
        admins = [root, *self.settings.topic_subscriber_admins]
        return policy(
            {
                "Sid": "AccountUsesTopic",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": ["sns:Publish"],
                "Resource": topic,
            },
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["sns:Publish"],
                "Resource": topic,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": acct.account},
                    "ArnLike": {"aws:SourceArn": self.alarm_arns()},
                },
            },
            {
                "Sid": "DenyPublishButOwnRoles",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic,
                "Condition": {
                    "StringNotLike": {"aws:PrincipalArn": publishers},
                    # a principal, not a service: services are the next two statements'
                    "Null": {"aws:PrincipalServiceName": "true"},
                },
            },
            {
                "Sid": "DenyPublishByOtherServices",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic,
                "Condition": {
                    "StringNotEquals": {"aws:PrincipalServiceName": "cloudwatch.amazonaws.com"},
                    "Null": {"aws:PrincipalServiceName": "false"},
                },
            },
            {
                "Sid": "DenyPublishByOtherAlarms",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic,
                "Condition": {
                    "StringEquals": {"aws:PrincipalServiceName": "cloudwatch.amazonaws.com"},
                    "ArnNotLike": {"aws:SourceArn": self.alarm_arns()},
                },
            },
            {
                "Sid": "DenySubscribeButAdmins",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Subscribe",
                "Resource": topic,
                "Condition": {"StringNotLike": {"aws:PrincipalArn": admins}},
            },
            deny_insecure_transport("sns:*", topic),
        )


def _reference(scope: Construct, token: str) -> str:
    """A token as the Terraform expression it stands for (``${aws_iam_role.x.arn}``): two
    tokens for the same attribute are different strings, their expressions are equal."""
    resolved = Tokenization.resolve(
        token,
        scope=TerraformStack.of(scope),
        preparing=False,
        resolver=DefaultTokenResolver(StringConcat()),
    )
    return str(resolved)


class AwsProvider:
    """``CloudProvider`` for AWS."""

    name = "aws"
    naming = AwsNamingRules()

    def __init__(self) -> None:
        self._recoveries: dict[str, _Recovery] = {}
        self._scopes: dict[int, tuple[Construct, _Recovery]] = {}

    def _recovery(
        self, scope: Construct, base_name: str, settings: DeploymentSettings
    ) -> _Recovery:
        known = self._scopes.get(id(scope))
        if known is not None and known[0] is scope:  # a construct's path is a round trip
            return known[1]
        key = scope.node.path
        if key not in self._recoveries:
            self._recoveries[key] = _Recovery(scope, base_name, settings)
        self._scopes[id(scope)] = (scope, self._recoveries[key])
        return self._recoveries[key]

    def exported(self, scope: Construct, value: Any) -> Any:
        """As ``CloudProvider.exported``: references to healstack's own resources as tokens
        (``resource_base.exported``)."""
        return exported(scope, value)

    # -- stack ---------------------------------------------------------------------------

    def configure_stack(self, stack: Construct, settings: DeploymentSettings) -> None:
        options: Mapping[str, Any] = settings.provider_options.get("aws", {})
        extra: dict[str, Any] = {}
        endpoint = options.get("endpoint")
        if endpoint:  # a local emulator (e.g. a moto server); never real AWS
            extra = {
                "endpoints": [{service: endpoint for service in emulated_services()}],
                "access_key": options.get("access_key", "test"),
                "secret_key": options.get("secret_key", "test"),
                "skip_credentials_validation": True,
                "skip_metadata_api_check": "true",
                # not skip_requesting_account_id: without the account the provider builds
                # account-less ARNs (CodeDeploy tags then drift); emulators answer STS
                "s3_use_path_style": True,
                # a few retries survive a reset connection; every call an emulator lacks is
                # shimmed in the tests, so none of them retries a 500 for minutes
                "max_retries": 3,
            }
        aws.AwsProvider(
            stack,
            "aws",
            region=settings.region,
            default_tags=[{"tags": {**MANAGED_BY, **dict(sorted(settings.tags.items()))}}],
            # the provider versions the stack declares: the proven range, or a setting's
            # narrower choice (checked where it was given: settings.py)
            version=options.get("version"),
            **extra,
        )

    def stack_written(self, stack_dir: Path) -> None:
        """After synthesis wrote ``stack_dir``: checkov's config beside it (``checkov.py``)."""
        write_checkov_config(stack_dir)

    @building
    def tag_resources(self, scope: Construct, tags: Mapping[str, str]) -> None:
        """Resource-level tags on everything under ``scope`` that takes tags (the bindings
        say which: a ``tags`` attribute); a resource's own tags win over these."""
        for node in members_under(scope):
            if isinstance(node, AwsResource) and node.takes("tags"):
                own = node.argument("tags") or {}
                node.set_argument("tags", dict(sorted({**tags, **own}.items())))

    # -- parts ---------------------------------------------------------------------------

    @building
    def notifier(
        self, scope: Construct, spec: NotifierSpec, base_name: str, settings: DeploymentSettings
    ) -> NotifierHandle:
        shared = self._recovery(scope, base_name, settings)
        topic: Any = None
        if spec.existing_id is not None:
            # the platform's topic: its policy is the platform's (never replaced here); it must
            # let CloudWatch alarms publish (the functions publish through their roles)
            topic_arn = given_arn(
                spec.existing_id,
                SNS_TOPIC_ARN,
                "existing_notifier_id",
                "an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
            )
        else:
            topic = shared.own_topic(scope)
            topic_arn = topic.arn
        for index, email in enumerate(spec.emails):
            aws.SnsTopicSubscription(
                scope, f"email-{index}", topic_arn=topic_arn, protocol="email", endpoint=email
            )
        return NotifierHandle(spec.key, topic_arn, topic)

    @building
    def store(
        self, scope: Construct, spec: StoreSpec, base_name: str, settings: DeploymentSettings
    ) -> StoreHandle:
        shared = self._recovery(scope, base_name, settings)
        table = aws.DynamodbTable(
            scope,
            "store",
            name=base_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=PARTITION_KEY,
            range_key=SORT_KEY,
            attribute=[{"name": PARTITION_KEY, "type": "S"}, {"name": SORT_KEY, "type": "S"}],
            ttl={"attribute_name": EXPIRY_ATTRIBUTE, "enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": shared.key_arn},
            point_in_time_recovery={"enabled": True},
            # the audit trail: a destroy or a stray DeleteTable must not take it (L3)
            deletion_protection_enabled=store_deletion_protection(settings),
        )
        shared.store = StoreHandle(spec.key, table.name, table.arn, table)
        return shared.store

    @building
    def function(
        self,
        scope: Construct,
        spec: FunctionSpec,
        base_name: str,
        notifier: NotifierHandle,
        settings: DeploymentSettings,
        scope_tag: Mapping[str, str] | None,
    ) -> FunctionHandle:
        shared = self._recovery(scope, base_name, settings)
        impl = implementation(spec)
        name = function_name(base_name, spec.key)
        here = Construct(scope, f"fn-{spec.key}")
        log_group = shared.log_group(here, "logs", f"/aws/lambda/{name}")
        shared.function_log_groups[spec.key] = log_group
        role = aws.IamRole(
            here,
            "role",
            name=function_role_name(base_name, spec.key),
            description=f"healstack {spec.key}: only what this step does",
            path=ROLE_PATH,
            # account only: Lambda sends no aws:SourceArn when it assumes an execution role
            # (AWS documents SourceArn for what invokes a function, and lambda:SourceFunctionArn
            # for calls made with the role's credentials, not for the AssumeRole itself)
            assume_role_policy=assume_role("lambda.amazonaws.com", shared.account.account),
        )
        # the key through the services this function uses it with: Lambda (its encrypted
        # environment), SQS (the DLQ), SNS (the topic), DynamoDB (the store)
        key_services = ["lambda", "sqs"]
        statements = [
            allow(["logs:CreateLogStream", "logs:PutLogEvents"], f"{log_group.arn}:*"),
            allow(TRACING.actions, "*"),
        ]
        environment = {"HEALSTACK_RECOVERY": base_name}
        environment.update({f"HEALSTACK_{k.upper()}": v for k, v in sorted(spec.config.items())})
        if settings.hub is None:
            statements.extend(step_statements(impl, spec.target_kind, shared.account, scope_tag))
        else:
            # a hub acts in the event's account and region through the member's execution
            # role, which holds the step's permissions (member.py): here only the AssumeRole
            statements.extend(hub_statements(impl, settings.hub, base_name, shared.account))
            environment.update(hub_environment(spec, impl, settings.hub, base_name, shared.account))
        if spec.uses_notifier:
            statements.append(allow(["sns:Publish"], notifier.id))
            environment["HEALSTACK_TOPIC_ARN"] = notifier.id
            shared.add_publisher(function_role_name(base_name, spec.key))
            key_services.append("sns")
        if spec.uses_store:
            assert shared.store is not None, "create the store before the functions that use it"
            statements.extend(store_statements(shared.store.id, impl.store))
            environment["HEALSTACK_TABLE"] = shared.store.name
            key_services.append("dynamodb")
        timeout = LAMBDA_TIMEOUT_SECONDS
        if spec.platform is not None:
            # the platform's own step: exactly the permissions its playbook declares (named
            # actions on named resources; the model refuses wildcards), its own timeout
            code = spec.platform
            for actions, resources in code.permissions:
                if resources == ("*",):
                    # read-only actions the playbook gave a written reason for (the model
                    # refuses "*" for anything else): not healstack's reviewed list
                    statements.append(
                        {"Effect": "Allow", "Action": sorted(actions), "Resource": "*"}
                    )
                else:
                    statements.append(allow(actions, list(resources)))
            timeout = code.timeout_seconds
            shared.platform_code[spec.key] = code
        statements.append(allow(["sqs:SendMessage"], shared.dead_letter_queue.arn))
        statements.extend(key_use(shared, key_services, function=name))
        role_policy = aws.IamRolePolicy(
            here, "policy", name="least-privilege", role=role.id, policy=policy(*statements)
        )
        if spec.platform is not None:
            package = platform_package(
                spec.platform.name, spec.platform.function, Path(spec.platform.file)
            )
        else:
            package = packaging.package_modules(name, self._modules(impl))
        asset = TerraformAsset(
            here, "code", path=str(package.write(packaging.scratch_dir())), type=AssetType.FILE
        )
        # with the pipeline, only code the recovery's Signer profile signed deploys (C1)
        from healstack.providers.aws import signing  # builds on this module's bindings

        code_signing = (
            signing.for_recovery(scope, base_name, settings) if settings.pipeline else None
        )
        fn = aws.LambdaFunction(
            here,
            "function",
            function_name=name,
            description=spec.description[:256],
            role=role.arn,
            handler=impl.handler,
            runtime=LAMBDA_RUNTIME,
            architectures=[LAMBDA_ARCHITECTURE],
            timeout=timeout,
            memory_size=LAMBDA_MEMORY_MB,
            reserved_concurrent_executions=settings.reserved_concurrency,
            filename=asset.path,
            source_code_hash=package.sha256_base64,
            publish=True,  # each code change is a new version; the alias decides what serves
            environment={"variables": environment},
            kms_key_arn=shared.key_arn,
            logging_config={
                "log_format": "JSON",
                "log_group": log_group.name,
                "application_log_level": "INFO",
                "system_log_level": "WARN",
            },
            tracing_config={"mode": "Active"},
            # asynchronous invocations (the finalizer rule) that still fail land here
            dead_letter_config={"target_arn": shared.dead_letter_queue.arn},
            code_signing_config_arn=code_signing.config_arn if code_signing else None,
            depends_on=[log_group, role_policy],
        )
        if code_signing is not None:  # the pipeline signs its first code (signing.py)
            code_signing.add_function(spec.key, name, fn, asset.path, package.sha256_base64)
        declare_skips(fn, "CKV_AWS_117")  # CKV_AWS_272: code signing, not a skip
        alias = aws.LambdaAlias(
            here,
            "live",
            name=LIVE_ALIAS,
            description="the version the workflow invokes",
            function_name=fn.function_name,
            function_version=fn.version,
            # with a pipeline, its gradual rollouts move the alias: terraform must not undo them
            lifecycle=(
                {"ignore_changes": ["function_version", "routing_config"]}
                if settings.pipeline
                else None
            ),
        )
        if spec.purpose == "decide":
            self._decision_url(here, spec, fn, alias)
        return FunctionHandle(spec.key, name, alias.arn, fn, role)

    @staticmethod
    def _decision_url(here: Construct, spec: FunctionSpec, fn: Any, alias: Any) -> None:
        """Where approvers answer: a function URL on the live alias that AWS lets only
        IAM-signed calls through (``AWS_IAM``), and only from the playbook's approvers (the
        function checks the caller again, and records who it was)."""
        approvers = [a for a in spec.config.get("approvers", "").split(",") if a]
        for approver in approvers:
            problem = principal_problem(approver)
            if problem is not None:
                raise UsageError(f"approval.approvers: {problem}")
        aws.LambdaFunctionUrl(
            here,
            "url",
            function_name=fn.function_name,
            qualifier=alias.name,
            authorization_type="AWS_IAM",
        )
        for index, approver in enumerate(approvers):
            aws.LambdaPermission(
                here,
                f"approver-{index}",
                statement_id=f"Approver{index}",
                action="lambda:InvokeFunctionUrl",
                function_name=fn.function_name,
                qualifier=alias.name,
                principal=approver,
                function_url_auth_type="AWS_IAM",
            )

    @staticmethod
    def _modules(impl: StepImplementation) -> list[str]:
        """The handler's own module plus every module that is no other handler's."""
        return function_modules(impl)  # shared with `healstack package`

    @building
    def workflow(
        self,
        scope: Construct,
        workflow: Workflow,
        base_name: str,
        functions: Mapping[str, FunctionHandle],
        settings: DeploymentSettings,
    ) -> WorkflowHandle:
        shared = self._recovery(scope, base_name, settings)
        log_group = shared.log_group(scope, "workflow-logs", f"/aws/vendedlogs/states/{base_name}")
        machine_arn = shared.account.arn(
            "arn:{partition}:states:{region}:{account}:stateMachine:" + base_name
        )
        role = aws.IamRole(
            scope,
            "workflow-role",
            name=base_name + ROLE_SUFFIX_WORKFLOW,
            description="healstack workflow: invoke its own functions, log, trace",
            path=ROLE_PATH,
            # only this state machine (by name: its arn attribute needs the role first)
            assume_role_policy=assume_role(
                "states.amazonaws.com", shared.account.account, machine_arn
            ),
        )
        arns = [functions[key].id for key in workflow.functions]
        # the key through Step Functions (its encrypted executions) and DynamoDB (the store)
        key_services = ["states"]
        statements = [
            allow(["lambda:InvokeFunction"], [*arns, *(f"{a}:*" for a in arns)]),
            allow(list(STATE_MACHINE_LOG_DELIVERY), "*"),
            allow(["xray:GetSamplingRules", "xray:GetSamplingTargets", *TRACING.actions], "*"),
        ]
        store_name = None
        if workflow.store is not None:
            assert shared.store is not None, "create the store before the workflow"
            statements.extend(store_statements(shared.store.id, workflow_store_writes(workflow)))
            store_name = shared.store.name
            key_services.append("dynamodb")
        statements.extend(key_use(shared, key_services))
        role_policy = aws.IamRolePolicy(
            scope,
            "workflow-policy",
            name="least-privilege",
            role=role.id,
            policy=policy(*statements),
        )
        machine = aws.SfnStateMachine(
            scope,
            "state-machine",
            name=base_name,
            type="STANDARD",
            role_arn=role.arn,
            definition=render_json(
                workflow, {k: functions[k].id for k in workflow.functions}, store_name
            ),
            logging_configuration={
                "log_destination": f"{log_group.arn}:*",
                # every state's start, end and error (the path each recovery took) without
                # the events, results and approval tokens unless asked for (L5)
                "include_execution_data": settings.log_execution_data,
                "level": "ALL",
            },
            tracing_configuration={"enabled": True},
            encryption_configuration={
                "type": "CUSTOMER_MANAGED_KMS_KEY",
                "kms_key_id": shared.key_arn,
                "kms_data_key_reuse_period_seconds": KMS_DATA_KEY_REUSE_SECONDS,
            },
            depends_on=[role_policy],
        )
        if not settings.log_execution_data:
            declare_skips(machine, "CKV_AWS_285")
        if workflow.finalizer is not None:
            self._finalizer(scope, shared, machine, functions[workflow.finalizer], settings)
        return WorkflowHandle(workflow.name, base_name, machine.arn, machine, role)

    @staticmethod
    def _finalizer(
        scope: Construct,
        shared: _Recovery,
        machine: Any,
        function: FunctionHandle,
        settings: DeploymentSettings,
    ) -> None:
        """Executions that time out or are aborted run no state of their own: tell the
        finalizer function (which notifies and releases the lock) through EventBridge."""
        rule = aws.CloudwatchEventRule(
            scope,
            "finalizer-rule",
            name=f"{shared.base_name}{FINALIZER_SUFFIX}",
            description="healstack: executions that ended without a terminal state",
            event_pattern=json.dumps(
                {
                    "source": ["aws.states"],
                    "detail-type": ["Step Functions Execution Status Change"],
                    "detail": {
                        "status": ["TIMED_OUT", "ABORTED"],
                        "stateMachineArn": [machine.arn],
                    },
                },
                indent=2,
            ),
            state="ENABLED",
        )
        shared.rule_names["finalizer"] = rule.name
        aws.LambdaPermission(
            scope,
            "finalizer-permission",
            statement_id="AllowFinalizerRule",
            action="lambda:InvokeFunction",
            function_name=function.name,
            qualifier=LIVE_ALIAS,  # the target is the live alias (function.id)
            principal="events.amazonaws.com",
            source_arn=rule.arn,
        )
        shared.event_target(scope, "finalizer", rule, function.id, settings)

    @building
    def trigger(
        self,
        scope: Construct,
        spec: TriggerSpec,
        base_name: str,
        workflow: WorkflowHandle,
        settings: DeploymentSettings,
    ) -> TriggerHandle:
        shared = self._recovery(scope, base_name, settings)
        # only events of this account: the default bus may also receive other accounts'
        # events (a central-ops set-up), and acting on them would touch this account's
        # same-named resources (ResolveTarget refuses them too)
        pattern = trigger_pattern(spec.event_pattern, shared.account.account)
        bus_name: str | None = None
        hub_bus: Any = None
        if settings.hub is not None:
            if spec.bus is not None:
                raise UsageError(
                    f'trigger.bus: "{spec.bus.name}": a hub takes its events on its own hub bus '
                    "(remove trigger.bus, or deploy without [hub])"
                )
            # the members' events, forwarded to the hub's bus (ResolveTarget checks again)
            pattern = trigger_pattern(spec.event_pattern, settings.hub.members)
            hub_bus = self._hub_bus(scope, settings.hub, base_name)
            bus_name = str(hub_bus.name)
        elif spec.bus is not None:
            bus_name = self._event_bus(scope, spec.bus, shared)
        rule = aws.CloudwatchEventRule(
            scope,
            "rule",
            name=base_name,
            description=spec.description[:512],
            event_bus_name=bus_name,
            event_pattern=json.dumps(pattern, indent=2),
            state="ENABLED",
        )
        shared.rule_names["trigger"] = rule.name
        role = aws.IamRole(
            scope,
            "trigger-role",
            name=base_name + ROLE_SUFFIX_TRIGGER,
            path=ROLE_PATH,
            description="healstack trigger: start this one state machine",
            assume_role_policy=assume_role("events.amazonaws.com", shared.account.account),
        )
        aws.IamRolePolicy(
            scope,
            "trigger-policy",
            name="least-privilege",
            role=role.id,
            policy=policy(allow(["states:StartExecution"], workflow.id)),
        )
        # a delivery retried past the age ResolveTarget refuses is dead-lettered (alarmed,
        # redrivable) rather than started only to be refused
        shared.event_target(
            scope,
            "recovery-workflow",
            rule,
            workflow.id,
            settings,
            role.arn,
            max_event_age_seconds=spec.max_event_age_seconds,
        )
        return TriggerHandle(
            spec.key,
            rule.name,
            shared.dead_letter_queue.url,
            rule,
            hub_bus_id=str(hub_bus.arn) if hub_bus is not None else None,
        )

    @staticmethod
    def _hub_bus(scope: Construct, hub: Hub, base_name: str) -> Any:
        """The hub's bus of this recovery (named as the recovery): the members' forwarding
        rules put their events here; nobody outside the member accounts (and, when given,
        the organisation) may."""
        bus = aws.CloudwatchEventBus(scope, "hub-bus", name=hub_bus_name(base_name))
        aws.CloudwatchEventBusPolicy(
            scope,
            "hub-bus-policy",
            event_bus_name=bus.name,
            policy=policy(*hub_bus_statements(hub, bus.arn)),
        )
        return bus

    @staticmethod
    def _event_bus(scope: Construct, spec: EventBusSpec, shared: _Recovery) -> str:
        """A bus of the platform's own: only the named publishers may put events on it."""
        bus = aws.CloudwatchEventBus(scope, "event-bus", name=spec.name)
        aws.CloudwatchEventBusPolicy(
            scope,
            "event-bus-policy",
            event_bus_name=bus.name,
            policy=policy(
                {
                    "Sid": "NamedPublishersOnly",
                    "Effect": "Allow",
                    "Principal": {"AWS": sorted(spec.publishers)},
                    "Action": "events:PutEvents",
                    "Resource": bus.arn,
                },
                {
                    "Sid": "NobodyElse",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "events:PutEvents",
                    "Resource": bus.arn,
                    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": sorted(spec.publishers)}},
                },
            ),
        )
        return str(bus.name)

    @building
    def monitoring(
        self, scope: Construct, parts: RecoveryParts, base_name: str, settings: DeploymentSettings
    ) -> MonitoringHandle:
        shared = self._recovery(scope, base_name, settings)
        watched = monitoring.Watched(
            base_name=base_name,
            region=settings.region,
            topic_arn=parts.notifier.id,
            state_machine_arn=parts.workflow.id,
            rule_names=dict(shared.rule_names),
            queue_name=shared.dead_letter_queue.name,
            functions={key: fn.name for key, fn in parts.functions.items()},
            log_groups=shared.function_log_groups,
            per_member=settings.hub is not None,
        )
        alarms = monitoring.create(scope, watched)
        return MonitoringHandle(
            {k: a.alarm_name for k, a in alarms.items()},
            base_name,
            {key: alarms[f"step-errors-{key}"].alarm_name for key in parts.functions},
            metrics=monitoring.metrics(watched, OUTCOMES),
        )

    @building
    def grant(self, scope: Construct, id_: str, what: Grant, target_id: str, principal: Any) -> Any:
        """An inline policy on the platform's role: ``start`` = states:StartExecution on the
        state machine; ``approve`` = lambda:InvokeFunctionUrl on the decide function, IAM-
        authenticated URLs only (the function still checks the caller is one of the
        playbook's approvers, and records who decided)."""
        role = principal if isinstance(principal, str) else getattr(principal, "name", None)
        if role is None:
            raise UsageError(
                f"grant {what}: give a role (a construct with a name, or the role's name)"
            )
        if what == "start":
            statement = allow(["states:StartExecution"], target_id)
        else:
            statement = allow(
                ["lambda:InvokeFunctionUrl"],
                target_id,
                Condition={"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
            )
        return aws.IamRolePolicy(
            scope, id_, name=f"healstack-{what}-{id_}"[:128], role=role, policy=policy(statement)
        )

    @building
    def pipeline(
        self,
        scope: Construct,
        spec: PipelineSpec,
        base_name: str,
        functions: Mapping[str, FunctionHandle],
        settings: DeploymentSettings,
    ) -> PipelineHandle:
        from healstack.providers.aws.pipeline import build_pipeline  # builds on this module

        shared = self._recovery(scope, base_name, settings)
        return build_pipeline(scope, spec, base_name, functions, settings, shared)


def workflow_store_writes(workflow: Workflow) -> dict[str, tuple[str, ...]]:
    """The workflow's direct store writes (``asl.DYNAMODB``: lock/record put, count update,
    release delete): action -> the leading keys its items have (``lock#*``, ...), read
    from each write's key template. A key that is not a template with a literal prefix
    allows any item for that action (the IAM test then fails: fix the template)."""
    found: dict[str, set[str]] = {}
    for state in workflow.states:
        if not isinstance(state, StoreWrite):
            continue
        call = DYNAMODB[state.kind]
        action = "dynamodb:" + call[0].upper() + call[1:]
        if isinstance(state.key, Template):
            pattern = state.key.text.split("{", 1)[0] + "*"
        else:
            pattern = state.key if isinstance(state.key, str) else "*"
        found.setdefault(action, set()).add(pattern)
    return {action: tuple(sorted(keys)) for action, keys in sorted(found.items())}


def store_statements(table_arn: str, writes: Mapping[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    """One statement per set of leading keys: each action only on items whose partition key
    matches (``dynamodb:LeadingKeys``); a ``*`` key (or none) leaves the action unscoped."""
    by_keys: dict[tuple[str, ...], list[str]] = {}
    for action, keys in sorted(writes.items()):
        by_keys.setdefault(tuple(sorted(keys)), []).append(action)
    out = []
    for keys, actions in by_keys.items():
        if not keys or "*" in keys or "" in keys:
            out.append(allow(actions, table_arn))
        else:
            condition = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(keys)}}
            out.append(allow(actions, table_arn, Condition=condition))
    return out


def key_use(
    shared: _Recovery, services: list[str], function: str | None = None
) -> list[dict[str, Any]]:
    """A role's use of the recovery's key, only through the services it uses it with
    (``kms:ViaService``): Lambda only decrypts, and only ``function``'s own environment
    (its encryption context names the function); the others also make data keys (SQS, SNS,
    DynamoDB, Step Functions encrypt with it)."""

    def via(names: list[str]) -> dict[str, Any]:
        endpoints = [shared.account.arn(f"{n}.{{region}}.amazonaws.com") for n in names]
        return {
            "StringEquals": {"kms:ViaService": endpoints[0] if len(endpoints) == 1 else endpoints}
        }

    out = []
    if "lambda" in services:
        condition = via(["lambda"])
        if function is not None:
            condition["StringEquals"]["kms:EncryptionContext:LambdaFunctionName"] = function
        out.append(allow(["kms:Decrypt"], shared.key_arn, Condition=condition))
    others = sorted(n for n in services if n != "lambda")
    if others:
        out.append(allow(list(KEY_USE_ACTIONS), shared.key_arn, Condition=via(others)))
    return out


def store_deletion_protection(settings: DeploymentSettings) -> bool:
    """``store_deletion_protection``, except in a local emulator (``--aws-endpoint``): its
    stacks are destroyed at the end of every run (``tests/emulator``, ``./dev emulator``),
    and ``healstack synth`` and ``cdktf synth`` learn of the emulator from the endpoint
    alone (``HEALSTACK_AWS_ENDPOINT``), so this is where the emulator turns it off."""
    emulated = bool(settings.provider_options.get("aws", {}).get("endpoint"))
    return settings.store_deletion_protection and not emulated


def hub_bus_statements(hub: Hub, bus_arn: str) -> list[dict[str, Any]]:
    """The hub bus's policy: PutEvents by principals of the member accounts (of the
    organisation too, when given); an explicit deny for everyone else."""
    members = list(hub.members)
    allowed: dict[str, Any] = {
        "Sid": "MemberAccountsOnly",
        "Effect": "Allow",
        "Principal": {"AWS": members if len(members) > 1 else members[0]},
        "Action": "events:PutEvents",
        "Resource": bus_arn,
    }
    if hub.organization_id is not None:
        allowed["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": hub.organization_id}}
    statements = [
        allowed,
        {
            "Sid": "NoOtherAccount",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": bus_arn,
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": members}},
        },
    ]
    if hub.organization_id is not None:
        statements.append(
            {
                "Sid": "NoOtherOrganization",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": hub.organization_id}},
            }
        )
    return statements


#: the hub's functions read these (``healstack_lambda.aws`` and ``events``)
MEMBER_ROLE_ENV = "HEALSTACK_MEMBER_ROLE"
MEMBER_ACCOUNTS_ENV = "HEALSTACK_MEMBER_ACCOUNTS"
MEMBER_REGIONS_ENV = "HEALSTACK_MEMBER_REGIONS"


def acts_in_members(spec: FunctionSpec, impl: StepImplementation) -> bool:
    """A hub's function that acts on the target: it assumes the member's execution role
    (``member.acting_functions`` trusts exactly these)."""
    return bool(impl.permissions)


def member_role_arns(hub: Hub, base_name: str, account: _Account) -> list[str]:
    """The execution roles of ``base_name``'s member parts: one per member account and region."""
    return [
        role_arn(account.partition, member, member_role_name(base_name, region))
        for member in hub.members
        for region in hub.regions_or(account.region)
    ]


def hub_statements(
    impl: StepImplementation, hub: Hub, base_name: str, account: _Account
) -> list[dict[str, Any]]:
    """What an acting function of a hub holds instead of the step's permissions: assuming
    the member execution roles of its playbook, in the listed accounts and regions."""
    if not impl.permissions:
        return []
    return [allow(["sts:AssumeRole"], member_role_arns(hub, base_name, account))]


def hub_environment(
    spec: FunctionSpec, impl: StepImplementation, hub: Hub, base_name: str, account: _Account
) -> dict[str, str]:
    """A hub function's view of the members: the acting ones the role to assume (the
    account and region left as ``{account}`` and ``{region}``); ResolveTarget and notify the
    accounts and regions an event may come from."""
    if acts_in_members(spec, impl):
        pattern = role_arn(account.partition, "{account}", member_role_name(base_name, "{region}"))
        return {MEMBER_ROLE_ENV: pattern}
    if spec.purpose in ("resolve_target", "notify"):
        return {
            MEMBER_ACCOUNTS_ENV: ",".join(hub.members),
            MEMBER_REGIONS_ENV: ",".join(hub.regions_or(account.region)),
        }
    return {}


def trigger_pattern(
    event_pattern: Mapping[str, Any], account: str | Sequence[str]
) -> dict[str, Any]:
    """The playbook's pattern narrowed to events of ``account``: what a trigger rule matches
    (the hub's own, and a member's rule forwarding to the hub: ``member.py``)."""
    accounts = [account] if isinstance(account, str) else sorted(account)
    return {**event_pattern, "account": accounts}


def step_statements(
    impl: StepImplementation,
    kind: str,
    account: _Account,
    scope_tag: Mapping[str, str] | None,
) -> list[dict[str, Any]]:
    """What a step does to its target, as IAM statements in ``account`` (its partition,
    region and account fill the ARN templates); the mutating ones carry ``scope_tag`` (the
    playbook's ``require_tag``) as a condition. The step's function role gets them, and a
    member account's execution role for the playbook (``member.py``) gets the same."""
    return [_statement(permission, kind, account, scope_tag) for permission in impl.permissions]


def _statement(
    permission: Permission, kind: str, account: _Account, scope_tag: Mapping[str, str] | None
) -> dict[str, Any]:
    if permission.resource == "*":
        return allow(permission.actions, "*")
    extra: dict[str, Any] = {}
    if permission.mutating and scope_tag:
        ((tag, value),) = scope_tag.items()
        extra["Condition"] = {"StringEquals": {f"{kinds.get(kind).tag_condition_key}/{tag}": value}}
    return allow(permission.actions, account.arn(permission.resource), **extra)


__all__ = ["AwsProvider"]
