"""Run terraform in a stack folder against an emulator: mirror set-up, bounded, clear errors.

Every command runs with ``-no-color -input=false``, in its own process group (a timeout kills
terraform *and* its provider plugin), with the offline-mirror CLI config when this machine has
one and with no real AWS credentials or profile in the environment: an emulator stack carries
its own test credentials in the provider block, and nothing should reach real AWS.

A process group of its own also means a Ctrl-C at the terminal never reaches terraform, so
the caller stops it: ``run_bounded`` stops its group when the waiting thread is interrupted
(and on ``KeyboardInterrupt`` every group still running, whichever thread waits on it:
``stop_running()``, also what a signal handler calls).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from healstack.emulator.stack import tail
from healstack.terraform_cli import terraform_env

_DEFAULT_TIMEOUT_S = 300.0
#: subcommands that accept ``-no-color``
_COLOR_COMMANDS = frozenset({"init", "plan", "apply", "destroy", "validate", "output", "show"})
_KILL_GRACE_S = 5.0
#: variables that could point the provider at real AWS credentials or another endpoint
_AWS_ENV_PREFIXES = ("AWS_",)
#: the commands ``run_bounded`` is waiting on, in any thread (``stop_running``)
_RUNNING: set[subprocess.Popen[str]] = set()
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True)
class TerraformResult:
    """One finished terraform command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def command(self) -> str:
        return "terraform " + " ".join(self.args)


class TerraformError(RuntimeError):
    """A terraform command failed or timed out; the message ends with its stderr tail."""

    def __init__(self, message: str, result: TerraformResult | None = None) -> None:
        super().__init__(message)
        self.result = result


def emulator_terraform_env(cli_config_dir: Path) -> dict[str, str]:
    """``terraform_env`` (mirror config) without any ``AWS_*`` variable, loopback never proxied."""
    env = {
        key: value
        for key, value in terraform_env(cli_config_dir).items()
        if not key.startswith(_AWS_ENV_PREFIXES)
    }
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    env["TF_IN_AUTOMATION"] = "1"
    return env


class Terraform:
    """terraform commands in ``workdir`` with ``env``; each bounded by ``timeout_s``."""

    def __init__(
        self,
        workdir: Path,
        env: Mapping[str, str],
        *,
        timeout_s: float = _DEFAULT_TIMEOUT_S,
        parallelism: int = 10,
        log_dir: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.env = dict(env)
        self.timeout_s = timeout_s
        self.parallelism = parallelism
        self.log_dir = log_dir
        self._count = 0

    def run(
        self,
        *args: str,
        ok_codes: Sequence[int] = (0,),
        timeout_s: float | None = None,
    ) -> TerraformResult:
        """Run ``terraform ARGS``; raise ``TerraformError`` unless the exit code is in
        ``ok_codes`` (the error carries stderr's tail, or stdout's when stderr is empty)."""
        budget = self.timeout_s if timeout_s is None else timeout_s
        full = (*args, "-no-color") if args and args[0] in _COLOR_COMMANDS else args
        began = time.monotonic()
        done = run_bounded(["terraform", *full], cwd=self.workdir, env=self.env, timeout_s=budget)
        result = TerraformResult(
            tuple(full), done.returncode, done.stdout, done.stderr, time.monotonic() - began
        )
        if done.timed_out:
            raise TerraformError(
                f"{result.command} did not finish within {budget:g}s (killed); "
                f"last output:\n{tail(done.stderr or done.stdout)}",
                result,
            )
        self._write_log(result)
        if result.returncode not in ok_codes:
            raise TerraformError(
                f"{result.command} failed (exit {result.returncode}) in {self.workdir}:\n"
                f"{tail(result.stderr or result.stdout)}",
                result,
            )
        return result

    def _write_log(self, result: TerraformResult) -> None:
        """Keep each command's full output in ``log_dir`` (``NN-<command>.log``), if set."""
        if self.log_dir is None:
            return
        self._count += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"{self._count:02d}-{result.args[0]}.log"
        path.write_text(
            f"$ {result.command}\n# exit {result.returncode} after {result.seconds:.1f}s\n"
            f"## stdout\n{result.stdout}\n## stderr\n{result.stderr}\n",
            encoding="utf-8",
        )

    def init(self, *, timeout_s: float | None = None) -> TerraformResult:
        return self.run("init", "-input=false", timeout_s=timeout_s)

    def apply(self, *, timeout_s: float | None = None) -> TerraformResult:
        return self.run(
            "apply",
            "-auto-approve",
            "-input=false",
            f"-parallelism={self.parallelism}",
            timeout_s=timeout_s,
        )

    def plan_changes(self, *, timeout_s: float | None = None) -> TerraformResult:
        """``plan -detailed-exitcode``: exit 0 means no changes, 2 changes (both returned)."""
        return self.run(
            "plan",
            "-detailed-exitcode",
            "-input=false",
            f"-parallelism={self.parallelism}",
            ok_codes=(0, 2),
            timeout_s=timeout_s,
        )

    def destroy(self, *, timeout_s: float | None = None) -> TerraformResult:
        return self.run(
            "destroy",
            "-auto-approve",
            "-input=false",
            f"-parallelism={self.parallelism}",
            timeout_s=timeout_s,
        )

    def outputs(self) -> dict[str, object]:
        """``terraform output -json`` as ``{name: value}``."""
        raw = json.loads(self.run("output", "-json").stdout or "{}")
        return {name: entry.get("value") for name, entry in raw.items()}


def managed_resources(state_file: Path) -> list[str]:
    """Addresses of the managed resource instances in a local state file (no data sources);
    empty when the file does not exist."""
    if not state_file.exists():
        return []
    state = json.loads(state_file.read_text())
    addresses = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed":
            continue
        prefix = f"{resource['module']}." if resource.get("module") else ""
        base = f"{prefix}{resource['type']}.{resource['name']}"
        for instance in resource.get("instances", []):
            key = instance.get("index_key")
            addresses.append(base if key is None else f"{base}[{json.dumps(key)}]")
    return sorted(addresses)


@dataclass(frozen=True)
class Finished:
    """A bounded command's end: its exit code (-1 when killed) and output."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool


def run_bounded(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout_s: float
) -> Finished:
    """Run ``argv`` in its own process group with no stdin; past ``timeout_s`` the whole group
    is stopped (a CLI's children too) and ``timed_out`` is set. Interrupted while waiting
    (Ctrl-C, a signal handler raising), the group is stopped before the exception goes on."""
    with _RUNNING_LOCK:  # a signal handler's stop_running() must see it from its start
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        _RUNNING.add(process)
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stdout, stderr = stop_process_group(process)
        return Finished(-1, stdout, stderr, timed_out=True)
    except KeyboardInterrupt:  # Ctrl-C: every command waited on, in any thread, stops too
        stop_running()
        stop_process_group(process)
        raise
    except BaseException:
        stop_process_group(process)
        raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(process)
    return Finished(process.returncode, stdout, stderr, timed_out=False)


def stop_running() -> int:
    """Stop the process group of every command ``run_bounded`` is waiting on (in any thread):
    TERM, then KILL after a grace. Returns how many there were."""
    with _RUNNING_LOCK:
        processes = list(_RUNNING)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in processes if p.poll() is None]
        for process in alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
        deadline = time.monotonic() + _KILL_GRACE_S
        while any(p.poll() is None for p in alive) and time.monotonic() < deadline:
            time.sleep(0.05)
    return len(processes)


def stop_process_group(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Stop a process started with ``start_new_session`` and all it started (terraform and
    its plugins, say): TERM to its process group, then KILL after a grace; its output."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            return process.communicate(timeout=_KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            continue
    return process.communicate()
