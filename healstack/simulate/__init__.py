"""Local simulation of healstack workflows: moto's Step Functions interpreter, real handlers.

    from healstack.simulate import FunctionSpec, simulate, render_text

    result = simulate(definition, {"check-health": FunctionSpec(check)}, {"detail": {...}})
    print(render_text(result))

Many executions of one state machine, concurrently, in one moto world::

    results = simulate_many(definition, functions, [event_a, Start(event_b, at=60)])

Modules: ``engine`` (``simulate``), ``many`` (``simulate_many``, ``Start``), ``scheduler``
(many executions on one simulated clock), ``world`` (the moto resources of a simulation),
``scenario`` (forced outcomes), ``lambda_runtime`` (in-process handlers), ``moto_patches``
(what is patched in moto and why), ``clock`` (simulated time), ``trace`` (result and trace),
``render`` (text and JSON), ``definition`` (up-front checks of the ASL), ``runner``
(``run_playbook``, ``run_playbook_many``: a playbook's synthesized stack, simulated),
``rate_limits`` (the cloud API's token buckets on the simulated clock: throttling),
``synthesized`` (what is read from ``cdk.tf.json``), ``playbook_world`` (the targets, topic and
store in moto), ``finalizer`` (the status-change event EventBridge delivers), ``report`` (what
``healstack simulate`` prints).
"""

from healstack.simulate.engine import simulate
from healstack.simulate.errors import ScenarioError, SimulationError, SimulationTimeoutError
from healstack.simulate.lambda_runtime import FunctionSpec, LambdaContext
from healstack.simulate.many import Start, simulate_many
from healstack.simulate.rate_limits import RateLimits, TokenBucket
from healstack.simulate.render import render_text, to_json
from healstack.simulate.scenario import Scenario, load_scenario
from healstack.simulate.trace import Attempt, SimulationResult, TraceStep

__all__ = [
    "Attempt",
    "FunctionSpec",
    "LambdaContext",
    "RateLimits",
    "Scenario",
    "ScenarioError",
    "SimulationError",
    "SimulationResult",
    "SimulationTimeoutError",
    "Start",
    "TokenBucket",
    "TraceStep",
    "load_scenario",
    "render_text",
    "simulate",
    "simulate_many",
    "to_json",
]
