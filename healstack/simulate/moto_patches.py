"""Patches over moto 5.2.5 that turn its Step Functions interpreter into a local simulator.

Each patch covers one moto gap, is installed at class/module level (the interpreter runs each
execution, and each Task, in background threads, so thread-local patching would miss them) and
is always undone by ``install_patches``, even on errors. Patched moto code (paths relative to
``moto/``):

1. ``awslambda_simple/models.py`` ``LambdaSimpleBackend.invoke``: without Docker moto echoes the
   payload; route it to the in-process handler (``LambdaRouter``) instead, returning function
   errors as ``X-Amz-Function-Error: Unhandled`` and service errors as HTTP errors.
2. ``stepfunctions/parser/asl/component/state/exec/state_task/lambda_eval_utils.py``
   ``execute_lambda_function_integration``: wrapped to note which Task state (and
   ``RetryCount``) is calling, since the Invoke request itself does not say.
3. ``.../state/wait/wait_function/wait_function.py`` ``WaitFunction._wait_interval``: Wait states
   really sleep; record the seconds on the simulated clock instead.
4. ``.../state/wait/wait_function/timestamp.py`` ``Timestamp._get_wait_seconds``: measured the
   wait against the real local-time clock (``datetime.now()``, naive); measure against the
   simulated UTC clock so consecutive Timestamp waits add up as on AWS.
5. ``.../common/retry/retrier_decl.py`` module ``time`` (``RetrierDecl._eval_body`` calls
   ``time.sleep``): retry intervals really sleep; fast-forward them. ``RetrierDecl._eval_body``
   and ``.../common/retry/jitter_strategy_decl.py`` ``JitterStrategyDecl._eval_body`` are
   wrapped to know the state and the pre-jitter delay; that module's ``random`` is replaced by a
   seeded ``random.Random`` so ``JitterStrategy: FULL`` delays are reproducible.
6. ``.../state/exec/state_task/state_task_lambda.py`` ``StateTaskLambda._from_error``: for a
   Task whose ``Resource`` is the function ARN, a failed Invoke API call surfaced as error
   ``Exception``; AWS names it ``Lambda.<ErrorCode>`` (e.g. ``Lambda.ServiceException``) as the
   ``arn:aws:states:::lambda:invoke`` integration already does.
7. ``.../component/program/program.py`` ``Program.eval``: wrapped to capture the execution's
   root environment, so a fast-forward that crosses the state machine's ``TimeoutSeconds`` can
   time the execution out (moto measures ``TimeoutSeconds`` in real time).
8. ``.../state/exec/state_task/lambda_eval_utils.py`` ``boto_client_for``: a new boto3 Lambda
   client is built for every invocation (~70 ms each); reuse one per region for the simulation.
9. Logger ``moto.stepfunctions.parser``: logs every caught or retried error at ERROR level with
   a full repr of the state; silenced while simulating (the history carries the same facts).
10. ``stepfunctions/parser/utils.py`` ``TMP_THREADS``: every interpreter thread is appended and
   never removed; finished ones are pruned when a simulation ends.
"""

from __future__ import annotations

import datetime
import json
import logging
import random
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from types import SimpleNamespace
from typing import Any
from unittest import mock

from botocore.exceptions import ClientError
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError
from moto.stepfunctions.parser import utils as parser_utils
from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.retry import (
    jitter_strategy_decl,
    retrier_decl,
)
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
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

from healstack.simulate.clock import FastForward, SimulatedClock
from healstack.simulate.lambda_runtime import InjectedServiceError, LambdaRouter

_INTERPRETER_LOGGER = "moto.stepfunctions.parser"


class _LambdaServiceError(JsonRESTError):
    """An Invoke API error as moto returns it over HTTP (error code + status)."""

    def __init__(self, error: InjectedServiceError) -> None:
        super().__init__(error.code, error.message)
        self.code = error.status


class PatchSession:
    """Shared state of the installed patches for one simulation."""

    def __init__(self, router: LambdaRouter, clock: SimulatedClock, *, seed: int | None) -> None:
        self.router = router
        self.clock = clock
        self.seed = seed
        self.root_env: Environment | None = None
        self.started_utc = datetime.datetime.now(tz=datetime.UTC).replace(tzinfo=None)
        # Per-thread call context: which state calls the Lambda, which retry is sleeping. Each
        # Task runs in its own interpreter thread, so this cannot be a plain attribute.
        self._local = threading.local()

    def set_calling_state(self, value: tuple[str | None, int | None] | None) -> None:
        self._local.calling_state = value

    def take_calling_state(self) -> tuple[str | None, int | None]:
        """The (state name, RetryCount) of the Task invoking in this thread, consumed once."""
        value: tuple[str | None, int | None] | None = getattr(self._local, "calling_state", None)
        self._local.calling_state = None
        return value if value is not None else (None, None)

    def simulated_utc_now(self) -> datetime.datetime:
        """Naive UTC "now" on the simulated clock (start of the simulation + simulated time)."""
        return self.started_utc + datetime.timedelta(seconds=self.clock.elapsed)

    def after_fast_forward(self, record: FastForward) -> None:
        """Time the execution out when a fast-forward reached ``TimeoutSeconds``."""
        if record.hit_timeout and self.root_env is not None:
            self.root_env.set_timed_out()


@contextmanager
def install_patches(
    router: LambdaRouter, clock: SimulatedClock, *, seed: int | None = 0
) -> Iterator[PatchSession]:
    """Install every patch for the duration of the ``with`` block; always undo them."""
    session = PatchSession(router, clock, seed=seed)
    with ExitStack() as stack:
        stack.enter_context(_prune_interpreter_threads())
        stack.enter_context(_quiet_interpreter_logs())
        for patcher in (
            _route_invokes(session),
            _capture_calling_state(session),
            _reuse_lambda_clients(),
            _fast_forward_waits(session),
            _simulated_timestamp_waits(session),
            *_fast_forward_retries(session),
            _lambda_service_errors_for_function_arn_tasks(),
            _capture_root_env(session),
        ):
            stack.enter_context(patcher)
        yield session


def state_of(env: Environment) -> tuple[str | None, int | None]:
    """(``$$.State.Name``, ``$$.State.RetryCount``) of the state ``env`` is evaluating."""
    data: Mapping[str, Any] = env.states.context_object.context_object_data.get("State") or {}
    return data.get("Name"), data.get("RetryCount")


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
        state, retry_count = session.take_calling_state()
        if state is None:  # not from a Task (e.g. a handler's own boto3 invoke)
            state = _state_from_payload(body)
        try:
            response = session.router.invoke(name, body, state=state, retry_count=retry_count)
        except InjectedServiceError as exc:
            raise _LambdaServiceError(exc) from None
        if response.function_error:
            response_headers["x-amz-function-error"] = response.function_error
        response_headers["Content-Length"] = str(len(response.payload))
        return response.payload

    return mock.patch.object(LambdaSimpleBackend, "invoke", invoke)


def _state_from_payload(body: Any) -> str | None:
    """healstack payloads carry ``"state.$": "$$.State.Name"``; use it when present."""
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        return None
    state = payload.get("state") if isinstance(payload, dict) else None
    return state if isinstance(state, str) else None


def _capture_calling_state(session: PatchSession) -> AbstractContextManager[Any]:
    original = lambda_eval_utils.execute_lambda_function_integration

    def execute_lambda_function_integration(*args: Any, **kwargs: Any) -> None:
        env: Environment = kwargs["env"] if "env" in kwargs else args[0]
        session.set_calling_state(state_of(env))
        try:
            original(*args, **kwargs)
        finally:
            session.set_calling_state(None)

    return mock.patch.object(
        lambda_eval_utils,
        "execute_lambda_function_integration",
        execute_lambda_function_integration,
    )


def _reuse_lambda_clients() -> AbstractContextManager[Any]:
    original = lambda_eval_utils.boto_client_for
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if state_credentials is not None and getattr(state_credentials, "role_arn", None):
            return original(region=region, service=service, state_credentials=state_credentials)
        with lock:
            if (region, service) not in clients:
                clients[(region, service)] = original(region=region, service=service)
            return clients[(region, service)]

    return mock.patch.object(lambda_eval_utils, "boto_client_for", boto_client_for)


def _fast_forward_waits(session: PatchSession) -> AbstractContextManager[Any]:
    def wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
        state, _ = state_of(env)
        record = session.clock.fast_forward(
            "wait", state or "?", wait_seconds, source=type(self).__name__
        )
        session.after_fast_forward(record)

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
        env: Environment | None = getattr(local, "env", None)
        state = state_of(env)[0] if env is not None else None
        record = session.clock.fast_forward(
            "retry",
            state or "?",
            seconds,
            source="Retry",
            nominal_seconds=getattr(local, "nominal", None),
        )
        session.after_fast_forward(record)

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
        if not env.is_frame():
            session.root_env = env
        original(self, env)

    return mock.patch.object(Program, "eval", program_eval)


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
