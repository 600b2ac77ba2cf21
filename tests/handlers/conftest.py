"""Shared fixtures: fake credentials, an in-process moto account, payload builders."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
try:
    import healstack_lambda  # noqa: F401
except ImportError:  # pragma: no cover - only when the project is not installed
    sys.path.insert(0, str(ROOT / "lambda_src"))

from healstack_lambda import aws  # noqa: E402

EVENTS_DIR = ROOT / "examples" / "events"
REGION = "us-east-1"
ACCOUNT = "123456789012"
EXECUTION_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:healstack-ec2-recovery:run-42"
AMI = "ami-12c6146b"


@pytest.fixture(scope="package", autouse=True)
def fresh_client_cache() -> Iterator[None]:
    """Handler clients are cached for the whole package (building one costs ~0.4 s) and
    dropped afterwards so no other suite inherits clients made for in-process moto."""
    aws.reset_clients()
    yield
    aws.reset_clients()


@pytest.fixture(autouse=True)
def moto_account(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test runs against a fresh in-process moto account with fake credentials."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("MOTO_") or name == "HEALSTACK_TOPIC_ARN":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # 0.4 s per test otherwise
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    with mock_aws():
        yield


@pytest.fixture
def step_event() -> Callable[..., dict[str, Any]]:
    """Build a step payload exactly as the state machine sends it."""

    def make(resource_id: str, **overrides: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "playbook": "ec2-status-check-recovery",
            "execution_id": EXECUTION_ARN,
            "state": "CheckHealth",
            "resource_id": resource_id,
            "attempt": 1,
            "dry_run": False,
            "params": {},
        }
        payload.update(overrides)
        return payload

    return make


@pytest.fixture
def record_calls() -> Iterator[Callable[[Any, str], list[dict[str, Any]]]]:
    """Record the parameters of every ``operation`` call made through ``client``."""
    attached: list[tuple[Any, str, Callable[..., None]]] = []

    def attach(client: Any, operation: str) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []
        service = client.meta.service_model.service_id.hyphenize()
        event_name = f"provide-client-params.{service}.{operation}"

        def remember(params: dict[str, Any], **_: Any) -> None:
            calls.append(dict(params))

        client.meta.events.register(event_name, remember)
        attached.append((client, event_name, remember))
        return calls

    yield attach
    for client, event_name, handler in attached:
        client.meta.events.unregister(event_name, handler)


@pytest.fixture
def inject_error(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any, str, str], None]:
    """Make ``client.<method>`` raise a ClientError with ``code`` (as AWS would)."""

    def inject(client: Any, method: str, code: str) -> None:
        operation = "".join(part.title() for part in method.split("_"))

        def fail(*_: Any, **__: Any) -> Any:
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": f"simulated {code}"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                operation,
            )

        monkeypatch.setattr(client, method, fail)

    return inject


def rfc3339(seconds_ago: float = 0) -> str:
    """An EventBridge ``time`` (``2026-03-14T08:02:11Z``) ``seconds_ago`` before now."""
    moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def fresh(event: dict[str, Any], seconds_ago: float = 0) -> dict[str, Any]:
    """``event`` as it arrives now: ``time`` set to now (or ``seconds_ago``)."""
    event["time"] = rfc3339(seconds_ago)
    return event


@pytest.fixture
def sample_event() -> Callable[[str], dict[str, Any]]:
    """Load a sample event from examples/events/ (a fresh copy each call), as if it had just
    arrived: its ``time`` is now (ResolveTarget refuses stale events). The samples name
    moto's account 123456789012 and region us-east-1."""

    def load(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
        return fresh(data)

    return load


@pytest.fixture
def topic_queue(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    """A topic in HEALSTACK_TOPIC_ARN with an SQS queue subscribed; returns a reader."""
    sns = aws.client("sns")
    sqs = aws.client("sqs")
    topic_arn = sns.create_topic(Name="healstack-notifications")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="healstack-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("HEALSTACK_TOPIC_ARN", topic_arn)

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]

    return read


def create_store(name: str) -> Any:
    """The recovery's store as synthesis makes it (pk/sk strings, on demand), in moto;
    returns the DynamoDB client."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return client
