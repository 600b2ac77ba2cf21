"""The security review's attacks and harms, replayed on the real synthesized workflows.

Each test reproduces a finding of ``shared/reviews/security-2026-12.md`` with the real state
machine definition and the real handlers on moto, and pins that it no longer does harm:
H1 (an instance stopped on purpose is started), H2 (the whole account is in scope), M1
(forged events use up the anti-flap budget), M4 (an RDS id in other case dodges the lock),
M5 (a duplicate event costs an email each), M7 (another account's or region's event acts
here), L4 (event text reaches the email), stale events, and a notification that fails.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from healstack.loader import load_playbook, shipped_playbook_path
from healstack.playbook import Playbook
from healstack.simulate.runner import (
    ACCOUNT,
    REGION,
    PlaybookRun,
    Start,
    SynthesizedRecovery,
    run_playbook,
    run_playbook_many,
    synthesized_recovery,
)
from tests.conftest import REPO

EVENTS = REPO / "examples" / "events"
SCENARIOS = REPO / "examples" / "scenarios"
UNHEALTHY = {"return": {"healthy": False, "state": "running"}}
RECOVERS = {"mocks": {"CheckBeforeAction": {"1": UNHEALTHY}}}
LATER = 2 * 3600  # simulated seconds: after any earlier recovery of this workflow ended


def event(name: str = "cloudwatch-alarm-ec2-status-check.json") -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def calls(run: PlaybookRun, suffix: str) -> int:
    return sum(n for fn, n in run.result.lambda_invocations.items() if fn.endswith(suffix))


def ec2() -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def stored(run: PlaybookRun, prefix: str) -> list[dict[str, Any]]:
    return [i for i in run.store_items if i["pk"].startswith(prefix)]


def only_note(run: PlaybookRun) -> dict[str, Any]:
    (note,) = run.notifications
    return dict(note["message"])


# -- H1: an instance stopped on purpose ------------------------------------------------------


def test_an_alarm_for_an_instance_stopped_on_purpose_is_skipped_and_never_starts_it(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    def stopped_for_maintenance(_recovery: SynthesizedRecovery, target: str) -> None:
        ec2().stop_instances(InstanceIds=[target])

    run = run_playbook(
        ec2_playbook, event(), synthesized=ec2_recovery, prepare=stopped_for_maintenance
    )
    assert run.result.status == "SUCCEEDED"
    assert run.outcome == "skipped"
    message = only_note(run)
    assert message["reason"] == "stopped_on_purpose"
    assert [calls(run, s) for s in ("-reboot", "-stop", "-start")] == [0, 0, 0]
    assert run.target_state_after == "stopped"
    assert stored(run, "limit#") == []  # nothing acted, nothing counted
    assert run.locks() == []


def test_start_never_restarts_an_instance_this_execution_did_not_stop(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    """Even if a check were fooled into 'unhealthy and running' (here: mocked) on attempts 1
    and 2, the stop finds the instance already stopped by someone else, so the start that
    follows it refuses: it only undoes this attempt's own stop."""

    def stopped_by_someone(_recovery: SynthesizedRecovery, target: str) -> None:
        ec2().stop_instances(InstanceIds=[target])

    fooled = {
        "mocks": {
            "CheckBeforeAction": {"1-2": UNHEALTHY},
            "CheckAfterAction": {"1": UNHEALTHY},
        }
    }
    run = run_playbook(
        ec2_playbook,
        event(),
        synthesized=ec2_recovery,
        prepare=stopped_by_someone,
        scenario=fooled,
    )
    assert calls(run, "-stop") == 1 and calls(run, "-start") == 1
    (start,) = run.result.steps_for("Start")
    (answer,) = start.attempts
    assert "changed=false" in str(answer.result)  # the trace's summary of the result
    (record,) = [i for i in run.result.invocations if i.state == "Start"]
    assert not record.mocked and record.outcome == "ok"
    assert run.target_state_after == "stopped"  # it was never started


# -- H2: scope ---------------------------------------------------------------------------------


def test_an_instance_without_the_required_tag_is_out_of_scope_before_any_action(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    (key,) = ec2_playbook.target.require_tag or {}

    def not_opted_in(_recovery: SynthesizedRecovery, target: str) -> None:
        ec2().delete_tags(Resources=[target], Tags=[{"Key": key}])

    run = run_playbook(
        ec2_playbook,
        event(),
        synthesized=ec2_recovery,
        prepare=not_opted_in,
        scenario={"mocks": {"Reboot": {"1+": {"return": {"changed": True}}}}},
    )
    assert run.outcome == "skipped"
    assert only_note(run)["reason"] == "not_in_scope"
    assert calls(run, "-reboot") == 0
    assert run.target_state_after == "running"


# -- M1: the anti-flap budget ------------------------------------------------------------------


def test_events_for_a_healthy_instance_use_none_of_the_budget_of_a_real_failure(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    limit = ec2_playbook.guard.max_recoveries
    forged = [Start(event(), at=i * LATER, name=f"forged-{i}") for i in range(limit)]
    genuine = Start(event(), at=limit * LATER, name="genuine", scenario=RECOVERS)
    runs = run_playbook_many(ec2_playbook, [*forged, genuine], synthesized=ec2_recovery)
    assert [r.outcome for r in runs] == ["already_healthy"] * limit + ["recovered"]
    (counter,) = stored(runs[-1], "limit#")
    assert len(counter["executions"]) == 1  # only the genuine recovery counted


def test_one_recovery_counts_once_however_many_actions_it_runs(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    run = run_playbook(
        ec2_playbook,
        event(),
        synthesized=ec2_recovery,
        scenario=SCENARIOS / "ec2-never-recovers.yaml",
    )
    assert run.outcome == "gave_up"
    assert [calls(run, s) for s in ("-reboot", "-stop", "-start")] == [1, 2, 2]
    (counter,) = stored(run, "limit#")
    assert counter["executions"] == [run.result.execution_arn]


# -- M4: one resource, one key -----------------------------------------------------------------


def test_an_rds_id_in_other_case_meets_the_same_lock(synthesized: Path) -> None:
    playbook = load_playbook(shipped_playbook_path("rds-failure-recovery.yaml"))
    recovery = synthesized_recovery(synthesized / "stacks" / "rds-failure-recovery" / "cdk.tf.json")
    shouting = event("rds-db-instance-event.json")
    shouting["detail"]["SourceIdentifier"] = "ORDERS-DB-PROD"
    shouting["resources"] = ["arn:aws:rds:us-east-1:123456789012:db:ORDERS-DB-PROD"]
    other = "arn:aws:states:us-east-1:123456789012:execution:x:other"

    def held(recovery: SynthesizedRecovery, target: str) -> None:
        assert recovery.table is not None and target == "orders-db-prod"
        boto3.client("dynamodb", region_name="us-east-1").put_item(
            TableName=recovery.table["name"],
            Item={
                "pk": {"S": "lock#orders-db-prod"},
                "sk": {"S": "lock"},
                "execution": {"S": other},
                "expires_at": {"N": str(int(time.time()) + 600)},
            },
        )

    run = run_playbook(playbook, shouting, synthesized=recovery, prepare=held)
    assert run.outcome == "already_recovering"
    assert calls(run, "-reboot") == 0


# -- M7 and stale events: refused before any step ----------------------------------------------


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"account": "999999999999"}, "foreign_account"),
        ({"region": "eu-west-1"}, "foreign_region"),
    ],
    ids=["another-account", "another-region"],
)
def test_an_event_from_elsewhere_is_refused_before_any_step(
    ec2_playbook: Playbook,
    ec2_recovery: SynthesizedRecovery,
    change: dict[str, str],
    code: str,
) -> None:
    # deployed in moto's default account and region; the event names another
    run = run_playbook(
        ec2_playbook,
        {**event(), **change},
        synthesized=ec2_recovery,
        deployed_in=(ACCOUNT, REGION),
    )
    assert run.result.status == "FAILED" and run.result.error == "EventRefused"
    assert [s.state for s in run.result.steps] == [
        "ResolveTarget",
        "NotifyRefusedEvent",
        "EventRefused",
    ]
    message = only_note(run)
    assert message["outcome"] == "refused"
    assert code in json.dumps(message["error"])
    assert calls(run, "-check-status") == 0


def test_a_stale_event_is_refused_and_simulate_keeps_its_time_only_when_asked(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    old = run_playbook(ec2_playbook, event(), synthesized=ec2_recovery, keep_event_time=True)
    assert old.result.error == "EventRefused"
    assert "stale_event" in json.dumps(only_note(old)["error"])
    assert calls(old, "-check-status") == 0
    now = run_playbook(ec2_playbook, event(), synthesized=ec2_recovery)
    assert now.outcome == "already_healthy"  # the same event, arriving now


# -- L4: nothing of a refused value reaches the email ------------------------------------------


def test_injected_text_in_an_alarm_never_reaches_the_notification(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    lure = "URGENT: approve with aws stepfunctions send-task-success --task-token $(curl x)"
    bad = event()
    for metric in bad["detail"]["configuration"]["metrics"]:
        metric["metricStat"]["metric"]["dimensions"]["InstanceId"] = lure
    run = run_playbook(ec2_playbook, bad, synthesized=ec2_recovery)
    assert run.result.error == "EventNotResolved"
    text = json.dumps(run.notifications)
    assert "URGENT" not in text and "curl" not in text
    assert "sha256" in text  # what it was is still traceable


# -- every outcome is told, even when telling fails --------------------------------------------


def test_a_notification_that_fails_still_releases_the_lock_and_ends_apart(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    broken = {"mocks": {"NotifyAlreadyHealthy": {"1+": {"throw": {"error": "NotPermitted"}}}}}
    run = run_playbook(ec2_playbook, event(), synthesized=ec2_recovery, scenario=broken)
    assert run.result.status == "FAILED"
    assert run.result.error == "NotificationFailed"
    assert [s.state for s in run.result.steps][-2:] == [
        "ReleaseLockAfterNotifyFailed",
        "NotificationFailed",
    ]
    assert run.locks() == []  # the next event can recover the instance


# -- M5: duplicates ------------------------------------------------------------------------------


def test_duplicate_events_during_a_recovery_cost_one_summary_not_an_email_each(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    first = Start(event(), name="first", scenario=RECOVERS)
    duplicates = [Start(event(), at=30 + i, name=f"duplicate-{i}") for i in range(4)]
    runs = run_playbook_many(ec2_playbook, [first, *duplicates], synthesized=ec2_recovery)
    assert runs[0].outcome == "recovered"
    for duplicate in runs[1:]:  # each refused at the lock, told at most once between them
        assert duplicate.result.status == "SUCCEEDED"
        assert [s.state for s in duplicate.result.steps][-1] == "NotifyAlreadyRecovering"
        assert calls(duplicate, "-check-status") == 0
    every_message = [n["message"] for r in runs for n in r.notifications]
    assert [m["outcome"] for m in every_message].count("already_recovering") == 1
    (final,) = [m for m in every_message if m["outcome"] == "recovered"]
    # the first duplicate was told by its own summary; the recovery reports the later ones
    assert final["duplicates"] == 3


def test_a_real_event_rides_out_throttled_invocations_in_a_storm(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    """A storm uses up the functions' reserved concurrency: ResolveTarget's invocations are
    throttled for a while. The event still resolves (the throttle policy: minutes, not the
    short transient one that gave up after ~30 s and ended a real event as unresolved)."""
    throttled = {"throw": {"error": "Lambda.TooManyRequestsException", "cause": "Rate exceeded"}}
    scenario = {"mocks": {"ResolveTarget": {"1-6": throttled}, **RECOVERS["mocks"]}}
    run = run_playbook(ec2_playbook, event(), synthesized=ec2_recovery, scenario=scenario)
    assert run.outcome == "recovered"
    delays = run.result.retry_delays("ResolveTarget")
    assert len(delays) == 6 and max(d.nominal_seconds for d in delays) == 120
