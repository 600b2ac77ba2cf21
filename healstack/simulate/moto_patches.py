"""Patches over moto 5.2.5 that turn its Step Functions interpreter into a local simulator.

Each patch covers one moto gap, is installed at class/module level (the interpreter runs each
execution, and each Task, in background threads, so thread-local patching would miss them) and
is always undone by ``install_patches``, even on errors. Patched moto code (paths relative to
``moto/``):

1. ``awslambda_simple/models.py`` ``LambdaSimpleBackend.invoke``: without Docker moto echoes the
   payload; route it to the in-process handler (``LambdaRouter``) instead, returning function
   errors as ``X-Amz-Function-Error: Unhandled`` and service errors as HTTP errors.
2. ``stepfunctions/parser/asl/component/state/exec/state_task/lambda_eval_utils.py``
   ``execute_lambda_function_integration``: wrapped to note which execution and Task state (and
   ``RetryCount``) is calling, since the Invoke request itself does not say.
3. ``.../state/wait/wait_function/wait_function.py`` ``WaitFunction._wait_interval``: Wait states
   really sleep; sleep on the simulated clock instead (``PatchSession.pause``).
4. ``.../state/wait/wait_function/timestamp.py`` ``Timestamp._get_wait_seconds``: measured the
   wait against the real local-time clock (``datetime.now()``, naive); measure against the
   simulated UTC clock so consecutive Timestamp waits add up as on AWS.
5. ``.../common/retry/retrier_decl.py`` module ``time`` (``RetrierDecl._eval_body`` calls
   ``time.sleep``): retry intervals really sleep; sleep on the simulated clock instead.
   ``RetrierDecl._eval_body`` and ``.../common/retry/jitter_strategy_decl.py``
   ``JitterStrategyDecl._eval_body`` are wrapped to know the state and the pre-jitter delay;
   that module's ``random`` is replaced by a seeded ``random.Random`` so ``JitterStrategy: FULL``
   delays are reproducible (for many executions: in the order the retries happen).
6. ``.../state/exec/state_task/state_task_lambda.py`` ``StateTaskLambda._from_error``: for a
   Task whose ``Resource`` is the function ARN, a failed Invoke API call surfaced as error
   ``Exception``; AWS names it ``Lambda.<ErrorCode>`` (e.g. ``Lambda.ServiceException``) as the
   ``arn:aws:states:::lambda:invoke`` integration already does.
7. ``.../component/program/program.py`` ``Program.eval``: wrapped to capture each execution's
   root environment, so a sleep that crosses the state machine's ``TimeoutSeconds`` can time
   that execution out (moto measures ``TimeoutSeconds`` in real time), and to tell the
   scheduler when an execution's program ended.
8. ``boto_client_for`` as imported by ``.../state_task/lambda_eval_utils.py`` and every
   ``.../state_task/service/state_task_service_*.py`` (DynamoDB, SNS, SQS, aws-sdk, ...): a new
   boto3 client is built for every call (~70 ms each, and it reads all of ``os.environ`` while
   a handler may be changing it); reuse one per region and service (kept across simulations:
   a client holds no moto state).
9. Logger ``moto.stepfunctions.parser``: logs every caught or retried error at ERROR level with
   a full repr of the state; silenced while simulating (the history carries the same facts).
10. ``stepfunctions/parser/utils.py`` ``TMP_THREADS``: every interpreter thread is appended and
   never removed; finished ones are pruned when a simulation ends.
11. ``stepfunctions/parser/asl/parse/asl_parser.py`` ``AmazonStateLanguageParser.parse``: the
   ANTLR parse of a definition takes ~1.5 s and moto repeats it at CreateStateMachine and at
   every StartExecution; parse each definition text once (the parsed program is immutable:
   every execution keeps its state in its own ``Environment``).
12. ``stepfunctions/parser/asl/utils/json_path.py`` and ``.../common/path/result_path.py``
   module ``parse`` (jsonpath_ng's): every JSONPath evaluation builds a new parser (ply lexer
   and LALR tables), ~18 % of a storm's time; parse each path text once per module (a parsed
   path is immutable: ``find`` and ``update`` do not change it).
13. ``core/botocore_stubber.py`` ``BotocoreStubber.__call__``: moto runs API calls from many
   threads with no locking, so two conditional writes (``TakeLock``) could both pass their
   check; every API call runs under one lock, as AWS makes each call atomic. Lambda Invoke
   calls do not take it (the handler's own calls do): a handler that hangs must not block the
   driver. A moto backend that invokes a Lambda from inside another call (SNS -> Lambda
   subscriptions) is refused: no healstack workflow uses one. With ``RateLimits``
   (``healstack.simulate.rate_limits``), a call whose token bucket is empty on the simulated
   clock is answered, under the same lock, with the service's throttling response instead of
   reaching moto (EC2: ``RequestLimitExceeded``, HTTP 503), as the API would answer it.
14. ``.../state/exec/execute_state.py`` module names ``threading`` and ``Thread``
   (``ExecutionState._evaluate_with_timeout`` runs a Task in a new thread and waits
   ``TimeoutSeconds`` of real time for it on a ``threading.Event``): handlers run one at a time
   here and every API call is atomic, so with a thousand executions in flight a Task can queue
   for its turn longer than its timeout, which on AWS, where they run side by side, never
   happens. The wait leaves out the time the Task's thread queued (``QueueTimes``).
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import random
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from botocore.exceptions import ClientError
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.exceptions import JsonRESTError
from moto.core.models import botocore_stubber
from moto.stepfunctions.parser import utils as parser_utils
from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import (
    jitter_strategy_decl,
    retrier_decl,
)
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_factory,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
    StateTaskLambda,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import json_path

from healstack.simulate.clock import FastForward, FastForwardKind, SimulatedClock
from healstack.simulate.lambda_runtime import InjectedServiceError, LambdaRouter
from healstack.simulate.rate_limits import RateLimits
from healstack.simulate.scheduler import ExecutionScheduler

_INTERPRETER_LOGGER = "moto.stepfunctions.parser"
_PARSER_PACKAGE = "moto.stepfunctions.parser."
_INVOKE_PATH = re.compile(r"^/[\d-]+/functions/[^/]+/invocations$")
_PARSED_DEFINITIONS = 8  # definitions kept parsed (one per state machine simulated recently)
_PARSED_JSON_PATHS = 1024
_CLIENTS: dict[tuple[str, str, bool, Any], Any] = {}
_CLIENTS_LOCK = threading.Lock()
del state_task_service_factory  # imported so every service module (patch 8) is loaded


class _LambdaServiceError(JsonRESTError):
    """An Invoke API error as moto returns it over HTTP (error code + status)."""

    def __init__(self, error: InjectedServiceError) -> None:
        super().__init__(error.code, error.message)
        self.code = error.status


@dataclass(frozen=True)
class CallingState:
    """Who invokes a Lambda: the execution's name, the Task state, its ``RetryCount``."""

    execution: str | None
    state: str | None
    retry_count: int | None


_NOBODY = CallingState(None, None, None)


class PatchSession:
    """Shared state of the installed patches for one simulation.

    ``scheduler`` (optional) makes the sleeps of the executions it started block on the shared
    clock (``healstack.simulate.scheduler``); any other execution fast-forwards at once.
    ``rate_limits`` (optional) throttles the API calls it has a token bucket for.
    """

    def __init__(
        self,
        router: LambdaRouter,
        clock: SimulatedClock,
        *,
        seed: int | None,
        scheduler: ExecutionScheduler | None = None,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.router = router
        self.clock = clock
        self.seed = seed
        self.scheduler = scheduler
        self.rate_limits = rate_limits
        self.root_env: Environment | None = None
        self.root_envs: dict[str, Environment] = {}
        self.api_lock = threading.RLock()
        self.started_utc = datetime.datetime.now(tz=datetime.UTC).replace(tzinfo=None)
        # Per-thread call context: which state calls the Lambda, which retry is sleeping. Each
        # Task runs in its own interpreter thread, so this cannot be a plain attribute.
        self._local = threading.local()

    def set_calling_state(self, value: CallingState | None) -> None:
        self._local.calling_state = value

    def take_calling_state(self) -> CallingState:
        """The execution and Task invoking in this thread, consumed once."""
        value: CallingState | None = getattr(self._local, "calling_state", None)
        self._local.calling_state = None
        return value if value is not None else _NOBODY

    def in_api_call(self) -> bool:
        """True while this thread is inside a (locked) moto API call."""
        return bool(getattr(self._local, "api_depth", 0))

    @contextmanager
    def api_call(self) -> Iterator[None]:
        with self.router.queue_times.turn(self.api_lock):
            self._local.api_depth = getattr(self._local, "api_depth", 0) + 1
            try:
                yield
            finally:
                self._local.api_depth -= 1

    def simulated_utc_now(self) -> datetime.datetime:
        """Naive UTC "now" on the simulated clock (start of the simulation + simulated time)."""
        return self.started_utc + datetime.timedelta(seconds=self.clock.elapsed)

    def pause(
        self,
        env: Environment | None,
        kind: FastForwardKind,
        seconds: float,
        *,
        source: str,
        nominal_seconds: float | None = None,
    ) -> FastForward:
        """Sleep ``seconds`` of simulated time for the execution evaluating ``env``."""
        state, _ = state_of(env) if env is not None else (None, None)
        execution = execution_of(env) if env is not None else None
        scheduler = self.scheduler
        if scheduler is not None and execution is not None and scheduler.manages(execution):
            record = scheduler.sleep(
                execution,
                kind,
                state or "?",
                seconds,
                source=source,
                nominal_seconds=nominal_seconds,
            )
        else:
            record = self.clock.fast_forward(
                kind, state or "?", seconds, source=source, nominal_seconds=nominal_seconds
            )
        if record.hit_timeout:
            root = self.root_envs.get(execution or "", self.root_env)
            if root is not None:
                root.set_timed_out()
        return record


@contextmanager
def install_patches(
    router: LambdaRouter,
    clock: SimulatedClock,
    *,
    seed: int | None = 0,
    scheduler: ExecutionScheduler | None = None,
    rate_limits: RateLimits | None = None,
) -> Iterator[PatchSession]:
    """Install every patch for the duration of the ``with`` block; always undo them.
    ``rate_limits`` starts full (and with zero counts) now."""
    if rate_limits is not None:
        rate_limits.start(clock.elapsed)
    session = PatchSession(router, clock, seed=seed, scheduler=scheduler, rate_limits=rate_limits)
    with ExitStack() as stack:
        stack.enter_context(_prune_interpreter_threads())
        stack.enter_context(_quiet_interpreter_logs())
        for patcher in (
            _route_invokes(session),
            _capture_calling_state(session),
            *_reuse_boto_clients(session),
            _fast_forward_waits(session),
            _simulated_timestamp_waits(session),
            *_fast_forward_retries(session),
            _lambda_service_errors_for_function_arn_tasks(),
            _capture_root_env(session),
            _parse_each_definition_once(),
            *_parse_each_json_path_once(),
            _atomic_api_calls(session),
            *_task_timeouts_leave_out_queueing(session),
        ):
            stack.enter_context(patcher)
        yield session


def state_of(env: Environment) -> tuple[str | None, int | None]:
    """(``$$.State.Name``, ``$$.State.RetryCount``) of the state ``env`` is evaluating."""
    data: Mapping[str, Any] = env.states.context_object.context_object_data.get("State") or {}
    return data.get("Name"), data.get("RetryCount")


def execution_of(env: Environment) -> str | None:
    """``$$.Execution.Name`` of the execution ``env`` belongs to."""
    data: Mapping[str, Any] = env.states.context_object.context_object_data.get("Execution") or {}
    name = data.get("Name")
    return name if isinstance(name, str) else None


def _route_invokes(session: PatchSession) -> AbstractContextManager[Any]:
    original = LambdaSimpleBackend.invoke

    def invoke(
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> str | bytes | None:
        name = backend.get_function(function_name, qualifier).function_name  # moto's 404s
        if not session.router.handles(name):
            return original(backend, function_name, qualifier, body, headers, response_headers)
        if session.in_api_call():
            raise _LambdaServiceError(
                InjectedServiceError(
                    "ServiceException",
                    f"the simulator cannot run {name} from inside another API call "
                    "(e.g. an SNS subscription); invoke it directly",
                )
            )
        calling = session.take_calling_state()
        if calling.state is None:  # not from a Task (a handler's own invoke, a finalizer)
            calling = _calling_state_from_payload(body)
        try:
            response = session.router.invoke(
                name,
                body,
                state=calling.state,
                retry_count=calling.retry_count,
                execution=calling.execution,
            )
        except InjectedServiceError as exc:
            raise _LambdaServiceError(exc) from None
        if response.function_error:
            response_headers["x-amz-function-error"] = response.function_error
        response_headers["Content-Length"] = str(len(response.payload))
        return response.payload

    return mock.patch.object(LambdaSimpleBackend, "invoke", invoke)


def _calling_state_from_payload(body: Any) -> CallingState:
    """healstack payloads carry ``"state.$": "$$.State.Name"`` and the execution ARN; a
    "Step Functions Execution Status Change" event names its execution in ``detail``."""
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        return _NOBODY
    if not isinstance(payload, dict):
        return _NOBODY
    state = payload.get("state")
    detail = payload.get("detail")
    arn = payload.get("execution_id")
    if not isinstance(arn, str) and isinstance(detail, dict):
        arn = detail.get("executionArn")
    execution = arn.rsplit(":", 1)[-1] if isinstance(arn, str) and arn else None
    return CallingState(execution, state if isinstance(state, str) else None, None)


def _capture_calling_state(session: PatchSession) -> AbstractContextManager[Any]:
    original = lambda_eval_utils.execute_lambda_function_integration

    def execute_lambda_function_integration(*args: Any, **kwargs: Any) -> None:
        env: Environment = kwargs["env"] if "env" in kwargs else args[0]
        state, retry_count = state_of(env)
        session.set_calling_state(CallingState(execution_of(env), state, retry_count))
        try:
            original(*args, **kwargs)
        finally:
            session.set_calling_state(None)

    return mock.patch.object(
        lambda_eval_utils,
        "execute_lambda_function_integration",
        execute_lambda_function_integration,
    )


def _reuse_boto_clients(session: PatchSession) -> list[AbstractContextManager[Any]]:
    """moto's ``boto_client_for`` ignores ``state_credentials`` (dummy keys always), so one
    client per region and service serves every call. Clients are created holding the router's
    environment lock: creating one reads all of ``os.environ`` (``getproxies``), which must not
    happen while a handler's environment is being removed again."""
    modules = [
        module
        for name, module in sorted(sys.modules.items())
        if name.startswith(_PARSER_PACKAGE) and callable(getattr(module, "boto_client_for", None))
    ]
    originals = {id(module): module.boto_client_for for module in modules}

    def patched(module: Any) -> Any:
        original = originals[id(module)]

        def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            # keyed by the function that makes it too: an emulator's shim aims clients at
            # its own server, and a later session's server listens on another port
            key = (region, service, botocore_stubber.enabled, original)
            cached = _CLIENTS.get(key)
            if cached is not None:
                return cached
            with session.router.environment_lock, _CLIENTS_LOCK:
                if key not in _CLIENTS:
                    _CLIENTS[key] = original(region=region, service=service)
                return _CLIENTS[key]

        return boto_client_for

    return [mock.patch.object(module, "boto_client_for", patched(module)) for module in modules]


def _fast_forward_waits(session: PatchSession) -> AbstractContextManager[Any]:
    def wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
        session.pause(env, "wait", wait_seconds, source=type(self).__name__)

    return mock.patch.object(WaitFunction, "_wait_interval", wait_interval)


def _simulated_timestamp_waits(session: PatchSession) -> AbstractContextManager[Any]:
    def get_wait_seconds(self: Timestamp, env: Environment) -> int:
        self.string.eval(env=env)
        timestamp_str: str = env.stack.pop()
        timestamp = self._from_timestamp_string(timestamp=timestamp_str)
        if timestamp is None:
            raise FailureEventException(self._create_failure_event(env, timestamp_str))
        return int((timestamp - session.simulated_utc_now()).total_seconds())

    return mock.patch.object(Timestamp, "_get_wait_seconds", get_wait_seconds)


def _fast_forward_retries(session: PatchSession) -> list[AbstractContextManager[Any]]:
    local = threading.local()
    original_retrier = retrier_decl.RetrierDecl._eval_body
    original_jitter = jitter_strategy_decl.JitterStrategyDecl._eval_body

    def retrier_eval_body(self: Any, env: Environment) -> None:
        local.env, local.nominal = env, None
        try:
            original_retrier(self, env)
        finally:
            local.env, local.nominal = None, None

    def jitter_eval_body(self: Any, env: Environment) -> None:
        if env.stack:  # the delay after IntervalSeconds, BackoffRate and MaxDelaySeconds
            local.nominal = env.stack[-1]
        original_jitter(self, env)

    def sleep(seconds: float) -> None:
        session.pause(
            getattr(local, "env", None),
            "retry",
            seconds,
            source="Retry",
            nominal_seconds=getattr(local, "nominal", None),
        )

    return [
        mock.patch.object(retrier_decl.RetrierDecl, "_eval_body", retrier_eval_body),
        mock.patch.object(jitter_strategy_decl.JitterStrategyDecl, "_eval_body", jitter_eval_body),
        mock.patch.object(retrier_decl, "time", SimpleNamespace(sleep=sleep)),
        mock.patch.object(jitter_strategy_decl, "random", random.Random(session.seed)),
    ]


def _lambda_service_errors_for_function_arn_tasks() -> AbstractContextManager[Any]:
    original = StateTaskLambda._from_error

    def from_error(self: StateTaskLambda, env: Environment, ex: Exception) -> FailureEvent:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        error, cause = StateTaskServiceLambda._error_cause_from_client_error(ex)
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(
                lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(
                    error=error, cause=cause
                )
            ),
        )

    return mock.patch.object(StateTaskLambda, "_from_error", from_error)


def _capture_root_env(session: PatchSession) -> AbstractContextManager[Any]:
    original = Program.eval

    def program_eval(self: Program, env: Environment) -> None:
        if env.is_frame():
            original(self, env)
            return
        execution = execution_of(env)
        session.root_env = env
        if execution is not None:
            session.root_envs[execution] = env
        try:
            original(self, env)
        finally:
            if session.scheduler is not None and execution is not None:
                session.scheduler.end(execution)

    return mock.patch.object(Program, "eval", program_eval)


_ORIGINAL_PARSE = AmazonStateLanguageParser.parse
_JSON_PATH_PARSERS = [(module, module.parse) for module in (json_path, result_path)]


@functools.lru_cache(maxsize=_PARSED_DEFINITIONS)
def _parse(definition: str) -> tuple[Any, Any]:
    return _ORIGINAL_PARSE(definition)


def _parse_each_definition_once() -> AbstractContextManager[Any]:
    return mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(_parse))


def _parse_each_json_path_once() -> list[AbstractContextManager[Any]]:
    return [
        mock.patch.object(module, "parse", functools.lru_cache(_PARSED_JSON_PATHS)(parse))
        for module, parse in _JSON_PATH_PARSERS
    ]


def _atomic_api_calls(session: PatchSession) -> AbstractContextManager[Any]:
    original = BotocoreStubber.__call__

    def call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        if not self.enabled or _INVOKE_PATH.match(urlsplit(request.url).path):
            return original(self, event_name, request, **kwargs)
        with session.api_call():
            limits = session.rate_limits
            if limits is not None:
                refused = limits.throttle(event_name, request.url, session.clock.elapsed)
                if refused is not None:
                    return refused
            return original(self, event_name, request, **kwargs)

    return mock.patch.object(BotocoreStubber, "__call__", call)


def _task_timeouts_leave_out_queueing(session: PatchSession) -> list[AbstractContextManager[Any]]:
    queue_times = session.router.queue_times
    local = threading.local()  # per waiting (parent) thread: the Task thread it started last

    class TaskThread(threading.Thread):
        def start(self) -> None:
            local.child = self
            super().start()

    class TaskEvent(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            child: threading.Thread | None = getattr(local, "child", None)
            if timeout is None or child is None:
                return super().wait(timeout)
            began = time.monotonic()
            try:
                while True:
                    deadline = began + timeout + queue_times.seconds(child.ident)
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return self.is_set()
                    if super().wait(remaining):
                        return True
            finally:
                local.child = None
                queue_times.forget(child.ident)

    return [
        mock.patch.object(execute_state, "Thread", TaskThread),
        mock.patch.object(execute_state, "threading", SimpleNamespace(Event=TaskEvent)),
    ]


@contextmanager
def _quiet_interpreter_logs() -> Iterator[None]:
    logger = logging.getLogger(_INTERPRETER_LOGGER)
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextmanager
def _prune_interpreter_threads() -> Iterator[None]:
    try:
        yield
    finally:
        parser_utils.TMP_THREADS[:] = [t for t in parser_utils.TMP_THREADS if t.is_alive()]
