"""Aurora DB cluster check and failover.

``resource_id`` is the cluster identifier (lower case; ``healstack_lambda.kinds``). Both
operations read the cluster (DescribeDBClusters: its ``Status``, ``TagList`` and
``DBClusterMembers``, each with ``IsClusterWriter`` and ``PromotionTier``) and its
instances (DescribeDBInstances filtered by ``db-cluster-id``: each member's
``DBInstanceStatus``). A cluster whose engine is not Aurora (a Multi-AZ DB cluster of RDS
for MySQL/PostgreSQL, Neptune, DocumentDB share the API) is refused with ``InvalidInput``.

Check ``state``: the cluster's ``Status`` lower-cased, except that an ``available`` cluster
whose writer instance is not ``available`` (or that has no writer) reads
``writer-unavailable``. Healthy iff ``available`` (cluster and writer), ``skip`` null.

``skip`` (see ``healstack_lambda.step``), in this order:

- ``not_in_scope``: the cluster lacks the tag ``HEALSTACK_REQUIRE_TAG`` names (the
  cluster's own tags; its instances' tags are not consulted).
- ``stopped_on_purpose``: the cluster is ``stopped`` or ``stopping`` (someone stopped it;
  Aurora starts a stopped cluster again by itself after 7 days) or ``deleting``.
- ``changing``: the cluster is in a status of the Aurora User Guide's "DB cluster status"
  table in which RDS carries out a change someone asked for, its own maintenance, or a
  failover: ``backing-up``, ``backtracking``, ``creating``, ``failing-over``,
  ``maintenance``, ``migrating``, ``modifying``, ``promoting``, ``renaming``,
  ``resetting-master-credentials``, ``starting``, ``storage-optimization``,
  ``update-iam-db-auth``, ``upgrading``. Or the cluster is available and its writer
  instance is in such a change of its own: ``backing-up``, ``configuring-*``,
  ``creating``, ``deleting`` (Aurora promotes a reader by itself), ``maintenance``,
  ``modifying``, ``rebooting``, ``renaming``, ``resetting-master-credentials``,
  ``starting``, ``storage-optimization``, ``upgrading``. A failover then would fight it.
- anything else that is not healthy is a recovery case (``skip`` null): a writer that is
  ``failed``, ``storage-full``, ``incompatible-*``, ``inaccessible-encryption-*`` or
  missing; a cluster that is ``inaccessible-encryption-credentials*``, ``cloning-failed``,
  ``migration-failed`` (no failover helps those: the action says so and does nothing).

Failover (FailoverDBCluster with ``TargetDBInstanceIdentifier``), after the same reads;
scope first: ``NotInScope`` before anything else, dry runs included. Then:

- cluster ``deleting``: ``ResourceNotFound``; ``failing-over``: a no-op that says a
  failover is already under way (a second one is never requested); any other status but
  ``available``: a no-op naming it (RDS fails over only an available cluster).
- ``params.target_instance`` (optional): a DB instance identifier (case-insensitive) of a
  member of the cluster, else ``InvalidInput`` naming its members. Already the writer: a
  no-op (the promotion it asks for is done). Not ``available``: a no-op naming its status.
- without it: the ``available`` reader of the lowest ``PromotionTier`` (Aurora's own
  priority order: tier 0 first), ties broken by identifier so the choice is deterministic
  (Aurora breaks ties by instance size, then arbitrarily).
- no ``available`` reader: a no-op that says so and lists the readers and their statuses;
  no failover is requested (promoting nothing, RDS would refuse it or pick a broken one).
- dry run: says which reader it would promote, calls nothing that changes anything.
- RDS answering ``InvalidDBClusterStateFault`` / ``InvalidDBInstanceStateFault`` (a
  failover or change began between the read and the call): a no-op naming the code.

Time: a handler normally makes at most two calls (``healstack_lambda.aws``); the failover
makes three. FailoverDBCluster is only called when the Lambda's remaining time still holds
the call's own worst case (the client's connect + read timeout); otherwise
``TransientError`` before it, and the workflow retries the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from . import aws
from .errors import InvalidInput, ResourceNotFound, TransientError, aws_errors
from .kinds.rds_instance import DB_INSTANCE_CHANGES
from .kinds.rds_instance import IDENTIFIER as INSTANCE_ID
from .step import (
    CHANGING,
    NOT_IN_SCOPE,
    STOPPED_ON_PURPOSE,
    StepRequest,
    action_result,
    check_result,
    in_scope,
    require_scope,
    run_check,
    run_step,
    tag_map,
)

KIND = "aurora_cluster"
HEALTHY = "available"
WRITER_UNAVAILABLE = "writer-unavailable"
FAILING_OVER = "failing-over"
GONE = frozenset({"deleting", "deleted"})
STOPPED = frozenset({"stopped", "stopping", "deleting"})
CLUSTER_CHANGES = frozenset(
    {
        "backing-up",
        "backtracking",
        "creating",
        FAILING_OVER,
        "maintenance",
        "migrating",
        "modifying",
        "promoting",
        "renaming",
        "resetting-master-credentials",
        "starting",
        "storage-optimization",
        "update-iam-db-auth",
        "upgrading",
    }
)
#: the writer is a DB instance: its statuses that mean it is changing, and its deletion
WRITER_CHANGES = DB_INSTANCE_CHANGES | {"deleting"}
#: what RDS answers when the cluster or the chosen reader left the state the reads saw
REFUSED_STATE_CODES = frozenset({"InvalidDBClusterStateFault", "InvalidDBInstanceStateFault"})
#: an Aurora cluster has at most 16 instances: one page of DescribeDBInstances holds them
MAX_RECORDS = 100


@dataclass(frozen=True)
class Member:
    instance: str
    writer: bool
    tier: int
    status: str

    def describe(self) -> str:
        return f"{self.instance} ({self.status}, tier {self.tier})"


@dataclass(frozen=True)
class Cluster:
    identifier: str
    status: str
    engine: str
    tags: dict[str, str]
    members: tuple[Member, ...]

    @property
    def writer(self) -> Member | None:
        return next((m for m in self.members if m.writer), None)

    @property
    def readers(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if not m.writer)

    @property
    def state(self) -> str:
        if self.status != HEALTHY:
            return self.status
        writer = self.writer
        return HEALTHY if writer is not None and writer.status == HEALTHY else WRITER_UNAVAILABLE


def _lower(value: Any, default: str = "unknown") -> str:
    return str(value).lower() if isinstance(value, str) and value else default


def read_cluster(identifier: str) -> Cluster:
    """The cluster and its members' statuses (two calls); ``ResourceNotFound`` when it does
    not exist, ``InvalidInput`` when it is not an Aurora cluster."""
    client = aws.client("rds")
    with aws_errors(identifier):
        response = client.describe_db_clusters(DBClusterIdentifier=identifier)
    found = [
        c
        for c in response.get("DBClusters", [])
        if _lower(c.get("DBClusterIdentifier"), "") == identifier.lower()
    ]
    if not found:
        raise ResourceNotFound(f"Aurora DB cluster {identifier} not found")
    raw = found[0]
    engine = _lower(raw.get("Engine"), "")
    if not engine.startswith("aurora"):
        raise InvalidInput(
            f"DB cluster {identifier} runs engine {engine or 'unknown'!r}, not Aurora; "
            "the aurora_cluster kind fails over Aurora clusters only"
        )
    with aws_errors(identifier):
        instances = client.describe_db_instances(
            Filters=[{"Name": "db-cluster-id", "Values": [identifier]}], MaxRecords=MAX_RECORDS
        )
    statuses = {
        _lower(i.get("DBInstanceIdentifier"), ""): _lower(i.get("DBInstanceStatus"))
        for i in instances.get("DBInstances", [])
    }
    members = []
    for member in raw.get("DBClusterMembers", []):
        name = _lower(member.get("DBInstanceIdentifier"), "")
        if not name:
            continue
        tier = member.get("PromotionTier")
        members.append(
            Member(
                instance=name,
                writer=bool(member.get("IsClusterWriter")),
                tier=tier if isinstance(tier, int) and not isinstance(tier, bool) else 15,
                status=statuses.get(name, "unknown"),
            )
        )
    return Cluster(
        identifier=identifier,
        status=_lower(raw.get("Status")),
        engine=engine,
        tags=tag_map(raw.get("TagList")),
        members=tuple(sorted(members, key=lambda m: m.instance)),
    )


def skip_for(cluster: Cluster) -> str | None:
    """``stopped_on_purpose``, ``changing`` or None (see the module docstring)."""
    if cluster.status in STOPPED:
        return STOPPED_ON_PURPOSE
    if cluster.status in CLUSTER_CHANGES:
        return CHANGING
    writer = cluster.writer
    changing = writer is not None and (
        writer.status in WRITER_CHANGES or writer.status.startswith("configuring-")
    )
    return CHANGING if cluster.status == HEALTHY and changing else None


def _detail(cluster: Cluster) -> dict[str, Any]:
    writer = cluster.writer
    return {
        "status": cluster.status,
        "engine": cluster.engine,
        "writer": writer.instance if writer else None,
        "writer_status": writer.status if writer else None,
        "readers": [
            {"instance": r.instance, "status": r.status, "promotion_tier": r.tier}
            for r in cluster.readers
        ],
        "available_readers": sum(1 for r in cluster.readers if r.status == HEALTHY),
    }


def _check(request: StepRequest) -> dict[str, Any]:
    cluster = read_cluster(request.resource_id)
    detail = _detail(cluster)
    if not in_scope(cluster.tags):
        return check_result(False, cluster.state, detail, NOT_IN_SCOPE)
    return check_result(cluster.state == HEALTHY, cluster.state, detail, skip_for(cluster))


def _target_param(request: StepRequest) -> str | None:
    value = request.params.get("target_instance")
    if value is None:
        return None
    if not isinstance(value, str) or not INSTANCE_ID.match(value.strip()):
        raise InvalidInput(
            "params.target_instance must be a DB instance identifier of the cluster "
            "(1-63 letters, digits or hyphens, starting with a letter)"
        )
    return value.strip().lower()


def choose_reader(cluster: Cluster, wanted: str | None) -> tuple[Member | None, str]:
    """The reader to promote, or None and why nothing is to be done."""
    label = cluster.identifier
    if wanted is not None:
        member = next((m for m in cluster.members if m.instance == wanted), None)
        if member is None:
            names = ", ".join(m.instance for m in cluster.members) or "none"
            raise InvalidInput(
                f"params.target_instance {wanted!r} is not a member of Aurora DB cluster "
                f"{label} (members: {names})"
            )
        if member.writer:
            return None, f"{wanted} is already the writer of {label}; nothing done"
        if member.status != HEALTHY:
            return None, f"reader {wanted} of {label} is {member.status}; nothing done"
        return member, ""
    ready = sorted(
        (r for r in cluster.readers if r.status == HEALTHY), key=lambda r: (r.tier, r.instance)
    )
    if not ready:
        listed = ", ".join(r.describe() for r in cluster.readers) or "none"
        return None, (
            f"no available reader to promote in {label} (readers: {listed}); no failover "
            "requested, nothing done"
        )
    return ready[0], ""


def _call_fits(context: Any, client: Any) -> None:
    """``TransientError`` when the Lambda's remaining time cannot hold one more call's worst
    case (connect + read timeout of ``client``); without a Lambda context, no bound."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return
    config = client.meta.config
    needed_ms = 1000 * (float(config.connect_timeout) + float(config.read_timeout))
    left = remaining()
    if left < needed_ms:
        raise TransientError(
            f"{left} ms left in this invocation, FailoverDBCluster may need {needed_ms:.0f} ms; "
            "not called (the workflow retries the step)"
        )


def _failover(request: StepRequest, context: Any) -> dict[str, Any]:
    identifier = request.resource_id
    cluster = read_cluster(identifier)
    require_scope(cluster.tags, f"Aurora DB cluster {identifier}")
    status = cluster.status
    if status in GONE:
        raise ResourceNotFound(f"Aurora DB cluster {identifier} is {status}")
    if status == FAILING_OVER:
        return action_result(
            "failover",
            request,
            False,
            f"{identifier} is already failing over; no second failover requested",
        )
    if status != HEALTHY:
        return action_result(
            "failover",
            request,
            False,
            f"{identifier} is {status}; RDS fails over only an available cluster, nothing done",
        )
    reader, why = choose_reader(cluster, _target_param(request))
    if reader is None:
        return action_result("failover", request, False, why)
    writer = cluster.writer
    was = f"writer {writer.instance} ({writer.status})" if writer else "no writer"
    plan = f"{identifier} to reader {reader.instance} (tier {reader.tier}; {was})"
    if request.dry_run:
        return action_result("failover", request, False, f"dry run: would fail over {plan}")
    client = aws.client("rds")
    _call_fits(context, client)
    try:
        with aws_errors(identifier):
            client.failover_db_cluster(
                DBClusterIdentifier=identifier, TargetDBInstanceIdentifier=reader.instance
            )
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code not in REFUSED_STATE_CODES:
            raise
        return action_result(
            "failover",
            request,
            False,
            f"RDS refused the failover of {plan} ({code}: it left the state just read); "
            "nothing done",
        )
    return action_result("failover", request, True, f"failover issued: {plan}")


def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Healthy iff the cluster and its writer are ``available``; ``state`` and ``skip`` as
    in the module docstring."""
    return run_check("aurora.check", event, context, KIND, _check)


def failover(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """FailoverDBCluster to an available reader; see the module docstring for the rules."""
    return run_step(
        "aurora.failover",
        event,
        context,
        KIND,
        lambda request: _failover(request, context),
        allowed_params=("target_instance",),
    )
