"""An in-process stand-in for the Lambda runtime: runs a handler (or a scenario's forced outcome).

Knows nothing about moto: ``LambdaRouter.invoke`` takes the raw request payload and returns the
raw response payload plus the ``X-Amz-Function-Error`` value, or raises ``InjectedServiceError``
for a Lambda *service* error. ``healstack.simulate.moto_patches`` wires it into moto.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from healstack.simulate.clock import SimulatedClock
from healstack.simulate.scenario import REAL, Outcome, Scenario

Handler = Callable[[Any, Any], Any]
InvocationOutcome = Literal["ok", "function_error", "service_error"]

# HTTP status codes of the Lambda Invoke API errors a scenario may inject; others get 500.
_SERVICE_ERROR_STATUS = {
    "TooManyRequestsException": 429,
    "ResourceNotFoundException": 404,
    "InvalidRequestContentException": 400,
    "RequestTooLargeException": 413,
}
_REQUEST_ID_NAMESPACE = uuid.UUID("6f1f3c55-6b8e-4d1e-9a57-1c0de5eed5e1")


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function's Python handler and the environment it runs with.

    ``handler(event, context)`` is called in-process; ``environment`` is visible in ``os.environ``
    while it runs. ``timeout_s`` is the function's configured timeout: a run that takes longer
    fails afterwards with ``Sandbox.Timedout``, as on AWS (the run itself is not interrupted).
    """

    handler: Handler
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_s: int = 30
    memory_mb: int = 128

    def __post_init__(self) -> None:
        if not callable(self.handler):
            raise TypeError("FunctionSpec.handler must be callable")
        for key, value in self.environment.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"FunctionSpec.environment[{key!r}] must be a string")


@dataclass
class LambdaContext:
    """The subset of the Lambda Python runtime's ``context`` object handlers use."""

    function_name: str
    aws_request_id: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    deadline: float
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"2000/01/01/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class InvocationRecord:
    """One Lambda invocation as the simulator saw it.

    ``number`` is the 1-based invocation number of ``state`` within its execution (or of
    ``function`` when the calling state is unknown, e.g. a handler invoking another Lambda
    through boto3). ``execution`` is the calling execution's name, when known.
    """

    function: str
    state: str | None
    number: int
    retry_count: int | None
    mocked: bool
    outcome: InvocationOutcome
    error: str | None
    message: str | None
    duration_s: float
    started_at: float
    request_id: str
    execution: str | None = None


@dataclass(frozen=True)
class InvokeResponse:
    """The Invoke API response body and its ``X-Amz-Function-Error`` header (None on success)."""

    payload: bytes
    function_error: str | None = None


@dataclass(frozen=True)
class _Run:
    response: InvokeResponse | None
    kind: InvocationOutcome
    error: str | None = None
    message: str | None = None


class QueueTimes:
    """How long each thread has waited, in real time, for its turn at a lock it shares.

    Handlers run one at a time here (and every moto API call is atomic); on AWS they run side
    by side. A thread that queued behind a thousand others did no work meanwhile, so a Task's
    ``TimeoutSeconds`` leaves that time out (``healstack.simulate.moto_patches``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total: dict[int, float] = {}
        self._since: dict[int, float] = {}

    @contextmanager
    def turn(self, lock: threading.RLock) -> Iterator[None]:
        """Hold ``lock`` for the block, counting the wait for it against this thread."""
        ident = threading.get_ident()
        with self._lock:
            self._since[ident] = time.monotonic()
        try:
            lock.acquire()
        finally:
            with self._lock:
                began = self._since.pop(ident)
                self._total[ident] = self._total.get(ident, 0.0) + time.monotonic() - began
        try:
            yield
        finally:
            lock.release()

    def seconds(self, thread_id: int | None) -> float:
        """Real seconds ``thread_id`` has queued so far (a wait still going on included)."""
        if thread_id is None:
            return 0.0
        with self._lock:
            since = self._since.get(thread_id)
            ongoing = time.monotonic() - since if since is not None else 0.0
            return self._total.get(thread_id, 0.0) + ongoing

    def forget(self, thread_id: int | None) -> None:
        """Drop a finished thread's count (thread ids are reused)."""
        with self._lock:
            self._total.pop(thread_id or 0, None)


class InjectedServiceError(Exception):
    """A Lambda *service* error (the Invoke API call fails), e.g. ``ServiceException``."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        self.status = _SERVICE_ERROR_STATUS.get(code, 500)
        super().__init__(f"{code}: {message}")


class LambdaRouter:
    """Routes Invoke calls to in-process handlers, applying a scenario, counting and timing them.

    Handler runs are serialized (an ``RLock``, so a handler may synchronously invoke another
    function): ``os.environ`` is process-wide, so concurrent runs could see each other's
    environment. Invocations are counted per execution (a scenario's ranges count the calls of
    one execution), and ``set_scenario`` gives one execution a scenario of its own.
    """

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        *,
        scenario: Scenario | None,
        clock: SimulatedClock,
        region: str,
        account_id: str,
        execution_name: str,
    ) -> None:
        self._functions = dict(functions)
        self._scenario = scenario or Scenario()
        self._clock = clock
        self._region = region
        self._account_id = account_id
        self._execution_name = execution_name
        self._lock = threading.RLock()
        #: time spent waiting for a turn to run a handler (or make an API call), per thread
        self.queue_times = QueueTimes()
        self._records: list[InvocationRecord] = []
        self._per_state: Counter[tuple[str | None, str]] = Counter()
        self._per_function: Counter[tuple[str | None, str]] = Counter()
        self._per_execution: Counter[str | None] = Counter()
        self._scenarios: dict[str, Scenario] = {}
        self._by_execution: dict[str | None, list[InvocationRecord]] = {}

    @property
    def records(self) -> list[InvocationRecord]:
        with self._lock:
            return list(self._records)

    def records_for(self, execution: str | None) -> list[InvocationRecord]:
        """The invocations of one execution (None: those whose execution is unknown)."""
        with self._lock:
            return list(self._by_execution.get(execution, ()))

    @property
    def environment_lock(self) -> threading.RLock:
        """Held while a handler runs: ``os.environ`` changes only under it. Code that reads all
        of ``os.environ`` from another thread (creating a boto3 client does) must hold it."""
        return self._lock

    def handles(self, function_name: str) -> bool:
        return function_name in self._functions

    def set_scenario(self, execution: str, scenario: Scenario | None) -> None:
        """Apply ``scenario`` (instead of the shared one) to the calls of ``execution``."""
        with self._lock:
            if scenario is None:
                self._scenarios.pop(execution, None)
            else:
                self._scenarios[execution] = scenario

    def invoke(
        self,
        function_name: str,
        body: bytes | str | None,
        *,
        state: str | None,
        retry_count: int | None,
        execution: str | None = None,
    ) -> InvokeResponse:
        """Run one invocation of ``function_name`` called by Task state ``state`` of
        ``execution`` (None: unknown, counted together)."""
        with self.queue_times.turn(self._lock):
            self._per_function[(execution, function_name)] += 1
            self._per_execution[execution] += 1
            if state is not None:
                self._per_state[(execution, state)] += 1
            number = (
                self._per_state[(execution, state)]
                if state is not None
                else self._per_function[(execution, function_name)]
            )
            request_id = str(
                uuid.uuid5(
                    _REQUEST_ID_NAMESPACE,
                    f"{execution or self._execution_name}/{function_name}/"
                    f"{self._per_execution[execution]}",
                )
            )
            scenario = self._scenarios.get(execution or "", self._scenario)
            outcome = scenario.outcome_for(state, number)
            started_at = self._clock.elapsed
            began = time.monotonic()
            run = _Run(None, "function_error", "Runtime.Unknown")
            try:
                run = self._run(function_name, body, outcome, request_id)
            except InjectedServiceError as exc:
                run = _Run(None, "service_error", f"Lambda.{exc.code}", exc.message)
                raise
            finally:
                duration = time.monotonic() - began
                self._clock.add_real_time(duration)
                record = InvocationRecord(
                    function=function_name,
                    state=state,
                    number=number,
                    retry_count=retry_count,
                    mocked=outcome is not REAL,
                    outcome=run.kind,
                    error=run.error,
                    message=run.message,
                    duration_s=duration,
                    started_at=started_at,
                    request_id=request_id,
                    execution=execution,
                )
                self._records.append(record)
                self._by_execution.setdefault(execution, []).append(record)
            if run.response is None:  # pragma: no cover - _run returns a response or raises
                raise RuntimeError(f"no response from {function_name}")
            return run.response

    def _run(
        self, function_name: str, body: bytes | str | None, outcome: Outcome, request_id: str
    ) -> _Run:
        if outcome.kind == "throw":
            if outcome.is_service_error:
                code = outcome.error.removeprefix("Lambda.")
                raise InjectedServiceError(code, outcome.cause or "simulated by the scenario")
            return _function_error(outcome.error, outcome.cause, request_id)
        if outcome.kind == "return":
            return _Run(InvokeResponse(_encode(_as_returned(outcome.value))), "ok")
        return self._run_handler(function_name, body, request_id)

    def _run_handler(self, function_name: str, body: bytes | str | None, request_id: str) -> _Run:
        spec = self._functions[function_name]
        try:
            event = json.loads(body) if body else {}
        except ValueError:
            raise InjectedServiceError(
                "InvalidRequestContentException", "Could not parse request body into json"
            ) from None
        context = LambdaContext(
            function_name=function_name,
            aws_request_id=request_id,
            invoked_function_arn=(
                f"arn:aws:lambda:{self._region}:{self._account_id}:function:{function_name}"
            ),
            memory_limit_in_mb=spec.memory_mb,
            deadline=time.monotonic() + spec.timeout_s,
        )
        began = time.monotonic()
        with scoped_environ(self._runtime_environment(function_name, spec)):
            try:
                result = spec.handler(event, context)
            except Exception as exc:
                frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop this call site
                stack = traceback.format_list(frames)
                return _function_error(type(exc).__name__, str(exc), request_id, stack)
            except SystemExit as exc:
                message = (
                    f"RequestId: {request_id} Error: Runtime exited with error: "
                    f"exit status {exc.code}"
                )
                return _function_error("Runtime.ExitError", message, request_id)
        if time.monotonic() - began > spec.timeout_s:
            message = (
                f"RequestId: {request_id} Error: Task timed out after {spec.timeout_s:.2f} seconds"
            )
            return _function_error("Sandbox.Timedout", message, request_id)
        try:
            return _Run(InvokeResponse(_encode(result)), "ok")
        except (TypeError, ValueError) as exc:
            return _function_error(
                "Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id
            )

    def _runtime_environment(self, function_name: str, spec: FunctionSpec) -> dict[str, str]:
        """What the Lambda runtime sets, then the function's own environment on top."""
        return {
            "AWS_REGION": self._region,
            "AWS_DEFAULT_REGION": self._region,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            **spec.environment,
        }


def _as_returned(value: Any) -> Any:
    """A mocked check result (it has ``healthy``) may leave out ``skip``: the real check
    always reports it, null when the resource is a recovery case."""
    if isinstance(value, dict) and "healthy" in value and "skip" not in value:
        return {**value, "skip": None}
    return value


def _encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False).encode("utf-8")


def _function_error(
    error_type: str, message: str, request_id: str, stack: list[str] | None = None
) -> _Run:
    """An exception reported by the runtime, in the Lambda Python runtime's response shape."""
    body = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }
    return _Run(
        InvokeResponse(_encode(body), function_error="Unhandled"),
        "function_error",
        error_type,
        message,
    )


@contextmanager
def scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` and restore the previous values (or absence) afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
