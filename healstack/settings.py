"""Deployment settings from the command line, checked like playbook fields."""

from __future__ import annotations

import re

from healstack.errors import UsageError
from healstack.providers.interfaces import DeploymentSettings

_WORD = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


def settings_from_args(prefix: str, stage: str | None, region: str) -> DeploymentSettings:
    if not _WORD.match(prefix):
        raise UsageError(
            f'--prefix "{prefix}" is not a name prefix (use 1-20 lower-case letters, digits, -)'
        )
    if stage is not None and not _WORD.match(stage):
        raise UsageError(f'--stage "{stage}" is not a stage name (use e.g. sandbox, dev, prod)')
    if not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", region):
        raise UsageError(f'--region "{region}" is not an AWS region (use e.g. us-east-1)')
    return DeploymentSettings(name_prefix=prefix, stage=stage, region=region)
