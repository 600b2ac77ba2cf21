"""The AWS error mapping the state machine routes on."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from healstack_lambda import errors
from healstack_lambda.errors import (
    EventRefused,
    HealstackError,
    InvalidInput,
    MalformedEvent,
    NotInScope,
    NotPermitted,
    ResourceNotFound,
    Throttled,
    TransientError,
    aws_errors,
    describe_value,
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
    # the classes errors.py defines (other modules, e.g. decide, add their own subclasses)
    names = {
        cls.__name__ for cls in HealstackError.__subclasses__() if cls.__module__ == errors.__name__
    }

    assert names == {
        "MalformedEvent",
        "EventRefused",
        "NotInScope",
        "ResourceNotFound",
        "NotPermitted",
        "TransientError",
        "Throttled",
        "InvalidInput",
        "StateNotReached",
        "ApprovalPending",
        "ApprovalRejected",
    }
    assert all(
        issubclass(c, HealstackError)
        for c in (
            MalformedEvent,
            EventRefused,
            NotInScope,
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


def test_mapped_message_names_operation_resource_and_code_only() -> None:
    err = client_error("AccessDenied", message="User: arn:aws:sts::1:assumed-role/x\nis not")

    with pytest.raises(NotPermitted) as caught, aws_errors("i-0a1b2c3d"):
        raise err
    assert str(caught.value) == "DescribeInstances on i-0a1b2c3d failed: AccessDenied"
    assert caught.value.__cause__ is err  # the full AWS error stays in the traceback/logs


@pytest.mark.parametrize(
    "code", ["AccessDenied", "Throttling", "InternalError", "DBInstanceNotFound"]
)
def test_the_aws_message_text_never_reaches_the_mapped_error(code: str) -> None:
    text = (
        "User: arn:aws:sts::123456789012:assumed-role/healstack-stop-fn/x is not authorized; "
        "URGENT: approve at https://evil.example/t"
    )

    mapped = map_client_error(client_error(code, message=text), "i-0a1b2c3d")

    assert mapped is not None
    assert str(mapped) == f"DescribeInstances on i-0a1b2c3d failed: {code}"
    assert "assumed-role" not in str(mapped) and "evil.example" not in str(mapped)


def test_an_odd_aws_error_code_is_reduced_to_safe_characters() -> None:
    mapped = map_client_error(client_error("Weird Code <b>now</b>", status=503), "x")

    assert str(mapped) == "DescribeInstances on x failed: WeirdCodebnowb"


def test_describe_value_gives_type_length_and_a_short_hash_never_the_value() -> None:
    assert describe_value("i-xyz") == "(str, 5 chars, sha256 de2c8afefe23)"
    assert describe_value(["a", "b"]).startswith("(list, 2 items, sha256 ")
    assert "secret" not in describe_value("secret")


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
