"""Lazily created, cached boto3 clients (keyed by service and region).

Clients are built inside the handler call so test mocks apply; boto3 itself honours
``AWS_ENDPOINT_URL``. Timeouts are short and the SDK does not retry: a handler makes at most
two calls, so even when both hang it fails with ``TransientError`` after ~8 s, inside the
10 s Lambda timeout, and the workflow (not the Lambda) retries.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    connect_timeout=1,
    read_timeout=3,
    retries={"total_max_attempts": 1, "mode": "standard"},
)
_CLIENTS: dict[tuple[str, str | None], Any] = {}
_OWN_ACCOUNT: list[str] = []  # the function's own account id, once known (per process)


def default_region() -> str | None:
    """The region the function runs in: ``AWS_REGION``, then ``AWS_DEFAULT_REGION``."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def client(service: str, region: str | None = None) -> Any:
    """Return a cached boto3 client for ``service`` in ``region`` (default: our own)."""
    resolved = region or default_region()
    key = (service, resolved)
    cached = _CLIENTS.get(key)
    if cached is None:
        cached = boto3.client(service, region_name=resolved, config=_CONFIG)
        _CLIENTS[key] = cached
    return cached


def own_account() -> str:
    """The account the function runs in (``sts:GetCallerIdentity``, which needs no IAM
    permission), asked once per process."""
    if not _OWN_ACCOUNT:
        _OWN_ACCOUNT.append(str(client("sts").get_caller_identity()["Account"]))
    return _OWN_ACCOUNT[0]


def reset_clients() -> None:
    """Forget cached clients and the own account (tests call this between mocked accounts)."""
    _CLIENTS.clear()
    _OWN_ACCOUNT.clear()
