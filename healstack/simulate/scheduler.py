"""Many executions on one simulated clock: discrete-event scheduling of their sleeps.

Every execution the simulator starts is, at any moment, either **busy** (its interpreter
thread evaluates states, calls a handler or moto) or **asleep** (in a Wait state or a Retry
delay, until a simulated moment). The driver that starts executions counts as one more party:
busy while it starts or collects executions, idle while it waits for the next start time or for
an execution to end.

The clock never jumps while anyone is busy. When nobody is, it jumps to the earliest moment
someone sleeps until (a sleeper's wake-up, or the driver's next start time) and wakes exactly
those due then. So, when several executions wait at once:

- the waits overlap, as on AWS: two executions waiting 3 minutes side by side move the clock
  3 minutes, not 6; the simulated time of an execution is ``end - start`` on the shared clock;
- order follows simulated time, not thread timing: an execution started at +60 s runs (up to
  its own first sleep or its end) while another one sleeps in a 180 s wait that began at +0 s;
- sleepers due at the same moment all wake together and run concurrently;
- real handler time (handlers run one at a time) moves the clock too, and wakes any sleeper
  whose moment it passed.

Each execution has its own deadline: start + the state machine's ``TimeoutSeconds``. A sleep
that would cross it ends at the deadline with ``hit_timeout`` set (the caller times the
execution out), so one execution's timeout never depends on what the others do.

Limits: a Parallel or Map state's branches are not parties of their own; a sleep in one branch
counts the whole execution as asleep, so a sibling branch still working may see the clock jump.
No healstack workflow uses them.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from healstack.simulate.clock import FastForward, FastForwardKind, SimulatedClock


@dataclass
class _Waiter:
    """A party blocked until ``event`` is set; ``fired`` once it counts as busy again."""

    event: threading.Event = field(default_factory=threading.Event)
    fired: bool = False


@dataclass(order=True)
class _Timer:
    moment: float
    sequence: int
    waiter: _Waiter = field(compare=False)


@dataclass
class ExecutionClock:
    """One execution's place on the shared clock (``ended_at`` None while it runs)."""

    started_at: float
    deadline: float | None
    ended_at: float | None = None


class ExecutionScheduler:
    """Coordinates the sleeps of the executions it started (see the module docstring).

    The driver calls ``begin`` before starting an execution, ``wait_for_driver`` when it has
    nothing to do, ``take_finished`` to collect ended executions and ``close`` at the end (or
    when the real-time budget ran out: every sleeper wakes at once, later sleeps do not block).
    The interpreter's patched sleeps call ``sleep``; its patched program end calls ``end``.
    """

    def __init__(self, clock: SimulatedClock, limit_seconds: float | None) -> None:
        self.clock = clock
        self._lock = clock.lock
        self._limit = limit_seconds
        self._runs: dict[str, ExecutionClock] = {}
        self._timers: list[_Timer] = []
        self._sequence = itertools.count()
        self._busy = 1  # the driver
        self._driver: _Waiter | None = None
        self._finished: list[str] = []
        self._closed = False
        clock.on_advance(self._wake_due)

    def manages(self, execution: str | None) -> bool:
        with self._lock:
            return execution is not None and execution in self._runs

    def timing(self, execution: str) -> ExecutionClock:
        with self._lock:
            return self._runs[execution]

    def in_flight(self) -> int:
        with self._lock:
            return sum(1 for run in self._runs.values() if run.ended_at is None)

    def begin(self, execution: str) -> None:
        """Register an execution about to start now; it counts as busy until ``end``."""
        with self._lock:
            if execution in self._runs:
                raise ValueError(f"execution {execution!r} was already started")
            now = self.clock.elapsed
            deadline = now + self._limit if self._limit is not None else None
            self._runs[execution] = ExecutionClock(started_at=now, deadline=deadline)
            self._busy += 1

    def end(self, execution: str) -> None:
        """The execution's program returned (or it never started): it is no longer a party."""
        with self._lock:
            run = self._runs.get(execution)
            if run is None or run.ended_at is not None:
                return
            run.ended_at = self.clock.elapsed
            self._busy -= 1
            self._finished.append(execution)
            if self._driver is not None:
                self._fire(self._driver)
            self._settle()

    def take_finished(self) -> list[str]:
        """Executions that ended since the last call, in the order they ended."""
        with self._lock:
            done, self._finished = self._finished, []
            return done

    def sleep(
        self,
        execution: str,
        kind: FastForwardKind,
        state: str,
        requested_seconds: float,
        *,
        source: str,
        nominal_seconds: float | None = None,
    ) -> FastForward:
        """Block the calling interpreter thread until the clock reaches its wake-up moment."""
        with self._lock:
            run = self._runs[execution]
            now = self.clock.elapsed
            requested = max(0.0, float(requested_seconds))
            wake = now + requested
            hit_timeout = run.deadline is not None and wake > run.deadline
            if hit_timeout and run.deadline is not None:
                wake = max(now, run.deadline)
            record = FastForward(
                kind=kind,
                state=state,
                source=source,
                requested_seconds=requested,
                nominal_seconds=requested if nominal_seconds is None else float(nominal_seconds),
                seconds=wake - now,
                started_at=now - run.started_at,
                hit_timeout=hit_timeout,
                execution=execution,
            )
            self.clock.note(record)
            if wake <= now or self._closed:
                return record
            waiter = self._park(wake)
            self._settle()
        waiter.event.wait()
        return record

    def wait_for_driver(self, until: float | None, timeout_s: float) -> None:
        """Idle the driver until the clock reaches ``until`` (None: no start is due), an
        execution ends, or ``timeout_s`` of real time passed."""
        with self._lock:
            if self._finished or self._closed:
                return
            if until is not None and until <= self.clock.elapsed:
                return
            waiter = self._park(until) if until is not None else self._idle()
            self._driver = waiter
            self._settle()
        waiter.event.wait(timeout_s)
        with self._lock:
            self._driver = None
            if not waiter.fired:  # real time ran out: busy again without being woken
                waiter.fired = True
                self._busy += 1

    def close(self) -> None:
        """Wake every sleeper now; sleeps after this return at once."""
        with self._lock:
            self._closed = True
            for timer in self._timers:
                self._fire(timer.waiter)
            self._timers.clear()
            if self._driver is not None:
                self._fire(self._driver)

    def _idle(self) -> _Waiter:
        waiter = _Waiter()
        self._busy -= 1
        return waiter

    def _park(self, moment: float) -> _Waiter:
        waiter = self._idle()
        heapq.heappush(self._timers, _Timer(moment, next(self._sequence), waiter))
        return waiter

    def _fire(self, waiter: _Waiter) -> None:
        if not waiter.fired:
            waiter.fired = True
            self._busy += 1
            waiter.event.set()

    def _due(self) -> Iterator[_Timer]:
        now = self.clock.elapsed
        while self._timers and self._timers[0].moment <= now:
            yield heapq.heappop(self._timers)

    def _wake_due(self) -> None:
        for timer in self._due():
            self._fire(timer.waiter)

    def _settle(self) -> None:
        """While nobody is busy: jump to the earliest wake-up and wake whoever is due then."""
        while self._busy <= 0 and not self._closed:
            while self._timers and self._timers[0].waiter.fired:
                heapq.heappop(self._timers)
            if not self._timers:
                return
            self.clock.skip_to(self._timers[0].moment)
            self._wake_due()
