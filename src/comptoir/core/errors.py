"""Domain errors, mapped to HTTP answers in one place (``comptoir.api``).

Services raise these; they never know about HTTP. Each carries a message meant for the user and,
for validation, messages per field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, list[str]] = {k: list(v) for k, v in (fields or {}).items()}


class ValidationFailed(DomainError):
    status = 422
    code = "validation_error"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class DuplicateFound(Conflict):
    """Refused because the record almost certainly exists already; ``candidates`` say which."""

    code = "duplicate"

    def __init__(self, message: str, *, candidates: Sequence[Mapping[str, object]]) -> None:
        super().__init__(message)
        self.details = {"candidates": [dict(c) for c in candidates]}


class TooLarge(DomainError):
    status = 413
    code = "too_large"


class StaleRecord(DomainError):
    """The record changed since the writer read it (a stale ``If-Match`` version, or a form
    whose fields someone else changed meanwhile); ``details`` holds the current version and,
    per field, the writer's value and the stored one."""

    status = 412
    code = "precondition_failed"

    def __init__(self, message: str, *, version: int,
                 conflicts: Mapping[str, Sequence[object]] | None = None,
                 changed_by: str | None = None, changed_at: str | None = None) -> None:
        super().__init__(message)
        self.version = version
        self.conflicts = {k: list(v) for k, v in (conflicts or {}).items()}
        self.changed_by = changed_by
        self.changed_at = changed_at
        self.details = {"version": version, "changed_by": changed_by, "changed_at": changed_at,
                        "conflicts": {k: {"yours": v[0], "current": v[1]}
                                      for k, v in self.conflicts.items()}}


def database_busy(exc: BaseException) -> bool:
    """A write that waited its whole turn for SQLite's write lock: nothing was written, and
    the answer is "try again in a moment" (503), not a server error."""
    from django.db import OperationalError

    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


BUSY_RETRY_AFTER = 5  # seconds
