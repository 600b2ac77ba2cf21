"""Run an ASL definition in moto's Step Functions interpreter, in-process, with real handlers.

``simulate`` starts a fresh ``moto.mock_aws`` (Step Functions execution on, Lambda without
Docker), installs the patches of ``healstack.simulate.moto_patches``, creates an IAM role, one
Lambda function per ``FunctionSpec`` and the state machine, calls ``setup()``, starts one
execution and drives it to the end. Handlers run in-process and their boto3 calls hit the same
moto backend that ``setup()`` populated. Waits and retry delays are fast-forwarded. It is
``simulate_many`` (``healstack.simulate.many``) with one input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from healstack.simulate.lambda_runtime import FunctionSpec
from healstack.simulate.many import ExecutionInput, Start, simulate_many
from healstack.simulate.scenario import Scenario
from healstack.simulate.trace import SimulationResult
from healstack.simulate.world import MOTO_CONFIG

__all__ = ["MOTO_CONFIG", "ExecutionInput", "simulate"]


def simulate(
    definition: Mapping[str, Any],
    functions: Mapping[str, FunctionSpec],
    execution_input: ExecutionInput,
    *,
    scenario: Scenario | Mapping[str, Any] | str | Path | None = None,
    setup: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
    region: str = "us-east-1",
    timeout_s: float = 60,
    seed: int | None = 0,
    state_machine_name: str = "healstack-simulation",
    execution_name: str = "simulation",
) -> SimulationResult:
    """Execute ``definition`` once and return the result with its step-by-step trace.

    - ``functions``: the handler of each Lambda **function name** the definition invokes
      (``arn:aws:lambda:<region>:123456789012:function:<name>``, moto's default account).
    - ``execution_input``: the input, or a callable returning it, called after ``setup()``
      (use it when the input names resources ``setup()`` created).
    - ``scenario``: forced outcomes (``Scenario``, dict, or YAML/JSON file path).
    - ``setup``: called inside the mock before the execution starts, e.g. to create resources.
    - ``after``: called inside the mock once the execution ended, e.g. to inspect resources
      the handlers changed (the mock and everything in it is gone when ``simulate`` returns).
    - ``timeout_s``: real-time budget; exceeding it stops the execution and raises
      ``SimulationTimeoutError`` (its ``result`` holds the partial trace).
    - ``seed``: seeds ``JitterStrategy: FULL`` delays (None: unseeded).

    Raises ``SimulationError`` (or ``ScenarioError``) for inputs that cannot be simulated.
    Simulations run one at a time per process; moto's mock is process-wide.
    """
    (result,) = simulate_many(
        definition,
        functions,
        [Start(execution_input, name=execution_name)],
        scenario=scenario,
        setup=setup,
        after=after,
        region=region,
        timeout_s=timeout_s,
        seed=seed,
        state_machine_name=state_machine_name,
        execution_prefix=execution_name,
        max_in_flight=1,
    )
    return result
