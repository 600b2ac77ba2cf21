"""Ask the approvers to decide a destructive action, then report their decision.

One function, two phases (``params.phase``), both plain invocations: no task token exists,
so there is nothing an approver, a mailbox or a log reader could replay or forward.

- ``request``: record the request in the store (``approvals``: pending, with its expiry)
  and publish who may decide and how (``healstack approve|reject ID``). Idempotent: a retry
  finds the request already recorded and does not publish again.
- ``await``: read the request back. Pending -> ``ApprovalPending`` (the workflow's poll
  retries until the approval's timeout, then escalates); rejected -> ``ApprovalRejected``
  naming who rejected; approved -> ``{"approved": true, "decided_by": ...}``.

Only the decide function (``decide.decide``) can change a request, and it checks who the
approver is. Payload: the step payload plus ``params.phase``, ``params.action`` and, for a
request, ``params.timeout_seconds``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from botocore.exceptions import ClientError

from . import approvals, aws
from .errors import ApprovalPending, ApprovalRejected, InvalidInput, aws_errors
from .messages import TOPIC_ENV, execution_url, subject_line
from .step import StepRequest, run_step

TABLE_ENV = "HEALSTACK_TABLE"
PLAYBOOK_ENV = "HEALSTACK_PLAYBOOK"
MAX_TIMEOUT_SECONDS = 86400


def _table() -> str:
    table = os.environ.get(TABLE_ENV, "").strip()
    if not table:
        raise InvalidInput(f"environment variable {TABLE_ENV} is not set; no store")
    return table


def _key(request: StepRequest) -> approvals.ApprovalKey:
    action = request.params.get("action")
    if not isinstance(action, str):
        raise InvalidInput("params.action must name the action to approve")
    return approvals.key_for(request.execution_id, action, request.attempt)


def request_message(
    request: StepRequest, key: approvals.ApprovalKey, timeout: int
) -> dict[str, Any]:
    """What the approvers read: what, on which resource, until when, and how to answer."""
    playbook = os.environ.get(PLAYBOOK_ENV) or request.playbook
    return {
        "playbook": request.playbook,
        "outcome": "approval_requested",
        "action": key.action,
        "resource_id": request.resource_id,
        "attempts": request.attempt,
        "dry_run": request.dry_run,
        "execution_arn": request.execution_id,
        "execution_url": execution_url(request.execution_id),
        "approval_id": key.id,
        "expires_in_seconds": timeout,
        **({"account": request.account, "region": request.region} if request.account else {}),
        "approve": f"healstack approve {key.id} --playbook <{playbook}.yaml>",
        "reject": f"healstack reject {key.id} --playbook <{playbook}.yaml> --reason '...'",
        "who": "only the playbook's approvers; healstack checks who you are",
    }


def _request(request: StepRequest) -> dict[str, Any]:
    key = _key(request)
    timeout = request.params.get("timeout_seconds")
    if isinstance(timeout, bool) or not isinstance(timeout, int):
        raise InvalidInput("params.timeout_seconds must be a whole number of seconds")
    if not 60 <= timeout <= MAX_TIMEOUT_SECONDS:
        raise InvalidInput(f"params.timeout_seconds must be 60 to {MAX_TIMEOUT_SECONDS}")
    topic_arn = os.environ.get(TOPIC_ENV, "").strip()
    if not topic_arn:
        raise InvalidInput(f"environment variable {TOPIC_ENV} is not set; no topic to ask")
    table = _table()
    now = int(time.time())
    item = {
        **key.item_key(),
        "status": {"S": approvals.PENDING},
        "resource_id": {"S": request.resource_id},
        "action": {"S": key.action},
        "attempt": {"N": str(key.attempt)},
        "playbook": {"S": request.playbook},
        "execution": {"S": request.execution_id},
        "requested_at": {"N": str(now)},
        "expires_at": {"N": str(now + timeout)},
    }
    if request.account:  # a hub's: the member the action would run in
        item["account"] = {"S": request.account}
        item["region"] = {"S": str(request.region)}
    try:
        with aws_errors(table):
            aws.client("dynamodb").put_item(
                TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return {"requested": True, "approval_id": key.id, "message_id": None}  # a retry
    message = request_message(request, key, timeout)
    subject = subject_line(
        request.playbook, f"approve {key.action}?", request.resource_id, request.attempt
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
    return {"requested": True, "approval_id": key.id, "message_id": str(response["MessageId"])}


def _await(request: StepRequest) -> dict[str, Any]:
    key = _key(request)
    table = _table()
    with aws_errors(table):
        found = aws.client("dynamodb").get_item(
            TableName=table, Key=key.item_key(), ConsistentRead=True
        )
    item = found.get("Item")
    if item is None:
        raise InvalidInput(f"no approval request {key.id} in the store")
    status = item.get("status", {}).get("S")
    decided_by = item.get("decided_by", {}).get("S", "")
    if status == approvals.APPROVED:
        return {"approved": True, "approval_id": key.id, "decided_by": decided_by}
    if status == approvals.REJECTED:
        raise ApprovalRejected(f"approval {key.id} rejected by {decided_by}")
    raise ApprovalPending(f"approval {key.id} is not decided yet")


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: ``params.phase`` ``request`` or ``await`` (see module docstring)."""
    params = event.get("params") if isinstance(event, dict) else None
    phase = params.get("phase") if isinstance(params, dict) else None
    body = {"request": _request, "await": _await}.get(str(phase))
    if body is None:
        raise InvalidInput('params.phase must be "request" or "await"')
    return run_step(
        f"approval.{phase}",
        event,
        context,
        os.environ.get("HEALSTACK_TARGET_KIND", ""),
        body,
        allowed_params=("phase", "action", "timeout_seconds"),
    )
