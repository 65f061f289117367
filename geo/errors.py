"""Domain errors. ``api/errors.py`` maps each class to one HTTP status; the CLI prints ``str()``.

Every message is written for the person who sent the value: it names the field and the value,
and never carries SQL, a DSN or a password.
"""

from __future__ import annotations

from typing import Any


class TimporaError(Exception):
    """Base of every error the core raises on purpose."""

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class ConfigurationError(TimporaError):
    """A setting is missing or wrong."""


class DatabaseUnavailableError(TimporaError):
    """The database cannot be reached (down, restarting, wrong host or port)."""


class AnalysisTimeoutError(TimporaError):
    """An analysis ran past its time limit (``TIMPORA_ANALYSIS_TIME_LIMIT_S``)."""


class ClusterError(TimporaError):
    """The embedded PostgreSQL cluster cannot be created, started or stopped."""


class ValidationError(TimporaError):
    """A value sent by a client is not acceptable. ``field`` and ``value`` say which."""

    def __init__(
        self, message: str, *, field: str | None = None, value: Any = None, details: Any = None
    ) -> None:
        super().__init__(message, details=details)
        self.field = field
        self.value = value


class QueryError(ValidationError):
    """A query parameter of the OGC API that cannot be run as given (a CQL2 filter, sortby,
    properties, a CRS): a bad request rather than a bad value of a record."""


class GeometryError(ValidationError):
    """A geometry is malformed, of the wrong type, invalid or outside the area of interest."""


class OutOfAreaError(GeometryError):
    """A point lies outside the regency plus its margin."""


class ImportRejectedError(ValidationError):
    """A file had bad rows; ``details`` holds the per-row report and nothing was written."""


class TooLargeError(ValidationError):
    """A file or its content is larger than a configured cap; the message names the setting."""


class NotFoundError(TimporaError):
    """The record does not exist (or is not visible to the caller)."""


class ConflictError(TimporaError):
    """The write conflicts with an existing record (duplicate key, stale state)."""


class PermissionDeniedError(TimporaError):
    """The caller's role may not do this."""


class AuthenticationError(TimporaError):
    """No valid credentials."""


class RateLimitedError(TimporaError):
    """Too many requests for this token."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
