"""The deployed Lambda functions run the project's real handlers, in the moto server's process.

With ``lambda.use_docker: false`` moto's Invoke only echoes the payload. ``real_handlers``
reuses the simulator's in-process runtime (``healstack.simulate``): its patches route moto's
``LambdaSimpleBackend.invoke`` to a ``LambdaRouter`` (an exception comes back as a function
error whose ``errorType`` is the exception's class name, so Retry/Catch behave as on AWS) and
fast-forward Wait states and Retry intervals on a simulated clock. What is specific to the
emulator lives here: each function's handler and environment are read from moto, i.e. from
what ``terraform apply`` deployed, and handlers reach the moto server through
``AWS_ENDPOINT_URL`` with test credentials.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from healstack.simulate.clock import SimulatedClock
from healstack.simulate.lambda_runtime import FunctionSpec, Handler, LambdaRouter
from healstack.simulate.moto_patches import PatchSession, install_patches

#: only the project's handlers are imported by name from a deployed function's configuration
HANDLER_PACKAGE = "healstack_lambda"


@dataclass(frozen=True)
class HandlerRuntime:
    """The installed runtime: ``router.records`` lists invocations, ``clock.records`` the
    fast-forwarded waits and retry delays."""

    router: LambdaRouter
    clock: SimulatedClock
    session: PatchSession


def load_handler(handler: str) -> Handler:
    """Import ``module.function`` (a Lambda ``Handler`` setting) from ``healstack_lambda``."""
    module_name, _, attribute = handler.rpartition(".")
    if not module_name or module_name.split(".")[0] != HANDLER_PACKAGE:
        raise ValueError(f"handler {handler!r} is not a {HANDLER_PACKAGE} handler")
    function = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(function):
        raise ValueError(f"handler {handler!r}: {module_name} has no function {attribute!r}")
    return function


def runtime_environment(endpoint: str) -> dict[str, str]:
    """What a handler needs to reach the emulator: its endpoint and test credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


def deployed_functions(lambda_client: Any, endpoint: str) -> dict[str, FunctionSpec]:
    """Every healstack function in the emulator, as the handler and environment it was deployed
    with (functions with other handlers are left to moto)."""
    specs: dict[str, FunctionSpec] = {}
    for page in lambda_client.get_paginator("list_functions").paginate():
        for config in page["Functions"]:
            if not str(config.get("Handler", "")).startswith(f"{HANDLER_PACKAGE}."):
                continue
            variables = (config.get("Environment") or {}).get("Variables") or {}
            specs[config["FunctionName"]] = FunctionSpec(
                handler=load_handler(config["Handler"]),
                environment={**variables, **runtime_environment(endpoint)},
                timeout_s=int(config.get("Timeout", 3)),
                memory_mb=int(config.get("MemorySize", 128)),
            )
    return specs


def timeout_seconds(definition: str | Mapping[str, Any]) -> float | None:
    """A state machine definition's ``TimeoutSeconds`` (the simulated clock's limit)."""
    parsed = json.loads(definition) if isinstance(definition, str) else definition
    value = parsed.get("TimeoutSeconds")
    return float(value) if isinstance(value, int | float) else None


@contextmanager
def real_handlers(
    functions: Mapping[str, FunctionSpec],
    *,
    region: str,
    account_id: str,
    limit_seconds: float | None,
    execution_name: str = "emulator",
) -> Iterator[HandlerRuntime]:
    """Route Invoke of ``functions`` to their handlers and fast-forward waits, for the block."""
    from healstack_lambda import aws as handler_clients

    clock = SimulatedClock(limit_seconds)
    router = LambdaRouter(
        functions,
        scenario=None,
        clock=clock,
        region=region,
        account_id=account_id,
        execution_name=execution_name,
    )
    handler_clients.reset_clients()  # clients cached by earlier tests may target another mock
    try:
        with install_patches(router, clock) as session:
            yield HandlerRuntime(router=router, clock=clock, session=session)
    finally:
        handler_clients.reset_clients()
