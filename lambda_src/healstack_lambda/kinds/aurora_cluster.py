"""Aurora DB cluster identifiers are case-insensitive: RDS documents ``DBClusterIdentifier``
as "stored as a lowercase string" (CreateDBCluster API reference), and FailoverDBCluster
says it "isn't case-sensitive", so ``normalize`` lower-cases them after reducing a cluster
ARN (``arn:aws:rds:<region>:<account>:cluster:<id>``) to the id (``Orders-Aurora`` and
``orders-aurora`` are one cluster and one lock).

Events that name a cluster: an "RDS DB Cluster Event" (the cluster's ARN in
``resources[0]`` or ``detail.SourceArn``, else ``detail.SourceIdentifier``, which older
events prefix with ``rds:``), a CloudWatch alarm on the ``DBClusterIdentifier`` dimension,
and an AWS Health event whose affected entity is the cluster.
"""

from __future__ import annotations

import re

from .. import shapes
from . import RuntimeKind

IDENTIFIER = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,62}$")
CLUSTER_ARN = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:(?P<id>[^:]+)$")


def normalize(raw: str) -> str:
    match = CLUSTER_ARN.match(raw)
    return (match.group("id") if match else raw).lower()


KIND = RuntimeKind(
    name="aurora_cluster",
    expected=(
        "an Aurora DB cluster identifier (1-63 letters, digits or hyphens, starting with a letter)"
    ),
    id_pattern=IDENTIFIER,
    shapes={
        shapes.ALARM: shapes.alarm_dimension("DBClusterIdentifier"),
        shapes.RDS_CLUSTER_EVENT: shapes.arn_first(CLUSTER_ARN, "SourceIdentifier"),
        shapes.HEALTH: shapes.health,
    },
    normalize=normalize,
    not_found_codes=frozenset({"DBClusterNotFoundFault"}),
)
