"""A moto server on a free loopback port, configured before any resource exists.

``moto_server()`` starts moto's ``ThreadedMotoServer`` **in this process** (so callers may patch
moto, e.g. to run Lambda handlers in-process), bound to ``127.0.0.1`` port 0 (the OS picks a
free port: no race between choosing and binding), posts the moto config through the public
``/moto-api/config`` endpoint, yields the endpoint, and always stops the server (after
resetting every backend, so nothing leaks into the next user of this process).

moto comes with the ``simulate`` extra (``pip install 'healstack[simulate]'``); it is imported,
and its version checked, only when a server is started.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

LOOPBACK = "127.0.0.1"

#: moto config that makes a stack *run*: the Step Functions interpreter executes state
#: machines, and Lambda does not need Docker (invocations must then be routed by the caller).
EXECUTION_CONFIG: Mapping[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}

_START_TIMEOUT_S = 10.0
_REQUEST_TIMEOUT_S = 10.0
# urllib honours HTTP(S)_PROXY: an explicit empty proxy map keeps loopback calls on loopback
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class EmulatorError(RuntimeError):
    """The emulator could not be started, configured or reached."""


@dataclass(frozen=True)
class MotoServer:
    """A running moto server: ``url`` is ``http://127.0.0.1:<port>``."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """POST JSON to the server's ``/moto-api`` (or any) path; return the decoded answer."""
        data = json.dumps(dict(body or {})).encode("utf-8")
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with _OPENER.open(request, timeout=_REQUEST_TIMEOUT_S) as response:
                raw = response.read()
        except OSError as exc:
            raise EmulatorError(f"POST {self.url}{path} failed: {exc}") from exc
        return json.loads(raw) if raw.strip() else None

    def configure(self, config: Mapping[str, Any]) -> None:
        """Set moto's config (``POST /moto-api/config``); do it before creating resources."""
        self.post("/moto-api/config", config)

    def reset(self) -> None:
        """Drop every resource in every backend (``POST /moto-api/reset``)."""
        self.post("/moto-api/reset")


def free_loopback_port() -> int:
    """A port that was free on ``127.0.0.1`` a moment ago (the OS chose it for port 0).

    Prefer passing port 0 to the server itself (``moto_server()`` does): a port chosen here can
    be taken by someone else before it is bound.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server(
    config: Mapping[str, Any] | None = EXECUTION_CONFIG,
    *,
    port: int = 0,
    start_timeout_s: float = _START_TIMEOUT_S,
) -> Iterator[MotoServer]:
    """Run a moto server on ``127.0.0.1:port`` (0: a free port) for the ``with`` block.

    ``config`` (default ``EXECUTION_CONFIG``) is posted before the block starts; None leaves
    moto's defaults. The server is reset and stopped when the block ends, even on errors.
    """
    # a missing or untested moto: MotoVersionError, one line (healstack.simulate.moto_version)
    from healstack.simulate.moto_version import require_moto

    require_moto()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    _start(server, start_timeout_s)
    werkzeug = logging.getLogger("werkzeug")  # one line per request otherwise
    previous_level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    try:
        host, bound_port = server.get_host_and_port()
        running = MotoServer(host=str(host), port=int(bound_port))
        if config is not None:
            running.configure(config)
        try:
            yield running
        finally:
            with suppress(EmulatorError):  # best effort: never mask the block's own error
                running.reset()
    finally:
        server.stop()
        werkzeug.setLevel(previous_level)


def _start(server: Any, timeout_s: float) -> None:
    """``ThreadedMotoServer.start()`` waits without a bound for its socket to be bound (and
    forever if binding fails in its thread); call it from a helper thread and bound the wait."""
    failure: list[BaseException] = []

    def start() -> None:
        try:
            server.start()
        except BaseException as exc:  # pragma: no cover - reported below
            failure.append(exc)

    starter = threading.Thread(target=start, name="moto-server-start", daemon=True)
    starter.start()
    starter.join(timeout_s)
    if failure:
        raise EmulatorError(f"moto server failed to start: {failure[0]}") from failure[0]
    if starter.is_alive():
        raise EmulatorError(
            f"moto server did not bind {LOOPBACK} within {timeout_s:g}s "
            "(is the port in use, or is moto's server thread failing?)"
        )
