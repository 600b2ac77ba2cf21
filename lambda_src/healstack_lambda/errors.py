"""Error types whose class names are the Lambda ``errorType`` contract, and AWS error mapping.

The state machine routes on these names: ``Throttled`` is retried for minutes (a storm waits
for the API's token bucket to refill), ``TransientError`` for seconds, the others are caught
and reported. ``map_client_error`` turns a botocore failure into one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)


class HealstackError(Exception):
    """Base of every error a handler raises on purpose."""


class MalformedEvent(HealstackError):
    """The triggering event lacks what we need (message names the field and the detail-type)."""


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
NOT_FOUND_CODES = frozenset(
    {
        "InvalidInstanceID.NotFound",
        "InvalidInstanceID.Malformed",
        "ServiceNotFoundException",
        "ServiceNotActiveException",
        "ClusterNotFoundException",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
    }
)


def one_line(text: str, limit: int = 500) -> str:
    """Collapse whitespace so a message stays on one line, and cap its length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def map_client_error(err: ClientError, resource: str) -> HealstackError | None:
    """Return the healstack error for ``err``, or None when it must be re-raised unchanged."""
    error = err.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    aws_message = str(error.get("Message", ""))
    operation = err.operation_name or "AWS call"
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    text = one_line(f"{operation} on {resource} failed: {code}: {aws_message}".rstrip(": "))
    if code in THROTTLING_CODES or status == 429:
        return Throttled(text)
    if code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500):
        return TransientError(text)
    if code in NOT_PERMITTED_CODES:
        return NotPermitted(text)
    if code in NOT_FOUND_CODES:
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
        raise TransientError(one_line(f"AWS call on {resource} failed: {name}: {err}")) from err
