"""What ``healstack simulate`` prints: a summary a platform engineer reads, then the trace."""

from __future__ import annotations

from typing import Any

from healstack.durations import format_duration
from healstack.simulate.render import render_text, to_json
from healstack.simulate.runner import PlaybookRun


def summary_lines(run: PlaybookRun, event_name: str) -> list[str]:
    result = run.result
    target = run.event_target_id or "?"
    if run.target_id and run.target_id != run.event_target_id:
        target += f" (simulated by moto as {run.target_id})"
    lines = [
        f"playbook   {run.playbook}",
        f"event      {event_name}",
        f"target     {target}: {run.target_state_before or '-'} -> {run.target_state_after or '-'}",
        f"outcome    {run.outcome or 'none notified'} after {run.attempts} attempt(s); "
        f"execution {result.status} at +{format_duration(int(result.simulated_seconds))} simulated "
        f"({result.wall_seconds:.1f}s real)",
    ]
    if result.error:
        lines.append(f"error      {result.error}: {(result.cause or '')[:160]}")
    for note in run.notifications:
        lines.append(f"notified   {note['subject']}")
    locks = run.locks()
    lines.append(
        "lock       " + ("still held by " + locks[0]["execution"] if locks else "released")
    )
    history = run.history()
    if history:
        kinds = [f"{h.get('kind')}:{h.get('outcome')}" for h in history]
        lines.append("history    " + ", ".join(kinds))
    return lines


def render_run(run: PlaybookRun, event_name: str) -> str:
    return "\n".join([*summary_lines(run, event_name), "", render_text(run.result)])


def run_to_json(run: PlaybookRun, event_name: str) -> dict[str, Any]:
    return {
        "playbook": run.playbook,
        "event": event_name,
        "target": {
            "event_id": run.event_target_id,
            "simulated_id": run.target_id,
            "state_before": run.target_state_before,
            "state_after": run.target_state_after,
        },
        "outcome": run.outcome,
        "attempts": run.attempts,
        "notifications": run.notifications,
        "store": run.store_items,
        "execution": to_json(run.result),
    }
