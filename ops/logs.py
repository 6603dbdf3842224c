"""Structured logs: one JSON object a line, each carrying the request id of the work it belongs to.

The request id lives in a context variable: set by `ops.middleware.RequestIdMiddleware` for a web
request, and by `ops.task_context` for a Celery task published while serving one. Log calls never
pass content, keys, tokens or passwords; these helpers add nothing but the id.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept only if it is short and harmless to echo and log: no spaces, no quotes.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


def accepted_request_id(candidate: str | None) -> str:
    """The caller's X-Request-ID if valid, else a new random one."""
    if candidate and _VALID_REQUEST_ID.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (or "-") to every record passing the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get() or "-"
        return True


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING: JSON lines (production) or plain text (LOG_FORMAT=plain, for a terminal)."""
    if log_format not in {"json", "plain"}:
        raise ValueError("LOG_FORMAT must be json or plain")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "ops.logs.RequestIdFilter"}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
    }
