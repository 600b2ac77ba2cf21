"""Local simulation of healstack workflows: moto's Step Functions interpreter, real handlers.

    from healstack.simulate import FunctionSpec, simulate, render_text

    result = simulate(definition, {"check-health": FunctionSpec(check)}, {"detail": {...}})
    print(render_text(result))

Many executions of one state machine, concurrently, in one moto world::

    results = simulate_many(definition, functions, [event_a, Start(event_b, at=60)])

Modules: ``engine`` (``simulate``), ``many`` (``simulate_many``, ``Start``), ``scheduler``
(many executions on one simulated clock), ``world`` (the moto resources of a simulation),
``scenario`` (forced outcomes), ``lambda_runtime`` (in-process handlers), ``moto_patches``
(what is patched in moto and why), ``moto_version`` (the moto it needs, checked first),
``clock`` (simulated time), ``trace`` (result and trace), ``render`` (text and JSON), ``definition`` (up-front checks of the ASL), ``runner``
(``run_playbook``, ``run_playbook_many``: a playbook's synthesized stack, simulated),
``rate_limits`` (the cloud API's token buckets on the simulated clock: throttling),
``synthesized`` (what is read from ``cdk.tf.json``), ``playbook_world`` (the targets, topic and
store in moto), ``finalizer`` (the status-change event EventBridge delivers), ``report`` (what
``healstack simulate`` prints).
"""

from healstack.simulate.moto_version import require_moto

# before any module below imports moto: a missing or untested moto is one line (exit 2 from
# the CLI), not an ImportError or a failure deep inside a patched moto internal
require_moto()

from healstack.simulate.engine import simulate  # noqa: E402
from healstack.simulate.errors import ScenarioError, SimulationError, SimulationTimeoutError  # noqa: E402
from healstack.simulate.lambda_runtime import FunctionSpec, LambdaContext  # noqa: E402
from healstack.simulate.many import Start, simulate_many  # noqa: E402
from healstack.simulate.rate_limits import RateLimits, TokenBucket  # noqa: E402
from healstack.simulate.render import render_text, to_json  # noqa: E402
from healstack.simulate.scenario import Scenario, load_scenario  # noqa: E402
from healstack.simulate.trace import Attempt, SimulationResult, TraceStep  # noqa: E402

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
