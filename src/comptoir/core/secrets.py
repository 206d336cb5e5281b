"""Secrets stored as ``env:NAME``: read from the environment, so they need not live in the
database (connections, mailboxes, agendas share this one rule)."""

from __future__ import annotations

import os
from typing import Any


class MissingSecret(LookupError):
    """The environment variable a secret names is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def resolve_secret(value: Any) -> Any:
    """``env:NAME`` → the variable's value; any other value as it is."""
    if isinstance(value, str) and value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise MissingSecret(name)
        return os.environ[name]
    return value
