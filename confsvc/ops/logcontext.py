"""Request and meeting ids in every log record, and an optional JSON line format.

The HTTP middleware (``confsvc.ops.middleware``) stores the request id and, when the
route names one, the meeting id in context variables. :class:`ContextFilter` copies them
onto each record as ``request_id`` and ``meeting_id`` (``"-"`` when unset), so any
formatter can print them. ``CONFSVC_LOG_FORMAT=json`` switches the root handlers to
:class:`JsonFormatter`: one JSON object per line.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ContextFilter",
    "JsonFormatter",
    "TextFormatter",
    "install_log_context",
    "meeting_id_var",
    "request_id_var",
]

request_id_var: ContextVar[str | None] = ContextVar("confsvc_request_id", default=None)
meeting_id_var: ContextVar[str | None] = ContextVar("confsvc_meeting_id", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    """Sets ``record.request_id`` and ``record.meeting_id`` from the context variables."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        if not hasattr(record, "meeting_id"):
            record.meeting_id = meeting_id_var.get() or "-"
        return True


class TextFormatter(logging.Formatter):
    """The plain line format, with ``request_id=`` and ``meeting_id=`` appended when set."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        for name in ("request_id", "meeting_id"):
            value = getattr(record, name, "-")
            if value and value != "-":
                line += f" {name}={value}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the ids,
    every ``extra=`` field, and ``exc_info`` as text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name in _RECORD_FIELDS or name.startswith("_"):
                continue
            if name in ("request_id", "meeting_id") and value == "-":
                continue
            entry[name] = value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def install_log_context(*, log_format: str = "text", logger: logging.Logger | None = None) -> None:
    """Add :class:`ContextFilter` to the handlers of ``logger`` (default: the root logger) and
    set their formatter for ``log_format`` (``text`` or ``json``).

    Side effect: changes process-wide logging. Safe to call again (each handler gets one
    filter). Handlers added later (for example by uvicorn to its own loggers) are untouched.
    """
    target = logger or logging.getLogger()
    formatter: logging.Formatter = JsonFormatter() if log_format == "json" else TextFormatter()
    for handler in target.handlers:
        if not any(isinstance(existing, ContextFilter) for existing in handler.filters):
            handler.addFilter(ContextFilter())
        # pytest's capture handlers keep their own format.
        if type(handler).__module__.startswith("_pytest"):
            continue
        handler.setFormatter(formatter)
