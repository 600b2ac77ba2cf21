"""``python -m tests.emulator.run`` (``./dev emulator``): the emulator end to end, printing each
step and its time.

Starts a moto server on a free loopback port, synthesizes the default stack for it (and checks
``cdktf synth`` writes the same bytes), applies, re-plans (must be "no changes"), runs a
recovery of an impaired EC2 instance from a real-shaped alarm event, rolls out a tag change
with ``cdktf diff`` + ``cdktf deploy``, destroys, and stops the server. Exit 0 when every check
passed, 1 otherwise, 2 without the moto it needs, 130 when interrupted.

Ctrl-C (SIGINT), SIGTERM or SIGHUP stop the run: terraform and the cdktf CLI run in process
groups of their own (a terminal's Ctrl-C does not reach them), so the handler stops those
groups (terraform's provider plugin with them), then the server and the temp folder are taken
down as on any other failure.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType

from healstack.errors import HealstackError

#: what stops a run; each leaves nothing running
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXIT_INTERRUPTED = 130


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="./dev emulator",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        epilog=(
            "environment: HEALSTACK_EMULATOR_KEEP=DIR keeps the stack, state and terraform logs "
            "in DIR; HEALSTACK_EMULATOR_TF_LOG=LEVEL adds terraform's log at that level"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser.parse_args(list(argv))


def _stop(signum: int, frame: FrameType | None) -> None:
    from healstack.emulator.terraform import stop_running

    for sig in STOP_SIGNALS:  # a second Ctrl-C while stopping must not cut the clean-up short
        signal.signal(sig, signal.SIG_IGN)
    stop_running()
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    parse_args(sys.argv[1:] if argv is None else argv)
    try:
        # before the harness imports moto: a missing or untested moto is one line, exit 2
        from healstack.simulate.moto_version import require_moto

        require_moto()
    except HealstackError as exc:
        print(f"emulator: error: {exc}", file=sys.stderr)
        return 2
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop)

    from healstack.emulator import EmulatorError, TerraformError
    from tests.emulator.cdktf_cli import CdktfCliError
    from tests.emulator.harness import (
        EmulatorCheckFailed,
        check_function_error,
        check_recovery,
        emulator_session,
    )

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
    except KeyboardInterrupt:
        log("interrupted: stopped terraform and the cdktf CLI, the server and the temp folder")
        return EXIT_INTERRUPTED
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
