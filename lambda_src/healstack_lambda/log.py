"""Structured logs: one JSON object per line on stdout, with the step's correlation fields.

Every record carries ``execution_id``, ``resource_id``, ``playbook``, ``step`` and
``dry_run`` (``null`` when unknown), so CloudWatch Logs Insights can follow one execution.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

CONTEXT_KEYS = ("execution_id", "resource_id", "playbook", "step", "dry_run")
LOGGER_NAME = "healstack"


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line: fixed keys first, then the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {}) or {}
        doc: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            doc[key] = fields.get(key)
        for key, value in fields.items():
            if key not in doc:
                doc[key] = value
        if record.exc_info and record.levelno >= logging.ERROR:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, separators=(",", ":"))


class StdoutHandler(logging.Handler):
    """Write to whatever ``sys.stdout`` is at emit time (Lambda ships stdout to CloudWatch)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:  # pragma: no cover - logging must never break a handler
            self.handleError(record)


def get_logger() -> logging.Logger:
    """The package logger, configured once (JSON to stdout, no propagation to root)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(os.environ.get("HEALSTACK_LOG_LEVEL", "INFO").upper())
    return logger


def log(level: int, message: str, fields: dict[str, Any]) -> None:
    """Log ``message`` with ``fields`` (context keys plus anything JSON-safe)."""
    get_logger().log(level, message, extra={"fields": fields})
