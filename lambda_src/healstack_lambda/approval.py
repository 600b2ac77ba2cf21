"""Ask a person to approve a destructive action; the workflow waits on the task token.

The state machine calls this with ``lambda:invoke.waitForTaskToken``: this function only
publishes the request (with the exact commands to approve or reject) and returns; the
workflow resumes when someone calls SendTaskSuccess (approve) or SendTaskFailure with
error ``ApprovalRejected`` (reject), or escalates when the task times out.
"""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

from . import aws
from .errors import InvalidInput, aws_errors
from .messages import TOPIC_ENV, execution_url, subject_line
from .step import StepRequest, require_str, run_step

REJECT_ERROR = "ApprovalRejected"


def approval_message(
    request: StepRequest, token: str, action: str, timeout: int | None
) -> dict[str, Any]:
    approve = (
        "aws stepfunctions send-task-success --task-token "
        f"{shlex.quote(token)} --task-output '{{\"approved\": true}}'"
    )
    reject = (
        "aws stepfunctions send-task-failure --task-token "
        f"{shlex.quote(token)} --error {REJECT_ERROR} --cause 'rejected by <name>'"
    )
    return {
        "playbook": request.playbook,
        "outcome": "approval_requested",
        "action": action,
        "resource_id": request.resource_id,
        "attempts": request.attempt,
        "dry_run": request.dry_run,
        "execution_arn": request.execution_id,
        "execution_url": execution_url(request.execution_id),
        "expires_in_seconds": timeout,
        "approve": approve,
        "reject": reject,
    }


def _request(event: dict[str, Any], request: StepRequest) -> dict[str, Any]:
    token = require_str(event, "callback_token")
    action = request.params.get("action")
    if not isinstance(action, str) or not action:
        raise InvalidInput("params.action must name the action to approve")
    timeout = request.params.get("timeout_seconds")
    topic_arn = os.environ.get(TOPIC_ENV, "").strip()
    if not topic_arn:
        raise InvalidInput(f"environment variable {TOPIC_ENV} is not set; no topic to ask")
    message = approval_message(
        request, token, action, timeout if isinstance(timeout, int) else None
    )
    subject = subject_line(
        request.playbook, f"approve {action}?", request.resource_id, request.attempt
    )
    with aws_errors(topic_arn):
        response = aws.client("sns").publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=json.dumps(message),
            MessageAttributes={
                "outcome": {"DataType": "String", "StringValue": "approval_requested"},
                "playbook": {"DataType": "String", "StringValue": request.playbook},
            },
        )
    return {"requested": True, "message_id": str(response["MessageId"])}


def request(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: publish an approval request for ``params.action``."""
    return run_step(
        "approval.request",
        event,
        context,
        os.environ.get("HEALSTACK_TARGET_KIND", ""),
        lambda r: _request(event, r),
        allowed_params=("action", "timeout_seconds"),
    )
