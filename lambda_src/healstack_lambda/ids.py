"""Resource identifier rules for each target kind (never act on a guessed resource).

One resource, one key: the id a workflow locks and counts on must be the same however an
event spells the resource.

- RDS DB instance identifiers are case-insensitive: RDS documents ``DBInstanceIdentifier``
  as "stored as a lowercase string" (CreateDBInstance, RebootDBInstance API reference), so
  ``normalize`` lower-cases them after stripping an ARN (``ORDERS-DB-PROD`` and
  ``orders-db-prod`` are one DB and one lock).
- ECS service ARNs keep their case: ECS cluster and service names are "up to 255 letters
  (uppercase and lowercase), numbers, underscores, and hyphens" and are matched exactly
  (ECS CreateService / DescribeServices), so ``Web`` and ``web`` are two services.
- EC2 instance ids are lower-case hex by definition; an upper-case one is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TARGET_KINDS = ("ec2_instance", "ecs_service", "rds_instance")

EC2_INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
EC2_INSTANCE_ARN = re.compile(
    r"^arn:aws[a-z-]*:ec2:[a-z0-9-]+:\d{12}:instance/(?P<id>i-[0-9a-f]+)$"
)
ECS_SERVICE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecs:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):(?P<account>\d{12}):"
    r"service/(?P<cluster>[A-Za-z0-9_-]{1,255})/(?P<service>[A-Za-z0-9_-]{1,255})$"
)
RDS_IDENTIFIER = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,62}$")
RDS_INSTANCE_ARN = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:db:(?P<id>[^:]+)$")
#: the account and region of any ARN (an id that is an ARN must be our own account's)
ANY_ARN = re.compile(
    r"^arn:(?P<partition>[^:]*):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):"
)

EXPECTED = {
    "ec2_instance": "an EC2 instance id (i- followed by 8 or 17 hex digits)",
    "ecs_service": "an ECS service ARN (arn:aws:ecs:<region>:<account>:service/<cluster>/<name>)",
    "rds_instance": (
        "an RDS DB instance identifier (1-63 letters, digits or hyphens, starting with a letter)"
    ),
}


@dataclass(frozen=True)
class EcsService:
    """The parts of an ECS service ARN."""

    arn: str
    region: str
    account: str
    cluster: str
    name: str


def normalize(kind: str, raw: str) -> str:
    """The one key of a resource: strip an ARN wrapper an event may use for EC2 or RDS ids,
    and lower-case RDS identifiers (see the module docstring); ECS ARNs are kept as is."""
    if kind == "ec2_instance":
        match = EC2_INSTANCE_ARN.match(raw)
        return match.group("id") if match else raw
    if kind == "rds_instance":
        match = RDS_INSTANCE_ARN.match(raw)
        return (match.group("id") if match else raw).lower()
    return raw


def arn_account_and_region(value: str) -> tuple[str, str] | None:
    """``(account, region)`` of an ARN, or None when ``value`` is not an ARN."""
    match = ANY_ARN.match(value)
    if match is None:
        return None
    return match.group("account"), match.group("region")


def is_valid(kind: str, resource_id: str) -> bool:
    """True when ``resource_id`` has the exact shape ``kind`` requires."""
    if kind == "ec2_instance":
        return EC2_INSTANCE_ID.match(resource_id) is not None
    if kind == "ecs_service":
        return ECS_SERVICE_ARN.match(resource_id) is not None
    if kind == "rds_instance":
        return RDS_IDENTIFIER.match(resource_id) is not None
    return False


def parse_ecs_service_arn(arn: str) -> EcsService | None:
    """Split a service ARN into region, account, cluster and service name (None if invalid)."""
    match = ECS_SERVICE_ARN.match(arn)
    if match is None:
        return None
    return EcsService(
        arn=arn,
        region=match.group("region"),
        account=match.group("account"),
        cluster=match.group("cluster"),
        name=match.group("service"),
    )
