"""A hub's functions: ResolveTarget takes events of the member accounts and regions only and
tells which; a step acts in the event's account and region through the member's execution
role (moto keeps one backend per account, so an instance of member A is invisible to the hub
and to member B); notify keys the lock and the history by account and region."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from healstack_lambda import aws, ec2, events, notify
from healstack_lambda.errors import EventRefused, InvalidInput, ResourceNotFound
from tests.handlers.conftest import ACCOUNT, AMI, EXECUTION_ARN, REGION, create_store

A, B, STRANGER = "111111111111", "222222222222", "333333333333"
BASE = "healstack-ec2-status-check-recovery"
ROLE = f"arn:aws:iam::{{account}}:role/healstack/{BASE}-{{region}}"


def in_account(account: str, region: str = REGION) -> boto3.session.Session:
    """A session acting in ``account`` (moto: assumed credentials are that account's)."""
    creds = boto3.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/seed", RoleSessionName="seed"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


def instance_in(account: str, region: str = REGION) -> str:
    ec2_client = in_account(account, region).client("ec2")
    (instance,) = ec2_client.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"]
    return str(instance["InstanceId"])


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(events.MEMBER_ACCOUNTS_ENV, f"{A},{B}")
    monkeypatch.setenv(events.MEMBER_REGIONS_ENV, "eu-west-1,us-east-1")
    aws.reset_clients()


def alarm_event(account: str, region: str, instance_id: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "version": "0",
        "id": "e-1",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": account,
        "region": region,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"],
        "detail": {"instance-id": instance_id, "state": "stopped"},
    }


def resolve(event: dict[str, Any]) -> dict[str, Any]:
    payload = {
        "event": event,
        "target_kind": "ec2_instance",
        "execution_id": EXECUTION_ARN,
        "playbook": "p",
    }
    return events.resolve(payload, {})


@pytest.mark.usefixtures("hub_env")
def test_a_member_event_resolves_with_its_account_and_region() -> None:
    resolved = resolve(alarm_event(B, "eu-west-1", "i-0123456789abcdef0"))
    assert resolved["account"] == B and resolved["region"] == "eu-west-1"
    assert resolved["resource_id"] == "i-0123456789abcdef0"


@pytest.mark.usefixtures("hub_env")
@pytest.mark.parametrize(
    ("account", "region", "code"),
    [
        (STRANGER, REGION, "foreign_account"),
        (ACCOUNT, REGION, "foreign_account"),  # the hub's own account is not a member
        (A, "ap-south-1", "foreign_region"),
    ],
)
def test_an_event_of_no_member_account_or_region_is_refused(
    account: str, region: str, code: str
) -> None:
    with pytest.raises(EventRefused, match=f"code: {code}"):
        resolve(alarm_event(account, region, "i-0123456789abcdef0"))


@pytest.mark.usefixtures("hub_env")
def test_an_arn_of_another_member_than_the_events_is_refused() -> None:
    event = alarm_event(A, REGION, "i-0123456789abcdef0")
    event["detail"] = {"state": "stopped"}
    event["resources"] = [f"arn:aws:ec2:{REGION}:{B}:instance/i-0123456789abcdef0"]
    payload = {
        "event": event,
        "target_kind": "ec2_instance",
        "id_path": "$.resources[0]",
        "execution_id": EXECUTION_ARN,
        "playbook": "p",
    }
    with pytest.raises(EventRefused, match="code: foreign_account"):
        events.resolve(payload, {})


def test_without_members_the_result_is_as_before() -> None:
    aws.reset_clients()
    resolved = resolve(alarm_event(ACCOUNT, REGION, "i-0123456789abcdef0"))
    assert "account" not in resolved and resolved["region"] == REGION


def test_a_hub_step_acts_in_the_events_member_account_only(
    monkeypatch: pytest.MonkeyPatch, step_event: Callable[..., dict[str, Any]]
) -> None:
    monkeypatch.setenv(aws.MEMBER_ROLE_ENV, ROLE)
    aws.reset_clients()
    instance = instance_in(A)
    result = ec2.check(step_event(instance, account=A, region=REGION), None)
    assert result["state"] == "running"
    # the same id is nobody's in member B, and the hub's own account is never asked
    aws.reset_clients()
    with pytest.raises(ResourceNotFound):
        ec2.check(step_event(instance, account=B, region=REGION), None)
    with pytest.raises(InvalidInput, match="'account' and 'region'"):
        ec2.check(step_event(instance), None)
    assert aws.member_role(A, "eu-west-1") == (f"arn:aws:iam::{A}:role/healstack/{BASE}-eu-west-1")


def test_a_hub_steps_action_changes_the_member_instance(
    monkeypatch: pytest.MonkeyPatch, step_event: Callable[..., dict[str, Any]]
) -> None:
    monkeypatch.setenv(aws.MEMBER_ROLE_ENV, ROLE)
    aws.reset_clients()
    instance = instance_in(B, "eu-west-1")
    stopped = ec2.stop(step_event(instance, account=B, region="eu-west-1"), None)
    assert stopped["changed"] is True
    (reservation,) = (
        in_account(B, "eu-west-1").client("ec2").describe_instances(InstanceIds=[instance])
    )["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] in ("stopping", "stopped")


def test_notify_keys_the_lock_and_history_by_account_and_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aws.reset_clients()
    dynamodb = create_store("store")
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="t")["TopicArn"]
    monkeypatch.setenv("HEALSTACK_TABLE", "store")
    monkeypatch.setenv("HEALSTACK_TOPIC_ARN", topic)
    key = f"lock#{A}/eu-west-1/i-0123456789abcdef0"
    dynamodb.put_item(
        TableName="store",
        Item={"pk": {"S": key}, "sk": {"S": "lock"}, "execution": {"S": EXECUTION_ARN}},
    )
    payload = {
        "playbook": "p",
        "execution_id": EXECUTION_ARN,
        "outcome": "recovered",
        "resource_id": "i-0123456789abcdef0",
        "account": A,
        "region": "eu-west-1",
        "attempt": 1,
        "dry_run": False,
        "started_at": 1700000000,
    }
    notify.notify(payload, None)
    assert "Item" not in dynamodb.get_item(
        TableName="store", Key={"pk": {"S": key}, "sk": {"S": "lock"}}
    )
    history = dynamodb.scan(TableName="store")["Items"]
    (record,) = history
    assert record["pk"]["S"] == f"history#{A}/eu-west-1/i-0123456789abcdef0"
    assert record["account"]["S"] == A and record["region"]["S"] == "eu-west-1"
    message = notify.build_message(payload)
    assert message["account"] == A and message["region"] == "eu-west-1"
    assert "account" not in notify.build_message({**payload, "account": None, "region": None})


def test_the_member_session_is_kept_and_renewed_before_it_expires(
    monkeypatch: pytest.MonkeyPatch, step_event: Callable[..., dict[str, Any]]
) -> None:
    monkeypatch.setenv(aws.MEMBER_ROLE_ENV, ROLE)
    aws.reset_clients()
    instance = instance_in(A)
    ec2.check(step_event(instance, account=A, region=REGION), None)
    first = aws.member_session(A, REGION)
    ec2.check(step_event(instance, account=A, region=REGION), None)
    assert aws.member_session(A, REGION) is first  # one AssumeRole per account and region
    session, _ = aws._MEMBER_SESSIONS[(A, REGION)]
    aws._MEMBER_SESSIONS[(A, REGION)] = (session, time.time() + aws.RENEW_BEFORE_SECONDS - 1)
    assert ec2.check(step_event(instance, account=A, region=REGION), None)["state"] == "running"
    assert aws.member_session(A, REGION) is not first


def test_a_hubs_approval_names_the_member_and_its_decision_is_kept_under_it(
    monkeypatch: pytest.MonkeyPatch, step_event: Callable[..., dict[str, Any]]
) -> None:
    import json

    from healstack_lambda import approval, approvals, decide
    from tests.handlers.conftest import create_store

    aws.reset_clients()
    store = create_store("store")
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="t")["TopicArn"]
    oncall = "arn:aws:iam::123456789012:role/oncall"
    monkeypatch.setenv("HEALSTACK_TABLE", "store")
    monkeypatch.setenv("HEALSTACK_TOPIC_ARN", topic)
    monkeypatch.setenv("HEALSTACK_APPROVERS", oncall)
    monkeypatch.setenv("HEALSTACK_RECOVERY", "healstack-x")
    monkeypatch.setenv("HEALSTACK_TARGET_KIND", "ec2_instance")
    params = {"phase": "request", "action": "stop", "timeout_seconds": 600}
    request = step_event("i-0123456789abcdef0", account=B, region="eu-west-1", params=params)
    approval.handle(request, None)
    key = approvals.key_for(EXECUTION_ARN, "stop", 1)
    item = store.get_item(TableName="store", Key=key.item_key())["Item"]
    assert item["account"]["S"] == B and item["region"]["S"] == "eu-west-1"
    answer = decide.decide(
        {
            "version": "2.0",
            "requestContext": {
                "http": {"method": "POST"},
                "authorizer": {
                    "iam": {"userArn": "arn:aws:sts::123456789012:assumed-role/oncall/alice"}
                },
            },
            "body": json.dumps({"approval_id": key.id, "decision": "approve"}),
            "isBase64Encoded": False,
        },
        None,
    )
    assert answer["statusCode"] == 200, answer
    keys = [i["pk"]["S"] for i in store.scan(TableName="store")["Items"]]
    assert f"history#{B}/eu-west-1/i-0123456789abcdef0" in keys
