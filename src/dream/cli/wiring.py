"""The app for one server command: settings from the environment (and the command's options),
logging (and tracing) set up, closed when the command ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from dream.app import Dream
from dream.cli.output import err
from dream.errors import DreamError
from dream.logs import configure_logging
from dream.observability.tracing import configure_tracing
from dream.settings import Settings


def dream_for(service: str, *, tracing: bool = False, **overrides: object) -> Dream:
    """The app as ``service``: options left unset (None) keep the environment's settings."""
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    configure_logging(settings.log_format, settings.log_level, service=service)
    if tracing:
        configure_tracing(service)
    return Dream(settings)


@contextmanager
def running(service: str, on_error: str = "") -> Iterator[Dream]:
    """The app for one command, its write pool open, closed after it; a DreamError ends the
    command with exit 1 (``on_error`` added to the message)."""
    dream = dream_for(service)
    try:
        yield dream.open(analytics=False)
    except DreamError as exc:
        err.print(f"[red]error:[/red] {exc}{on_error}")
        raise typer.Exit(1) from None
    finally:
        dream.close()
