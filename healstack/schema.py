"""The playbook's JSON Schema, for editors (yaml-language-server) and other tools.

Generated from the pydantic model (``healstack.playbook``): its fields, types, defaults and
declared bounds come from ``Playbook.model_json_schema()``; what the model's validators
enforce is added here where JSON Schema can say it (durations, name patterns, ranges, the
target kinds and each kind's checks, actions and states, one kind per step, a scope before
acting, cloud sources without a bus). Rules that JSON Schema cannot express (the last step is
a check, the timeout covers every wait, an approval names actions the steps use, the event
pattern grammar) stay with ``healstack validate``: the schema accepts a superset of valid
playbooks, never rejects a valid one.

The prose of each field (what it is for, an example) lives here, in ``FIELD_DOCS``: the
schema's descriptions and the docs' playbook reference are both generated from it.

``healstack schema`` prints :func:`schema_text`; ``healstack/playbook.schema.json`` is its
committed copy (a test keeps it current), which the shipped playbooks name in their
``# yaml-language-server: $schema=...`` line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from healstack.catalog import TARGET_KINDS, Action, TargetKind
from healstack.loader import load_playbook, shipped_playbook_path
from healstack.playbook import (
    ATTEMPTS_PATTERN,
    BUS_NAME_PATTERN,
    CLOUD_SOURCE_PREFIX,
    EMAIL_PATTERN,
    ID_PATH_PATTERN,
    MAX_PLATFORM_STEP_SECONDS,
    MAX_TIMEOUT_SECONDS,
    MAX_WAIT_SECONDS,
    MIN_TIMEOUT_SECONDS,
    NAME_PATTERN,
    PLATFORM_ACTION_PATTERN,
    PLATFORM_HANDLER_PATTERN,
    PLATFORM_STEP_NAME_PATTERN,
    STEP_NAME_PATTERN,
    Playbook,
)

#: the committed copy the playbooks' ``yaml-language-server`` comment points at
SCHEMA_FILE = Path(__file__).with_name("playbook.schema.json")
DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: what ``healstack.durations.parse_duration`` takes as text: whole seconds, or parts of
#: d/h/m/s (case and surrounding blanks ignored); the integer form carries each field's range
DURATION_TEXT = r"^\s*([0-9]+|([0-9]+[smhdSMHD])+)\s*$"
#: the fields of a step that modify it; every other field of ``Step`` is a kind of step, and a
#: step is exactly one kind
STEP_MODIFIERS = ("name", "on_attempts", "params")


def target_kinds() -> Mapping[str, TargetKind]:
    """The target kinds and their vocabulary: the one place the schema and the docs read it."""
    return TARGET_KINDS


@dataclass(frozen=True)
class FieldDoc:
    """What a playbook field is for (one or two sentences) and an example value."""

    text: str
    example: Any


#: the kind the examples name: the default shipped playbook's (a kind's name lives only in
#: its units: tests/core/test_kind_registry.py)
EXAMPLE_KIND = load_playbook(shipped_playbook_path()).target.kind

#: model class name -> field name -> its prose, for fields whose model gives none
#: (``field_docs`` merges both; a test fails on a field with neither, or an entry for a field
#: the model does not have)
FIELD_DOCS: dict[str, dict[str, FieldDoc]] = {
    "Playbook": {
        "name": FieldDoc(
            "Names the recovery and every resource it creates (with the prefix and stage); "
            "lower-case letters, digits and single hyphens. AWS's name limits are checked "
            "with the prefix and stage at validate time.",
            "ec2-status-check-recovery",
        ),
        "description": FieldDoc(
            "Free text for people; shown nowhere else.", "Reboot, then stop/start."
        ),
        "trigger": FieldDoc("The event that starts a recovery.", {"source": "aws.ecs"}),
        "target": FieldDoc(
            "What kind of resource is recovered, where its id sits in the event, and which "
            "resources are in scope.",
            {"kind": EXAMPLE_KIND, "require_tag": {"healstack": "enabled"}},
        ),
        "steps": FieldDoc(
            "The steps of ONE attempt, in order. Each step is exactly one of `check`, "
            "`action`, `wait`, `wait_until`; the last step must be a check that runs on every "
            "attempt (its verdict decides: recovered, or another attempt).",
            [{"check": "status"}, {"action": "reboot"}, {"wait": "3m"}, {"check": "status"}],
        ),
        "attempts": FieldDoc("How many attempts, and the wait between two.", {"max": 3}),
        "timeout": FieldDoc(
            "The whole recovery's limit (the state machine's `TimeoutSeconds`); it must "
            "exceed the waits of all attempts together.",
            "1h",
        ),
        "notify": FieldDoc("Who is told, besides the recovery's SNS topic.", {"emails": []}),
        "dry_run": FieldDoc(
            "`true`: every check runs, every action only reports what it would do, and every "
            "notification says `dry_run: true`.",
            True,
        ),
        "guard": FieldDoc(
            "Anti-flap: at most `max_recoveries` recoveries that act on one resource per "
            "`window`; beyond that the recovery notifies `recovery_limit_reached` and fails "
            "without acting.",
            {"max_recoveries": 3, "window": "6h"},
        ),
        "approval": FieldDoc(
            "Optional: the listed actions wait for a named approver's decision "
            "(`healstack approve|reject ID`).",
            {"before": ["stop"], "approvers": ["arn:aws:iam::123456789012:role/oncall"]},
        ),
        "history_days": FieldDoc(
            "How long the audit history (failed attempts, decisions, outcomes) keeps each "
            "record, in days.",
            90,
        ),
        "platform_steps": FieldDoc(
            "Steps implemented in the platform's own repository, by name (lower-case letters, "
            "digits, `_`; not an operation of the kind); each must be run by a `run` step, "
            "and its handler file must exist below the playbook's folder.",
            {
                "drain": {
                    "handler": "steps/drain.py:handler",
                    "permissions": [
                        {
                            "actions": ["elasticloadbalancing:DeregisterTargets"],
                            "resources": [
                                "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web/*"
                            ],
                        }
                    ],
                }
            },
        ),
    },
    "PlatformStep": {
        "handler": FieldDoc(
            "`path/to/file.py:function`, a Python file below the playbook's folder and its "
            "function; healstack packages the file as a function of its own.",
            "steps/drain.py:handler",
        ),
        "description": FieldDoc(
            "What the step does, for people and the docs.",
            "take the instance out of its target group",
        ),
        "permissions": FieldDoc(
            "Everything the step may call: its function's role holds exactly these.",
            [
                {
                    "actions": ["elasticloadbalancing:DeregisterTargets"],
                    "resources": [
                        "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web/*"
                    ],
                }
            ],
        ),
        "timeout": FieldDoc(
            "How long one call of the step may run; longer work is split into steps and waits.",
            "8s",
        ),
        "params": FieldDoc(
            "The params a `run` step may pass it, by name, each with its type.",
            {"deregistration_delay": {"type": "integer", "description": "seconds to wait"}},
        ),
    },
    "PlatformPermission": {
        "actions": FieldDoc(
            "IAM actions, each named as `service:Action` (no wildcards).",
            ["elasticloadbalancing:DeregisterTargets"],
        ),
        "resources": FieldDoc(
            'The ARNs they act on, each naming its service and a resource; `["*"]` alone '
            "only for read-only actions (Describe, Get, List) the service offers no "
            "resource-level permission for, with a `reason`.",
            ["arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web/*"],
        ),
        "reason": FieldDoc(
            'Why `resources: ["*"]`: required with it, refused without it.',
            "ELB Describe* actions take no resource ARN",
        ),
    },
    "PlatformParam": {
        "type": FieldDoc("The param's type.", "integer"),
        "description": FieldDoc("What the param means.", "seconds to wait"),
    },
    "Trigger": {
        "source": FieldDoc(
            "EventBridge `source`: one value or a list. Only `aws.` sources on the default "
            "bus (only AWS can put those there); any other source needs `bus`. Without "
            "`target.id_path` a source must be one whose events name the target kind.",
            "aws.cloudwatch",
        ),
        "detail_type": FieldDoc(
            "EventBridge `detail-type`: one value or a list.", "CloudWatch Alarm State Change"
        ),
        "detail": FieldDoc(
            "Any EventBridge content filter on `detail` (leaves are lists; prefix, "
            "anything-but, numeric, exists, `$or`, ...), checked against EventBridge's pattern "
            "grammar.",
            {"state": {"value": ["ALARM"]}},
        ),
        "resources": FieldDoc(
            "EventBridge `resources`: one value or a list.",
            ["arn:aws:rds:us-east-1:123456789012:db:orders"],
        ),
        "max_event_age": FieldDoc(
            "An event older than this (from its own `time`) is refused before any step; the "
            "rule's target stops retrying a delivery at the same age and dead-letters it.",
            "10m",
        ),
        "bus": FieldDoc(
            "A dedicated event bus for non-`aws.` sources: healstack creates it, and only the "
            "named publishers may put events on it.",
            {"name": "acme-health", "publishers": ["arn:aws:iam::123456789012:role/acme-monitor"]},
        ),
    },
    "Bus": {
        "name": FieldDoc(
            'The bus name (letters, digits, `.`, `_`, `-`; not "default").', "acme-health"
        ),
        "publishers": FieldDoc(
            "Who may put events on the bus: each principal named (IAM role or user ARN), no "
            "wildcards.",
            ["arn:aws:iam::123456789012:role/acme-monitor"],
        ),
    },
    "Target": {
        "kind": FieldDoc(
            "The kind of resource recovered; it decides the checks, actions and states the "
            "steps may use (see the kinds table).",
            EXAMPLE_KIND,
        ),
        "id_path": FieldDoc(
            "Where the resource id sits in the event (a JSONPath). Default: found in the known "
            "AWS event shapes of the kind's sources.",
            "$.detail.instance-id",
        ),
        "require_tag": FieldDoc(
            "Only resources carrying this one tag are ever touched: checked by every check and "
            "action, and a condition on the mutating IAM permissions.",
            {"healstack": "enabled"},
        ),
        "scope": FieldDoc(
            "`whole-account`: every resource of the kind may be recovered. A playbook whose "
            "steps act must set `require_tag` or this, not both.",
            "whole-account",
        ),
    },
    "Step": {
        "check": FieldDoc(
            "Ask whether the resource is healthy: healthy ends the recovery (`recovered`, or "
            "`already_healthy` before any action); a resource that is no recovery case "
            "(stopped on purpose, being changed, out of scope) ends `skipped`.",
            "status",
        ),
        "action": FieldDoc(
            "Change the resource (subject to `dry_run`, `approval`, `guard` and the scope). "
            "An undoing action (`start`) needs the action it undoes (`stop`) earlier on the "
            "same attempts.",
            "reboot",
        ),
        "wait": FieldDoc("Wait this long (a Step Functions Wait state).", "3m"),
        "wait_until": FieldDoc(
            "A bounded poll: re-run the check until the resource reports `state`; after "
            "`max_polls` the attempt failed.",
            {"state": "stopped", "poll_every": "15s", "max_polls": 20},
        ),
        "name": FieldDoc(
            "The state's name in the workflow (CamelCase); default: derived from the step. "
            "Unique within the playbook.",
            "CheckBeforeAction",
        ),
        "on_attempts": FieldDoc(
            "Run this step only on some attempts: `1`, `2-3` or `2+` (within `attempts.max`). "
            "Default: every attempt.",
            "2+",
        ),
        "run": FieldDoc(
            "Run one of the playbook's own `platform_steps`: an action like a built-in one "
            "(scope, `dry_run`, `approval`, `guard` apply).",
            "drain",
        ),
        "params": FieldDoc(
            "Parameters of an action (as its kind names them) or of a `run` step (as its "
            "platform step declares them), each of its type; checks and waits take none, and "
            "params healstack sets itself may not be given.",
            {"force": True},
        ),
    },
    "WaitUntil": {
        "state": FieldDoc("The lifecycle state to wait for, one of the kind's states.", "stopped"),
        "poll_every": FieldDoc("Time between two polls.", "15s"),
        "max_polls": FieldDoc("Polls before the attempt counts as failed.", 20),
    },
    "Attempts": {
        "max": FieldDoc("How many attempts before the recovery gives up (`gave_up`).", 3),
        "wait_between": FieldDoc("The wait after a failed attempt, before the next.", "1m"),
    },
    "Notify": {
        "emails": FieldDoc(
            "Addresses subscribed to the recovery's topic (each confirms by email), each "
            "listed once.",
            ["oncall@example.com"],
        ),
    },
    "Guard": {
        "max_recoveries": FieldDoc(
            "Recoveries that act on one resource within `window` before escalating.", 3
        ),
        "window": FieldDoc("The anti-flap window.", "6h"),
        "fleet": FieldDoc(
            "Optional: a budget across every resource of the playbook (and, in a hub, every "
            "member account and region), taken before an action runs; when it stays full "
            "for a few polls, the recovery notifies `fleet_limit_reached` and fails without "
            "acting.",
            {"max_in_flight": 10, "max_per_hour": 50},
        ),
    },
    "Fleet": {
        "max_in_flight": FieldDoc(
            "Recoveries acting at the same time (a slot is taken before the first action "
            "and given back when the recovery ends, or when it expires with the workflow).",
            10,
        ),
        "max_per_hour": FieldDoc(
            "Recoveries that start acting within one clock hour; at least `max_in_flight`.", 50
        ),
    },
    "Approval": {
        "before": FieldDoc(
            "The actions that wait for a decision; each must be an action of the steps.",
            ["stop"],
        ),
        "timeout": FieldDoc(
            "Nobody decided in time: `approval_timed_out` (escalates, FAILED). At most the "
            "playbook's `timeout`.",
            "1h",
        ),
        "approvers": FieldDoc(
            "Who may decide: each principal named (IAM role or user ARN), once, no wildcards.",
            ["arn:aws:iam::123456789012:role/oncall"],
        ),
    },
}


def models() -> dict[str, type[BaseModel]]:
    """Every model reachable from ``Playbook``, by class name, in field order."""
    found: dict[str, type[BaseModel]] = {}

    def visit(model: type[BaseModel]) -> None:
        found[model.__name__] = model
        for info in model.model_fields.values():
            for inner in _annotation_types(info.annotation):
                known = isinstance(inner, type) and inner.__name__ in found
                if isinstance(inner, type) and issubclass(inner, BaseModel) and not known:
                    visit(inner)

    visit(Playbook)
    return found


def _annotation_types(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", ())
    return [annotation, *[t for a in args for t in _annotation_types(a)]]


def field_docs() -> dict[str, dict[str, FieldDoc]]:
    """Each model field's prose: its ``FIELD_DOCS`` entry, or the model's own
    ``Field(description=..., examples=[...])``. A field with neither is left out (a test
    fails on it); one with both is an error (one place per fact)."""
    docs: dict[str, dict[str, FieldDoc]] = {}
    for name, model in models().items():
        for field, info in model.model_fields.items():
            here = FIELD_DOCS.get(name, {}).get(field)
            own = (
                FieldDoc(info.description, info.examples[0])
                if info.description and info.examples
                else None
            )
            if here is not None and own is not None:
                raise ValueError(f"{name}.{field} is described twice (model and FIELD_DOCS)")
            if here is not None or own is not None:
                docs.setdefault(name, {})[field] = here or own  # type: ignore[assignment]
    return docs


def _duration(low: int, high: int) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "integer", "minimum": low, "maximum": high},
            {"$ref": "#/$defs/DurationText"},
        ]
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _one_or_many(item: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [item, {"type": "array", "items": item, "minItems": 1}]}


def _given(field: str) -> dict[str, Any]:
    """``field`` is present and not null (the model treats null as absent)."""
    return {"required": [field], "properties": {field: {"not": {"type": "null"}}}}


#: (model, field) -> the duration's integer range in seconds, as the model's validators check it
DURATIONS: dict[tuple[str, str], tuple[int, int]] = {
    ("Trigger", "max_event_age"): (60, 3600),
    ("WaitUntil", "poll_every"): (1, 3600),
    ("Step", "wait"): (1, MAX_WAIT_SECONDS),
    ("Attempts", "wait_between"): (0, MAX_WAIT_SECONDS),
    ("Guard", "window"): (60, 30 * 86400),
    ("Approval", "timeout"): (60, 86400),
    ("Playbook", "timeout"): (MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS),
    ("PlatformStep", "timeout"): (1, MAX_PLATFORM_STEP_SECONDS),
}


def _params_rule(action: Action) -> dict[str, Any]:
    """A step with ``action`` takes only the params the action names for playbooks."""
    params: dict[str, Any] = {}
    for name, param in action.user_params().items():
        value: dict[str, Any] = {"type": param.type, "description": param.description}
        if param.choices:
            value["enum"] = list(param.choices)
        elif param.type == "string":
            value["pattern"] = r"\S"
        params[name] = value
    return {
        "if": {"required": ["action"], "properties": {"action": {"const": action.name}}},
        "then": {"properties": {"params": {"properties": params, "additionalProperties": False}}},
    }


#: a playbook that declares platform steps of its own (a field a later model may add)
_NON_EMPTY_STEPS = {"properties": {"platform_steps": {"minProperties": 1}}}


def _kind_rules(kind: TargetKind) -> dict[str, Any]:
    """What a step, an approval and the trigger may name when ``target.kind`` is ``kind``."""
    is_kind: dict[str, Any] = {
        "required": ["target"],
        "properties": {
            "target": {"required": ["kind"], "properties": {"kind": {"const": kind.name}}}
        },
    }
    step: dict[str, Any] = {
        "properties": {
            "check": {"enum": [*kind.checks, None]},
            "action": {"enum": [*kind.actions, None]},
            "wait_until": {"properties": {"state": {"enum": list(kind.states)}}},
        },
        "allOf": [_params_rule(action) for action in kind.action_ops],
    }
    then: dict[str, Any] = {"properties": {"steps": {"items": step}}}
    rules: list[dict[str, Any]] = [{"if": is_kind, "then": then}]
    # an approval names the kind's actions, or (not expressible here) a platform step's name
    only_kind_actions = {
        "allOf": [is_kind, {"not": {"required": ["platform_steps"], **_NON_EMPTY_STEPS}}]
    }
    before = {"properties": {"before": {"items": {"enum": list(kind.actions)}}}}
    rules.append({"if": only_kind_actions, "then": {"properties": {"approval": before}}})
    if kind.actions:  # every action changes the resource
        acting = {
            **is_kind,
            "properties": {
                **is_kind["properties"],
                "steps": {
                    "contains": {
                        "required": ["action"],
                        "properties": {"action": {"enum": list(kind.actions)}},
                    }
                },
            },
        }
        scoped = {
            "properties": {
                "target": {
                    "anyOf": [
                        {
                            "required": ["require_tag"],
                            "properties": {"require_tag": {"type": "object"}},
                        },
                        {"required": ["scope"], "properties": {"scope": {"type": "string"}}},
                    ]
                }
            }
        }
        rules.append({"if": acting, "then": scoped})
    if kind.event_sources:
        found_in_event = {
            **is_kind,
            "properties": {
                "target": {
                    "required": ["kind"],
                    "properties": {"kind": {"const": kind.name}},
                    "not": _given("id_path"),
                },
                "trigger": {"not": _given("bus")},
            },
        }
        known = {"enum": list(kind.event_sources)}
        rules.append(
            {
                "if": found_in_event,
                "then": {
                    "properties": {"trigger": {"properties": {"source": _one_or_many(known)}}}
                },
            }
        )
    return {"allOf": rules}


def playbook_schema() -> dict[str, Any]:
    """The playbook JSON Schema (a fresh dict)."""
    schema = Playbook.model_json_schema(mode="validation")
    defs: dict[str, dict[str, Any]] = schema["$defs"]
    models: dict[str, dict[str, Any]] = {**defs, "Playbook": schema}
    props = {name: model["properties"] for name, model in models.items()}

    for (model, field), (low, high) in DURATIONS.items():
        duration = _duration(low, high)
        props[model][field] = _nullable(duration) if field == "wait" else duration
    defs["DurationText"] = {
        "type": "string",
        "pattern": DURATION_TEXT,
        "description": "a duration: 30s, 5m, 2h, 1h30m, 2d, or whole seconds",
    }

    props["Playbook"]["name"].update({"pattern": NAME_PATTERN.pattern, "not": {"pattern": "--"}})
    props["Step"]["name"] = _nullable(
        {"type": "string", "pattern": STEP_NAME_PATTERN.pattern, "maxLength": 60}
    )
    props["Step"]["on_attempts"] = _nullable(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "pattern": ATTEMPTS_PATTERN.pattern},
            ]
        }
    )
    step_kinds = [f for f in models["Step"]["properties"] if f not in STEP_MODIFIERS]
    models["Step"]["oneOf"] = [_given(kind) for kind in step_kinds]
    models["Step"]["if"] = {"anyOf": [_given("check"), _given("wait"), _given("wait_until")]}
    models["Step"]["then"] = {"properties": {"params": {"maxProperties": 0}}}

    kinds = target_kinds()
    props["Target"]["kind"]["enum"] = list(kinds)
    props["Target"]["id_path"] = _nullable({"type": "string", "pattern": ID_PATH_PATTERN.pattern})
    props["Target"]["require_tag"] = _nullable(
        {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "minProperties": 1,
            "maxProperties": 1,
        }
    )
    models["Target"]["not"] = {
        "required": ["require_tag", "scope"],
        "properties": {"require_tag": {"type": "object"}, "scope": {"type": "string"}},
    }

    text = {"type": "string", "minLength": 1}
    props["Trigger"]["source"] = _one_or_many(text)
    props["Trigger"]["detail_type"] = _nullable(_one_or_many(text))
    props["Trigger"]["resources"] = _nullable(_one_or_many(text))
    cloud = {"type": "string", "pattern": "^" + re.escape(CLOUD_SOURCE_PREFIX)}
    models["Trigger"]["if"] = {"not": _given("bus")}
    models["Trigger"]["then"] = {"properties": {"source": _one_or_many(cloud)}}

    props["Bus"]["name"].update({"pattern": BUS_NAME_PATTERN.pattern, "not": {"const": "default"}})
    props["Bus"]["publishers"]["items"] = {"type": "string", "pattern": r"^[^*]+$"}
    props["Approval"]["approvers"]["items"] = {"type": "string", "pattern": r"^[^*\s]+$"}
    props["Approval"]["approvers"]["uniqueItems"] = True
    props["Notify"]["emails"]["items"] = {"type": "string", "pattern": EMAIL_PATTERN.pattern}
    props["Notify"]["emails"]["uniqueItems"] = True

    props["Step"]["run"] = _nullable(
        {"type": "string", "pattern": PLATFORM_STEP_NAME_PATTERN.pattern}
    )
    props["Playbook"]["platform_steps"]["propertyNames"] = {
        "pattern": PLATFORM_STEP_NAME_PATTERN.pattern
    }
    props["PlatformStep"]["handler"]["pattern"] = PLATFORM_HANDLER_PATTERN.pattern
    props["PlatformPermission"]["actions"]["items"] = {
        "type": "string",
        "pattern": PLATFORM_ACTION_PATTERN.pattern,
    }
    # the model checks an ARN's six parts; the schema only that it is one, without blanks
    props["PlatformPermission"]["resources"]["items"] = {
        "type": "string",
        "pattern": r"^(\*|arn:[^\s{}$]+)$",
    }
    models["PlatformPermission"]["if"] = {"properties": {"resources": {"const": ["*"]}}}
    models["PlatformPermission"]["then"] = {
        "required": ["reason"],
        "properties": {"reason": {"type": "string", "pattern": r"\S"}},
    }
    models["PlatformPermission"]["else"] = {"properties": {"reason": {"type": "null"}}}

    schema["allOf"] = [_kind_rules(kind) for kind in kinds.values()]

    for model, fields in field_docs().items():
        for field, doc in fields.items():
            props[model][field]["description"] = doc.text
            props[model][field]["examples"] = [doc.example]
    schema["$schema"] = DIALECT
    schema["title"] = "healstack playbook"
    return schema


def schema_text() -> str:
    """The schema as ``healstack schema`` prints it: sorted keys, two-space indent."""
    return json.dumps(playbook_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_FILE) -> bool:
    """Write the committed copy; True when it changed."""
    text = schema_text()
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


if __name__ == "__main__":  # python -m healstack.schema: refresh the committed copy
    print(f"{SCHEMA_FILE}: {'updated' if write_schema() else 'current'}")
