"""A fleet storm: N failure events for N different instances, through the local simulator.

All events start at the same simulated moment (``run_playbook_many``, one moto world, every
execution in flight at once as on AWS): every execution resolves its instance, takes its lock,
counts the recovery, finds the instance impaired (the first check is mocked), reboots it for
real, waits 3 minutes and re-checks. EC2 throttles the reboots as AWS documents it
(``RateLimits.ec2_documented()``: ``RebootInstances`` holds 50 tokens and refills 5 per
second), on the simulated clock: a refused call is the real ``RequestLimitExceeded`` error,
which the handler maps to ``Throttled`` and the workflow retries.

The run passes when every execution SUCCEEDED as ``recovered`` with exactly one notification
and the store holds no lock afterwards. Target (issue #6): 1,000 events in under 5 minutes
here. ``policy="short"`` runs the same storm with throttles retried by the short transient
policy instead (as before the ``Throttled`` category): the comparison the figures are for.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from benchmarks.common import REPO, Row
from benchmarks.cost import bill
from healstack.loader import load_playbook, shipped_playbook_path
from healstack.simulate.rate_limits import RateLimits
from healstack.simulate.runner import (
    PlaybookRun,
    SynthesizedRecovery,
    run_playbook_many,
    synthesize_for_simulation,
)

TARGET_S = 300.0
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
IMPAIRED = {"return": {"healthy": False, "state": "running"}}
SAMPLE = REPO / "examples" / "events" / "cloudwatch-alarm-ec2-status-check.json"
THROTTLED = "Throttled"
TRANSIENT = "TransientError"
Policy = Literal["shipped", "short"]


def events(count: int) -> list[dict[str, Any]]:
    """The sample alarm, once per instance ``i-00000000000000001`` ... (distinct ids)."""
    sample = json.loads(SAMPLE.read_text())
    out = []
    for index in range(count):
        event = copy.deepcopy(sample)
        metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
        metric["dimensions"]["InstanceId"] = f"i-{index + 1:017x}"
        event["id"] = f"storm-{index + 1}"
        out.append(event)
    return out


def short_policy(definition: Mapping[str, Any]) -> dict[str, Any]:
    """``definition`` with throttles retried by the short transient policy (4 retries, 2 s
    doubling, at most 30 s): what the stack did before throttles had a policy of their own."""
    out = copy.deepcopy(dict(definition))
    for state in out["States"].values():
        retriers = state.get("Retry")
        if not retriers:
            continue
        kept = [r for r in retriers if r["ErrorEquals"] != [THROTTLED]]
        for retrier in kept:
            if TRANSIENT in retrier["ErrorEquals"]:
                retrier["ErrorEquals"] = [*retrier["ErrorEquals"], THROTTLED]
        state["Retry"] = kept
    return out


def measure(
    count: int = 1000,
    max_in_flight: int | None = None,
    *,
    policy: Policy = "shipped",
    limits: RateLimits | None = None,
) -> list[Row]:
    """The storm's rows. ``max_in_flight`` None: every execution in flight at once."""
    playbook = load_playbook(shipped_playbook_path())
    with tempfile.TemporaryDirectory(prefix="healstack-bench-storm-") as work:
        recovery = synthesize_for_simulation(playbook, Path(work))
    if policy == "short":
        recovery = replace(recovery, definition=short_policy(recovery.definition))
    limits = limits or RateLimits.ec2_documented()
    in_flight = max_in_flight or count
    began = time.perf_counter()
    runs = run_playbook_many(
        playbook,
        events(count),
        synthesized=recovery,
        scenario={"mocks": {"CheckBeforeAction": {"1": IMPAIRED}}},
        max_in_flight=in_flight,
        timeout_s=3600,
        rate_limits=limits,
    )
    wall = time.perf_counter() - began
    return _rows(runs, recovery, limits, count, in_flight, wall, policy)


def storm_seconds(runs: list[PlaybookRun]) -> float:
    """Simulated time from the first start to the last handler call's end (shared clock)."""
    return max(
        (i.started_at + i.duration_s for run in runs for i in run.result.invocations),
        default=0.0,
    )


def _rows(
    runs: list[PlaybookRun],
    recovery: SynthesizedRecovery,
    limits: RateLimits,
    count: int,
    in_flight: int,
    wall: float,
    policy: Policy,
) -> list[Row]:
    statuses = Counter(run.result.status for run in runs)
    outcomes = Counter(run.outcome for run in runs)
    notified = sum(1 for run in runs if len(run.notifications) == 1)
    recovered = sum(
        1 for run in runs if run.result.status == "SUCCEEDED" and run.outcome == "recovered"
    )
    errors = Counter(
        str(run.notifications[-1]["message"].get("error", {}).get("Error"))
        for run in runs
        if run.notifications and run.outcome == "failed"
    )
    locks = len(runs[0].locks()) if runs else 0
    distinct = len({run.target_id for run in runs})
    throttled_calls = Counter(
        i.state for run in runs for i in run.result.invocations if i.error == THROTTLED
    )
    most = max(sum(1 for i in r.result.invocations if i.error == THROTTLED) for r in runs)
    buckets = ", ".join(
        f"{op} {b.capacity:g} / {b.refill_per_second:g} per s"
        for (_, op), b in sorted(limits.buckets.items())
    )
    bills = [bill(run, recovery) for run in runs]
    transitions = sum(b.transitions for b in bills)
    invocations = sum(b.invocations for b in bills)
    usd = sum(b.usd() for b in bills)
    section = "fleet storm" if policy == "shipped" else "fleet storm (short policy)"
    seconds = storm_seconds(runs)
    return [
        Row(
            section,
            f"{count} events, {distinct} instances: wall time",
            f"{wall:.1f} s ({wall / count * 1000:.0f} ms per execution)",
            "< 300 s",
            wall < TARGET_S,
            f"{in_flight} executions in flight at most; includes set-up and read-back",
        ),
        Row(
            section,
            "SUCCEEDED and recovered, with exactly one notification",
            f"{recovered} / {count}; {notified} / {count}",
            "all",
            recovered == count and notified == count,
            ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
            + "; "
            + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items(), key=str))
            + "".join(f"; failed on {k}: {v}" for k, v in sorted(errors.items())),
        ),
        Row(section, "lock items left in the store", str(locks), "0", locks == 0),
        Row(
            section,
            "calls EC2 throttled (RequestLimitExceeded)",
            f"{limits.throttles} ({limits.throttles / count:.1f} per execution, at most {most})",
            note=f"buckets: {buckets}; by state: "
            + ", ".join(f"{k}: {v}" for k, v in sorted(throttled_calls.items(), key=str)),
        ),
        Row(
            section,
            "simulated time of the whole storm",
            f"{seconds:.0f} s",
            note="first start to last call; the 3-minute waits overlap on the shared clock",
        ),
        Row(
            section,
            "USD for the storm's executions",
            f"${usd:.3f} (${usd / count * 1000:.3f} per 1,000)",
            note=f"{transitions} transitions (retries included), {invocations} invocations, "
            "measured durations (cost.bill)",
        ),
    ]
