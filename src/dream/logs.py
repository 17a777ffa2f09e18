"""structlog set-up: pretty console locally, JSON lines in production."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog


def _add_trace_context(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Every line logged inside a span carries its trace id, span id and trace flags (the
    OpenTelemetry log correlation fields), to follow a snapshot api → worker."""
    from dream.observability.tracing import current_log_correlation

    for key, value in current_log_correlation().items():
        event.setdefault(key, value)
    return event


class _CurrentStderr:
    """``sys.stderr`` as it is at each write, not as it was at configure time: a command run
    in-process (a test's CliRunner, a redirect) swaps it and may close the one it lent."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(
    fmt: str = "console", level: str = "info", service: str = "dream", file: TextIO | None = None
) -> None:
    """Configure structlog for this process (again, if called again: tests do)."""
    stream: Any = file or _CurrentStderr()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_trace_context,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks if fmt == "json" else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        # Not cached: module-level loggers must follow a later configure_logging().
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
