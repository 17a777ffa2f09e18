"""Dream's error hierarchy: every error the product raises on purpose derives from DreamError.

::

    DreamError                     retryable
    ├── ParseError                 no   a listing that cannot be parsed
    ├── ConfigurationError         no   settings that describe no usable deployment
    ├── TransportError             yes  the pipeline could not take a snapshot now
    ├── SnapshotTooLarge           no   larger than the pipeline carries
    ├── StorageError                    the database failed a call (never psycopg's own)
    │   ├── StorageUnavailable     yes  away, pool exhausted, shut down, conflict, deadlock
    │   │   └── StatementTimeout   yes  cancelled after the statement timeout
    │   └── StorageRefused         no   data PostgreSQL will never take (range, text, constraint)
    └── NotFoundError              no   a requested object does not exist

``retryable`` is what callers decide on (the worker's retry loop, the api's ``Retry-After``), so
none of them keeps its own list of driver exceptions or SQLSTATEs.
"""

from __future__ import annotations

from typing import ClassVar


class DreamError(Exception):
    """Base class of every error Dream raises deliberately."""

    retryable: ClassVar[bool] = False
    """The same call may succeed later, unchanged."""

    retry_after_s: float | None = None
    """When a retry is worth it, if the raiser knows (the circuit breaker does)."""


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

    retryable = True


class SnapshotTooLarge(DreamError):
    """A snapshot exceeds what the pipeline carries (the broker's message size limit)."""


class StorageError(DreamError):
    """The database failed a call. Storage raises only its two kinds, below; code above storage
    catches these and never the driver's exceptions (storage/errors.py translates them)."""


class StorageUnavailable(StorageError):
    """The database could not serve the call now (connection lost, pool timeout, shutdown,
    serialization failure, deadlock): retrying the same call later may succeed."""

    retryable = True


class StatementTimeout(StorageUnavailable):
    """A statement ran past its timeout and was cancelled (a narrower question may pass)."""


class StorageRefused(StorageError):
    """The database refused the data itself (out-of-range value, invalid text, a constraint):
    the same call will fail again. The writer reports such snapshots as rejected
    (``WriteSummary.rejected``) and the worker dead-letters them instead of retrying."""


class NotFoundError(DreamError):
    """A requested object does not exist."""
