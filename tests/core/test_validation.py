"""Every playbook rule: a bad playbook exits 2 with one line naming the field and the fix."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from healstack.catalog import TARGET_KINDS
from healstack.cli import main

VALID: dict[str, Any] = {
    "name": "ec2-test",
    "trigger": {"source": "aws.cloudwatch", "detail_type": "CloudWatch Alarm State Change"},
    "target": {"kind": "ec2_instance", "scope": "whole-account"},
    "steps": [
        {"check": "status"},
        {"action": "reboot", "on_attempts": 1},
        {"action": "stop", "on_attempts": "2+"},
        {"wait_until": {"state": "stopped"}, "on_attempts": "2+"},
        {"action": "start", "on_attempts": "2+"},
        {"wait": "3m"},
        {"check": "status", "name": "Recheck"},
    ],
    "attempts": {"max": 3, "wait_between": "1m"},
    "timeout": "1h",
}


def run_validate(
    tmp_path: Path, data: object, capsys: pytest.CaptureFixture[str], suffix: str = ".yaml"
) -> tuple[int, str]:
    path = tmp_path / f"playbook{suffix}"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    return code, err


def mutate(path: str, value: object) -> dict[str, Any]:
    """Set (or, with value ..., delete) a dotted path like steps.1.action."""
    data = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return data


def test_valid_playbook_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_validate(tmp_path, VALID, capsys)
    assert (code, err) == (0, "")


BAD = [
    ("missing name", mutate("name", ...), "name: is required (add it)"),
    ("bad name", mutate("name", "EC2_Test"), 'name: "EC2_Test" is not a playbook name'),
    ("double hyphen", mutate("name", "ec2--x"), "is not a playbook name"),
    (
        "unknown field suggests",
        mutate("tigger", {}),
        "tigger: is not a known field (did you mean trigger?)",
    ),
    (
        "unknown nested field",
        mutate("steps.0.chek", "status"),
        "steps[0].chek: is not a known field (did you mean check?)",
    ),
    ("no source", mutate("trigger.source", []), "trigger.source: is empty (give at least one)"),
    (
        "bad kind",
        mutate("target.kind", "ec2"),
        # every registered kind, from the registry (a new kind needs no edit here)
        f'target.kind: "ec2" is not a target kind (use one of: {", ".join(TARGET_KINDS)})',
    ),
    (
        "bad id_path",
        mutate("target.id_path", "detail.instance-id"),
        'target.id_path: "detail.instance-id" is not an event path',
    ),
    (
        "two tags",
        mutate("target.require_tag", {"a": "1", "b": "2"}),
        "target.require_tag: name exactly one tag",
    ),
    (
        "acting with no scope",
        mutate("target.scope", ...),
        "target.require_tag: this playbook changes resources (reboot, stop, start) but names no "
        "scope (set require_tag: {healstack: enabled} to act only on tagged resources, or "
        "scope: whole-account to act on all of them)",
    ),
    (
        "scope and tag at once",
        mutate("target.require_tag", {"healstack": "enabled"}),
        "target.scope: whole-account contradicts require_tag (keep one of them)",
    ),
    (
        "unknown scope word",
        mutate("target.scope", "everything"),
        "target.scope:",
    ),
    (
        "start without this attempt's own stop",
        mutate("steps.2.action", "reboot"),
        'steps[4].action: "start" only undoes a stop made by the same attempt (put `- action: '
        "stop` before it, on the same attempts)",
    ),
    (
        "custom event source without a bus",
        mutate("trigger.source", "acme.monitoring"),
        'trigger.source[0]: "acme.monitoring" is not a cloud service source, so anyone allowed '
        "to put events on the default bus could start recoveries",
    ),
    (
        "a bus open to everyone",
        mutate(
            "trigger",
            {"source": "acme.monitoring", "bus": {"name": "acme", "publishers": ["*"]}},
        ),
        'trigger.bus.publishers: "*" is not one principal (name each publisher; no wildcards)',
    ),
    (
        "the default bus named as a dedicated one",
        mutate(
            "trigger",
            {"source": "acme.monitoring", "bus": {"name": "default", "publishers": ["x"]}},
        ),
        'trigger.bus.name: "default" is not a bus name',
    ),
    (
        "event age beyond the delivery window",
        mutate("trigger.max_event_age", "2h"),
        "trigger.max_event_age: 2h is out of range (use 1m to 1h)",
    ),
    (
        "an approval longer than the recovery",
        mutate(
            "approval",
            {
                "before": ["stop"],
                "timeout": "2h",
                "approvers": ["arn:aws:iam::123456789012:role/oncall"],
            },
        ),
        "approval.timeout: 2h is longer than the whole recovery's timeout 1h (shorten "
        "approval.timeout or raise timeout)",
    ),
    (
        "a pattern leaf that is not a list",
        mutate("trigger.detail", {"state": {"value": "ALARM"}}),
        'trigger.detail.state.value: "ALARM" is not a list (write ["ALARM"])',
    ),
    (
        "an unknown pattern operator",
        mutate("trigger.detail", {"alarmName": [{"startswith": "healstack-"}]}),
        'trigger.detail.alarmName[0]: "startswith" is not an event pattern operator (use one '
        "of: prefix, suffix, anything-but, numeric, exists, cidr, equals-ignore-case, wildcard)",
    ),
    (
        "an empty prefix",
        mutate("trigger.detail", {"alarmName": [{"prefix": ""}]}),
        "trigger.detail.alarmName[0].prefix: takes a non-empty string",
    ),
    (
        "an empty matcher list",
        mutate("trigger.detail", {"state": {"value": []}}),
        "trigger.detail.state.value: is an empty list, which matches nothing",
    ),
    (
        "a malformed numeric matcher",
        mutate("trigger.detail", {"count": [{"numeric": [">>", 3]}]}),
        'trigger.detail.count[0].numeric: takes [">", 0] or [">", 0, "<=", 5]',
    ),
    (
        "an $or with one branch",
        mutate("trigger.detail", {"$or": [{"a": ["b"]}]}),
        "trigger.detail.$or: $or takes a list of two or more patterns",
    ),
    (
        "a pattern too large for the bus",
        mutate("trigger.detail", {"alarmName": [f"healstack-{n:04d}" for n in range(200)]}),
        "characters; EventBridge takes 2048 by default",
    ),
    (
        "a misspelled source",
        mutate("trigger.source", "aws.heath"),
        'trigger.source[0]: "aws.heath" events do not name a ec2_instance where healstack can '
        "find it (did you mean aws.health? use aws.cloudwatch, aws.ec2, aws.health, or set "
        "target.id_path)",
    ),
    (
        "a source that cannot carry the kind",
        mutate("trigger.source", "aws.rds"),
        '"aws.rds" events do not name a ec2_instance where healstack can find it',
    ),
    ("empty steps", mutate("steps", []), "steps: is empty (give at least one)"),
    (
        "step with two kinds",
        mutate("steps.0", {"check": "status", "wait": "1m"}),
        "steps[0]: a step needs exactly one of check, action, run, wait, wait_until (found: check, "
        "wait)",
    ),
    ("step with no kind", mutate("steps.0", {"name": "X"}), "found: none"),
    (
        "bad duration",
        mutate("steps.5.wait", "5x"),
        'steps[5].wait: "5x" is not a duration (use 30s, 5m, 2h or 1h30m)',
    ),
    (
        "wait too long",
        mutate("steps.5.wait", "2d"),
        "steps[5].wait: 2d is out of range (use 1s to 24h)",
    ),
    (
        "bad action for kind",
        mutate("steps.1.action", "force_redeploy"),
        'steps[1].action: "force_redeploy" is not an action of ec2_instance (use one of: reboot, stop, start)',
    ),
    (
        "bad check",
        mutate("steps.0.check", "ping"),
        'steps[0].check: "ping" is not a check of ec2_instance (use one of: status)',
    ),
    (
        "bad wait_until state",
        mutate("steps.3.wait_until", {"state": "halted"}),
        'steps[3].wait_until.state: "halted" is not a state of ec2_instance',
    ),
    (
        "poll too fast",
        mutate("steps.3.wait_until", {"state": "stopped", "poll_every": "0s"}),
        "steps[3].wait_until.poll_every: 0s is out of range (use 1s to 1h)",
    ),
    (
        "too many polls",
        mutate("steps.3.wait_until", {"state": "stopped", "max_polls": 500}),
        "steps[3].wait_until.max_polls: 500 is out of range (use at most 100)",
    ),
    (
        "bad attempt range",
        mutate("steps.1.on_attempts", "first"),
        'steps[1].on_attempts: "first" is not an attempt range (use 1, 2-3 or 2+)',
    ),
    (
        "attempt beyond max",
        mutate("steps.1.on_attempts", "4+"),
        'steps[1].on_attempts: "4+" never runs with attempts.max 3 (use a range within 1-3)',
    ),
    (
        "last step not a check",
        mutate("steps.6", {"wait": "1m"}),
        "steps[6]: the last step of an attempt must be a check",
    ),
    (
        "last check gated",
        mutate("steps.6.on_attempts", "2+"),
        "steps[6]: the last step of an attempt must be a check that runs on every attempt",
    ),
    (
        "duplicate step names",
        mutate("steps.0.name", "Recheck"),
        'steps[6].name: "Recheck" is used twice (name each step once)',
    ),
    (
        "bad step name",
        mutate("steps.0.name", "check first"),
        'steps[0].name: "check first" is not a step name',
    ),
    (
        "params on a wait",
        mutate("steps.5.params", {"x": 1}),
        "steps[5].params: waits take no params (remove params)",
    ),
    (
        "attempts not a number",
        mutate("attempts.max", "three"),
        'attempts.max: "three" is not a whole number (use e.g. 3)',
    ),
    (
        "too many attempts",
        mutate("attempts.max", 50),
        "attempts.max: 50 is out of range (use at most 10)",
    ),
    (
        "timeout too short for the waits",
        mutate("timeout", "5m"),
        "timeout: 5m is shorter than the 11m the waits of 3 attempts need (raise timeout or lower attempts.max)",
    ),
    (
        "timeout out of range",
        mutate("timeout", "30d"),
        "timeout: 30d is out of range (use 1m to 7d)",
    ),
    (
        "bad email",
        mutate("notify", {"emails": ["oncall"]}),
        'notify.emails: "oncall" is not an email address (use name@example.com)',
    ),
    (
        "dry_run not a bool",
        mutate("dry_run", "maybe"),
        'dry_run: "maybe" is not true or false (use true or false)',
    ),
    ("steps not a list", mutate("steps", "check"), 'steps: "check" is not a list'),
    (
        "name too long for AWS",
        mutate("name", "a" * 60),
        "AWS allows 64 (shorten the playbook name, prefix or stage by",
    ),
]


@pytest.mark.parametrize(("case", "data", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_playbook_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, data: object, expected: str
) -> None:
    code, err = run_validate(tmp_path, data, capsys)
    assert code == 2
    assert err.count("\n") == 1, err
    assert expected in err
    assert "Traceback" not in err


def test_yaml_syntax_error_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_validate(tmp_path, "name: x\nsteps: [\n", capsys)
    assert code == 2
    assert "is not valid YAML at line" in err and "(fix the syntax)" in err


def test_json_playbooks_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, _ = run_validate(tmp_path, json.dumps(VALID), capsys, suffix=".json")
    assert code == 0


def test_not_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_validate(tmp_path, "- a\n- b\n", capsys)
    assert code == 2 and "a playbook is a mapping of fields" in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(tmp_path / "nope.yaml")])
    assert code == 2
    assert "nope.yaml: no such file (check the path)" in capsys.readouterr().err


def test_two_playbooks_with_one_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(yaml.safe_dump(VALID))
    b.write_text(yaml.safe_dump(VALID))
    assert main(["validate", str(a), str(b)]) == 2
    assert 'name: "ec2-test" is also the name of playbook #1' in capsys.readouterr().err


def test_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(see healstack validate --help)" in err


def test_bad_settings_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(VALID))
    assert main(["validate", str(path), "--stage", "Prod!"]) == 2
    assert '--stage "Prod!" is not a stage name' in capsys.readouterr().err


def test_shipped_playbooks_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    from healstack.loader import shipped_playbook_path, shipped_playbooks

    paths = [str(shipped_playbook_path(n)) for n in shipped_playbooks()]
    assert len(paths) >= 3
    assert main(["validate", *paths]) == 0


def test_a_file_that_is_not_utf8_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9-recovery\n".encode("latin-1"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"healstack: error: {path}: is not UTF-8 text (byte 9; save it as UTF-8)\n"


def test_a_file_far_larger_than_a_playbook_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * (300 * 1024) + "\n" + yaml.safe_dump(VALID))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a playbook is at most 262,144" in err


def test_yaml_aliases_that_explode_are_refused_before_they_expand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, 9):  # 9^9 values once expanded, from a 1 KB file
        refs = ", ".join([f"*a{n - 1}"] * 9)
        lines.append(f"a{n}: &a{n} [{refs}]")
    lines.append("name: *a8")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expands to more than 20,000 values through YAML aliases" in err


def test_the_kinds_sources_are_the_shapes_resolve_target_knows() -> None:
    """One fact in two packages (the handlers ship without healstack): kept the same here."""
    from healstack.catalog import TARGET_KINDS
    from healstack_lambda.events import fits

    for name, kind in TARGET_KINDS.items():
        assert set(kind.event_sources) == {source for source, _ in fits(name)}, name


def test_every_operator_the_grammar_knows_is_accepted() -> None:
    from healstack.event_pattern import problems

    pattern = {
        "source": ["aws.cloudwatch"],
        "detail": {
            "alarmName": [
                {"prefix": "healstack-"},
                {"suffix": {"equals-ignore-case": "-PROD"}},
                {"equals-ignore-case": "x"},
                {"wildcard": "healstack-*-web"},
                {"anything-but": {"prefix": "test-"}},
            ],
            "count": [{"numeric": [">", 0, "<=", 5]}],
            "ip": [{"cidr": "10.0.0.0/24"}],
            "gone": [{"exists": False}],
            "state": {"value": ["ALARM", None, 3, True]},
            "$or": [{"a": ["b"]}, {"c": [{"anything-but": ["d", "e"]}]}],
        },
    }
    assert problems(pattern) == []


def test_a_closed_pipe_is_not_an_internal_error() -> None:
    """``healstack schema | head -1``: the reader leaves early; no traceback, no 'internal
    error' (exit 141, as for SIGPIPE)."""
    import subprocess
    import sys

    script = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-m', 'healstack.cli', 'schema'],"
        " stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "p.stdout.close()\n"
        "err = p.stderr.read().decode(); p.wait()\n"
        "print(p.returncode); print(repr(err))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    ).stdout.splitlines()
    assert out[0] == "141", out
    assert "internal error" not in out[1] and "Traceback" not in out[1], out
