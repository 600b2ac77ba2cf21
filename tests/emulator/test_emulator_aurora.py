"""The shipped Aurora playbook applied with ``terraform apply`` into an in-process moto server,
then a recovery end to end: a tagged aurora-postgresql cluster whose writer has failed, the
"cluster failover failed" event (RDS-EVENT-0069) put on the default bus, EventBridge's rule
starting the state machine, the deployed functions running the real handlers, the real
FailoverDBCluster promoting the reader in moto, the "recovered" notification. (Destroy is
left to the default stack's test, ``test_emulator_apply.py``: it takes as long as the apply,
and the server and the folder go away with the session.)

Reuses the default stack's session (``tests/emulator/harness.py``): the server, the shims,
the clients, delivery and the real handlers. Run it alone with
``pytest tests/emulator/test_emulator_aurora.py -s``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto.rds.models import rds_backends

from healstack.loader import load_playbook, shipped_playbook_path
from tests.conftest import REPO
from tests.emulator.harness import (
    REGION,
    EmulatorSession,
    emulator_session,
)

pytestmark = [pytest.mark.slow, pytest.mark.emulator]

NAME = "aurora-cluster-failover"
PLAYBOOK = shipped_playbook_path(f"{NAME}.yaml")
EVENT = REPO / "examples" / "events" / "rds-db-cluster-event.json"
CLUSTER = "orders-aurora-prod"
WRITER, READER = f"{CLUSTER}-w", f"{CLUSTER}-r"
ENGINE = "aurora-postgresql"


@pytest.fixture
def emulator() -> Iterator[EmulatorSession]:
    with emulator_session(lambda line: print(line, flush=True)) as session:
        yield session


def _cluster_with_a_failed_writer(session: EmulatorSession) -> None:
    rds = session.client("rds")
    scope = load_playbook(PLAYBOOK).target.require_tag or {}
    rds.create_db_cluster(
        DBClusterIdentifier=CLUSTER,
        Engine=ENGINE,
        MasterUsername="orders",
        MasterUserPassword="emulator-only",
        Tags=[{"Key": k, "Value": v} for k, v in sorted(scope.items())],
    )
    for instance, tier in ((WRITER, 0), (READER, 1)):
        rds.create_db_instance(
            DBInstanceIdentifier=instance,
            DBClusterIdentifier=CLUSTER,
            Engine=ENGINE,
            DBInstanceClass="db.r6g.large",
            PromotionTier=tier,
        )
    account = str(session.client("sts").get_caller_identity()["Account"])
    # the server runs in this process: its backend is moto's own
    rds_backends[account][REGION].databases[WRITER].status = "failed"


def _writer(session: EmulatorSession) -> str:
    cluster = session.client("rds").describe_db_clusters(DBClusterIdentifier=CLUSTER)
    members = cluster["DBClusters"][0]["DBClusterMembers"]
    return str(next(m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"]))


def test_apply_then_fail_an_aurora_cluster_over(emulator: EmulatorSession) -> None:
    resources, outputs = emulator.deploy_playbook(PLAYBOOK, NAME)
    machine_arn, topic_arn = str(outputs["state_machine_arn"]), str(outputs["topic_arn"])

    with emulator.step("recovery run"):
        _cluster_with_a_failed_writer(emulator)
        queue_url = emulator._subscribe_queue(topic_arn)
        with emulator._real_handlers(machine_arn) as runtime:
            emulator.put_event(json.loads(EVENT.read_text()))
            execution_arn = emulator._delivered_execution(machine_arn)
            description = emulator._wait_for_end(execution_arn)
            notification = emulator._notification(queue_url)

    assert description["status"] == "SUCCEEDED"
    assert (notification["outcome"], notification["resource_id"]) == ("recovered", CLUSTER)
    assert _writer(emulator) == READER  # the real FailoverDBCluster reached moto
    calls = [r.state for r in runtime.router.records]
    assert calls.count("Failover") == 1, calls
    print(f"resources applied: {len(resources)}\n{emulator.timings.table()}")
