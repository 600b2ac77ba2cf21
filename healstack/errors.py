"""Errors the user can act on: one line naming the field path and the fix."""

from __future__ import annotations


class HealstackError(Exception):
    """Base of every error healstack reports to a user (exit code 2, one line, no traceback)."""


class PlaybookError(HealstackError):
    """A playbook is invalid. ``path`` is the field path, e.g. ``steps[2].wait``."""

    def __init__(self, path: str, message: str, *, source: str | None = None) -> None:
        self.path = path
        self.message = message
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        where = f"{self.source}: " if self.source else ""
        field = f"{self.path}: " if self.path else ""
        return f"{where}{field}{self.message}"

    def with_source(self, source: str) -> PlaybookError:
        return PlaybookError(self.path, self.message, source=source)


class UsageError(HealstackError):
    """A command-line argument or setting is wrong."""
