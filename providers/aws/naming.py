"""AWS resource names and their limits: one place, checked before any binding is loaded.

A limit broken here would otherwise surface only at ``terraform apply``, after review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from healstack.providers.interfaces import DeploymentSettings


@dataclass(frozen=True)
class NameRule:
    what: str
    max_length: int
    pattern: re.Pattern[str]
    allowed: str


LAMBDA_FUNCTION = NameRule(
    "Lambda function name", 64, re.compile(r"^[A-Za-z0-9_-]+$"), "letters, digits, - and _"
)
STATE_MACHINE = NameRule(
    "state machine name", 80, re.compile(r"^[A-Za-z0-9_-]+$"), "letters, digits, - and _"
)
IAM_ROLE = NameRule(
    "IAM role name", 64, re.compile(r"^[\w+=,.@-]+$"), "letters, digits and +=,.@_-"
)
EVENT_RULE = NameRule(
    "EventBridge rule name", 64, re.compile(r"^[.\-_A-Za-z0-9]+$"), "letters, digits, . - and _"
)
SQS_QUEUE = NameRule(
    "SQS queue name", 80, re.compile(r"^[A-Za-z0-9_-]+$"), "letters, digits, - and _"
)
SNS_TOPIC = NameRule(
    "SNS topic name", 256, re.compile(r"^[A-Za-z0-9_-]+$"), "letters, digits, - and _"
)
LOG_GROUP = NameRule(
    "log group name", 512, re.compile(r"^[.\-_/#A-Za-z0-9]+$"), "letters, digits and ._-/#"
)
DYNAMODB_TABLE = NameRule(
    "DynamoDB table name", 255, re.compile(r"^[A-Za-z0-9_.-]+$"), "letters, digits, _ . and -"
)
KMS_ALIAS = NameRule(
    "KMS alias", 256, re.compile(r"^alias/[A-Za-z0-9/_-]+$"), "letters, digits and /_-"
)

#: suffixes of the longest names derived from a function key / the playbook
ROLE_SUFFIX_FUNCTION = "-fn"
ROLE_SUFFIX_WORKFLOW = "-sfn"
ROLE_SUFFIX_TRIGGER = "-events"
DLQ_SUFFIX = "-dlq"
FINALIZER_SUFFIX = "-ended"


def function_name(base: str, key: str) -> str:
    return f"{base}-{key}"


def names_for(base: str, function_keys: list[str]) -> list[tuple[str, NameRule, str]]:
    """(name, rule, the field that feeds it) for every physical name the stack will use."""
    out: list[tuple[str, NameRule, str]] = [
        (base, STATE_MACHINE, "state machine"),
        (base + ROLE_SUFFIX_WORKFLOW, IAM_ROLE, "workflow role"),
        (base, EVENT_RULE, "trigger rule"),
        (base + ROLE_SUFFIX_TRIGGER, IAM_ROLE, "trigger role"),
        (base + DLQ_SUFFIX, SQS_QUEUE, "dead-letter queue"),
        (base + FINALIZER_SUFFIX, EVENT_RULE, "finalizer rule"),
        (base, DYNAMODB_TABLE, "store table"),
        (base, SNS_TOPIC, "topic"),
        (f"/aws/vendedlogs/states/{base}", LOG_GROUP, "workflow log group"),
        (f"alias/{base}", KMS_ALIAS, "key alias"),
    ]
    for key in function_keys:
        fn = function_name(base, key)
        out.append((fn, LAMBDA_FUNCTION, f"function {key}"))
        out.append((fn + ROLE_SUFFIX_FUNCTION, IAM_ROLE, f"function {key} role"))
        out.append((f"/aws/lambda/{fn}", LOG_GROUP, f"function {key} log group"))
    return out


class AwsNamingRules:
    """Implements ``NamingRules`` for AWS."""

    def problems(
        self, playbook_name: str, function_keys: list[str], settings: DeploymentSettings
    ) -> list[tuple[str, str]]:
        base = settings.base_name(playbook_name)
        found: list[tuple[int, str, str]] = []
        for name, rule, _what in names_for(base, function_keys):
            if len(name) > rule.max_length:
                over = len(name) - rule.max_length
                found.append(
                    (
                        over,
                        "name",
                        f'makes the {rule.what} "{name}" {len(name)} characters; AWS allows '
                        f"{rule.max_length} (shorten the playbook name, prefix or stage by {over})",
                    )
                )
            elif not rule.pattern.match(name):
                found.append(
                    (
                        0,
                        "name",
                        f'makes the {rule.what} "{name}", which AWS rejects (use only {rule.allowed})',
                    )
                )
        # the worst first: shortening by its count fixes every length problem at once
        return [(path, message) for _, path, message in sorted(found, key=lambda f: -f[0])]
