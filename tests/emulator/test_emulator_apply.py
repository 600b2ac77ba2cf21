"""A real ``terraform apply`` of the default stack into an in-process moto server, end to end.

One test, in order: synthesize for the server (``healstack synth``, and ``cdktf synth`` with
the repository's cdktf.json, which must be byte-identical), init, apply, re-plan (must be "no
changes"), a recovery driven by a real-shaped CloudWatch alarm event (EventBridge -> Step
Functions -> the real handlers -> EC2 and SNS), a tag change rolled out with ``cdktf diff`` and
``cdktf deploy`` (in-place changes only, then no changes), a handler exception surfacing as a
Lambda function error, destroy. The server, the moto shims and the temp folder are always cleaned up (fixture).
Run it alone with ``./dev test -m emulator -s`` (``-s`` shows each step's time), or
``python -m tests.emulator.run``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator.harness import (
    EmulatorSession,
    check_function_error,
    check_recovery,
    emulator_session,
)

pytestmark = [pytest.mark.slow, pytest.mark.emulator]


@pytest.fixture
def emulator() -> Iterator[EmulatorSession]:
    with emulator_session(lambda line: print(line, flush=True)) as session:
        yield session


def test_apply_replan_recover_destroy(emulator: EmulatorSession) -> None:
    resources = emulator.deploy()
    assert resources, "terraform apply created no resources"
    assert any(r.startswith("aws_sfn_state_machine.") for r in resources)

    emulator.replan()  # raises, listing the changes, unless the plan is empty
    # a state the previous implementation (the prebuilt bindings) would have created plans
    # clean under this one (issue 12: every address and argument unchanged)
    emulator.replan_with_previous_implementation()

    recovery = emulator.recover_impaired_instance()
    check_recovery(recovery)  # SUCCEEDED, one reboot on moto's EC2, "recovered" on SNS
    assert recovery.ec2_actions == ["reboot"]

    update = emulator.update_with_cdktf_cli({"team": "platform", "cost-center": "42"})
    assert update.planned == update.applied and update.applied.change > 0
    assert update.machine_tags["team"] == "platform"

    failure = emulator.invoke_failing_handler()
    check_function_error(failure)  # Unhandled, errorType = the exception's class name
    assert failure.error_type == "ResourceNotFound"

    left = emulator.destroy()
    assert left == [], f"terraform destroy left {left}"
    print(f"resources applied: {len(resources)}\n{emulator.timings.table()}")
