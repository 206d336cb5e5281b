"""Decimals as other systems write them, and money rounded as each currency counts it.

An ERP, a spreadsheet or a float conversion often writes more decimals than a field keeps:
Tryton sends ``54.41400000``, Django turns the float ``12.5`` into ``12.500000000000`` for a
14-digit field. The extra places are zeros and the value is exact, yet Django's
``DecimalValidator`` counts written places and refuses it. :class:`ExactDecimalField` drops
such zeros in ``to_python``, the step every write path goes through before validation
(``Field.clean``: model ``full_clean`` in the services, the bulk loaders, the sync's parse),
so the rule lives in one place; a value with real digits beyond the field's places still
fails the validator, whose message says how many decimals are allowed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

from django.db import models

# ISO 4217 minor units that are not 2 (the default); a currency missing here has cents.
CURRENCY_PLACES: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                     "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def currency_places(currency: str | None) -> int:
    """Decimals of an amount in ``currency`` (``EUR`` 2, ``JPY`` 0, ``KWD`` 3)."""
    return CURRENCY_PLACES.get((currency or "EUR").strip().upper(), 2)


def round_money(value: Decimal, currency: str | None = "EUR", *,
                max_places: int | None = None) -> Decimal:
    """``value`` rounded half-up to the currency's decimals, at most ``max_places`` (a
    column's places: a 2-place total holds a dinar amount to the fils' tenth)."""
    places = currency_places(currency)
    if max_places is not None:
        places = min(places, max_places)
    with localcontext(Context(prec=60)):  # exact whatever the size of the product rounded
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def trim_places(value: Decimal, places: int) -> Decimal:
    """``value`` at ``places`` decimals when every digit beyond them is a zero; otherwise
    ``value`` itself (a validator then refuses it, saying how many decimals are allowed)."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= -places:
        return value
    with localcontext(Context(prec=max(28, len(value.as_tuple().digits) + places))):
        trimmed = value.quantize(Decimal(1).scaleb(-places))
    return trimmed if trimmed == value else value


class ExactDecimalField(models.DecimalField):
    """A ``DecimalField`` that takes any exact writing of a value it can hold
    (``12.500000`` in a 2-place field is 12.50), see the module docstring.

    Only Python-side coercion differs: the column is a plain decimal, and ``deconstruct``
    says so, so migrations see a ``models.DecimalField`` and switching a field to this class
    rewrites no table.
    """

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if isinstance(value, Decimal) and self.decimal_places is not None:
            return trim_places(value, self.decimal_places)
        return value

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DecimalField", args, kwargs
