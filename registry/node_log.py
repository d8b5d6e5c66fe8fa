"""The server's own log: what it writes to standard error, as text for a person or as
one JSON object a line for a log collector (``Settings.log_format``).

Every line written while a request is served carries that request's id (``REQUEST_ID``,
a context variable the API's middleware sets: it follows the request onto the worker
threads that serve it). A line of an exception carries the exception's type and where
it was raised, never its message: a database error's message quotes the statement's
parameters, a name or an ID number among them. What the lines say is the callers'
business: they name routes by their template, never by the path a client sent.

``log_config`` is the ``logging.config.dictConfig`` dictionary that ``registry serve``
applies and hands to uvicorn, whose own access log it silences: the API's middleware
writes one line per request instead, without the query string uvicorn's would print.
"""

from __future__ import annotations

import json
import logging
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "ACCESS_FIELDS",
    "REQUEST_ID",
    "JsonLines",
    "TextLines",
    "log_config",
]

REQUEST_ID: ContextVar[str | None] = ContextVar("registry_request_id", default=None)
"""The id of the request being served in this context, if any."""

ACCESS_FIELDS = ("method", "route", "status", "duration_ms", "client")
"""The fields of a request's line (``extra`` of the ``registry.access`` logger)."""


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def _stack(record: logging.LogRecord) -> tuple[str, str] | None:
    """The exception's type and its traceback without the message, if the record has one."""
    if not record.exc_info or record.exc_info[0] is None:
        return None
    kind, _value, tb = record.exc_info
    frames = "".join(traceback.format_tb(tb)).rstrip()
    return f"{kind.__module__}.{kind.__qualname__}", frames


def _request_id(record: logging.LogRecord) -> str | None:
    found = getattr(record, "request_id", None)
    return found if isinstance(found, str) else REQUEST_ID.get()


class JsonLines(logging.Formatter):
    """One JSON object a record: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, ``request_id`` while serving a request, a request's fields
    (``ACCESS_FIELDS``) on its own line, and ``error`` and ``stack`` for an exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = _request_id(record)
        if request_id is not None:
            entry["request_id"] = request_id
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        stack = _stack(record)
        if stack is not None:
            entry["error"], entry["stack"] = stack
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextLines(logging.Formatter):
    """``2026-11-27T08:00:00.000+00:00 INFO registry.access [request id] message``,
    and an exception's type and traceback (without its message) below."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = _request_id(record)
        tag = f" [{request_id}]" if request_id is not None else ""
        line = f"{_time(record)} {record.levelname} {record.name}{tag} {record.getMessage()}"
        stack = _stack(record)
        if stack is not None:
            line += f"\n{stack[1]}\n{stack[0]}"
        return line


def log_config(log_format: Literal["text", "json"]) -> dict[str, Any]:
    """The logging configuration of a serving process: every logger's records at INFO
    and above to standard error in ``log_format``; uvicorn's access log silenced."""
    formatter = JsonLines if log_format == "json" else TextLines
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"registry": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "registry",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            "uvicorn": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.error": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            # A line per request the node makes (following peers, delivering webhooks)
            # would drown its own; their failures are reported by the node.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }
