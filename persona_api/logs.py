"""Structured JSON logs: one object per line with ``event``, level, logger, request id and the
record's ``extra`` fields. Messages are event names (``noun.verb``), never user content.

The request id lives here, in a context variable, so that any layer can log under it; the HTTP
layer (:mod:`persona_api.http.requestid`) sets it for each request.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("persona_request_id", default=None)
"""The id of the request being handled, or None outside requests."""


def current_request_id() -> str | None:
    return request_id_var.get()


# Attributes every LogRecord has, plus uvicorn's ANSI-coloured duplicate of the message.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, *, json_lines: bool = True) -> None:
    """Route the service's and the server's loggers to stderr in one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The service writes its own access log with the request id; uvicorn's would be a duplicate.
    logging.getLogger("uvicorn.access").disabled = True
    # Alembic announces every plugin it sets up; only its migration lines are worth keeping.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # Each MCP tool call is an in-process request, already in the access log; the MCP SDK logs every
    # request it handles at INFO.
    for name in ("httpx", "httpx2", "mcp"):
        logging.getLogger(name).setLevel(logging.WARNING)
