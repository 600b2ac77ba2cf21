"""AWS resource names and their limits: one place, checked before any binding is loaded.

A limit broken here would otherwise surface only at ``terraform apply``, after review.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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

#: every role healstack creates lives here (``iam:PassRole`` guards can name them as a set)
ROLE_PATH = "/healstack/"

#: suffixes of the longest names derived from a function key / the playbook
ROLE_SUFFIX_FUNCTION = "-fn"
ROLE_SUFFIX_WORKFLOW = "-sfn"
ROLE_SUFFIX_TRIGGER = "-events"
DLQ_SUFFIX = "-dlq"
#: the alias of every function (always a whole published version, never $LATEST): the workflow
#: invokes it, the pipeline moves it, the decide function's URL sits on it
LIVE_ALIAS = "live"
FINALIZER_SUFFIX = "-ended"


def function_name(base: str, key: str) -> str:
    return f"{base}-{key}"


def function_role_name(base: str, key: str) -> str:
    """A step function's role: the hub's, and what a member's execution role trusts."""
    return function_name(base, key) + ROLE_SUFFIX_FUNCTION


def role_arn(partition: str, account: str, name: str) -> str:
    """The ARN of a role healstack created (every one of them lives on ``ROLE_PATH``)."""
    return f"arn:{partition}:iam::{account}:role{ROLE_PATH}{name}"


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
        out.append((function_role_name(base, key), IAM_ROLE, f"function {key} role"))
        out.append((f"/aws/lambda/{fn}", LOG_GROUP, f"function {key} log group"))
    return out


#: a member account and region of a hub (``member.py``): the rule forwarding a playbook's
#: events to the hub, its dead-letter queue, and two roles per region (IAM names are global to
#: an account, so each region's roles carry the region and the regions stay independent)
MEMBER_RULE_SUFFIX = "-to-hub"
MEMBER_FORWARD_SUFFIX = "-fw"
#: member names are checked for the longest region name (ap-southeast-2, cn-northwest-1,
#: us-isob-east-1): the region is the deployment's, known to Terraform only
MAX_REGION_LENGTH = 14


def member_role_name(base: str, region: str) -> str:
    """The execution role the hub's steps assume in a member account, in ``region``: the
    member creates it and the hub names it (``role_arn``) from the event's account and region."""
    return f"{base}-{region}"


def hub_bus_name(base: str) -> str:
    """A hub's bus for one playbook, in the hub account and region: its members' forwarding
    rules put the playbook's events there (the hub stack outputs its ARN)."""
    return base


def member_forward_role_name(base: str, region: str) -> str:
    """The role EventBridge uses in a member account to put the playbook's events on the hub's bus."""
    return member_role_name(base, region) + MEMBER_FORWARD_SUFFIX


def member_rule_name(base: str) -> str:
    return base + MEMBER_RULE_SUFFIX


def member_names_for(base: str, region: str) -> list[tuple[str, NameRule, str]]:
    """(name, rule, what) for every physical name of a playbook's member part."""
    return [
        (member_rule_name(base), EVENT_RULE, "member forwarding rule"),
        (member_rule_name(base) + DLQ_SUFFIX, SQS_QUEUE, "member dead-letter queue"),
        (member_role_name(base, region), IAM_ROLE, "member execution role"),
        (member_forward_role_name(base, region), IAM_ROLE, "member forwarding role"),
    ]


def member_problems(base: str) -> list[str]:
    """What AWS would reject among a member part's names, for any region; empty when all fit."""
    found = []
    for name, rule, what in member_names_for(base, "r" * MAX_REGION_LENGTH):
        if len(name) > rule.max_length:
            over = len(name) - rule.max_length
            found.append(
                f'makes the {what} "{name}" {len(name)} characters with the longest region '
                f"name; AWS allows {rule.max_length} (shorten the playbook name, prefix or "
                f"stage by {over})"
            )
        elif not rule.pattern.match(name):
            found.append(f'makes the {what} "{name}", which AWS rejects (use only {rule.allowed})')
    return found


def max_member_base_length() -> int:
    """The longest ``<prefix>-<playbook>[-<stage>]`` whose member names AWS accepts in any region."""
    return max(length for length in range(1, 256) if not member_problems("a" * length))


#: user-defined tags (AWS "Tagging best practices", tag naming limits): key 1-128 and value
#: 0-256 characters of letters, digits, spaces and ``_ . : / = + - @``; ``aws:`` is reserved;
#: at most 50 tags on a resource (healstack's own ``managed-by`` tag takes one)
TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}$")
TAG_RESERVED_PREFIX = "aws:"
MAX_USER_TAGS = 49


def tag_problems(tags: Mapping[str, str]) -> list[str]:
    """What AWS would reject in ``tags`` (one line each, with the fix); empty when all fit."""
    found = []
    if len(tags) > MAX_USER_TAGS:
        found.append(f"{len(tags)} tags; AWS allows {MAX_USER_TAGS} besides healstack's own")
    for key, value in tags.items():
        if key.lower().startswith(TAG_RESERVED_PREFIX):
            found.append(f'tag "{key}": AWS reserves the "{TAG_RESERVED_PREFIX}" prefix')
        elif not TAG_KEY.match(key):
            found.append(f'tag "{key}": a key is 1-128 letters, digits, spaces and _ . : / = + - @')
        if not TAG_VALUE.match(value):
            found.append(
                f'tag "{key}": its value is 0-256 letters, digits, spaces and _ . : / = + - @'
            )
    return found


#: a principal a playbook may name (an approver, a bus publisher): an IAM role or user of
#: some account (with an optional path), or an account's root
PRINCIPAL_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::\d{12}:(?:root|(?:role|user)/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64})$"
)


def principal_problem(principal: str, *, wildcards: bool = False) -> str | None:
    """Why AWS would not take ``principal`` as an IAM principal ARN; None when it would.
    ``wildcards``: ``*`` may stand for part of a name (a policy condition with ArnLike, e.g.
    SSO roles ``AWSReservedSSO_Deployer_*``), never for the account."""
    candidate = principal.replace("*", "x") if wildcards else principal
    if PRINCIPAL_ARN.match(candidate):
        return None
    return (
        f'"{principal}" is not an IAM role, user or account ARN (use e.g. '
        "arn:aws:iam::123456789012:role/oncall)"
    )


class AwsNamingRules:
    """Implements ``NamingRules`` for AWS."""

    def tag_problems(self, tags: Mapping[str, str]) -> list[str]:
        return tag_problems(tags)

    def principal_problem(self, principal: str, *, wildcards: bool = False) -> str | None:
        return principal_problem(principal, wildcards=wildcards)

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
