"""What EventBridge does when an execution ends: the "Step Functions Execution Status Change"
event, matched against a rule and delivered to the rule's Lambda target.

Step Functions publishes the event for every execution that ends; moto publishes none. The
simulator builds it from ``describe_execution`` in the shape AWS documents (``detail.input`` is
the execution's input, i.e. the original event; dates are epoch milliseconds), matches it with
moto's own EventBridge pattern matcher and invokes the target through moto's Lambda API, so
the in-process handler runs as it would behind the finalizer rule. One synchronous delivery:
EventBridge's asynchronous invoke, its retry policy and the dead-letter queue are not
simulated (a failed delivery is reported, not retried).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.events.models import EventPattern

from healstack.simulate import world

STATUS_CHANGE = "Step Functions Execution Status Change"
_EVENT_ID_NAMESPACE = uuid.UUID("0b3c7f0e-31a4-4a53-9f2e-5c61de7b2a90")


@dataclass(frozen=True)
class FinalizerRule:
    """An EventBridge rule on status changes and the Lambda it targets (name or ARN)."""

    name: str
    pattern: str
    function: str

    def matches(self, event: Mapping[str, Any]) -> bool:
        return bool(EventPattern.load(self.pattern).matches_event(dict(event)))


@dataclass(frozen=True)
class Delivery:
    """One delivery of a status-change event: the event, and the target's answer."""

    event: dict[str, Any]
    function_error: str | None
    response: Any


def status_change_event(
    description: Mapping[str, Any], *, region: str, account: str
) -> dict[str, Any]:
    """The event Step Functions sends to EventBridge when the described execution ended."""
    arn = str(description["executionArn"])
    stop = description.get("stopDate")
    return {
        "version": "0",
        "id": str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{arn}/{description['status']}")),
        "detail-type": STATUS_CHANGE,
        "source": "aws.states",
        "account": account,
        "time": _iso(stop) if isinstance(stop, datetime) else _iso(datetime.now(tz=UTC)),
        "region": region,
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": description["stateMachineArn"],
            "name": description.get("name", arn.rsplit(":", 1)[-1]),
            "status": description["status"],
            "startDate": _millis(description.get("startDate")),
            "stopDate": _millis(stop),
            "input": description.get("input"),
            "inputDetails": {"included": True},
            "output": description.get("output"),
            "outputDetails": {"included": True} if "output" in description else None,
            "error": description.get("error"),
            "cause": description.get("cause"),
        },
    }


def deliver(rule: FinalizerRule, event: Mapping[str, Any], region: str) -> Delivery | None:
    """Invoke the rule's target with ``event`` if the rule matches it (None if not)."""
    if not rule.matches(event):
        return None
    response = world.client("lambda", region).invoke(
        FunctionName=rule.function, Payload=json.dumps(event).encode()
    )
    body = response["Payload"].read()
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = body.decode(errors="replace")
    return Delivery(dict(event), response.get("FunctionError"), payload)


def _millis(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
