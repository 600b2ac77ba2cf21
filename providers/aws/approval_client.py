"""``healstack approve|reject``: send an approver's decision to the recovery's decide function.

The decide function sits behind a function URL with ``AuthType AWS_IAM``: the request is
signed (SigV4, service ``lambda``) with the approver's own credentials, AWS verifies the
signature, and the function checks that identity against the playbook's approvers. The
CLI finds the URL by the function's name (``lambda:GetFunctionUrlConfig``, on the ``live``
alias the workflow uses). Nothing here can decide by itself: without an approver's
credentials the call is refused by AWS (unsigned) or by the function (not an approver).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from healstack.errors import UsageError
from healstack.providers.aws.naming import LIVE_ALIAS, function_name

TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Decision:
    """What the decide function answered."""

    status: int
    body: dict[str, Any]


def decision_url(
    base_name: str, function_key: str, region: str, endpoint: str | None = None
) -> str:
    """The decide function's URL, looked up by name; a one-line error when there is none."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    name = function_name(base_name, function_key)
    try:
        client = boto3.client("lambda", region_name=region, endpoint_url=endpoint)
        config = client.get_function_url_config(FunctionName=name, Qualifier=LIVE_ALIAS)
    except NoCredentialsError:
        raise UsageError("no AWS credentials: sign in as an approver first") from None
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "error")
        raise UsageError(
            f"cannot find the decide function {name} ({code}; check --prefix, --stage, "
            "--region and that the playbook has approval)"
        ) from None
    except BotoCoreError as err:
        raise UsageError(f"cannot reach AWS Lambda: {type(err).__name__}") from None
    return str(config["FunctionUrl"])


def send_decision(
    url: str, region: str, approval_id: str, decision: str, reason: str = ""
) -> Decision:
    """POST the decision to ``url``, signed with the caller's own AWS credentials."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    if decision not in ("approve", "reject"):
        raise UsageError(f'decision "{decision}" is not approve or reject')
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise UsageError("no AWS credentials: sign in as an approver first")
    body = json.dumps({"approval_id": approval_id, "decision": decision, "reason": reason})
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"content-type": "application/json"}
    )
    SigV4Auth(credentials.get_frozen_credentials(), "lambda", region).add_auth(request)
    prepared = urllib.request.Request(
        url, data=body.encode(), headers=dict(request.headers.items()), method="POST"
    )
    try:
        with urllib.request.urlopen(prepared, timeout=TIMEOUT_SECONDS) as response:
            return Decision(response.status, _json(response.read()))
    except urllib.error.HTTPError as err:
        return Decision(err.code, _json(err.read()))
    except (urllib.error.URLError, TimeoutError) as err:
        raise UsageError(f"cannot reach the decide function: {type(err).__name__}") from None


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"message": "the answer was not JSON"}
    return value if isinstance(value, dict) else {"message": "the answer was not an object"}
