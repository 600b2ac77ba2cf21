"""The fleet budget (``guard.fleet``): slots in flight and starts per hour, taken atomically in
the store, idempotent per execution, given back by notify, and never lost to a recovery that
ended without giving its slot back."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from healstack_lambda import aws, fleet, fleet_budget, notify
from healstack_lambda.errors import InvalidInput, StateNotReached
from tests.handlers.conftest import REGION, create_store

PLAYBOOK = "ec2-status-check-recovery"
NOW = 1_800_000_000  # the hour's start plus 2,000 s
SLOT = 3660


def execution(n: int) -> str:
    return f"arn:aws:states:{REGION}:123456789012:execution:healstack-{PLAYBOOK}:run-{n}"


@pytest.fixture(autouse=True)
def store(monkeypatch: pytest.MonkeyPatch) -> Any:
    aws.reset_clients()
    dynamodb = create_store("store")
    monkeypatch.setenv("HEALSTACK_TABLE", "store")
    monkeypatch.setenv(fleet.MAX_IN_FLIGHT_ENV, "2")
    monkeypatch.setenv(fleet.MAX_PER_HOUR_ENV, "3")
    monkeypatch.setenv(fleet.SLOT_SECONDS_ENV, str(SLOT))
    return dynamodb


def take(n: int, now: int = NOW) -> dict[str, Any]:
    payload = {"playbook": PLAYBOOK, "execution_id": execution(n), "now": now}
    return fleet_budget.handle(payload, None)


def holders(dynamodb: Any) -> dict[str, int]:
    item = dynamodb.get_item(
        TableName="store", Key={"pk": {"S": f"fleet#{PLAYBOOK}"}, "sk": {"S": "in-flight"}}
    )["Item"]
    return {k: int(v["N"]) for k, v in item["holders"]["M"].items()}


def test_at_most_n_in_flight_and_each_execution_counts_once(store: Any) -> None:
    assert take(1) == {"in_flight": 1, "started_this_hour": 1}
    assert take(1) == {"in_flight": 1, "started_this_hour": 1}  # its second action
    assert take(2) == {"in_flight": 2, "started_this_hour": 2}
    with pytest.raises(StateNotReached, match="code: fleet_in_flight"):
        take(3)
    assert holders(store) == {"run-1": NOW + SLOT, "run-2": NOW + SLOT}


def test_a_slot_given_back_lets_the_next_recovery_act(store: Any) -> None:
    take(1), take(2)
    fleet.release("store", PLAYBOOK, execution(1))
    fleet.release("store", PLAYBOOK, execution(1))  # twice: nothing more happens
    assert take(3)["in_flight"] == 2
    assert sorted(holders(store)) == ["run-2", "run-3"]


def test_an_expired_slot_is_removed_when_the_budget_is_full(store: Any) -> None:
    take(1, now=NOW - SLOT - 10)  # its recovery ended without giving it back
    take(2)
    assert take(3)["in_flight"] == 2
    assert sorted(holders(store)) == ["run-2", "run-3"]


def test_at_most_m_start_per_hour_and_a_refused_one_holds_no_slot(store: Any) -> None:
    for n in (1, 2, 3):
        take(n)
        fleet.release("store", PLAYBOOK, execution(n))
    with pytest.raises(StateNotReached, match="code: fleet_per_hour"):
        take(4)
    assert holders(store) == {}
    # the next hour has its own budget
    assert take(4, now=NOW + 3600)["started_this_hour"] == 1


def test_a_bad_configuration_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fleet.MAX_PER_HOUR_ENV, "many")
    with pytest.raises(InvalidInput, match=fleet.MAX_PER_HOUR_ENV):
        take(1)


def test_notify_gives_the_slot_back_except_for_a_duplicate(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="t")["TopicArn"]
    monkeypatch.setenv("HEALSTACK_TOPIC_ARN", topic)
    take(1), take(2)
    told = {"playbook": PLAYBOOK, "resource_id": "i-0123456789abcdef0", "dry_run": False}
    notify.notify({**told, "execution_id": execution(3), "outcome": "already_recovering"}, None)
    assert sorted(holders(store)) == ["run-1", "run-2"]
    notify.notify({**told, "execution_id": execution(1), "outcome": "recovered"}, None)
    assert sorted(holders(store)) == ["run-2"]
    monkeypatch.delenv(fleet.MAX_IN_FLIGHT_ENV)  # a playbook without a fleet budget
    notify.notify({**told, "execution_id": execution(2), "outcome": "recovered"}, None)
    assert sorted(holders(store)) == ["run-2"]
