"""Territory assignment rules (R3): applied when an account is created and on demand."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.db.models import Q

from .models import Territory, TerritoryRule

_FIELD: dict[str, str] = {
    TerritoryRule.Kind.POSTCODE_PREFIX: "billing_postcode",
    TerritoryRule.Kind.COUNTRY: "billing_country",
    TerritoryRule.Kind.NAF_PREFIX: "naf_code",
    TerritoryRule.Kind.HEADCOUNT_BAND: "headcount_band",
}
_PREFIX_KINDS = {TerritoryRule.Kind.POSTCODE_PREFIX, TerritoryRule.Kind.NAF_PREFIX}


def _rules_by_kind(territory: Territory) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for rule in territory.rules.all():
        grouped[rule.kind].append(rule.value.strip())
    return grouped


def active_territories() -> list[Territory]:
    return list(Territory.objects.filter(active=True).prefetch_related("rules")
                .order_by("priority", "id"))


def matches(territory: Territory, account: Mapping[str, Any]) -> bool:
    grouped = _rules_by_kind(territory)
    if not grouped:
        return False
    for kind, values in grouped.items():
        actual = str(account.get(_FIELD[kind]) or "").upper()
        if kind in _PREFIX_KINDS:
            ok = any(actual.startswith(v.upper()) for v in values if v)
        else:
            ok = actual in {v.upper() for v in values}
        if not ok:
            return False
    return True


def match_territory(account: Mapping[str, Any],
                    territories: list[Territory] | None = None) -> Territory | None:
    """The first territory, by priority, whose rules all match ``account``'s attributes."""
    for territory in active_territories() if territories is None else territories:
        if matches(territory, account):
            return territory
    return None


def rules_q(territory: Territory) -> Q | None:
    """The same rules as a queryset filter, for set-based reassignment."""
    grouped = _rules_by_kind(territory)
    if not grouped:
        return None
    q = Q()
    for kind, values in grouped.items():
        field = _FIELD[kind]
        # Same semantics as ``matches``: case-insensitive, empty prefixes match nothing.
        any_q = Q(pk__in=[])
        for v in values:
            if kind not in _PREFIX_KINDS:
                any_q |= Q(**{f"{field}__iexact": v})
            elif v:
                any_q |= Q(**{f"{field}__istartswith": v})
        q &= any_q
    return q
