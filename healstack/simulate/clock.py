"""The simulated clock: fast-forwarded waits and retry delays plus real handler time."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

FastForwardKind = Literal["wait", "retry"]


@dataclass(frozen=True)
class FastForward:
    """One Wait state or Retry delay that was skipped instead of slept.

    ``requested_seconds`` is what the interpreter asked to sleep (for a retry: after jitter);
    ``nominal_seconds`` is, for a retry, ``IntervalSeconds * BackoffRate^n`` capped by
    ``MaxDelaySeconds`` before jitter (for a wait: the requested seconds). ``seconds`` is what the
    clock moved: less than requested only when the execution's ``TimeoutSeconds`` ran out first.
    """

    kind: FastForwardKind
    state: str
    source: str
    requested_seconds: float
    nominal_seconds: float
    seconds: float
    started_at: float
    hit_timeout: bool


class SimulatedClock:
    """Thread-safe simulated elapsed time of one execution.

    Simulated time = sum of fast-forwarded waits and retry delays + real handler run time.
    ``limit_seconds`` is the state machine's ``TimeoutSeconds``: a fast-forward that would cross
    it stops at the limit and reports ``hit_timeout`` so the caller can time the execution out,
    as AWS would (moto measures ``TimeoutSeconds`` in real time, which fast-forwarding defeats).
    """

    def __init__(self, limit_seconds: float | None = None) -> None:
        self._lock = threading.Lock()
        self._elapsed = 0.0
        self._fast_forwarded = 0.0
        self._limit = limit_seconds
        self._records: list[FastForward] = []

    @property
    def elapsed(self) -> float:
        with self._lock:
            return self._elapsed

    @property
    def fast_forwarded(self) -> float:
        with self._lock:
            return self._fast_forwarded

    @property
    def records(self) -> list[FastForward]:
        with self._lock:
            return list(self._records)

    def add_real_time(self, seconds: float) -> None:
        """Account for time really spent (a handler run)."""
        with self._lock:
            self._elapsed += max(0.0, seconds)

    def fast_forward(
        self,
        kind: FastForwardKind,
        state: str,
        requested_seconds: float,
        *,
        source: str,
        nominal_seconds: float | None = None,
    ) -> FastForward:
        """Skip ``requested_seconds`` of simulated time (never past the limit) and record it."""
        with self._lock:
            requested = max(0.0, float(requested_seconds))
            seconds = requested
            hit_timeout = False
            if self._limit is not None and self._elapsed + requested > self._limit:
                seconds = max(0.0, self._limit - self._elapsed)
                hit_timeout = True
            record = FastForward(
                kind=kind,
                state=state,
                source=source,
                requested_seconds=requested,
                nominal_seconds=requested if nominal_seconds is None else float(nominal_seconds),
                seconds=seconds,
                started_at=self._elapsed,
                hit_timeout=hit_timeout,
            )
            self._elapsed += seconds
            self._fast_forwarded += seconds
            self._records.append(record)
            return record
