"""The API's request parser: JSON and query strings, with NUL characters refused up front.

PostgreSQL cannot store ``\\x00`` in text and SQLite silently would: refusing it here gives
every backend the same clear 422 instead of a database error.
"""

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.parser import Parser

from comptoir.core.errors import ValidationFailed


def _find_nul(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_nul(key, path) or _find_nul(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    if isinstance(value, list):
        for n, item in enumerate(value):
            found = _find_nul(item, f"{path}.{n}" if path else str(n))
            if found is not None:
                return found
    return None


def _refuse(field: str) -> None:
    raise ValidationFailed(_("Text may not contain NUL characters."),
                           fields={field or "__all__": [_("Remove the NUL character.")]})


class StrictParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        data = super().parse_body(request)
        found = _find_nul(data, "")
        if found is not None:
            _refuse(found)
        return data

    def parse_querydict(self, data: Any, list_fields: list[str], request: HttpRequest) -> Any:
        for key, values in data.lists():
            if any("\x00" in v for v in values) or "\x00" in key:
                _refuse(key)
        return super().parse_querydict(data, list_fields, request)
