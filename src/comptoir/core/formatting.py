"""Numbers and money as the reader expects them: one rule for pages, PDFs and exports.

``1 234,56 €`` in French, ``€1,234.56`` in English; quantities without useless zeros.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import formats
from django.utils.translation import get_language

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF"}


def format_money(value: Any, currency: str = "EUR") -> str:
    if value is None or value == "":
        return ""
    amount = formats.number_format(Decimal(value), 2, use_l10n=True, force_grouping=True)
    symbol = CURRENCY_SYMBOLS.get(currency or "EUR", currency or "")
    if (get_language() or "fr").startswith("fr"):
        return f"{amount}\xa0{symbol}"
    if amount.startswith("-"):
        return f"-{symbol}{amount[1:]}"
    return f"{symbol}{amount}"


def format_number(value: Any, places: int | None = None, *, grouping: bool = True) -> str:
    """A quantity or a rate; ``places=None`` drops trailing zeros (``2``, ``1,5``, ``5,5``)."""
    if value is None or value == "":
        return ""
    number = Decimal(value)
    if places is None:
        number = number.normalize()
        exponent = number.as_tuple().exponent
        places = max(0, -exponent) if isinstance(exponent, int) else 0
    return formats.number_format(number, places, use_l10n=True, force_grouping=grouping)
