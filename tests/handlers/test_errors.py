"""The AWS error mapping the state machine routes on."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from healstack_lambda.errors import (
    HealstackError,
    InvalidInput,
    MalformedEvent,
    NotPermitted,
    ResourceNotFound,
    Throttled,
    TransientError,
    aws_errors,
    map_client_error,
)


def client_error(code: str, status: int = 400, message: str = "details") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "DescribeInstances",
    )


def test_error_class_names_are_the_routing_contract() -> None:
    names = {cls.__name__ for cls in HealstackError.__subclasses__()}

    assert names == {
        "MalformedEvent",
        "ResourceNotFound",
        "NotPermitted",
        "TransientError",
        "Throttled",
        "InvalidInput",
        "StateNotReached",
    }
    assert all(
        issubclass(c, HealstackError)
        for c in (
            MalformedEvent,
            ResourceNotFound,
            NotPermitted,
            TransientError,
            Throttled,
            InvalidInput,
        )
    )


@pytest.mark.parametrize(
    "code",
    [
        "Throttling",  # RDS
        "ThrottlingException",  # ECS
        "RequestLimitExceeded",  # EC2
        "TooManyRequestsException",
        "RequestThrottled",
        "ProvisionedThroughputExceededException",
        "SlowDown",
    ],
)
def test_throttling_codes_map_to_throttled(code: str) -> None:
    mapped = map_client_error(client_error(code), "i-0a1b2c3d")
    assert type(mapped) is Throttled  # its own error name: the workflow retries it longer


def test_a_throttle_is_told_by_its_code_whatever_the_status() -> None:
    # EC2 answers RequestLimitExceeded with HTTP 503, which alone would read as a 5xx
    assert type(map_client_error(client_error("RequestLimitExceeded", status=503), "x")) is (
        Throttled
    )
    assert type(map_client_error(client_error("Weird", status=429), "x")) is Throttled


@pytest.mark.parametrize(
    "code",
    ["ServiceUnavailable", "InternalError", "InternalFailure", "RequestTimeout"],
)
def test_server_codes_map_to_transient_error(code: str) -> None:
    assert type(map_client_error(client_error(code), "i-0a1b2c3d")) is TransientError


@pytest.mark.parametrize(
    "code", ["UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "AuthFailure"]
)
def test_permission_codes_map_to_not_permitted(code: str) -> None:
    assert isinstance(map_client_error(client_error(code), "i-0a1b2c3d"), NotPermitted)


@pytest.mark.parametrize(
    "code",
    [
        "InvalidInstanceID.NotFound",
        "InvalidInstanceID.Malformed",
        "ServiceNotFoundException",
        "ServiceNotActiveException",
        "ClusterNotFoundException",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
    ],
)
def test_not_found_codes_map_to_resource_not_found(code: str) -> None:
    assert isinstance(map_client_error(client_error(code), "i-0a1b2c3d"), ResourceNotFound)


def test_an_unknown_code_with_a_5xx_status_is_transient() -> None:
    assert isinstance(map_client_error(client_error("Weird", status=503), "x"), TransientError)


def test_an_unknown_code_is_reraised_unchanged() -> None:
    original = client_error("IncorrectInstanceState")

    with pytest.raises(ClientError) as caught, aws_errors("i-0a1b2c3d"):
        raise original
    assert caught.value is original


def test_mapped_message_is_one_line_naming_operation_resource_and_code() -> None:
    err = client_error("AccessDenied", message="User: arn:aws:sts::1:assumed-role/x\nis not")

    with pytest.raises(NotPermitted) as caught, aws_errors("i-0a1b2c3d"):
        raise err
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("DescribeInstances on i-0a1b2c3d failed: AccessDenied: User:")
    assert caught.value.__cause__ is err


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://ec2.us-east-1.amazonaws.com/"),
        ConnectTimeoutError(endpoint_url="https://ec2.us-east-1.amazonaws.com/"),
        ReadTimeoutError(endpoint_url="https://ec2.us-east-1.amazonaws.com/"),
    ],
    ids=["endpoint", "connect-timeout", "read-timeout"],
)
def test_network_failures_map_to_transient_error(error: Exception) -> None:
    with pytest.raises(TransientError, match=type(error).__name__), aws_errors("i-0a1b2c3d"):
        raise error
