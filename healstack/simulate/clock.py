"""The simulated clock: fast-forwarded waits and retry delays plus real handler time.

One clock serves a whole simulation, however many executions it runs: ``elapsed`` is the
simulated time since the simulation began. How executions sleep on it when several run at
once is ``healstack.simulate.scheduler``'s job; this module only keeps time and records.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

FastForwardKind = Literal["wait", "retry"]


@dataclass(frozen=True)
class FastForward:
    """One Wait state or Retry delay that was skipped instead of slept.

    ``requested_seconds`` is what the interpreter asked to sleep (for a retry: after jitter);
    ``nominal_seconds`` is, for a retry, ``IntervalSeconds * BackoffRate^n`` capped by
    ``MaxDelaySeconds`` before jitter (for a wait: the requested seconds). ``seconds`` is the
    simulated time the sleep lasted: less than requested only when the execution's
    ``TimeoutSeconds`` ran out first. ``started_at`` is when it began, in seconds since the
    execution started; ``execution`` the execution's name (None when the simulator did not
    start it, e.g. on a moto server).
    """

    kind: FastForwardKind
    state: str
    source: str
    requested_seconds: float
    nominal_seconds: float
    seconds: float
    started_at: float
    hit_timeout: bool
    execution: str | None = None


class SimulatedClock:
    """Thread-safe simulated time shared by every execution of one simulation.

    Simulated time = time skipped (waits and retry delays nobody had to sleep through) + real
    handler run time (handlers run one at a time, so each run moves the clock by its length).

    ``fast_forward`` is the unscheduled form, for executions the simulator did not start (a
    moto server's): it skips at once and checks ``limit_seconds`` (the state machine's
    ``TimeoutSeconds``) against the whole clock. A fast-forward that would cross the limit stops
    at it and reports ``hit_timeout`` so the caller can time the execution out, as AWS would
    (moto measures ``TimeoutSeconds`` in real time, which fast-forwarding defeats).

    ``lock`` is re-entrant and is also the scheduler's lock, so time and sleepers change
    together; ``on_advance`` callbacks run, under it, whenever handler time moved the clock.
    """

    def __init__(self, limit_seconds: float | None = None) -> None:
        self.lock = threading.RLock()
        self._elapsed = 0.0
        self._fast_forwarded = 0.0
        self._limit = limit_seconds
        self._records: list[FastForward] = []
        self._by_execution: dict[str | None, list[FastForward]] = {}
        self._listeners: list[Callable[[], None]] = []

    @property
    def elapsed(self) -> float:
        with self.lock:
            return self._elapsed

    @property
    def fast_forwarded(self) -> float:
        """Simulated time skipped rather than lived through (concurrent sleeps count once)."""
        with self.lock:
            return self._fast_forwarded

    @property
    def records(self) -> list[FastForward]:
        with self.lock:
            return list(self._records)

    def records_for(self, execution: str | None) -> list[FastForward]:
        """The sleeps of one execution (None: of executions the simulator did not start)."""
        with self.lock:
            return list(self._by_execution.get(execution, ()))

    def on_advance(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (with ``lock`` held) after handler time moved the clock."""
        with self.lock:
            self._listeners.append(callback)

    def add_real_time(self, seconds: float) -> None:
        """Account for time really spent (a handler run)."""
        with self.lock:
            self._elapsed += max(0.0, seconds)
            for callback in self._listeners:
                callback()

    def skip_to(self, moment: float) -> float:
        """Move the clock forward to ``moment`` (never back); returns the seconds skipped."""
        with self.lock:
            skipped = max(0.0, moment - self._elapsed)
            self._elapsed += skipped
            self._fast_forwarded += skipped
            return skipped

    def note(self, record: FastForward) -> None:
        """Keep ``record`` (a scheduled sleep, timed by the scheduler)."""
        with self.lock:
            self._records.append(record)
            self._by_execution.setdefault(record.execution, []).append(record)

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
        with self.lock:
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
            self._by_execution.setdefault(None, []).append(record)
            return record
