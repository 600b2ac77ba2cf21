"""The cloud API's rate limit in the simulator, and a throttled fleet storm that rides it out.

``RateLimits`` gives chosen API operations a token bucket on the simulated clock; a call that
finds its bucket empty gets the service's real throttling response through moto (EC2:
``RequestLimitExceeded``, HTTP 503), which the handlers map to ``Throttled``. The storm tests
shrink EC2's documented bucket (50 tokens, 5 per second, for 1,000 reboots) to 5 tokens and
0.25 per second for 50 reboots: the same 180-190 s of refills, in a twentieth of the time.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from healstack.modules.compile import THROTTLED_RETRY, TRANSIENT_RETRY
from healstack.playbook import Playbook
from healstack.simulate import (
    FunctionSpec,
    RateLimits,
    SimulationError,
    TokenBucket,
    simulate_many,
)
from healstack.simulate.runner import (
    PlaybookRun,
    SynthesizedRecovery,
    run_playbook_many,
)
from tests.conftest import REPO
from tests.simulate.simulate_workflow import EXAMPLE_AMI_ID, function_arn

EC2 = "ec2-status-check-recovery"
SAMPLE = json.loads((REPO / "examples/events/cloudwatch-alarm-ec2-status-check.json").read_text())
RECOVERS = {
    "mocks": {"CheckBeforeAction": {"1": {"return": {"healthy": False, "state": "running"}}}}
}
STORM = 50
NO_RETRIES: Any = {"total_max_attempts": 1, "mode": "standard"}
#: EC2's documented 50 tokens / 5 per second for 1,000 reboots, shrunk for 50 reboots
BUCKET = {"capacity": 5, "refill_per_second": 0.25}


def storm_events(count: int) -> list[dict[str, Any]]:
    """The sample alarm once per instance, each naming a different instance."""
    events = []
    for index in range(count):
        event = copy.deepcopy(SAMPLE)
        metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
        metric["dimensions"]["InstanceId"] = f"i-{index + 1:017x}"
        events.append(event)
    return events


def short_policy(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The definition with ``Throttled`` folded into the short transient retrier (4 retries,
    2 s doubling, at most 30 s): how the stack retried a throttled call before."""
    out = copy.deepcopy(dict(definition))
    for state in out["States"].values():
        retriers = [r for r in state.get("Retry", []) if r["ErrorEquals"] != ["Throttled"]]
        for retrier in retriers:
            if "TransientError" in retrier["ErrorEquals"]:
                retrier["ErrorEquals"] = [*retrier["ErrorEquals"], "Throttled"]
        if "Retry" in state:
            state["Retry"] = retriers
    return out


def throttled_invocations(runs: list[PlaybookRun]) -> int:
    return sum(1 for run in runs for i in run.result.invocations if i.error == "Throttled")


def storm(
    playbook: Playbook, recovery: SynthesizedRecovery
) -> tuple[list[PlaybookRun], RateLimits]:
    limits = RateLimits.ec2_actions(**BUCKET)
    runs = run_playbook_many(
        playbook,
        storm_events(STORM),
        synthesized=recovery,
        scenario=RECOVERS,
        max_in_flight=STORM,  # all at once, as on AWS
        rate_limits=limits,
        timeout_s=300,
    )
    return runs, limits


def test_a_bucket_holds_its_capacity_and_refills_on_the_clock() -> None:
    limits = RateLimits({("ec2", "RebootInstances"): TokenBucket(2, 0.5)})

    assert [limits.admit("ec2", "RebootInstances", 0.0) for _ in range(3)] == [True, True, False]
    assert limits.admit("ec2", "RebootInstances", 1.0) is False  # half a token back
    assert limits.admit("ec2", "RebootInstances", 2.0) is True  # one whole token
    assert limits.admit("ec2", "RebootInstances", 100.0) is True  # full again: 2, not 49
    assert limits.admit("ec2", "RebootInstances", 100.0) is True
    assert limits.admit("ec2", "RebootInstances", 100.0) is False
    assert limits.admit("ec2", "DescribeInstances", 100.0) is True  # no bucket, no limit
    assert limits.throttled == {"ec2.RebootInstances": 3}
    assert limits.admitted == {"ec2.RebootInstances": 5}
    limits.start(0.0)
    assert limits.throttles == 0 and limits.admit("ec2", "RebootInstances", 0.0) is True


def test_the_documented_ec2_buckets() -> None:
    buckets = RateLimits.ec2_documented().buckets
    assert buckets[("ec2", "RebootInstances")] == TokenBucket(50, 5)
    assert buckets[("ec2", "StopInstances")] == TokenBucket(50, 5)
    assert buckets[("ec2", "StartInstances")] == TokenBucket(5, 2)


@pytest.mark.parametrize(
    ("buckets", "message"),
    [
        ({("sqs", "SendMessage"): TokenBucket(1, 1)}, r"no throttling response modelled for 'sqs'"),
        ({("ec2", "reboot_instances"): TokenBucket(1, 1)}, r"not an API operation name"),
    ],
)
def test_limits_name_a_modelled_service_and_an_operation(
    buckets: dict[tuple[str, str], TokenBucket], message: str
) -> None:
    with pytest.raises(SimulationError, match=message):
        RateLimits(buckets)


def test_a_bucket_needs_a_token_and_a_refill() -> None:
    with pytest.raises(SimulationError, match="at least 1 token"):
        TokenBucket(0, 1)
    with pytest.raises(SimulationError, match="positive rate"):
        TokenBucket(1, 0)


def test_an_empty_bucket_answers_as_ec2_does() -> None:
    """Through moto and botocore: the ClientError a handler sees on AWS."""

    def reboot_twice(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # as the handlers' clients do: no SDK retries, so one call is one request
        ec2 = boto3.client("ec2", region_name="us-east-1", config=Config(retries=NO_RETRIES))
        instance = ec2.run_instances(ImageId=EXAMPLE_AMI_ID, MinCount=1, MaxCount=1)
        instance_id = instance["Instances"][0]["InstanceId"]
        ec2.reboot_instances(InstanceIds=[instance_id])  # the bucket's only token
        try:
            ec2.reboot_instances(InstanceIds=[instance_id])
        except ClientError as err:
            return {
                "code": err.response["Error"]["Code"],
                "message": err.response["Error"]["Message"],
                "status": err.response["ResponseMetadata"]["HTTPStatusCode"],
                "operation": err.operation_name,
            }
        return {"code": None}

    limits = RateLimits.ec2_actions(capacity=1, refill_per_second=0.001)
    definition = {
        "StartAt": "Reboot",
        "States": {"Reboot": {"Type": "Task", "Resource": function_arn("reboot"), "End": True}},
    }
    (result,) = simulate_many(
        definition, {"reboot": FunctionSpec(reboot_twice)}, [{}], rate_limits=limits
    )

    assert result.status == "SUCCEEDED"
    assert result.output == {
        "code": "RequestLimitExceeded",
        "message": "Request limit exceeded.",
        "status": 503,
        "operation": "RebootInstances",
    }
    assert limits.throttled == {"ec2.RebootInstances": 1}
    assert limits.admitted == {"ec2.RebootInstances": 1}


def test_a_throttled_fleet_storm_recovers_every_instance(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    runs, limits = storm(ec2_playbook, ec2_recovery)

    assert limits.throttles > 0  # the bucket really ran dry
    assert throttled_invocations(runs) == limits.throttles  # every throttle reached a handler
    assert [run.result.status for run in runs] == ["SUCCEEDED"] * STORM
    assert Counter(run.outcome for run in runs) == {"recovered": STORM}
    assert all(len(run.notifications) == 1 for run in runs)
    assert len({run.target_id for run in runs}) == STORM
    assert all(run.target_state_after == "running" for run in runs)
    assert limits.admitted == {"ec2.RebootInstances": STORM}  # one reboot per instance
    assert runs[0].locks() == []
    # the tail waited well past what the short transient policy could have waited
    waited = max(sum(d.seconds for d in run.result.retry_delays("Reboot")) for run in runs)
    assert waited > TRANSIENT_RETRY.longest_wait_seconds
    delays = [d for run in runs for d in run.result.retry_delays("Reboot")]
    assert {d.nominal_seconds for d in delays} <= set(THROTTLED_RETRY.delays())
    assert all(d.seconds <= d.nominal_seconds for d in delays)  # full jitter


def test_the_short_transient_policy_loses_the_tail_of_the_same_storm(
    ec2_playbook: Playbook, ec2_recovery: SynthesizedRecovery
) -> None:
    """Why throttles have their own policy: retried like any transient fault, most reboots
    run out of retries while the bucket refills, and are notified as failed."""
    before = replace(ec2_recovery, definition=short_policy(ec2_recovery.definition))

    runs, limits = storm(ec2_playbook, before)

    assert limits.throttles > 0
    failed = [run for run in runs if run.outcome == "failed"]
    assert len(failed) > STORM // 2
    assert {run.result.status for run in failed} == {"FAILED"}
    assert {run.notifications[0]["message"]["error"]["Error"] for run in failed} == {"Throttled"}
    assert {run.outcome for run in runs} == {"recovered", "failed"}
    # nothing lost or leaked even so: one notification each, every lock released
    assert all(len(run.notifications) == 1 for run in runs)
    assert runs[0].locks() == []
