"""RDS DB instance identifiers are case-insensitive: RDS documents ``DBInstanceIdentifier`` as
"stored as a lowercase string" (CreateDBInstance, RebootDBInstance API reference), so
``normalize`` lower-cases them after stripping an ARN (``ORDERS-DB-PROD`` and
``orders-db-prod`` are one DB and one lock)."""

from __future__ import annotations

import re

from .. import shapes
from . import RuntimeKind

#: DB instance statuses that mean the instance is being changed right now (by RDS, or by
#: someone): never a recovery case. One list for every kind whose resource is, or holds, a DB
#: instance (an Aurora cluster's writer too)
DB_INSTANCE_CHANGES = frozenset(
    {
        "backing-up",
        "converting-to-vpc",
        "creating",
        "maintenance",
        "modifying",
        "moving-to-vpc",
        "rebooting",
        "renaming",
        "resetting-master-credentials",
        "starting",
        "storage-config-upgrade",
        "storage-initialization",
        "storage-optimization",
        "upgrading",
    }
)
IDENTIFIER = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,62}$")
INSTANCE_ARN = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:db:(?P<id>[^:]+)$")


def normalize(raw: str) -> str:
    match = INSTANCE_ARN.match(raw)
    return (match.group("id") if match else raw).lower()


KIND = RuntimeKind(
    name="rds_instance",
    expected=(
        "an RDS DB instance identifier (1-63 letters, digits or hyphens, starting with a letter)"
    ),
    id_pattern=IDENTIFIER,
    shapes={
        shapes.ALARM: shapes.alarm_dimension("DBInstanceIdentifier"),
        shapes.RDS_INSTANCE_EVENT: shapes.arn_first(INSTANCE_ARN, "SourceIdentifier"),
        shapes.HEALTH: shapes.health,
    },
    normalize=normalize,
    not_found_codes=frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"}),
)
