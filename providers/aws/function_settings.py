"""Every healstack Lambda function's runtime, architecture, timeout and memory: one place.

A module of its own, free of bindings, so ``healstack explain`` (its cost and duration
bounds) reads the same facts the provider deploys without starting jsii.
"""

from __future__ import annotations

LAMBDA_RUNTIME = "python3.12"
LAMBDA_ARCHITECTURE = "arm64"
#: a handler makes at most two short calls, a third only with the time for it
#: (healstack_lambda/aws.py); the workflow retries
LAMBDA_TIMEOUT_SECONDS = 10
LAMBDA_MEMORY_MB = 128
