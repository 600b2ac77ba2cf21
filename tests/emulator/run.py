"""``python -m tests.emulator.run``: the emulator end to end, printing each step and its time.

Starts a moto server on a free loopback port, synthesizes the default stack for it (and checks
``cdktf synth`` writes the same bytes), applies, re-plans (must be "no changes"), runs a
recovery of an impaired EC2 instance from a real-shaped alarm event, rolls out a tag change
with ``cdktf diff`` + ``cdktf deploy``, destroys, and stops the server. Exit 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import sys
import time

from healstack.emulator import EmulatorError, TerraformError
from tests.emulator.cdktf_cli import CdktfCliError
from tests.emulator.harness import (
    EmulatorCheckFailed,
    check_function_error,
    check_recovery,
    emulator_session,
)


def main() -> int:
    began = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {message}", flush=True)

    try:
        with emulator_session(log) as session:
            resources = session.deploy()
            session.replan()
            log("re-plan: no changes")
            recovery = session.recover_impaired_instance()
            check_recovery(recovery)
            log(f"invocations: {', '.join(recovery.invocations)}")
            log(f"fast-forwarded: {recovery.fast_forwarded}")
            update = session.update_with_cdktf_cli({"team": "platform", "cost-center": "42"})
            log(f"cdktf diff planned {update.planned}, cdktf deploy applied {update.applied}")
            failure = session.invoke_failing_handler()
            check_function_error(failure)
            log(
                f"handler exception -> FunctionError={failure.function_error} "
                f"errorType={failure.error_type}: {failure.message}"
            )
            left = session.destroy()
            if left:
                raise EmulatorCheckFailed(f"destroy left {left}")
            log("destroyed: state is empty")
            timings = session.timings
    except (EmulatorCheckFailed, EmulatorError, TerraformError, CdktfCliError) as exc:
        log(f"FAILED: {exc}")
        return 1
    log("server stopped")
    print(f"\nresources applied: {len(resources)}")
    print(timings.table())
    print(f"  {'whole run':<24}  {time.monotonic() - began:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
