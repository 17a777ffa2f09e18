"""Dream's error hierarchy: every error the product raises on purpose derives from DreamError."""

from __future__ import annotations


class DreamError(Exception):
    """Base class of every error Dream raises deliberately."""


class ParseError(DreamError):
    """A process listing could not be parsed.

    ``line`` is the 1-based line number of the offending line, when one is to blame.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        self.reason = message
        super().__init__(f"line {line}: {message}" if line is not None else message)


class ConfigurationError(DreamError):
    """The settings do not describe a usable deployment."""


class TransportError(DreamError):
    """The pipeline could not hand a snapshot over (broker unreachable, queue full, ...)."""


class SnapshotTooLarge(DreamError):
    """A snapshot exceeds what the pipeline carries (the broker's message size limit)."""


class StorageError(DreamError):
    """The database could not be reached or refused a write; retrying later may succeed.

    Not for data the database will never take: the writer reports those snapshots as rejected
    (``WriteSummary.rejected``) and the worker dead-letters them instead of retrying.
    """


class NotFoundError(DreamError):
    """A requested object does not exist."""
