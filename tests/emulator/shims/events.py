"""EventBridge: pattern matching into arrays, and delivery to Step Functions targets."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.stepfunctions.responses import get_backend as sfn_backend
from moto.utilities.arns import parse_arn

LOG = logging.getLogger(__name__)


@contextmanager
def events_match_arrays_of_objects() -> Iterator[None]:
    """EventBridge patterns do not reach into arrays of objects.

    moto: ``events/models.py`` ``EventPattern._flatten_dict`` flattens nested objects only; an
    array of objects (e.g. ``detail.configuration.metrics`` of a CloudWatch alarm event) stays
    one opaque value, so a pattern on ``metrics.metricStat.metric.name`` never matches. AWS
    flattens arrays: each field of each element contributes its values, and a field matches
    when any of its values does.

    Shim: flatten the elements of object arrays under the array's path, collecting every
    field's values in a list (a single value stays a scalar, as before).
    """
    from moto.events.models import EventPattern

    def flatten(
        node: Any, prefix: str = "", result: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if result is None:
            result = {}
        if isinstance(node, dict):
            for key, value in node.items():
                path = f"{prefix}.{key}" if prefix else key
                if isinstance(value, dict) and value:
                    flatten(value, path, result)
                elif isinstance(value, list) and any(isinstance(i, dict) for i in value):
                    for item in value:
                        if isinstance(item, dict):
                            flatten(item, path, result)
                        else:
                            _collect(result, path, item)
                else:
                    _collect(result, path, value)
        return result

    with mock.patch.object(EventPattern, "_flatten_dict", staticmethod(flatten)):
        yield


def _collect(result: dict[str, Any], path: str, value: Any) -> None:
    if path not in result:
        result[path] = value
        return
    existing = result[path]
    values = list(existing) if isinstance(existing, list) else [existing]
    values += value if isinstance(value, list) else [value]
    result[path] = values


@dataclass
class Delivery:
    """One event EventBridge handed to a Step Functions target (or failed to)."""

    rule: str
    target_arn: str
    execution_arn: str | None
    error: str | None


@dataclass
class EventDeliveries:
    """What ``events_to_step_functions`` delivered; read by tests for clear failure messages."""

    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, delivery: Delivery) -> None:
        with self.lock:
            self.deliveries.append(delivery)

    def snapshot(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)


@contextmanager
def events_to_step_functions() -> Iterator[EventDeliveries]:
    """EventBridge does not deliver events to Step Functions targets.

    moto: ``events/models.py`` ``Rule.send_to_targets`` supports log group, archive, SQS,
    event-bus and API-destination targets; a ``states`` target raises
    ``NotImplementedError`` and ``PutEvents`` answers 500.

    Shim: for ``arn:aws:states:...:stateMachine:...`` targets, apply the target's input
    transformation as moto does, shape the event as EventBridge delivers it (``time`` as an
    ISO-8601 string, no ``ingestion-time``) and start an execution with a unique name; other
    targets go to moto's own code. Failures are recorded, not raised (EventBridge would retry,
    then use the target's dead-letter queue).
    """
    record = EventDeliveries()
    original = Rule.send_to_targets

    def send_to_targets(
        self: Rule, original_event: dict[str, Any], transform_input: bool = True
    ) -> None:
        machines = [t for t in self.targets if parse_arn(t["Arn"]).service == "states"]
        if not machines:
            return original(self, original_event, transform_input)
        if not self.event_pattern.matches_event(original_event):
            return None
        others = [t for t in self.targets if t not in machines]
        if others:
            rest = _shallow_copy(self)
            rest.targets = others
            original(rest, original_event, transform_input)
        for target in machines:
            record.add(_start_execution(self.name, target, original_event, transform_input))
        return None

    with mock.patch.object(Rule, "send_to_targets", send_to_targets):
        yield record


def _shallow_copy(rule: Rule) -> Rule:
    clone: Rule = Rule.__new__(Rule)
    clone.__dict__.update(rule.__dict__)
    return clone


def _start_execution(
    rule: str, target: dict[str, Any], event: dict[str, Any], transform_input: bool
) -> Delivery:
    arn = target["Arn"]
    try:
        payload = _target_input(target, event) if transform_input else _as_delivered(event)
        parsed = parse_arn(arn)
        backend = sfn_backend(parsed.account, parsed.region)
        execution = backend.start_execution(arn, str(uuid.uuid4()), json.dumps(payload))
    except Exception as exc:  # recorded: EventBridge does not fail PutEvents for a target
        LOG.warning("EventBridge -> %s failed: %s", arn, exc)
        return Delivery(rule, arn, None, f"{type(exc).__name__}: {exc}")
    return Delivery(rule, arn, execution.execution_arn, None)


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge sends the target: ``Input``, ``InputPath``, ``InputTransformer`` (as
    moto renders it for its own targets) or, by default, the whole event."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng.ext import parse

        matches = parse(target["InputPath"]).find(_as_delivered(event))
        return matches[0].value if matches else None
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
    return _as_delivered(event)


def _as_delivered(event: dict[str, Any]) -> dict[str, Any]:
    """The event as EventBridge hands it to targets: ISO ``time``, no moto bookkeeping."""
    shaped = {k: v for k, v in event.items() if k != "ingestion-time"}
    when = shaped.get("time")
    if isinstance(when, int | float):
        shaped["time"] = datetime.fromtimestamp(when, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return shaped
