"""Run a synthesized healstack stack against a local AWS emulator (a moto server on loopback).

Test-support-free building blocks a future ``healstack emulator up`` could reuse:

- ``server``: start a moto server on a free ``127.0.0.1`` port, configured before any resource
  exists (Step Functions executions on, Lambda without Docker), always stopped;
- ``stack``: synthesize stacks whose provider points every service at that endpoint;
- ``terraform``: run terraform in a stack folder with the offline-mirror set-up, no real
  credentials, a bounded timeout and errors that carry terraform's stderr tail.

Nothing here patches moto; what moto 5.2.x lacks for a full apply is covered by test shims
(``tests/emulator/shims.py``), never by the product.
"""

from healstack.emulator.server import (
    EXECUTION_CONFIG,
    LOOPBACK,
    EmulatorError,
    MotoServer,
    free_loopback_port,
    moto_server,
)
from healstack.emulator.stack import StackOutput, synthesize
from healstack.emulator.terraform import (
    Terraform,
    TerraformError,
    TerraformResult,
    emulator_terraform_env,
    managed_resources,
)

__all__ = [
    "EXECUTION_CONFIG",
    "LOOPBACK",
    "EmulatorError",
    "MotoServer",
    "StackOutput",
    "Terraform",
    "TerraformError",
    "TerraformResult",
    "emulator_terraform_env",
    "free_loopback_port",
    "managed_resources",
    "moto_server",
    "synthesize",
]
