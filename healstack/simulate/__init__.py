"""Local simulation of healstack workflows: moto's Step Functions interpreter, real handlers.

    from healstack.simulate import FunctionSpec, simulate, render_text

    result = simulate(definition, {"check-health": FunctionSpec(check)}, {"detail": {...}})
    print(render_text(result))

Modules: ``engine`` (``simulate``), ``scenario`` (forced outcomes), ``lambda_runtime``
(in-process handlers), ``moto_patches`` (what is patched in moto and why), ``clock``
(simulated time), ``trace`` (result and trace), ``render`` (text and JSON), ``definition``
(up-front checks of the ASL).
"""

from healstack.simulate.engine import simulate
from healstack.simulate.errors import ScenarioError, SimulationError, SimulationTimeoutError
from healstack.simulate.lambda_runtime import FunctionSpec, LambdaContext
from healstack.simulate.render import render_text, to_json
from healstack.simulate.scenario import Scenario, load_scenario
from healstack.simulate.trace import Attempt, SimulationResult, TraceStep

__all__ = [
    "Attempt",
    "FunctionSpec",
    "LambdaContext",
    "Scenario",
    "ScenarioError",
    "SimulationError",
    "SimulationResult",
    "SimulationTimeoutError",
    "TraceStep",
    "load_scenario",
    "render_text",
    "simulate",
    "to_json",
]
