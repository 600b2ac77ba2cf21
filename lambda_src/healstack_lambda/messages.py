"""Message pieces shared by the notify and approval functions."""

from __future__ import annotations

import re

TOPIC_ENV = "HEALSTACK_TOPIC_ARN"
SUBJECT_MAX = 99  # SNS: "less than 100 characters"
EXECUTION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):states:(?P<region>[a-z0-9-]+):\d{12}:execution:[^:]+:[^:]+$"
)


def execution_url(execution_arn: str) -> str | None:
    """Console link for a Step Functions execution (None for a non-ARN or non-aws partition)."""
    match = EXECUTION_ARN.match(execution_arn)
    if match is None or match.group("partition") != "aws":
        return None
    region = match.group("region")
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def subject_line(
    playbook: str,
    outcome: str,
    resource_id: str | None,
    attempts: int | None,
    *,
    reason: str | None = None,
) -> str:
    """``healstack <playbook>: <outcome> <resource> (<n> attempts)``, SNS-safe, <= 99 chars;
    a reason code follows the resource: ``healstack <pb>: skipped i-0abc: stopped on purpose``."""
    parts = [f"healstack {playbook}: {outcome}"]
    if resource_id:
        parts.append(resource_id)
    if reason:
        parts[-1] += ":"
        parts.append(reason.replace("_", " "))
    if attempts is not None:
        parts.append(f"({attempts} attempt{'s' if attempts != 1 else ''})")
    text = " ".join(parts)
    text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 3] + "..."
