"""The playbook model: what a platform team writes, validated in one place.

This module knows no cloud. Every rule lives here (or in the duration parser) and
raises a message that names the fix; ``healstack.loader`` turns pydantic's errors into
one ``PlaybookError`` line with the field path.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from healstack.catalog import TARGET_KINDS, Action, Param, TargetKind, Undo
from healstack.durations import format_duration, parse_duration
from healstack.event_pattern import problems as pattern_problems

Seconds = Annotated[int, BeforeValidator(parse_duration)]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
STEP_NAME_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]*$")
ID_PATH_PATTERN = re.compile(r"^\$(\.[A-Za-z0-9_-]+|\[\d+\]|\['[^'\]]+'\])+$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ATTEMPTS_PATTERN = re.compile(r"^(\d+)(?:(\+)|-(\d+))?$")

MAX_ATTEMPTS = 10
MAX_STEPS = 25
MAX_WAIT_SECONDS = 24 * 3600
MIN_TIMEOUT_SECONDS = 60
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
#: an event older than this (from its own ``time``) is refused: a delivery retried for an
#: hour must not act on the world as it was an hour ago
DEFAULT_MAX_EVENT_AGE_SECONDS = 600
#: events whose source starts with this come from the cloud's own services, which nobody
#: else can put on the default bus
CLOUD_SOURCE_PREFIX = "aws."
BUS_NAME_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,256}$")
#: the explicit word for "every resource of the kind in the account", instead of a tag
WHOLE_ACCOUNT = "whole-account"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Bus(_Strict):
    """A dedicated event bus for events of the platform's own (non-``aws.``) sources: healstack
    creates it, and only the named publishers may put events on it."""

    name: str
    #: the principals (the provider's ids, e.g. IAM role ARNs) that may put events on the bus
    publishers: list[str] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _bus_name(cls, value: str) -> str:
        if not BUS_NAME_PATTERN.match(value) or value == "default":
            raise ValueError(
                f'"{value}" is not a bus name (use letters, digits, ., _ or -, not "default")'
            )
        return value

    @field_validator("publishers")
    @classmethod
    def _publishers(cls, value: list[str]) -> list[str]:
        for principal in value:
            if not principal or "*" in principal:
                raise ValueError(
                    f'"{principal}" is not one principal (name each publisher; no wildcards)'
                )
        return value


class Trigger(_Strict):
    """The event pattern that starts a recovery (EventBridge pattern fields)."""

    source: list[str] = Field(min_length=1)
    detail_type: list[str] | None = Field(default=None, min_length=1)
    detail: dict[str, Any] | None = None
    resources: list[str] | None = Field(default=None, min_length=1)
    #: events older than this are refused before any step (delivery retries, replays)
    max_event_age: Seconds = DEFAULT_MAX_EVENT_AGE_SECONDS
    #: where events of a non-``aws.`` source come from (required for such a source)
    bus: Bus | None = None

    @field_validator("source", "detail_type", "resources", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("max_event_age")
    @classmethod
    def _age_range(cls, value: int) -> int:
        if not 60 <= value <= 3600:
            raise ValueError(f"{format_duration(value)} is out of range (use 1m to 1h)")
        return value

    @model_validator(mode="after")
    def _pattern_grammar(self) -> Trigger:
        """What the event bus would refuse, refused here, with the field path and the fix."""
        for path, message in pattern_problems(self.event_pattern()):
            raise _FieldError(_pattern_loc(path), message)
        return self

    @model_validator(mode="after")
    def _sources_need_a_bus(self) -> Trigger:
        if self.bus is not None:
            return self
        for index, source in enumerate(self.source):
            if not source.startswith(CLOUD_SOURCE_PREFIX):
                raise _FieldError(
                    ("source", index),
                    f'"{source}" is not a cloud service source, so anyone allowed to put events '
                    "on the default bus could start recoveries (name a dedicated bus: "
                    "trigger.bus: {name: ..., publishers: [...]}, or use an aws. source)",
                )
        return self

    def event_pattern(self) -> dict[str, Any]:
        pattern: dict[str, Any] = {"source": list(self.source)}
        if self.detail_type:
            pattern["detail-type"] = list(self.detail_type)
        if self.resources:
            pattern["resources"] = list(self.resources)
        if self.detail:
            pattern["detail"] = self.detail
        return pattern


class Target(_Strict):
    """What the playbook recovers and where its id sits in the event."""

    kind: str
    id_path: str | None = None
    #: only resources carrying this tag (key -> value) are recovered: the handlers check it
    #: before acting and the mutating permissions carry it as a condition.
    require_tag: dict[str, str] | None = None
    #: ``whole-account``: every resource of the kind may be recovered (no tag); a playbook
    #: that changes resources must choose this or ``require_tag`` explicitly.
    scope: Literal["whole-account"] | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in TARGET_KINDS:
            raise ValueError(
                f'"{value}" is not a target kind (use one of: {", ".join(TARGET_KINDS)})'
            )
        return value

    @field_validator("id_path")
    @classmethod
    def _path_shape(cls, value: str | None) -> str | None:
        if value is not None and not ID_PATH_PATTERN.match(value):
            raise ValueError(
                f'"{value}" is not an event path (use a path like $.detail.instance-id or $.resources[0])'
            )
        return value

    @field_validator("require_tag")
    @classmethod
    def _one_tag(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and len(value) != 1:
            raise ValueError("name exactly one tag, e.g. {healstack: enabled}")
        return value


class WaitUntil(_Strict):
    """Poll the target's check until it reports ``state`` (a bounded poll)."""

    state: str
    poll_every: Seconds = 15
    max_polls: int = Field(default=20, ge=1, le=100)

    @field_validator("poll_every")
    @classmethod
    def _poll_range(cls, value: int) -> int:
        if not 1 <= value <= 3600:
            raise ValueError(f"{format_duration(value)} is out of range (use 1s to 1h)")
        return value


class Step(_Strict):
    """One step of an attempt: exactly one of ``check``, ``action``, ``wait``, ``wait_until``."""

    check: str | None = None
    action: str | None = None
    #: a platform-owned step (``platform_steps``): runs the platform's own code as an action
    run: str | None = None
    wait: Seconds | None = None
    wait_until: WaitUntil | None = None
    name: str | None = None
    on_attempts: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Step:
        given = [
            k
            for k in ("check", "action", "run", "wait", "wait_until")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(
                f"a step needs exactly one of check, action, run, wait, wait_until (found: {found})"
            )
        return self

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str | None) -> str | None:
        if value is not None and (not STEP_NAME_PATTERN.match(value) or len(value) > 60):
            raise ValueError(
                f'"{value}" is not a step name (use CamelCase letters and digits, up to 60, e.g. Recheck)'
            )
        return value

    @field_validator("wait")
    @classmethod
    def _wait_range(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_WAIT_SECONDS:
            raise ValueError(f"{format_duration(value)} is out of range (use 1s to 24h)")
        return value

    @field_validator("on_attempts", mode="before")
    @classmethod
    def _attempt_spec(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is not None and (not isinstance(value, str) or not ATTEMPTS_PATTERN.match(value)):
            raise ValueError(f'"{value}" is not an attempt range (use 1, 2-3 or 2+)')
        return value

    @property
    def kind(self) -> Literal["check", "action", "wait", "wait_until"]:
        """A ``run`` step is an action (scope, budget, approval, dry run all apply)."""
        if self.check is not None:
            return "check"
        if self.action is not None or self.run is not None:
            return "action"
        if self.wait is not None:
            return "wait"
        return "wait_until"

    @property
    def acting(self) -> str | None:
        """What an acting step does: its action, or the platform step it runs."""
        return self.action or self.run

    def attempt_range(self, max_attempts: int) -> tuple[int, int]:
        """Inclusive (first, last) attempt on which this step runs."""
        if self.on_attempts is None:
            return (1, max_attempts)
        match = ATTEMPTS_PATTERN.match(self.on_attempts)
        assert match is not None  # checked by the validator
        first = int(match.group(1))
        if match.group(2):
            return (first, max_attempts)
        last = int(match.group(3)) if match.group(3) else first
        return (first, last)


class Attempts(_Strict):
    max: int = Field(default=3, ge=1, le=MAX_ATTEMPTS)
    wait_between: Seconds = 60

    @field_validator("wait_between")
    @classmethod
    def _between_range(cls, value: int) -> int:
        if value > MAX_WAIT_SECONDS:
            raise ValueError(f"{format_duration(value)} is out of range (use 0s to 24h)")
        return value


class Notify(_Strict):
    emails: list[str] = Field(default_factory=list)

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for address in value:
            if not EMAIL_PATTERN.match(address):
                raise ValueError(f'"{address}" is not an email address (use name@example.com)')
        if len(set(value)) != len(value):
            raise ValueError("lists an address twice (list each once)")
        return value


class Fleet(_Strict):
    """A fleet-wide budget of one playbook, across every resource (and, in a hub, every
    member account and region): at most ``max_in_flight`` recoveries acting at once and at
    most ``max_per_hour`` started acting per clock hour."""

    max_in_flight: int = Field(ge=1, le=1000)
    max_per_hour: int = Field(ge=1, le=10000)

    @model_validator(mode="after")
    def _hour_holds_the_flight(self) -> Fleet:
        if self.max_per_hour < self.max_in_flight:
            raise _FieldError(
                ("max_per_hour",),
                f"{self.max_per_hour} is below max_in_flight {self.max_in_flight}, which could "
                "then never be reached (raise max_per_hour or lower max_in_flight)",
            )
        return self


class Guard(_Strict):
    """Blast-radius limits: one recovery per resource at a time, and at most N per window."""

    max_recoveries: int = Field(default=3, ge=1, le=100)
    window: Seconds = 6 * 3600
    #: optional: a budget across all resources of the playbook
    fleet: Fleet | None = None

    @field_validator("window")
    @classmethod
    def _window_range(cls, value: int) -> int:
        if not 60 <= value <= 30 * 86400:
            raise ValueError(f"{format_duration(value)} is out of range (use 1m to 30d)")
        return value


class Approval(_Strict):
    """Pause before the listed actions until a named approver decides (or the timeout
    escalates). Approvers answer through healstack (``healstack approve|reject ID``), which
    checks who they are; there is no token that whoever holds it could use."""

    before: list[str] = Field(min_length=1)
    timeout: Seconds = 3600
    #: who may decide: the provider's principal ids (e.g. IAM role ARNs), nobody else
    approvers: list[str] = Field(min_length=1)

    @field_validator("approvers")
    @classmethod
    def _approvers(cls, value: list[str]) -> list[str]:
        for principal in value:
            if not principal or "*" in principal or any(c.isspace() for c in principal):
                raise ValueError(
                    f'"{principal}" is not one principal (name each approver, e.g. '
                    "arn:aws:iam::123456789012:role/oncall; no wildcards)"
                )
        if len(set(value)) != len(value):
            raise ValueError("lists an approver twice (list each once)")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout_range(cls, value: int) -> int:
        if not 60 <= value <= 86400:
            raise ValueError(f"{format_duration(value)} is out of range (use 1m to 24h)")
        return value


#: an IAM-style action, no wildcard: ``service:Action``
PLATFORM_ACTION_PATTERN = re.compile(r"^[a-z0-9-]{2,40}:[A-Za-z0-9]{2,100}$")
#: ``steps/drain.py:handler``: a Python file below the playbook's folder, and its function
PLATFORM_HANDLER_PATTERN = re.compile(
    r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9_./-]+\.py:[A-Za-z_][A-Za-z0-9_]*$"
)
PLATFORM_STEP_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
#: each step function runs in under 10 s (the brief's budget)
MAX_PLATFORM_STEP_SECONDS = 10


#: actions that only read: the only ones a platform step may hold on every resource (``*``)
READ_ONLY_VERBS = ("Describe", "Get", "List")


class PlatformPermission(_Strict):
    """What a platform step may call: named actions on named resources, nothing wider. ``*``
    as the resource only for read-only actions (Describe/Get/List) the service offers no
    resource-level permission for, with the reason written down."""

    actions: list[str] = Field(min_length=1)
    resources: list[str] = Field(min_length=1)
    #: why ``resources: ["*"]`` (required with it, refused without it)
    reason: str | None = None

    @field_validator("actions")
    @classmethod
    def _named_actions(cls, value: list[str]) -> list[str]:
        for action in value:
            if not PLATFORM_ACTION_PATTERN.match(action):
                raise ValueError(
                    f'"{action}" is not one action (name it as service:Action, e.g. '
                    "elasticloadbalancing:DeregisterTargets; no wildcards)"
                )
        return value

    @field_validator("resources")
    @classmethod
    def _scoped_resources(cls, value: list[str]) -> list[str]:
        if value == ["*"]:
            return value
        for resource in value:
            parts = resource.split(":", 5)
            if (
                len(parts) != 6
                or parts[0] != "arn"
                or parts[2] in ("", "*")
                or parts[5].strip("*/:") == ""
                or any(c.isspace() or c in "{}$" for c in resource)
            ):
                raise ValueError(
                    f'"{resource}" is not a scoped resource (name an ARN of the service with '
                    "the resource it acts on, e.g. arn:aws:elasticloadbalancing:us-east-1:"
                    '111122223333:targetgroup/web/*; "*" alone only for read-only actions, '
                    "with a reason)"
                )
        return value

    @model_validator(mode="after")
    def _star_needs_a_reason(self) -> PlatformPermission:
        if self.resources == ["*"]:
            writing = [a for a in self.actions if not a.split(":")[1].startswith(READ_ONLY_VERBS)]
            if writing:
                raise _FieldError(
                    ("resources",),
                    f'"*" lets {", ".join(writing)} change any resource (name the resources; '
                    '"*" is only for read-only Describe/Get/List actions)',
                )
            if not (self.reason or "").strip():
                raise _FieldError(
                    ("reason",),
                    'resources "*" needs the reason the service offers no resource-level '
                    "permission (e.g. reason: ELB Describe* actions take no resource ARN)",
                )
        elif self.reason is not None:
            raise _FieldError(("reason",), 'a reason is only for resources: ["*"] (remove it)')
        return self


class PlatformParam(_Strict):
    """One param a platform step takes from the steps that run it."""

    type: Literal["boolean", "integer", "string"]
    description: str = ""


class PlatformStep(_Strict):
    """A step implemented in the platform's own repository: healstack packages the file as
    a function of its own with exactly ``permissions``, runs it as an action (scope,
    anti-flap budget, approval, dry run, retries, catches and notifications as for a
    built-in action), and ships it through the pipeline."""

    #: ``path/to/file.py:function``, relative to the playbook's folder
    handler: str
    description: str = ""
    permissions: list[PlatformPermission] = Field(min_length=1)
    timeout: Seconds = 8
    params: dict[str, PlatformParam] = Field(default_factory=dict)

    @field_validator("handler")
    @classmethod
    def _handler_shape(cls, value: str) -> str:
        if not PLATFORM_HANDLER_PATTERN.match(value):
            raise ValueError(
                f'"{value}" is not a handler (use a .py file below the playbook\'s folder and '
                "its function, e.g. steps/drain.py:handler)"
            )
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout_budget(cls, value: int) -> int:
        if not 1 <= value <= MAX_PLATFORM_STEP_SECONDS:
            raise ValueError(
                f"{format_duration(value)} is out of range (a step runs in 1s to "
                f"{MAX_PLATFORM_STEP_SECONDS}s; split longer work into steps and waits)"
            )
        return value

    @property
    def file(self) -> str:
        return self.handler.rsplit(":", 1)[0]

    @property
    def function(self) -> str:
        return self.handler.rsplit(":", 1)[1]

    def as_action(self, name: str) -> Action:
        """Its vocabulary entry, checked like a kind's action."""
        return Action(
            name,
            self.description or f"the platform's own step {name}",
            params={k: Param(p.type, p.description or k) for k, p in self.params.items()},
        )


class Playbook(_Strict):
    """A recovery playbook: trigger, target, the steps of one attempt, and their bounds."""

    name: str
    description: str = ""
    trigger: Trigger
    target: Target
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    attempts: Attempts = Field(default_factory=Attempts)
    timeout: Seconds = 3600
    notify: Notify = Field(default_factory=Notify)
    dry_run: bool = False
    guard: Guard = Field(default_factory=Guard)
    approval: Approval | None = None
    #: how long the audit history keeps each record
    history_days: int = Field(default=90, ge=1, le=3650)
    #: steps implemented in the platform's own repository, by name (``- run: NAME``)
    platform_steps: dict[str, PlatformStep] = Field(default_factory=dict)
    #: the folder platform step handlers are relative to (the playbook file's; set by the
    #: loader, else the working directory)
    _source_dir: Path | None = PrivateAttr(default=None)

    def platform_file(self, name: str) -> Path:
        """The file of platform step ``name``'s handler."""
        return (self._source_dir or Path.cwd()) / self.platform_steps[name].file

    @field_validator("platform_steps")
    @classmethod
    def _platform_step_names(cls, value: dict[str, PlatformStep]) -> dict[str, PlatformStep]:
        for name in value:
            if not PLATFORM_STEP_NAME_PATTERN.match(name):
                raise ValueError(
                    f'"{name}" is not a platform step name (use lower-case letters, digits and '
                    "underscores, up to 31, starting with a letter, e.g. drain)"
                )
        return value

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not NAME_PATTERN.match(value) or "--" in value:
            raise ValueError(
                f'"{value}" is not a playbook name (use lower-case letters, digits and single '
                "hyphens, starting with a letter, e.g. ec2-status-check-recovery)"
            )
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout_range(cls, value: int) -> int:
        if not MIN_TIMEOUT_SECONDS <= value <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"{format_duration(value)} is out of range (use 1m to 7d)")
        return value

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Playbook:
        kind = TARGET_KINDS[self.target.kind]
        for name in self.platform_steps:
            if name in kind.checks or name in kind.actions:
                raise _FieldError(
                    ("platform_steps", name),
                    f'"{name}" is an operation of {kind.name} already (name the platform step '
                    "differently)",
                )
        for index, step in enumerate(self.steps):
            _check_step(step, index, kind, self.platform_steps)
            first, last = step.attempt_range(self.attempts.max)
            if first > last or first < 1 or last > self.attempts.max:
                raise _FieldError(
                    ("steps", index, "on_attempts"),
                    f'"{step.on_attempts}" never runs with attempts.max {self.attempts.max} '
                    f"(use a range within 1-{self.attempts.max})",
                )
        ran = {s.run for s in self.steps}
        for name in self.platform_steps:
            if name not in ran:
                raise _FieldError(
                    ("platform_steps", name),
                    f'no step runs "{name}" (add `- run: {name}` to the steps, or remove it)',
                )
        _check_sources(self.trigger, self.target, kind.name, kind.event_sources)
        _check_undo_rules(self.steps, kind.undoes, self.attempts.max)
        _check_scope(self, kind.actions)
        final = self.steps[-1]
        if final.kind != "check" or final.on_attempts is not None:
            raise _FieldError(
                ("steps", len(self.steps) - 1),
                "the last step of an attempt must be a check that runs on every attempt "
                "(end the steps with `- check: status`)",
            )
        if self.approval is not None and self.approval.timeout > self.timeout:
            raise _FieldError(
                ("approval", "timeout"),
                f"{format_duration(self.approval.timeout)} is longer than the whole recovery's "
                f"timeout {format_duration(self.timeout)} (shorten approval.timeout or raise "
                "timeout)",
            )
        if self.approval is not None:
            used = [s.acting for s in self.steps if s.acting is not None]
            for index, action in enumerate(self.approval.before):
                if action not in used:
                    raise _FieldError(
                        ("approval", "before", index),
                        f'"{action}" is not an action of this playbook\'s steps '
                        f"(use one of: {', '.join(dict.fromkeys(used)) or 'none; remove approval'})",
                    )
        names = [s.name for s in self.steps if s.name]
        for name in names:
            if names.count(name) > 1:
                index = [s.name for s in self.steps].index(name, names.index(name) + 1)
                raise _FieldError(
                    ("steps", index, "name"), f'"{name}" is used twice (name each step once)'
                )
        needed = self.minimum_run_seconds()
        if needed >= self.timeout:
            raise _FieldError(
                ("timeout",),
                f"{format_duration(self.timeout)} is shorter than the {format_duration(needed)} "
                f"the waits of {self.attempts.max} attempts need (raise timeout or lower attempts.max)",
            )
        return self

    def minimum_run_seconds(self) -> int:
        """The waits alone across every attempt: a floor for the overall timeout."""
        total = self.attempts.wait_between * (self.attempts.max - 1)
        for attempt in range(1, self.attempts.max + 1):
            for step in self.steps:
                first, last = step.attempt_range(self.attempts.max)
                if first <= attempt <= last and step.wait is not None:
                    total += step.wait
        return total


class _FieldError(ValueError):
    """A cross-field rule broken at a path deeper than the model that checks it."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)


def _check_step(
    step: Step, index: int, kind: TargetKind, platform: Mapping[str, PlatformStep]
) -> None:
    checks, actions, states = kind.checks, kind.actions, kind.states
    if step.run is not None:
        if step.run not in platform:
            declared = ", ".join(platform) or "none; declare it under platform_steps"
            raise _FieldError(
                ("steps", index, "run"),
                f'"{step.run}" is not a platform step of this playbook (declared: {declared})',
            )
        _check_params(step, index, "platform step", platform[step.run].as_action(step.run))
        return
    if step.check is not None and step.check not in checks:
        raise _FieldError(
            ("steps", index, "check"),
            f'"{step.check}" is not a check of {kind.name} (use one of: {", ".join(checks)})',
        )
    if step.action is not None and step.action not in actions:
        raise _FieldError(
            ("steps", index, "action"),
            f'"{step.action}" is not an action of {kind.name} (use one of: {", ".join(actions)})',
        )
    if step.wait_until is not None and step.wait_until.state not in states:
        raise _FieldError(
            ("steps", index, "wait_until", "state"),
            f'"{step.wait_until.state}" is not a state of {kind.name} (use one of: '
            f"{', '.join(states)})",
        )
    if step.params and step.kind in ("wait", "wait_until"):
        raise _FieldError(("steps", index, "params"), "waits take no params (remove params)")
    if step.params and step.check is not None:
        raise _FieldError(
            ("steps", index, "params"), f'check "{step.check}" takes no params (remove params)'
        )
    if step.action is not None:
        _check_params(step, index, kind.name, kind.action(step.action))


def _check_params(step: Step, index: int, kind: str, action: Action) -> None:
    """Each param is one the action's schema names, of its type; internal ones (set by the
    workflow) may not be given."""
    accepted = action.user_params()
    for name, value in step.params.items():
        where = ("steps", index, "params", name)
        param = action.params.get(name)
        if param is not None and param.internal:
            raise _FieldError(
                where, f"is set by healstack itself for {action.name}; remove it from params"
            )
        if param is None:
            hint = f"accepted: {', '.join(accepted)}" if accepted else "it takes none"
            close = difflib.get_close_matches(name, accepted, n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            raise _FieldError(
                where,
                f'"{name}" is not a param of {kind} {action.name} ({guess}{hint}; remove it)',
            )
        problem = param.problem(value)
        if problem is not None:
            raise _FieldError(where, f"{problem} ({param.description})")


def _check_undo_rules(steps: list[Step], undoes: tuple[Undo, ...], max_attempts: int) -> None:
    """An undoing action (``start``) needs the action it undoes (``stop``) earlier in every
    attempt it runs on: it acts only on what this same execution did."""
    undone_by = {u.action: u.undoes for u in undoes}
    for index, step in enumerate(steps):
        undone = undone_by.get(step.action or "")
        if undone is None:
            continue
        first, last = step.attempt_range(max_attempts)
        covered = any(
            earlier.action == undone
            and earlier.attempt_range(max_attempts)[0] <= first
            and earlier.attempt_range(max_attempts)[1] >= last
            for earlier in steps[:index]
        )
        if not covered:
            raise _FieldError(
                ("steps", index, "action"),
                f'"{step.action}" only undoes a {undone} made by the same attempt (put '
                f"`- action: {undone}` before it, on the same attempts)",
            )


def _check_scope(playbook: Playbook, acting_actions: tuple[str, ...]) -> None:
    """A playbook that changes resources names its scope: a tag, or the whole account."""
    target = playbook.target
    if target.require_tag is not None and target.scope is not None:
        raise _FieldError(
            ("target", "scope"),
            f"{target.scope} contradicts require_tag (keep one of them)",
        )
    acting = [s.acting for s in playbook.steps if s.action in acting_actions or s.run is not None]
    if acting and target.require_tag is None and target.scope is None:
        raise _FieldError(
            ("target", "require_tag"),
            f"this playbook changes resources ({', '.join(dict.fromkeys(a for a in acting if a))}) "
            "but names no scope (set require_tag: {healstack: enabled} to act only on tagged "
            f"resources, or scope: {WHOLE_ACCOUNT} to act on all of them)",
        )


def _pattern_loc(path: str) -> tuple[str | int, ...]:
    """``detail-type[0]`` / ``detail.state.value[1]`` as a field location of the trigger."""
    loc: list[str | int] = []
    for part in path.split(".") if path else []:
        name, *indexes = re.split(r"\[(\d+)\]", part)
        if name:
            loc.append("detail_type" if name == "detail-type" else name)
        loc.extend(int(i) for i in indexes if i)
    return tuple(loc)


def _check_sources(trigger: Trigger, target: Target, kind: str, sources: tuple[str, ...]) -> None:
    """Without ``id_path`` the resource is found in the known shapes of the kind's sources:
    a source that cannot carry the kind (or that AWS does not emit: ``aws.heath``) is named."""
    if target.id_path is not None or trigger.bus is not None:
        return
    for index, source in enumerate(trigger.source):
        if source not in sources:
            close = difflib.get_close_matches(source, sources, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise _FieldError(
                ("trigger", "source", index),
                f'"{source}" events do not name a {kind} where healstack can find it ({hint}use '
                f"{', '.join(sources)}, or set target.id_path)",
            )
