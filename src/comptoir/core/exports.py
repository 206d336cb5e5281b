"""Cells written to files people open in a spreadsheet (CSV, XLSX): never a formula.

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return may be run as
a formula by the spreadsheet that opens the file (``=HYPERLINK(…)`` leaking data, ``=cmd|…``
on old Excel): such text gets a leading ``'``, as OWASP advises. Only text: numbers, dates and
booleans are written as they are, so a negative amount stays a number. Every export path
writes its cells through :func:`safe_cell` (or :func:`safe_row`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value``, with a leading ``'`` when it is text a spreadsheet could read as a
    formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]
