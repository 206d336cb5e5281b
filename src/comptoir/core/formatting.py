"""Numbers and money as the reader expects them: one rule for pages, PDFs and exports.

``1 234,56 €`` in French, ``€1,234.56`` in English; amounts at their currency's decimals
(``1 235 ¥``), unit prices with their significant decimals (``54,414 €``, ``12,50 €``);
quantities without useless zeros.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import formats
from django.utils.translation import get_language

from .decimals import currency_places

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF"}


def significant_places(value: Decimal, at_least: int, at_most: int) -> int:
    """How many decimals show ``value`` without useless zeros, between the bounds
    (``54.4140`` → 3, ``12.5000`` → ``at_least``)."""
    exponent = value.normalize().as_tuple().exponent
    needed = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return max(at_least, min(needed, at_most))


def format_money(value: Any, currency: str = "EUR", *, max_places: int | None = None) -> str:
    """An amount at the currency's decimals; with ``max_places`` (a unit price), the
    significant decimals up to that many, never fewer than the currency's."""
    if value is None or value == "":
        return ""
    number = Decimal(value)
    places = currency_places(currency)
    if max_places is not None and max_places > places:
        places = significant_places(number, places, max_places)
    amount = formats.number_format(number, places, use_l10n=True, force_grouping=True)
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
