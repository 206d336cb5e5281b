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
