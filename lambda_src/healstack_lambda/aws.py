"""Lazily created, cached boto3 clients (keyed by service and region).

Clients are built inside the handler call so test mocks apply; boto3 itself honours
``AWS_ENDPOINT_URL``. Timeouts are short and the SDK does not retry: a handler makes at most
two calls, so even when both hang it fails with ``TransientError`` after ~8 s, inside the
10 s Lambda timeout, and the workflow (not the Lambda) retries. (The Aurora failover and the Auto
Scaling replace make a third only when the time left covers its worst case, else they raise
``TransientError``. The Auto Scaling check reads three things: if all three hang, the
Lambda's own 10 s timeout ends it and the workflow tells the failure.)
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
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

#: a hub's acting function: the member execution role to assume, as an ARN with
#: ``{account}`` and ``{region}`` left open (set by the hub's deployment, unset otherwise)
MEMBER_ROLE_ENV = "HEALSTACK_MEMBER_ROLE"
#: an assumed role's credentials are renewed this long before they expire
RENEW_BEFORE_SECONDS = 300
#: (account, region) -> (a boto3 session acting there, its credentials' expiry)
_MEMBER_SESSIONS: dict[tuple[str, str], tuple[Any, float]] = {}
#: (account, region, service, client region) -> a client of that session (dropped with it)
_MEMBER_CLIENTS: dict[tuple[str, str, str, str], Any] = {}
#: the member account and region the current step acts in (a hub's step), else empty
_ACTING_IN: list[tuple[str, str]] = []


def default_region() -> str | None:
    """The region the function runs in: ``AWS_REGION``, then ``AWS_DEFAULT_REGION``."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def client(service: str, region: str | None = None) -> Any:
    """Return a cached boto3 client for ``service`` in ``region`` (default: our own); inside
    ``acting_in`` (a hub's step), one acting in that member account and region."""
    if _ACTING_IN:
        account, member_region = _ACTING_IN[-1]
        session = member_session(account, member_region)
        member_key = (account, member_region, service, region or member_region)
        found = _MEMBER_CLIENTS.get(member_key)
        if found is None:
            found = session.client(service, region_name=member_key[3], config=_CONFIG)
            _MEMBER_CLIENTS[member_key] = found
        return found
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


def member_role(account: str, region: str) -> str | None:
    """The member execution role a hub's step assumes for ``account`` and ``region``; None
    when this function is not a hub's acting one (``$HEALSTACK_MEMBER_ROLE`` unset)."""
    pattern = os.environ.get(MEMBER_ROLE_ENV, "").strip()
    if not pattern:
        return None
    return pattern.replace("{account}", account).replace("{region}", region)


@contextmanager
def acting_in(account: str, region: str) -> Iterator[None]:
    """Every ``client`` inside acts in ``account`` and ``region`` through the member's
    execution role (``member_role``); the caller checks that this function has one."""
    _ACTING_IN.append((account, region))
    try:
        yield
    finally:
        _ACTING_IN.pop()


def member_session(account: str, region: str) -> Any:
    """A session with the member role's credentials, cached per (account, region) and
    renewed before they expire. STS is asked in our own region (its regional endpoint)."""
    cached = _MEMBER_SESSIONS.get((account, region))
    if cached is not None and cached[1] - RENEW_BEFORE_SECONDS > time.time():
        return cached[0]
    role = member_role(account, region)
    assert role is not None, "acting_in needs $HEALSTACK_MEMBER_ROLE"
    name = ("healstack-" + os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "step"))[:64]
    sts = boto3.client(
        "sts",
        region_name=default_region(),
        endpoint_url=_sts_endpoint(),
        config=_CONFIG,
    )
    credentials = sts.assume_role(RoleArn=role, RoleSessionName=name)["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
    expiry = credentials["Expiration"]
    expires = expiry.timestamp() if hasattr(expiry, "timestamp") else time.time() + 900
    _MEMBER_SESSIONS[(account, region)] = (session, expires)
    for stale in [k for k in _MEMBER_CLIENTS if k[:2] == (account, region)]:
        del _MEMBER_CLIENTS[stale]  # made with the credentials just replaced
    return session


def _sts_endpoint() -> str | None:
    """STS's regional endpoint of our own region (not the global one), unless an endpoint is
    configured (``AWS_ENDPOINT_URL``: an emulator), which boto3 then uses."""
    if os.environ.get("AWS_ENDPOINT_URL_STS") or os.environ.get("AWS_ENDPOINT_URL"):
        return None
    region = default_region()
    if not region:
        return None
    suffix = ".amazonaws.com.cn" if region.startswith("cn-") else ".amazonaws.com"
    return f"https://sts.{region}{suffix}"


def reset_clients() -> None:
    """Forget cached clients and the own account (tests call this between mocked accounts)."""
    _CLIENTS.clear()
    _OWN_ACCOUNT.clear()
    _MEMBER_SESSIONS.clear()
    _MEMBER_CLIENTS.clear()
    _ACTING_IN.clear()
