"""Lambda entry point of the ResolveTarget step (the parsing lives in ``events``).

A module of its own so that ``events`` stays a shared module: the notify function also
parses events (for executions that timed out) and each function's package holds only its
own entry module plus the shared ones.
"""

from __future__ import annotations

from .events import resolve_target

__all__ = ["resolve_target"]
