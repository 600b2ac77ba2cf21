"""Deployment settings from the command line, checked like playbook fields."""

from __future__ import annotations

import re

from healstack.errors import UsageError
from healstack.providers.interfaces import DeploymentSettings

_WORD = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


_LOCAL_ENDPOINT = re.compile(r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d{1,5}/?$")


def settings_from_args(
    prefix: str, stage: str | None, region: str, aws_endpoint: str | None = None
) -> DeploymentSettings:
    if not _WORD.match(prefix):
        raise UsageError(
            f'--prefix "{prefix}" is not a name prefix (use 1-20 lower-case letters, digits, -)'
        )
    if stage is not None and not _WORD.match(stage):
        raise UsageError(f'--stage "{stage}" is not a stage name (use e.g. sandbox, dev, prod)')
    if not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", region):
        raise UsageError(f'--region "{region}" is not an AWS region (use e.g. us-east-1)')
    options = {}
    if aws_endpoint is not None:
        if not _LOCAL_ENDPOINT.match(aws_endpoint):
            raise UsageError(
                f'--aws-endpoint "{aws_endpoint}" is not a local emulator address '
                "(use e.g. http://127.0.0.1:5000)"
            )
        options = {"aws": {"endpoint": aws_endpoint.rstrip("/")}}
    return DeploymentSettings(
        name_prefix=prefix, stage=stage, region=region, provider_options=options
    )
