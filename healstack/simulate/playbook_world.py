"""The moto resources a playbook's recovery acts on, and reading back what it left.

Runs inside the simulation's mock: the topic, the store table, the target resources named by the events (EC2 instances, ECS
clusters + services, RDS instances), and afterwards the notifications, the store and the
targets' states.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from moto.sns.models import sns_backends

from healstack.errors import UsageError
from healstack.simulate import world

REGION = "us-east-1"
AMI = "ami-12c6146b"
_ECS_SERVICE = re.compile(r"^arn:aws[\w-]*:ecs:[\w-]+:\d{12}:service/([^/]+)/(.+)$")


def client(service: str) -> Any:
    return world.client(service, REGION)


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
    the resources a platform opted in); map each event id to the simulated one (moto picks
    EC2 instance ids itself, the other kinds keep the event's id)."""
    wanted = [t for t in dict.fromkeys(target_ids) if not unresolved(t)]
    seeded = {t: t for t in dict.fromkeys(target_ids) if unresolved(t)}
    tag_list = [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())]
    if not wanted:
        return seeded
    if kind == "ec2_instance":
        request: dict[str, Any] = {"ImageId": AMI, "MinCount": len(wanted), "MaxCount": len(wanted)}
        if tag_list:
            request["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tag_list}]
        reservation = client("ec2").run_instances(**request)
        ids = [str(i["InstanceId"]) for i in reservation["Instances"]]
        return {**seeded, **dict(zip(wanted, ids, strict=True))}
    for target_id in wanted:
        if kind == "ecs_service":
            _seed_ecs_service(target_id, tag_list)
        else:
            _seed_rds_instance(target_id, tag_list)
        seeded[target_id] = target_id
    return seeded


def _seed_ecs_service(target_id: str, tags: list[dict[str, str]]) -> None:
    match = _ECS_SERVICE.match(target_id)
    if match is None:
        raise UsageError(f"cannot seed an ECS service from {target_id!r}")
    cluster, service = match.groups()
    ecs = client("ecs")
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=service, containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}]
    )
    ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=service,
        desiredCount=1,
        tags=[{"key": t["Key"], "value": t["Value"]} for t in tags],
    )


def _seed_rds_instance(target_id: str, tags: list[dict[str, str]]) -> None:
    client("rds").create_db_instance(
        Tags=tags,
        DBInstanceIdentifier=target_id,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="simulation-only",
        AllocatedStorage=20,
    )


def target_states(kind: str, target_ids: Iterable[str]) -> dict[str, str | None]:
    """The current state of each target (None for an unresolved one)."""
    ids = list(dict.fromkeys(target_ids))
    states: dict[str, str | None] = {t: None for t in ids if unresolved(t)}
    wanted = [t for t in ids if not unresolved(t)]
    if kind == "ec2_instance" and wanted:
        for reservation in client("ec2").describe_instances(InstanceIds=wanted)["Reservations"]:
            for instance in reservation["Instances"]:
                states[str(instance["InstanceId"])] = str(instance["State"]["Name"])
        return states
    for target_id in wanted:
        states[target_id] = _target_state(kind, target_id)
    return states


def _target_state(kind: str, target_id: str) -> str | None:
    if kind == "ecs_service":
        cluster = target_id.split("/")[-2]
        services = client("ecs").describe_services(cluster=cluster, services=[target_id])[
            "services"
        ]
        return str(services[0]["status"]).lower() if services else None
    instances = client("rds").describe_db_instances(DBInstanceIdentifier=target_id)["DBInstances"]
    return str(instances[0]["DBInstanceStatus"])


def read_notifications(topic_arn: str) -> list[dict[str, Any]]:
    """Every message published to the topic, in order, as ``{"subject", "message"}``.

    Read from what moto keeps of each publish (``Topic.sent_notifications``, the way moto
    documents to check what was published): a subscribed SQS queue costs O(messages) per
    receive in moto, far too slow for a 1,000-execution storm.
    """
    account = topic_arn.split(":")[4]
    topic = sns_backends[account][REGION].topics[topic_arn]
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
