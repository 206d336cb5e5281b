"""Bulk-load specifications for accounts and contacts (same rules as the single services)."""

from __future__ import annotations

from typing import Any

from comptoir.access import policy
from comptoir.access.territories import active_territories, match_territory
from comptoir.core.bulk import BulkSpec
from comptoir.core.models import ObjectType
from comptoir.quality.identifiers import normalize_name

from .models import Account, Contact
from .services import clean_account_data, clean_person_data


def _account_defaults(rows: list[dict[str, Any]], user: Any) -> None:
    """Territory by the assignment rules, owner by the territory's default owner."""
    territories = active_territories()
    by_id = {t.pk: t for t in territories}
    fallback_owner = None if policy.sees_all(user) else getattr(user, "pk", None)
    for row in rows:
        row.setdefault("billing_country", "FR")
        if row.get("territory_id") is None:
            territory = match_territory(row, territories)
            row["territory_id"] = territory.pk if territory else None
        if row.get("owner_id") is None:
            territory = by_id.get(row["territory_id"]) if row.get("territory_id") else None
            row["owner_id"] = (territory.default_owner_id if territory else None) or fallback_owner


def _account_derived(row: dict[str, Any]) -> dict[str, Any]:
    if "legal_name" not in row:
        return {}
    return {"normalized_name": normalize_name(row["legal_name"] or "")}


ACCOUNT_FIELDS = [
    "legal_name", "trade_name", "status", "siren", "siret", "vat_number", "naf_code",
    "billing_street", "billing_postcode", "billing_city", "billing_country", "shipping_street",
    "shipping_postcode", "shipping_city", "shipping_country", "phone", "email", "website",
    "headcount_band", "owner_id", "territory_id", "parent_id", "payment_terms", "credit_limit",
    "custom",
]

ACCOUNT_BULK = BulkSpec(
    model=Account, object_type=ObjectType.ACCOUNT, fields=ACCOUNT_FIELDS,
    clean=clean_account_data, prepare_new=_account_defaults, derived=_account_derived,
    derived_fields=["normalized_name"],
    external_fks={"parent_id": ObjectType.ACCOUNT},
)

CONTACT_FIELDS = [
    "account_id", "civility", "first_name", "last_name", "job_title", "email",
    "email_secondary", "phone", "mobile", "marketing_consent", "consent_date",
    "consent_source", "owner_id", "custom",
]

CONTACT_BULK = BulkSpec(
    model=Contact, object_type=ObjectType.CONTACT, fields=CONTACT_FIELDS,
    clean=clean_person_data, external_fks={"account_id": ObjectType.ACCOUNT},
)
