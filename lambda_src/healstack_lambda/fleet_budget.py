"""Lambda entry point of the fleet budget step (the logic lives in ``fleet``).

A module of its own so that ``fleet`` stays a shared module: notify gives the slots back, and
each function's package holds only its own entry module plus the shared ones.
"""

from __future__ import annotations

from typing import Any

from .fleet import take
from .step import run_logged


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Take a place in the playbook's fleet budget (``fleet.take``)."""
    return run_logged("fleet.take", event, context, lambda f: take(event, f))
