"""A model of a cloud API's request rate limit on the simulated clock: token buckets.

AWS throttles each API per account and Region with a token bucket: a call takes a token, the
bucket refills at a fixed rate up to its capacity, and a call that finds it empty is refused.
Given ``RateLimits``, the simulator does the same for the operations it names, on the shared
simulated clock: a refused call gets the HTTP error response the service sends (EC2:
``RequestLimitExceeded``, HTTP 503), which botocore turns into the ``ClientError`` a handler
sees on AWS. Operations without a bucket are never throttled.

EC2's documented buckets ("Request throttling for the Amazon EC2 API",
https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html): every API is
evaluated on its own; a mutating action (``RebootInstances``, ``StopInstances``) holds 50
tokens and refills 5 per second; ``StartInstances`` holds 5 and refills 2 per second. (The
separate resource buckets of ``StartInstances`` and ``StopInstances``, 1,000 instances each,
never bind for one instance per call and are not modelled.)

    limits = RateLimits.ec2_documented()
    runs = run_playbook_many(playbook, events, rate_limits=limits)
    limits.throttled  # Counter({"ec2.RebootInstances": 4321})

One ``RateLimits`` serves one simulation at a time: each simulation starts with full buckets
and zero counts, and the counts stay readable after it ended.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse

from healstack.simulate.errors import SimulationError

#: the mutating EC2 actions healstack's handlers call
EC2_ACTIONS = ("RebootInstances", "StopInstances", "StartInstances")


@dataclass(frozen=True)
class TokenBucket:
    """``capacity`` tokens at most, ``refill_per_second`` added back continuously."""

    capacity: float
    refill_per_second: float

    def __post_init__(self) -> None:
        if not self.capacity >= 1:
            raise SimulationError(f"a token bucket holds at least 1 token, got {self.capacity}")
        if not self.refill_per_second > 0:
            raise SimulationError(
                f"a token bucket refills at a positive rate, got {self.refill_per_second}"
            )


@dataclass(frozen=True)
class _Refusal:
    """What a service answers a throttled call with (error code, HTTP status, body)."""

    code: str
    status: int
    message: str
    content_type: str

    def body(self, request_id: str) -> str:
        if self.content_type == "application/x-amz-json-1.1":
            return f'{{"__type":"{self.code}","message":"{self.message}"}}'
        if self.code == "RequestLimitExceeded":  # EC2's own XML error shape
            return (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                f"<Code>{self.code}</Code><Message>{self.message}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>"
            )
        return (  # the query protocol's shape (RDS)
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{self.code}</Code>"
            f"<Message>{self.message}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        )


#: per service (botocore's service id): how it refuses a throttled call
_REFUSALS = {
    "ec2": _Refusal("RequestLimitExceeded", 503, "Request limit exceeded.", "text/xml"),
    "ecs": _Refusal("ThrottlingException", 400, "Rate exceeded", "application/x-amz-json-1.1"),
    "rds": _Refusal("Throttling", 400, "Rate exceeded", "text/xml"),
}


class RateLimits:
    """Token buckets for API operations, keyed ``(service, operation)``, e.g.
    ``("ec2", "RebootInstances")`` (the service as botocore names it: ``ec2``, ``ecs``,
    ``rds``). ``throttled`` and ``admitted`` count calls per ``"service.Operation"``."""

    def __init__(self, buckets: Mapping[tuple[str, str], TokenBucket]) -> None:
        for service, operation in buckets:
            if service not in _REFUSALS:
                raise SimulationError(
                    f"rate limits: no throttling response modelled for {service!r} "
                    f"(use one of: {', '.join(sorted(_REFUSALS))})"
                )
            if not operation or not operation[0].isupper():
                raise SimulationError(
                    f"rate limits: {operation!r} is not an API operation name "
                    "(use the API's own spelling, e.g. RebootInstances)"
                )
        self.buckets = dict(buckets)
        self.throttled: Counter[str] = Counter()
        self.admitted: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], float] = {}
        self._refilled_at: dict[tuple[str, str], float] = {}
        self._requests = 0
        self.start(0.0)

    @classmethod
    def ec2_documented(cls) -> RateLimits:
        """EC2's default buckets for the actions healstack calls (see the module docstring)."""
        mutating = TokenBucket(capacity=50, refill_per_second=5)
        return cls(
            {
                ("ec2", "RebootInstances"): mutating,
                ("ec2", "StopInstances"): mutating,
                ("ec2", "StartInstances"): TokenBucket(capacity=5, refill_per_second=2),
            }
        )

    @classmethod
    def ec2_actions(
        cls, capacity: float, refill_per_second: float, actions: Iterable[str] = EC2_ACTIONS
    ) -> RateLimits:
        """One bucket of the given size for each of ``actions`` (e.g. a tiny one for a test)."""
        bucket = TokenBucket(capacity, refill_per_second)
        return cls({("ec2", action): bucket for action in actions})

    @property
    def throttles(self) -> int:
        """Every call refused so far."""
        return sum(self.throttled.values())

    def start(self, now: float) -> None:
        """Fill every bucket and zero the counts (a simulation begins at ``now``)."""
        with self._lock:
            self.throttled.clear()
            self.admitted.clear()
            self._tokens = {key: bucket.capacity for key, bucket in self.buckets.items()}
            self._refilled_at = dict.fromkeys(self.buckets, now)

    def admit(self, service: str, operation: str, now: float) -> bool:
        """Take a token for one call at simulated time ``now``; False when the bucket is empty."""
        key = (service, operation)
        bucket = self.buckets.get(key)
        if bucket is None:
            return True
        with self._lock:
            elapsed = max(0.0, now - self._refilled_at[key])
            tokens = min(bucket.capacity, self._tokens[key] + elapsed * bucket.refill_per_second)
            self._refilled_at[key] = max(now, self._refilled_at[key])
            name = f"{service}.{operation}"
            if tokens >= 1:
                self._tokens[key] = tokens - 1
                self.admitted[name] += 1
                return True
            self._tokens[key] = tokens
            self.throttled[name] += 1
            return False

    def refuse(self, service: str, operation: str, url: str) -> AWSResponse:
        """The HTTP response of a throttled call, as the service sends it."""
        refusal = _REFUSALS[service]
        with self._lock:
            self._requests += 1
            request_id = str(uuid.UUID(int=self._requests))
        body = refusal.body(request_id)
        headers = {
            "content-type": refusal.content_type,
            "x-amzn-requestid": request_id,
            "content-length": str(len(body.encode("utf-8"))),
        }
        return AWSResponse(url, refusal.status, headers, MockRawResponse(body))

    def throttle(self, event_name: str, url: str, now: float) -> AWSResponse | None:
        """For botocore's ``before-send.<service>.<Operation>`` event: the refusal of a call
        whose bucket is empty, or None to let it through."""
        parts = event_name.split(".")
        if len(parts) < 3:
            return None
        service, operation = parts[1], parts[2]
        if self.admit(service, operation, now):
            return None
        return self.refuse(service, operation, url)


__all__ = ["EC2_ACTIONS", "RateLimits", "TokenBucket"]
