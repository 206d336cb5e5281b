"""Formatting for people: money, numbers and statuses in the user's language."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import phonenumbers
from django import template
from django.utils.formats import number_format

from comptoir.core.formatting import format_money, format_number
from comptoir.sales.models import UNIT_PRICE_PLACES

register = template.Library()

# One tone per meaning; colours live in the stylesheet.
STATUS_TONES = {
    "won": "success", "customer": "success", "accepted": "success", "paid": "success",
    "resolved": "success", "closed": "neutral", "qualified": "success", "converted": "success",
    "active": "success", "confirmed": "success", "posted": "info",
    "lost": "danger", "refused": "danger", "disqualified": "danger", "cancelled": "neutral",
    "former": "neutral", "urgent": "danger", "high": "warning", "overdue": "danger",
    "open": "info", "new": "info", "working": "info", "sent": "info", "draft": "neutral",
    "prospect": "info", "waiting": "warning", "low": "neutral", "normal": "neutral",
}


HOME_REGION = "FR"  # numbers of this country are shown as dialled here: 01 34 38 01 62


@register.filter
def phone(value: Any) -> str:
    """A stored E.164 number as people read it: national format for French numbers
    (``01 34 38 01 62``), international for others (``+32 2 555 12 12``); anything that does
    not parse is shown as stored. ``tel:`` links keep the E.164 value."""
    text = "" if value is None else str(value).strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, HOME_REGION)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(number):
        return text
    national = phonenumbers.region_code_for_number(number) == HOME_REGION
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if national
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return str(phonenumbers.format_number(number, style))


@register.filter
def money(value: Any, currency: str = "EUR") -> str:
    """``1 234,56 €`` in French, ``€1,234.56`` in English."""
    return format_money(value, currency)


@register.filter
def price(value: Any, currency: str = "EUR") -> str:
    """A unit price with its significant decimals: ``54,414 €``, ``12,50 €``."""
    return format_money(value, currency, max_places=UNIT_PRICE_PLACES)


@register.filter
def quantity(value: Any) -> str:
    """A quantity without useless zeros: ``1``, ``0,5``, ``2,333``."""
    return format_number(value)


@register.filter
def number(value: Any, places: int = 0) -> str:
    if value is None or value == "":
        return ""
    return number_format(Decimal(value), places, use_l10n=True, force_grouping=True)


@register.filter
def tone(status: Any) -> str:
    return STATUS_TONES.get(str(status), "neutral")


@register.inclusion_tag("web/partials/badge.html")
def badge(status: Any, label: Any = None) -> dict[str, Any]:
    return {"tone": STATUS_TONES.get(str(status), "neutral"), "label": label or status}


@register.inclusion_tag("web/partials/field.html")
def field(bound_field: Any, readonly_source: str = "") -> dict[str, Any]:
    """A form field with its label, help and inline errors wired for screen readers."""
    widget = bound_field.field.widget
    described = []
    if bound_field.help_text:
        described.append(f"{bound_field.id_for_label}_helptext")
    if bound_field.errors:
        described.append(f"{bound_field.id_for_label}_error")
        widget.attrs["aria-invalid"] = "true"
    if described:
        widget.attrs["aria-describedby"] = " ".join(described)
    return {"field": bound_field, "readonly_source": readonly_source}


@register.simple_tag
def object_url(obj: Any) -> str:
    """The web page of any served record (``web:<object>_detail``)."""
    from comptoir.web.objects import detail_url

    return detail_url(obj)


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def mail_status(value: Any) -> str:
    """An e-mail's status code in words ("sent" → "Envoyé")."""
    from comptoir.mail.models import OutgoingEmail

    try:
        return str(OutgoingEmail.Status(value).label)
    except ValueError:
        return str(value or "")
