"""Keep an emulator run from touching the outside, and from leaking into later tests."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager

from moto.core.config import default_user_config


@contextmanager
def isolated_environment() -> Iterator[None]:
    """No real AWS credentials, profile or endpoint in this process; loopback never proxied;
    moto's EC2 skips loading its ~2,600 default AMIs."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("AWS_", "MOTO_")):
            del os.environ[name]
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    no_proxy = ",".join(filter(None, [saved.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = no_proxy
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def preserved_moto_config() -> Iterator[None]:
    """The server's ``/moto-api/config`` changes moto's process-wide defaults; restore them so
    later ``mock_aws`` users in this process see moto's usual config."""
    saved = copy.deepcopy(default_user_config)
    try:
        yield
    finally:
        default_user_config.clear()
        default_user_config.update(saved)
