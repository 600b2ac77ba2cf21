"""The cost of one recovery attempt, counted from real executions in the simulator.

For each shipped playbook, two simulations of its synthesized workflow with the real handlers:
*recovered on attempt 1* (the first check is mocked unhealthy; the real action repairs the
moto resource) and *gave up* (every named check is mocked unhealthy, so all ``attempts.max``
attempts run). Per extra attempt = (gave up - recovered) / (max - 1).

Counted: billed state transitions (every state entered, plus every retry: Step Functions bills
a retry as a transition; a ``wait_until`` poll is a retry), Lambda invocations, and Lambda
GB-seconds from the handlers' measured durations (each rounded up to 1 ms) at the function's
synthesized memory. In-process handlers call moto, not AWS: a real invocation lasts longer
(an AWS API round trip, ~50-200 ms), so the Lambda duration cost is also given at 100 ms each.

The shape: per attempt, the states the generated definition enters against the minimum the
playbook's logic needs: one state per step that runs on that attempt, one Choice per check
(its verdict; attempt gates can share it), and for an attempt that failed, the audit record,
the attempts-left Choice, the wait between attempts and the counter. ``benchmarks.shape`` looks
for states that do no work (redundant Choices, Pass chains, empty Passes).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Row
from benchmarks.shape import analyse
from healstack.loader import load_playbook, shipped_playbook_path, shipped_playbooks
from healstack.playbook import Playbook
from healstack.providers.aws import kinds, prices
from healstack.simulate.runner import PlaybookRun, SynthesizedRecovery, run_playbook
from healstack.simulate.synthesized import synthesized_recovery

UNHEALTHY = {"return": {"healthy": False, "state": "running"}}
REALISTIC_INVOCATION_S = 0.100


@dataclass(frozen=True)
class Bill:
    """What one execution costs, by AWS's billing units."""

    transitions: int
    invocations: int
    gb_seconds: float
    gb_seconds_realistic: float

    def usd(self, *, realistic: bool = False) -> float:
        gb_s = self.gb_seconds_realistic if realistic else self.gb_seconds
        return (
            self.transitions * prices.STEP_FUNCTIONS_STANDARD_PER_TRANSITION_USD
            + self.invocations * prices.LAMBDA_PER_REQUEST_USD
            + gb_s * prices.LAMBDA_ARM64_PER_GB_SECOND_USD
        )


def bill(run: PlaybookRun, recovery: SynthesizedRecovery) -> Bill:
    result = run.result
    retries = sum(max(0, len(step.attempts) - 1) for step in result.steps)
    gb_s = gb_s_realistic = 0.0
    for record in result.invocations:
        settings = recovery.settings.get(record.function)
        gigabytes = (settings.memory_mb if settings else 128) / 1024
        billed = math.ceil(record.duration_s / prices.LAMBDA_BILLING_GRANULARITY_S)
        gb_s += billed * prices.LAMBDA_BILLING_GRANULARITY_S * gigabytes
        gb_s_realistic += REALISTIC_INVOCATION_S * gigabytes
    return Bill(
        transitions=result.state_transitions + retries,
        invocations=len(result.invocations),
        gb_seconds=gb_s,
        gb_seconds_realistic=gb_s_realistic,
    )


def check_states(playbook: Playbook) -> list[str]:
    names = [step.name for step in playbook.steps if step.check is not None]
    if any(name is None for name in names):
        raise ValueError(f"{playbook.name}: name every check step to benchmark it")
    return [str(name) for name in names]


def attempts_entered(run: PlaybookRun, first_check: str) -> list[list[str]]:
    """The states entered per attempt (an attempt begins at its first check)."""
    attempts: list[list[str]] = []
    for step in run.result.steps:
        if step.state == first_check:
            attempts.append([])
        if attempts:
            attempts[-1].append(step.state)
    return attempts


def minimum_states(playbook: Playbook, attempt: int, *, failed: bool) -> int:
    """States one attempt needs by the playbook's logic (see the module docstring)."""
    active = [
        step
        for step in playbook.steps
        if (bounds := step.attempt_range(playbook.attempts.max))[0] <= attempt <= bounds[1]
    ]
    needed = len(active) + sum(1 for step in active if step.check is not None)
    if failed:
        needed += 2  # the audit record and the attempts-left Choice
        if attempt < playbook.attempts.max:
            needed += 1 + (1 if playbook.attempts.wait_between else 0)  # counter, wait
    return needed


def _per_attempt_end(states: list[str], terminal: set[str]) -> list[str]:
    return [state for state in states if state not in terminal]


def simulate(playbook: Playbook, recovery: SynthesizedRecovery) -> tuple[PlaybookRun, PlaybookRun]:
    checks = check_states(playbook)
    event = json.loads(
        (
            REPO / "examples" / "events" / kinds.get(playbook.target.kind).simulation.sample_event
        ).read_text()
    )
    recovered = run_playbook(
        playbook, event, synthesized=recovery, scenario={"mocks": {checks[0]: {"1": UNHEALTHY}}}
    )
    gave_up = run_playbook(
        playbook,
        event,
        synthesized=recovery,
        scenario={"mocks": {name: {"1+": UNHEALTHY} for name in checks}},
    )
    for run, outcome in ((recovered, "recovered"), (gave_up, "gave_up")):
        if run.outcome != outcome:
            raise RuntimeError(f"{playbook.name}: expected {outcome}, got {run.outcome}")
    return recovered, gave_up


def _terminal_states(definition: Mapping[str, Any]) -> set[str]:
    """Notify* tasks and Fail states: what ends an execution, not part of an attempt."""
    return {
        name
        for name, state in definition["States"].items()
        if state.get("Type") in ("Fail", "Succeed") or name.startswith("Notify")
    }


def measure() -> list[Row]:
    from healstack.synth import synthesize

    work = Path(tempfile.mkdtemp(prefix="healstack-bench-cost-"))
    rows: list[Row] = []
    try:
        playbooks = [load_playbook(shipped_playbook_path(name)) for name in shipped_playbooks()]
        result = synthesize(playbooks, work / "cdktf.out")
        for playbook in playbooks:
            stack = result.out_dir / "stacks" / playbook.name / "cdk.tf.json"
            rows.extend(_playbook_rows(playbook, synthesized_recovery(stack)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def _playbook_rows(playbook: Playbook, recovery: SynthesizedRecovery) -> list[Row]:
    section = f"cost: {playbook.name}"
    recovered, gave_up = simulate(playbook, recovery)
    first, worst = bill(recovered, recovery), bill(gave_up, recovery)
    extra = playbook.attempts.max - 1
    terminal = _terminal_states(recovery.definition)
    checks = check_states(playbook)
    shape = analyse(recovery.definition, playbook.attempts.max)
    generated = [
        len(_per_attempt_end(states, terminal)) for states in attempts_entered(gave_up, checks[0])
    ]
    minimum = [
        minimum_states(playbook, n, failed=True) for n in range(1, playbook.attempts.max + 1)
    ]
    recovered_attempt = len(_per_attempt_end(attempts_entered(recovered, checks[0])[0], terminal))
    rows = [
        Row(
            section,
            "recovered on attempt 1: transitions / Lambda invocations",
            f"{first.transitions} / {first.invocations}",
            note=f"{recovered.result.status}, {recovered.result.simulated_seconds:.0f} s simulated",
        ),
        Row(
            section,
            f"gave up after {playbook.attempts.max}: transitions / Lambda invocations",
            f"{worst.transitions} / {worst.invocations}",
            note=f"{gave_up.result.status}, {gave_up.result.simulated_seconds:.0f} s simulated",
        ),
    ]
    if extra:
        rows.append(
            Row(
                section,
                "per extra attempt: transitions / invocations",
                f"{(worst.transitions - first.transitions) / extra:.1f} / "
                f"{(worst.invocations - first.invocations) / extra:.1f}",
                note="(gave up - recovered) / (max - 1)",
            )
        )
    rows += [
        Row(
            section,
            "USD per 1,000 recoveries: recovered on 1; gave up",
            f"${1000 * first.usd():.3f}; ${1000 * worst.usd():.3f}",
            note=f"measured durations; at {REALISTIC_INVOCATION_S * 1000:.0f} ms per invocation: "
            f"${1000 * first.usd(realistic=True):.3f}; ${1000 * worst.usd(realistic=True):.3f}",
        ),
        Row(
            section,
            "states per attempt: generated vs minimum",
            f"recovered attempt 1: {recovered_attempt} vs "
            f"{minimum_states(playbook, 1, failed=False)}; failed attempts: "
            + ", ".join(f"{g} vs {m}" for g, m in zip(generated, minimum, strict=False)),
            "no state without work",
            shape.clean,
            _shape_note(shape),
        ),
    ]
    return rows


def _shape_note(shape: Any) -> str:
    if shape.clean:
        return "no redundant Choice, no Pass chain, no empty Pass"
    parts = []
    if shape.redundant_choices:
        parts.append("redundant Choice: " + ", ".join(shape.redundant_choices))
    if shape.pass_chains:
        parts.append("Pass chains: " + ", ".join(f"{a}->{b}" for a, b in shape.pass_chains))
    if shape.empty_passes:
        parts.append("empty Pass: " + ", ".join(shape.empty_passes))
    return "; ".join(parts)
