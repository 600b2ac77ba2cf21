"""The moto resources a playbook's recovery acts on, and reading back what it left.

Runs inside the simulation's mock: the topic, the store table, the target resources named by
the events (each kind's unit seeds its own: ``providers/aws/kinds``), and afterwards the
notifications, the store and the targets' states.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from moto.sns.models import sns_backends

from healstack.providers.aws import kinds
from healstack.simulate import world

#: where the simulated world lives: the account and region of the events it simulates
#: (``located``); moto's default account and us-east-1 otherwise
_where = {"account": "123456789012", "region": "us-east-1"}


@contextmanager
def located(account: str, region: str) -> Iterator[None]:
    """Seed and read the world in ``account`` and ``region`` (the events' own)."""
    saved = dict(_where)
    _where.update(account=account, region=region)
    try:
        yield
    finally:
        _where.update(saved)


def client(service: str) -> Any:
    return world.client(service, _where["region"])


def unresolved(target_id: str) -> bool:
    return target_id.startswith("unresolved")


def create_topic(name: str) -> str:
    """Create the recovery's topic; return its ARN."""
    return str(client("sns").create_topic(Name=name)["TopicArn"])


def create_table(table: Mapping[str, Any]) -> None:
    keys = [{"AttributeName": table["hash_key"], "KeyType": "HASH"}]
    if table.get("range_key"):
        keys.append({"AttributeName": table["range_key"], "KeyType": "RANGE"})
    client("dynamodb").create_table(
        TableName=table["name"],
        KeySchema=keys,
        AttributeDefinitions=[
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in table["attribute"]
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def seed_targets(
    kind: str, target_ids: Iterable[str], tags: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Create one resource per distinct id, carrying ``tags`` (the playbook's required tag:
    the resources a platform opted in), as the kind's unit seeds it
    (``providers/aws/kinds``); map each event id to the simulated one (moto picks EC2
    instance ids itself, the other kinds keep the event's id)."""
    wanted = [t for t in dict.fromkeys(target_ids) if not unresolved(t)]
    seeded = {t: t for t in dict.fromkeys(target_ids) if unresolved(t)}
    tag_list = [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())]
    if not wanted:
        return seeded
    return {**seeded, **kinds.get(kind).simulation.seed(client, wanted, tag_list)}


def target_states(kind: str, target_ids: Iterable[str]) -> dict[str, str | None]:
    """The current state of each target (None for an unresolved one)."""
    read = kinds.get(kind).simulation.state
    return {t: None if unresolved(t) else read(client, t) for t in dict.fromkeys(target_ids)}


def read_notifications(topic_arn: str) -> list[dict[str, Any]]:
    """Every message published to the topic, in order, as ``{"subject", "message"}``.

    Read from what moto keeps of each publish (``Topic.sent_notifications``, the way moto
    documents to check what was published): a subscribed SQS queue costs O(messages) per
    receive in moto, far too slow for a 1,000-execution storm.
    """
    account = topic_arn.split(":")[4]
    topic = sns_backends[account][_where["region"]].topics[topic_arn]
    return [
        {"subject": subject, "message": json.loads(message)}
        for _id, message, subject, _attributes, _group in topic.sent_notifications
    ]


def scan(table: str) -> list[dict[str, Any]]:
    """Every item of the store, plain values, sorted by key."""
    dynamodb = client("dynamodb")
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**request)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    plain = [{k: next(iter(v.values())) for k, v in item.items()} for item in items]
    return sorted(plain, key=lambda i: (i.get("pk", ""), i.get("sk", "")))
