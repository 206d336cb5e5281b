"""Errors with a category, so a run can say whether to fix the set-up, retry, or give up.

``message`` is for the user (shown on the run, in the CLI and the API); ``detail`` is for the
operator's log and may hold what the other system answered. Neither may contain a secret.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    CONFIG = "config"  # the connection or mapping is wrong: a person must fix it
    TRANSIENT = "transient"  # the other side is down or slow: the next run will retry
    PERMANENT = "permanent"  # the other side answered something unusable: retrying won't help


class SyncError(Exception):
    """A run-level failure; the run ends ``failed`` with this category and message."""

    category: Category = Category.PERMANENT

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class ConfigError(SyncError):
    category = Category.CONFIG


class TransientError(SyncError):
    category = Category.TRANSIENT


class PermanentError(SyncError):
    category = Category.PERMANENT


class MappingError(ConfigError):
    """A mapping file that cannot be used; ``problems`` lists every problem found, each with
    where it is (``streams.parties.fields.siren``) so the user fixes them all at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Invalid mapping: " + "; ".join(problems))
        self.problems = problems
