"""Take an approver's decision on an approval request (behind an IAM-authenticated URL).

Approvers call the function's URL (``AuthType AWS_IAM``: AWS checks the signature and puts
the caller's identity into ``requestContext.authorizer.iam``), normally through
``healstack approve|reject ID``. The function, not the caller, decides whether the decision
counts:

- the caller must be one of the playbook's approvers (``$HEALSTACK_APPROVERS``, comma
  separated role or user ARNs; an assumed-role session counts as its role);
- healstack's own roles (``$HEALSTACK_RECOVERY-*``, the roles that asked) never decide;
- the request must exist, be pending and not have expired (one conditional write: a second
  decision, a late one or a replay is refused);
- the decision and who made it go into the request and the audit history.

Request body (JSON): ``{"approval_id": "<execution>/<action>/<attempt>", "decision":
"approve"|"reject", "reason": optional one line (<= 200 chars)}``. Answers: 200 with the
decision; 400 bad request; 401 no IAM identity; 403 not an approver; 404 no such request;
409 already decided or expired. Nothing from the request is echoed back unvalidated.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

from botocore.exceptions import ClientError

from . import approvals, aws
from .errors import HealstackError, InvalidInput, NotPermitted, ResourceNotFound, aws_errors
from .step import run_logged, target_key

APPROVERS_ENV = "HEALSTACK_APPROVERS"
RECOVERY_ENV = "HEALSTACK_RECOVERY"
TABLE_ENV = "HEALSTACK_TABLE"
HISTORY_DAYS_ENV = "HEALSTACK_HISTORY_DAYS"
REASON_MAX = 200

_ASSUMED_ROLE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[\w+=,.@-]+)/[\w+=,.@-]+$"
)
_ROLE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?:[\w+=,.@/-]*/)?(?P<role>[\w+=,.@-]+)$"
)
_USER = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):user/(?:[\w+=,.@/-]*/)?(?P<user>[\w+=,.@-]+)$"
)


class Conflict(HealstackError):
    """The request was already decided, or it expired."""


class Unauthenticated(HealstackError):
    """The call carries no IAM identity (the URL must use AuthType AWS_IAM)."""


STATUS = {
    InvalidInput: 400,
    Unauthenticated: 401,
    NotPermitted: 403,
    ResourceNotFound: 404,
    Conflict: 409,
}


def principal_of(arn: str) -> tuple[str, str, str] | None:
    """``(account, "role"|"user", name)`` of a caller or approver ARN; None if neither."""
    for pattern, kind in ((_ASSUMED_ROLE, "role"), (_ROLE, "role"), (_USER, "user")):
        match = pattern.match(arn)
        if match:
            return (match["account"], kind, match["role" if kind == "role" else "user"])
    return None


def _approvers() -> set[tuple[str, str, str]]:
    raw = os.environ.get(APPROVERS_ENV, "")
    found = {p for a in raw.split(",") if a.strip() and (p := principal_of(a.strip()))}
    if not found:
        raise NotPermitted(f"{APPROVERS_ENV} names no approver; nobody may decide")
    return found


def _caller(event: dict[str, Any]) -> str:
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, dict) else None
    iam = authorizer.get("iam") if isinstance(authorizer, dict) else None
    caller = iam.get("userArn") if isinstance(iam, dict) else None
    if not isinstance(caller, str) or not caller:
        raise Unauthenticated("no IAM identity on the call (call the URL signed, AuthType AWS_IAM)")
    return caller


def authorize(caller: str) -> None:
    """Refuse a caller who is not an approver, or who is one of healstack's own roles."""
    principal = principal_of(caller)
    if principal is None:
        raise NotPermitted("the caller is neither an IAM role session nor an IAM user")
    recovery = os.environ.get(RECOVERY_ENV, "")
    if principal[1] == "role" and recovery and principal[2].startswith(recovery + "-"):
        raise NotPermitted("healstack's own roles may not decide the requests they made")
    if principal not in _approvers():
        raise NotPermitted("the caller is not an approver of this playbook")


def _body(event: dict[str, Any]) -> dict[str, Any]:
    http = (event.get("requestContext") or {}).get("http") or {}
    if isinstance(http, dict) and http.get("method") not in (None, "POST"):
        raise InvalidInput("use POST")
    raw = event.get("body")
    if event.get("isBase64Encoded"):
        raise InvalidInput("send the body as JSON text")
    try:
        body = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


def _reason(body: dict[str, Any]) -> str:
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > REASON_MAX or "\n" in reason:
        raise InvalidInput(f"reason must be one line of at most {REASON_MAX} characters")
    return reason.strip()


def _decide(event: Any, fields: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidInput("the call is not a function URL request")
    caller = _caller(event)
    fields["caller"] = caller
    authorize(caller)
    body = _body(event)
    key = approvals.parse_id(body.get("approval_id"))
    decision = body.get("decision")
    if decision not in approvals.DECISIONS:
        raise InvalidInput('decision must be "approve" or "reject"')
    status = approvals.DECISIONS[str(decision)]
    reason = _reason(body)
    table = os.environ.get(TABLE_ENV, "").strip()
    if not table:
        raise InvalidInput(f"environment variable {TABLE_ENV} is not set; no store")
    fields.update(approval_id=key.id, decision=status)
    now = int(time.time())
    dynamodb = aws.client("dynamodb")
    try:
        with aws_errors(table):
            item = dynamodb.update_item(
                TableName=table,
                Key=key.item_key(),
                UpdateExpression=(
                    "SET #status = :status, decided_by = :by, decided_at = :now, reason = :why"
                ),
                ConditionExpression="#status = :pending AND expires_at > :now",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":status": {"S": status},
                    ":pending": {"S": approvals.PENDING},
                    ":by": {"S": caller},
                    ":now": {"N": str(now)},
                    ":why": {"S": reason},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        raise _why_refused(dynamodb, table, key, now) from None
    plain = {k: next(iter(v.values())) for k, v in item.items()}
    _record(dynamodb, table, key, plain, now)
    fields["resource_id"] = plain.get("resource_id")
    return {
        "approval_id": key.id,
        "decision": status,
        "decided_by": caller,
        "resource_id": plain.get("resource_id"),
        "action": key.action,
    }


def _why_refused(dynamodb: Any, table: str, key: approvals.ApprovalKey, now: int) -> Exception:
    with aws_errors(table):
        found = dynamodb.get_item(TableName=table, Key=key.item_key(), ConsistentRead=True)
    item = found.get("Item")
    if item is None:
        return ResourceNotFound(f"no approval request {key.id}")
    status = item.get("status", {}).get("S", "")
    if status != approvals.PENDING:
        return Conflict(f"approval request {key.id} is already {status}")
    return Conflict(f"approval request {key.id} expired; the recovery stopped waiting")


def _record(
    dynamodb: Any, table: str, key: approvals.ApprovalKey, item: dict[str, Any], now: int
) -> None:
    """The decision in the resource's audit history (who, what, when, why)."""
    days = int(os.environ.get(HISTORY_DAYS_ENV) or 90)
    requested_at = int(item.get("requested_at") or now)
    record = {
        "pk": {
            "S": target_key(
                "history#",
                str(item.get("resource_id", "")),
                item.get("account") or None,
                item.get("region") or None,
            )
        },
        "sk": {"S": f"{requested_at}#{key.execution_name}#approval-{key.action}-{key.attempt}"},
        "kind": {"S": "approval"},
        "outcome": {"S": str(item.get("status", ""))},
        "decided_by": {"S": str(item.get("decided_by", ""))},
        "reason": {"S": str(item.get("reason", ""))},
        "execution": {"S": str(item.get("execution", ""))},
        "playbook": {"S": str(item.get("playbook", ""))},
        "expires_at": {"N": str(requested_at + days * 86400)},
    }
    with aws_errors(table):
        dynamodb.put_item(TableName=table, Item=record)


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body, sort_keys=True),
    }


def decide(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (function URL): an approver's decision, or why it does not count."""
    try:
        result = run_logged("decide.decide", event, context, lambda f: _decide(event, f))
    except HealstackError as err:
        status = next((code for kind, code in STATUS.items() if isinstance(err, kind)), 500)
        return _response(status, {"error": type(err).__name__, "message": str(err)})
    return _response(200, result)
