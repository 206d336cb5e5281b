"""Duplicate-score reasons in words, for every place that shows them: the forms' warning, the
review queue, the promotion review, the audit report.

``matching.Reason`` says ``("email", "equal", 25)``; people read "Same e-mail (+25)".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext_lazy as _l

FIELD_LABELS = {
    "siren": _l("SIREN"), "siret": _l("SIRET"), "vat": _l("VAT number"), "email": _l("e-mail"),
    "phone": _l("phone"), "name": _l("name"), "company": _l("company"),
    "domain": _l("web domain"), "street": _l("street"), "postcode": _l("postcode"),
    "city": _l("city"), "place": _l("place"), "account": _l("account"),
    "erp_party": _l("ERP party"),
}
VERDICTS = {
    "equal": _l("Same %(field)s"), "similar": _l("Similar %(field)s (%(similarity)d%%)"),
    "rare": _l("Same %(field)s, rare in the base"),
    "different": _l("Different %(field)s"), "conflict": _l("Conflicting %(field)s"),
}


def _parts(reason: Any) -> tuple[str, str, float | None, float]:
    if isinstance(reason, dict):
        return (reason.get("field", ""), reason.get("verdict", ""), reason.get("similarity"),
                float(reason.get("points") or 0))
    return reason.field, reason.verdict, reason.similarity, float(reason.points)


def reason_text(reason: Any) -> str:
    """One reason in words (a ``matching.Reason`` or its stored dict), without its points."""
    name, verdict_code, similarity, _points = _parts(reason)
    label = FIELD_LABELS.get(name, name)
    verdict = VERDICTS.get(verdict_code, _l("Same %(field)s"))
    return str(verdict) % {"field": label, "similarity": round(similarity or 0)}


def reason_rows(reasons: Iterable[Any]) -> list[dict[str, Any]]:
    """Reasons for a page, heaviest first: ``{"text", "points", "negative"}``."""
    rows = [(reason_text(r), _parts(r)[3]) for r in reasons]
    rows.sort(key=lambda row: -row[1])
    return [{"text": text, "points": round(points, 1), "negative": points < 0}
            for text, points in rows]
