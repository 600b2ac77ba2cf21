"""The playbook JSON Schema: generated from the model, committed, named by every playbook, and
in agreement with the model on good and bad playbooks."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from healstack.cli import main
from healstack.durations import parse_duration
from healstack.errors import PlaybookError
from healstack.loader import playbook_from_dict
from healstack.schema import (
    DURATIONS,
    FIELD_DOCS,
    SCHEMA_FILE,
    field_docs,
    models,
    playbook_schema,
    schema_text,
)
from tests.conftest import REPO

PLAYBOOKS = sorted(
    [
        *(REPO / "healstack" / "playbooks").glob("*.yaml"),
        *(REPO / "examples").rglob("playbooks/*.yaml"),
    ]
)
SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
APPROVER = "arn:aws:iam::123456789012:role/oncall"

#: a small valid playbook every bad case below breaks in exactly one way
VALID: dict[str, Any] = {
    "name": "ec2-test",
    "trigger": {"source": "aws.cloudwatch", "detail_type": "CloudWatch Alarm State Change"},
    "target": {"kind": "ec2_instance", "require_tag": {"healstack": "enabled"}},
    "steps": [
        {"check": "status", "name": "CheckBeforeAction"},
        {"action": "reboot", "on_attempts": 1},
        {"action": "stop", "on_attempts": "2+", "params": {"force": True}},
        {"wait_until": {"state": "stopped", "poll_every": "15s"}, "on_attempts": "2+"},
        {"action": "start", "on_attempts": "2+"},
        {"wait": "3m"},
        {"check": "status"},
    ],
    "attempts": {"max": 3, "wait_between": "1m"},
    "timeout": "1h",
    "notify": {"emails": ["oncall@example.com"]},
    "guard": {"max_recoveries": 3, "window": "6h"},
    "approval": {"before": ["stop"], "approvers": [APPROVER], "timeout": "30m"},
}


ELB = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web/*"
#: a platform step of the playbook's own (run by a `run` step)
DRAIN: dict[str, Any] = {
    "handler": "steps/drain.py:handler",
    "permissions": [{"actions": ["elasticloadbalancing:DeregisterTargets"], "resources": [ELB]}],
    "params": {"delay": {"type": "integer"}},
}


def with_platform_step(**changes: Any) -> dict[str, Any]:
    """VALID with the platform step DRAIN (changed) run before the reboot."""
    data = copy.deepcopy(VALID)
    data["platform_steps"] = {"drain": {**copy.deepcopy(DRAIN), **changes}}
    data["steps"].insert(1, {"run": "drain", "params": {"delay": 5}})
    return data


def validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def schema_accepts(data: Any) -> bool:
    return validator().is_valid(data)


def model_accepts(data: Any) -> bool:
    try:
        playbook_from_dict(copy.deepcopy(data))
    except PlaybookError:
        return False
    return True


def test_the_committed_schema_is_what_the_model_generates() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "stale: run .venv/bin/python -m healstack.schema"
    )


def test_healstack_schema_prints_it_with_sorted_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == SCHEMA_FILE.read_text(encoding="utf-8")
    assert (
        printed
        == json.dumps(json.loads(printed), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = playbook_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_and_example_playbook_names_the_schema_and_fits_it(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = SCHEMA_LINE.match(first)
    assert match, f"{path.name}: first line must be the yaml-language-server schema comment"
    assert (path.parent / match.group(1)).resolve() == SCHEMA_FILE.resolve()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(data)]
    assert errors == []
    assert model_accepts(data)


def test_the_base_playbook_is_valid_for_both() -> None:
    assert model_accepts(VALID) and schema_accepts(VALID)


def changed(path: str, value: Any) -> dict[str, Any]:
    """VALID with the field at ``path`` (dots; ``[n]`` for list items) set, or removed when
    ``value`` is ``DELETE``."""
    data = copy.deepcopy(VALID)
    parts: list[str | int] = []
    for part in path.split("."):
        name, *indexes = re.split(r"\[(\d+)\]", part)
        parts.append(name)
        parts.extend(int(i) for i in indexes if i)
    node: Any = data
    for key in parts[:-1]:
        node = node[key]
    if value is DELETE:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return data


DELETE = object()

BAD: dict[str, dict[str, Any]] = {
    "unknown top-level field": changed("retries", 3),
    "unknown nested field": changed("attempts.maximum", 3),
    "unknown step field": changed("steps[1].when", "always"),
    "missing name": changed("name", DELETE),
    "missing steps": changed("steps", DELETE),
    "no steps": changed("steps", []),
    "too many steps": changed("steps", [{"wait": "1s"}] * 25 + [{"check": "status"}]),
    "wrong type: attempts.max a word": changed("attempts.max", "three"),
    "wrong type: dry_run a list": changed("dry_run", [True]),
    "wrong type: steps a mapping": changed("steps", {"check": "status"}),
    "wrong type: notify.emails a string list item": changed("notify.emails", [42]),
    "attempts.max above 10": changed("attempts.max", 11),
    "history_days 0": changed("history_days", 0),
    "bad enum: target.kind": changed("target.kind", "ec2"),
    "bad enum: scope": changed("target", {"kind": "ec2_instance", "scope": "everything"}),
    "check of another kind": changed("steps[0].check", "reachable"),
    "action of another kind": changed("steps[1].action", "force_redeploy"),
    "state of another kind": changed("steps[3].wait_until.state", "available"),
    "approval of an action the kind lacks": changed("approval.before", ["terminate"]),
    "duration not a duration": changed("steps[5].wait", "5x"),
    "duration with a fraction": changed("steps[5].wait", "1.5h"),
    "duration negative": changed("steps[5].wait", -5),
    "duration a boolean": changed("timeout", True),
    "name with capitals": changed("name", "EC2-Test"),
    "name with a double hyphen": changed("name", "ec2--test"),
    "step name not CamelCase": changed("steps[0].name", "check-first"),
    "step with two kinds": changed("steps[0]", {"check": "status", "wait": "1m"}),
    "step with no kind": changed("steps[0]", {"name": "Nothing"}),
    "on_attempts not a range": changed("steps[1].on_attempts", "first"),
    "params on a wait": changed("steps[5].params", {"force": True}),
    "params on a check": changed("steps[0].params", {"deep": True}),
    "an unknown param": changed("steps[2].params", {"forced": True}),
    "a param of the wrong type": changed("steps[2].params", {"force": "yes"}),
    "an internal param": changed("steps[4].params", {"own_stop": True}),
    "require_tag and scope": changed(
        "target", {"kind": "ec2_instance", "require_tag": {"a": "b"}, "scope": "whole-account"}
    ),
    "require_tag with two tags": changed("target.require_tag", {"a": "b", "c": "d"}),
    "acting without a scope": changed("target", {"kind": "ec2_instance"}),
    "id_path not a path": changed("target.id_path", "detail.instance-id"),
    "a non-cloud source without a bus": changed("trigger.source", "acme.monitor"),
    "a source that cannot name the kind": changed("trigger.source", "aws.heath"),
    "an empty source list": changed("trigger.source", []),
    "bus named default": changed(
        "trigger.bus", {"name": "default", "publishers": ["arn:aws:iam::1:role/x"]}
    ),
    "bus publisher wildcard": changed(
        "trigger.bus", {"name": "acme", "publishers": ["arn:aws:iam::1:role/*"]}
    ),
    "email not an address": changed("notify.emails", ["oncall"]),
    "email twice": changed("notify.emails", ["a@example.com", "a@example.com"]),
    "approver wildcard": changed("approval.approvers", ["arn:aws:iam::1:role/*"]),
    "approver twice": changed("approval.approvers", [APPROVER, APPROVER]),
    "no approvers": changed("approval.approvers", []),
    "platform step handler not a .py function": with_platform_step(handler="steps/drain.sh"),
    "platform step handler leaving the folder": with_platform_step(handler="../x.py:handler"),
    "platform step action with a wildcard": with_platform_step(
        permissions=[{"actions": ["elasticloadbalancing:*"], "resources": [ELB]}]
    ),
    "platform step resources * without a reason": with_platform_step(
        permissions=[{"actions": ["elasticloadbalancing:DescribeTargetHealth"], "resources": ["*"]}]
    ),
    "platform step reason without *": with_platform_step(
        permissions=[{"actions": ["ec2:RebootInstances"], "resources": [ELB], "reason": "x"}]
    ),
    "platform step resource not an ARN": with_platform_step(
        permissions=[{"actions": ["ec2:RebootInstances"], "resources": ["targetgroup/web"]}]
    ),
    "platform step with no permissions": with_platform_step(permissions=[]),
    "platform step param of an unknown type": with_platform_step(params={"d": {"type": "float"}}),
    "platform step name with a hyphen": changed(
        "platform_steps", {"drain-web": copy.deepcopy(DRAIN)}
    ),
    "run a name that is not a step name": changed("steps[1]", {"run": "Drain"}),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_schema_and_the_model_both_reject(case: str) -> None:
    data = BAD[case]
    assert not model_accepts(data), f"the model accepts {case}"
    assert not schema_accepts(data), f"the schema accepts {case}"


GOOD: dict[str, dict[str, Any]] = {
    "duration in parts": changed("timeout", "1h30m"),
    "duration in whole seconds": changed("timeout", 5400),
    "duration as a digit string": changed("timeout", "5400"),
    "duration upper case with blanks": changed("steps[5].wait", " 3M "),
    "a source list": changed("trigger.source", ["aws.cloudwatch", "aws.ec2"]),
    "any source with id_path": changed(
        "target", {"kind": "ec2_instance", "require_tag": {"a": "b"}, "id_path": "$.detail.id"}
    ),
    "whole-account scope": changed("target", {"kind": "ec2_instance", "scope": "whole-account"}),
    "an own bus and source": changed(
        "trigger",
        {
            "source": "acme.monitor",
            "bus": {"name": "acme-health", "publishers": ["arn:aws:iam::1:role/pub"]},
        },
    ),
    "on_attempts as a number": changed("steps[1].on_attempts", 1),
    "no approval": changed("approval", DELETE),
    "approval null": changed("approval", None),
    "a platform step": with_platform_step(),
    "a platform step reading with * and a reason": with_platform_step(
        permissions=[
            {
                "actions": ["elasticloadbalancing:DescribeTargetHealth"],
                "resources": ["*"],
                "reason": "Describe* takes no resource ARN",
            }
        ]
    ),
}


@pytest.mark.parametrize("case", sorted(GOOD))
def test_the_schema_and_the_model_both_accept(case: str) -> None:
    data = GOOD[case]
    assert model_accepts(data), f"the model rejects {case}"
    assert schema_accepts(data), f"the schema rejects {case}"


def _placed(model: str, field: str, value: Any) -> dict[str, Any]:
    """A valid playbook but for ``model.field`` = ``value`` (the other fields leave room)."""
    data = copy.deepcopy(VALID)
    data["timeout"] = "7d"
    data["approval"]["timeout"] = "1h"
    where = {
        "Trigger": data["trigger"],
        "WaitUntil": data["steps"][3]["wait_until"],
        "Step": data["steps"][5],
        "Attempts": data["attempts"],
        "Guard": data["guard"],
        "Approval": data["approval"],
        "Playbook": data,
    }.get(model)
    if model == "PlatformStep":
        data["platform_steps"] = {"drain": copy.deepcopy(DRAIN)}
        data["steps"].insert(1, {"run": "drain"})
        where = data["platform_steps"]["drain"]
    assert where is not None, f"no place for {model}.{field}: extend _placed"
    where[field] = value
    if (model, field) == ("Playbook", "timeout"):  # no waits, no approval: any timeout fits
        data["steps"] = [{"check": "status"}]
        data["attempts"] = {"max": 1}
        del data["approval"]
    return data


@pytest.mark.parametrize("place", sorted(DURATIONS), ids="{0[0]}.{0[1]}".format)
def test_duration_ranges_agree_at_their_bounds(place: tuple[str, str]) -> None:
    low, high = DURATIONS[place]
    for value in (low, high):
        data = _placed(*place, value)
        assert model_accepts(data) and schema_accepts(data), (place, value)
    for value in (low - 1, high + 1):
        if value < 0:
            continue
        data = _placed(*place, value)
        assert not model_accepts(data), (place, value, "model")
        assert not schema_accepts(data), (place, value, "schema")


def _types(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", ())
    return [annotation, *[t for a in args for t in _types(a)]]


def test_every_duration_field_has_its_range() -> None:
    durations = {
        (name, field)
        for name, model in models().items()
        for field, info in model.model_fields.items()
        if any(getattr(m, "func", None) is parse_duration for m in info.metadata)
        or any(
            getattr(m, "func", None) is parse_duration
            for t in _types(info.annotation)
            for m in getattr(t, "__metadata__", ())
        )
    }
    assert durations == set(DURATIONS)


def test_every_model_field_has_its_prose_and_nothing_else_does() -> None:
    expected = {(name, f) for name, model in models().items() for f in model.model_fields}
    documented = {(name, f) for name, fields in field_docs().items() for f in fields}
    assert sorted(expected - documented) == [], (
        "add a FIELD_DOCS entry or a Field description+examples"
    )
    listed = {(name, f) for name, fields in FIELD_DOCS.items() for f in fields}
    assert sorted(listed - expected) == [], "FIELD_DOCS names fields the model does not have"


@pytest.mark.parametrize(
    "place",
    sorted((m, f) for m, fs in field_docs().items() for f in fs),
    ids="{0[0]}.{0[1]}".format,
)
def test_each_documented_example_fits_its_field(place: tuple[str, str]) -> None:
    model, field = place
    schema = playbook_schema()
    owner = schema if model == "Playbook" else schema["$defs"][model]
    field_schema = {"$defs": schema["$defs"], **owner["properties"][field]}
    example = field_docs()[model][field].example
    errors = [e.message for e in Draft202012Validator(field_schema).iter_errors(example)]
    assert errors == []


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_every_pattern_is_an_ecma_262_regex_as_editors_compile_it() -> None:
    """Editors (yaml-language-server) run the schema's patterns as JavaScript regexes with the
    unicode flag, which refuses some escapes Python takes; Node is on every healstack machine."""
    patterns = sorted(set(_patterns(playbook_schema())))
    script = (
        "const ps = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const bad = ps.filter(p => { try { new RegExp(p, 'u'); return false; }"
        " catch (e) { return true; } });"
        "process.stdout.write(JSON.stringify(bad));"
    )
    result = subprocess.run(
        ["node", "-e", script],
        input=json.dumps(patterns),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert len(patterns) > 10
