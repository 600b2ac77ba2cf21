"""Error types whose class names are the Lambda ``errorType`` contract, and AWS error mapping.

The state machine routes on these names: ``Throttled`` is retried for minutes (a storm waits
for the API's token bucket to refill), ``TransientError`` for seconds, the others are caught
and reported. ``map_client_error`` turns a botocore failure into one of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)


class HealstackError(Exception):
    """Base of every error a handler raises on purpose."""


class MalformedEvent(HealstackError):
    """The triggering event lacks what we need (message names the field and the detail-type).

    The message never carries the value that failed validation (see ``describe_value``).
    """


class EventRefused(HealstackError):
    """The event is well formed but not ours to act on: another account or region, too old,
    or from the future. The message is a short text ending in ``(code: <code>)`` and holds
    only safe numbers, never event values."""


class NotInScope(HealstackError):
    """An action's resource lacks the tag ``HEALSTACK_REQUIRE_TAG`` names; nothing was done."""


class ResourceNotFound(HealstackError):
    """The target resource does not exist (or is terminated / being deleted)."""


class NotPermitted(HealstackError):
    """The Lambda's role may not perform the call."""


class TransientError(HealstackError):
    """A 5xx, a network failure or a state that passes by itself; the workflow retries these."""


class Throttled(HealstackError):
    """The cloud API refused the call for its request rate; the workflow retries it longer."""


class InvalidInput(HealstackError):
    """The step payload itself is wrong (missing field, wrong type, bad id)."""


class StateNotReached(HealstackError):
    """A check given ``params.expect_state`` saw another state; a ``wait_until`` poll retries."""


class ApprovalPending(HealstackError):
    """No approver has decided the request yet; the workflow's approval poll retries on it."""


class ApprovalRejected(HealstackError):
    """An approver rejected the action (the message names who); the action never runs."""


#: the API's rate limit refused the call (EC2: RequestLimitExceeded; ECS, RDS: Throttling*)
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "EC2ThrottledException",
    }
)
#: the service failed for a moment (5xx and its codes)
TRANSIENT_CODES = frozenset(
    {
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServerException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)
NOT_PERMITTED_CODES = frozenset(
    {
        "UnauthorizedOperation",
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
    }
)


def _not_found_codes() -> frozenset[str]:
    """Every target kind's not-found codes (its unit in ``healstack_lambda.kinds``)."""
    from . import kinds  # the kinds import this module

    return kinds.not_found_codes()


def one_line(text: str, limit: int = 500) -> str:
    """Collapse whitespace so a message stays on one line, and cap its length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def describe_value(value: Any) -> str:
    """A safe stand-in for an untrusted value: its type, length and a short sha256.

    ``(str, 143 chars, sha256 1a2b3c4d5e6f)``: enough to match two reports of the same
    value, nothing an attacker could use to put words into a notification.
    """
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        size = f"{len(value)} chars"
    else:
        data = repr(value).encode("utf-8", "surrogatepass")
        size = f"{len(value)} items" if isinstance(value, (list, dict, tuple)) else "-"
    digest = hashlib.sha256(data).hexdigest()[:12]
    return f"({type(value).__name__}, {size}, sha256 {digest})"


def _safe_code(code: str) -> str:
    """An AWS error code as we print it: letters, digits and dots only, at most 64."""
    kept = "".join(ch for ch in code if ch.isascii() and (ch.isalnum() or ch in "._-"))
    return kept[:64] or "Unknown"


def map_client_error(err: ClientError, resource: str) -> HealstackError | None:
    """Return the healstack error for ``err``, or None when it must be re-raised unchanged.

    The message names the operation, the (already validated) resource and the AWS error
    code, never AWS's message text (it can hold role ARNs, account ids or echoed input).
    """
    error = err.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    operation = _safe_code(err.operation_name or "AWSCall")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    text = one_line(f"{operation} on {resource} failed: {_safe_code(code)}")
    if code in THROTTLING_CODES or status == 429:
        return Throttled(text)
    if code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500):
        return TransientError(text)
    if code in NOT_PERMITTED_CODES:
        return NotPermitted(text)
    if code in _not_found_codes():
        return ResourceNotFound(text)
    return None


@contextmanager
def aws_errors(resource: str) -> Iterator[None]:
    """Translate botocore failures raised inside the block into healstack errors."""
    try:
        yield
    except ClientError as err:
        mapped = map_client_error(err, resource)
        if mapped is None:
            raise
        raise mapped from err
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as err:
        name = type(err).__name__
        raise TransientError(one_line(f"AWS call on {resource} failed: {name}")) from err
