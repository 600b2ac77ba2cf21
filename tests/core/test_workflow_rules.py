"""Structural rules every generated definition keeps, checked on the rendered ASL.

Over every shipped and example playbook, and a few variants that switch on the optional
parts (approval, dry run, a single attempt): every state is reachable; no path ends without
a notification; the only loop is the attempt loop, bounded by the attempt counter; every
task retries (with a bound), catches everything and has a timeout; the whole execution has
a timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from healstack.loader import load_playbook, playbook_from_dict, shipped_playbook_path
from healstack.modules.compile import compile_playbook
from healstack.playbook import Playbook
from healstack.providers.aws.asl import render
from tests.conftest import REPO

ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
NOTIFY_FUNCTION = ARN.format("notify")

VARIANTS: dict[str, dict[str, Any]] = {
    "approval-before-stop": {
        "name": "careful",
        "trigger": {"source": "aws.cloudwatch"},
        "target": {"kind": "ec2_instance", "require_tag": {"healstack": "enabled"}},
        "steps": [
            {"check": "status"},
            {"action": "stop"},
            {"wait_until": {"state": "stopped"}},
            {"action": "start"},
            {"check": "status"},
        ],
        "approval": {
            "before": ["stop", "start"],
            "timeout": "30m",
            "approvers": ["arn:aws:iam::123456789012:role/oncall"],
        },
    },
    "dry-run-single-attempt": {
        "name": "dry",
        "trigger": {"source": "aws.rds"},
        "target": {"kind": "rds_instance", "scope": "whole-account"},
        "steps": [{"action": "reboot"}, {"wait": "1m"}, {"check": "status"}],
        "attempts": {"max": 1},
        "dry_run": True,
    },
    "check-only": {
        "name": "watch-only",
        "trigger": {"source": "aws.ecs"},
        "target": {"kind": "ecs_service"},
        "steps": [{"check": "status"}],
    },
}


def _playbooks() -> Iterator[Any]:
    for path in sorted((REPO / "healstack" / "playbooks").glob("*.yaml")):
        yield pytest.param(path, id=path.stem)
    for path in sorted((REPO / "examples").glob("*/playbooks/*.yaml")):
        yield pytest.param(path, id=f"{path.parent.parent.name}/{path.stem}")
    for name in VARIANTS:
        yield pytest.param(name, id=name)


def _load(which: Path | str) -> Playbook:
    if isinstance(which, Path):
        return load_playbook(which)
    return playbook_from_dict(VARIANTS[which])


def _definition(playbook: Playbook) -> dict[str, Any]:
    compiled = compile_playbook(playbook)
    return render(compiled.workflow, {k: ARN.format(k) for k in compiled.workflow.functions}, "t")


def _edges(state: dict[str, Any]) -> list[str]:
    out = [state[k] for k in ("Next", "Default") if k in state]
    out += [c["Next"] for c in state.get("Choices", [])]
    out += [c["Next"] for c in state.get("Catch", [])]
    return out


def _terminal(state: dict[str, Any]) -> bool:
    return state["Type"] in ("Succeed", "Fail") or state.get("End") is True


def _is_notify(state: dict[str, Any]) -> bool:
    return state["Type"] == "Task" and (
        state.get("Parameters", {}).get("FunctionName") == NOTIFY_FUNCTION
    )


@pytest.fixture(params=list(_playbooks()))
def definition(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _definition(_load(request.param))


def test_every_state_is_reachable(definition: dict[str, Any]) -> None:
    states = definition["States"]
    seen, todo = {definition["StartAt"]}, [definition["StartAt"]]
    while todo:
        for nxt in _edges(states[todo.pop()]):
            assert nxt in states, nxt
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert set(states) == seen


def test_no_path_ends_without_a_notification(definition: dict[str, Any]) -> None:
    """Walk every path from the start that has not yet told anyone: none may end."""
    states = definition["States"]
    seen, todo = {definition["StartAt"]}, [definition["StartAt"]]
    while todo:
        name = todo.pop()
        state = states[name]
        if _is_notify(state):
            continue  # told from here on (a notify's own failure has its own end state)
        assert not _terminal(state), f"{name} ends an execution nobody was told about"
        for nxt in _edges(state):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)


def test_a_failed_notification_still_releases_the_lock_and_ends_apart(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    for name, state in states.items():
        if not _is_notify(state):
            continue
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        assert catch["ResultPath"] == "$.notify_error", name  # the error it told stays put
        after = states[catch["Next"]]
        if after["Type"] == "Task":  # it held the lock: released first
            assert after["Resource"] == "arn:aws:states:::dynamodb:deleteItem", name
            assert after["Parameters"]["ConditionExpression"] == "execution = :me"
            after = states[after["Next"]]
        assert after == {
            "Type": "Fail",
            "Error": "NotificationFailed",
            "Cause": "the outcome could not be told; the lock was released",
        }


def test_the_only_loop_is_the_attempt_loop_and_the_counter_bounds_it(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    loop_edges = []
    # depth-first search for back edges: every cycle needs one
    color: dict[str, int] = {}

    def visit(name: str) -> None:
        color[name] = 1
        for nxt in _edges(states[name]):
            if color.get(nxt) == 1:
                loop_edges.append((name, nxt))
            elif nxt not in color:
                visit(nxt)
        color[name] = 2

    visit(definition["StartAt"])
    if "AttemptsLeft" not in states:
        assert loop_edges == []
        return
    assert loop_edges == [("NextAttempt", states["NextAttempt"]["Next"])]
    # the loop goes on only while attempt < max, and every round adds one to attempt
    (rule,) = states["AttemptsLeft"]["Choices"]
    assert rule["Variable"] == "$.ctx.attempt" and rule["NumericLessThan"] <= 10
    assert states["NextAttempt"]["Parameters"]["attempt.$"] == "States.MathAdd($.ctx.attempt, 1)"
    # and nothing else writes the counter: only ResolveTarget starts it (at 1)
    for name, state in states.items():
        if state.get("ResultPath") == "$.ctx" and name not in ("ResolveTarget", "NextAttempt"):
            pytest.fail(f"{name} overwrites the attempt counter")
    assert states["ResolveTarget"]["ResultSelector"]["attempt"] == 1


def test_every_task_retries_within_bounds_catches_everything_and_times_out(
    definition: dict[str, Any],
) -> None:
    for name, state in definition["States"].items():
        if state["Type"] != "Task":
            continue
        assert isinstance(state.get("TimeoutSeconds"), int), name
        assert 1 <= state["TimeoutSeconds"] <= 86400, name
        assert state.get("Retry"), name
        for retry in state["Retry"]:
            # a wait_until poll (max_polls - 1) or an approval poll (its own cap)
            assert 1 <= retry["MaxAttempts"] <= 1000, name
        assert any(c["ErrorEquals"] == ["States.ALL"] for c in state.get("Catch", [])), name


def test_the_whole_execution_has_a_timeout(definition: dict[str, Any]) -> None:
    assert 60 <= definition["TimeoutSeconds"] <= 7 * 86400


def test_a_start_is_fed_only_by_this_attempts_own_stop() -> None:
    """``ctx`` is rebuilt by ResolveTarget and by every NextAttempt, so nothing from the
    event or from an earlier attempt can claim that this attempt stopped the instance."""
    states = _definition(load_playbook(shipped_playbook_path()))["States"]
    assert states["Start"]["Parameters"]["Payload"]["params"] == {
        "own_stop.$": "$.ctx.own_stop.done"
    }
    assert states["Stop"]["ResultSelector"] == {"done.$": "$.Payload.stopped_here"}
    assert states["Stop"]["ResultPath"] == "$.ctx.own_stop"
    assert states["ResolveTarget"]["ResultSelector"]["own_stop"] == {"done": False}
    assert states["NextAttempt"]["Parameters"]["own_stop"] == {"done": False}


def test_an_action_on_a_resource_that_left_the_scope_is_told_as_a_skip() -> None:
    states = _definition(load_playbook(shipped_playbook_path()))["States"]
    for action in ("Reboot", "Stop", "Start"):
        catches = {tuple(c["ErrorEquals"]): c["Next"] for c in states[action]["Catch"]}
        assert catches[("NotInScope",)] == "NotifyOutOfScope", action
        assert not any("NotInScope" in r["ErrorEquals"] for r in states[action]["Retry"])
    notify = states["NotifyOutOfScope"]
    assert notify["Parameters"]["Payload"]["outcome"] == "skipped"
    assert notify["Parameters"]["Payload"]["reason"] == "not_in_scope"
    assert states[notify["Next"]]["Type"] == "Succeed"
