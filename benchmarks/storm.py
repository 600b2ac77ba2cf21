"""A fleet storm: N failure events for N different instances, through the local simulator.

All events start at the same simulated moment (``run_playbook_many``, one moto world): every
execution resolves its instance, takes its lock, counts the recovery, finds the instance
impaired (the first check is mocked), reboots it for real, waits 3 minutes and re-checks. The
run passes when every execution reached a terminal state with exactly one notification and the
store holds no lock afterwards. Target (issue #6): 1,000 events in under 5 minutes here.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Row
from healstack.loader import load_playbook, shipped_playbook_path
from healstack.simulate.runner import run_playbook_many, synthesize_for_simulation

TARGET_S = 300.0
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
IMPAIRED = {"return": {"healthy": False, "state": "running"}}
SAMPLE = REPO / "examples" / "events" / "cloudwatch-alarm-ec2-status-check.json"


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


def measure(count: int = 1000, max_in_flight: int = 50) -> list[Row]:
    playbook = load_playbook(shipped_playbook_path())
    with tempfile.TemporaryDirectory(prefix="healstack-bench-storm-") as work:
        recovery = synthesize_for_simulation(playbook, Path(work))
    began = time.perf_counter()
    runs = run_playbook_many(
        playbook,
        events(count),
        synthesized=recovery,
        scenario={"mocks": {"CheckBeforeAction": {"1": IMPAIRED}}},
        max_in_flight=max_in_flight,
        timeout_s=3600,
    )
    wall = time.perf_counter() - began
    statuses = Counter(run.result.status for run in runs)
    outcomes = Counter(run.outcome for run in runs)
    notified = sum(1 for run in runs if len(run.notifications) == 1)
    terminal = sum(n for status, n in statuses.items() if status in TERMINAL)
    locks = len(runs[0].locks()) if runs else 0
    distinct = len({run.target_id for run in runs})
    section = "fleet storm"
    return [
        Row(
            section,
            f"{count} events, {distinct} instances: wall time",
            f"{wall:.1f} s ({wall / count * 1000:.0f} ms per execution)",
            "< 300 s",
            wall < TARGET_S,
            f"at most {max_in_flight} executions in flight; includes set-up and read-back",
        ),
        Row(
            section,
            "terminal, with exactly one notification",
            f"{terminal} / {count}; {notified} / {count}",
            "all",
            terminal == count and notified == count,
            ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
            + "; "
            + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items(), key=str)),
        ),
        Row(section, "lock items left in the store", str(locks), "0", locks == 0),
        Row(
            section,
            "simulated time of the whole storm",
            f"{max(run.result.simulated_seconds for run in runs):.0f} s",
            note="the 3-minute waits of all executions overlap on the shared clock",
        ),
    ]
