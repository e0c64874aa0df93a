"""structlog configuration: JSON lines when not on a terminal, readable text on one.

What a log line may contain is listed in docs/security.md: never a token, never a query
string (a browser's WebSocket carries its token there when it cannot set headers).
"""

from __future__ import annotations

import logging
import re
import sys

import structlog

__all__ = ["QUERY_STRING", "configure_logging", "hide_query_strings"]

QUERY_STRING = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")
"""A path with a query string in a log argument; the query string is dropped."""


class _HideQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                QUERY_STRING.sub(r"\1?…", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = QUERY_STRING.sub(r"\1?…", record.msg)
        return True


def hide_query_strings() -> None:
    """uvicorn logs each WebSocket handshake with its path and query string; keep the path."""
    for name in ("uvicorn.error", "uvicorn.access", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _HideQueryStrings) for f in logger.filters):
            logger.addFilter(_HideQueryStrings())


def configure_logging(level: str = "info") -> None:
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer()
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
