"""Bulk-load specifications for accounts and contacts (same rules as the single services).

An account carries what an ERP party holds beyond its first-class fields as three lists of
rows, each replaced as a whole when sent and left alone when not: ``addresses``,
``identifiers`` and ``channels``. Their values are stored as the ERP has them: only lengths
and choices are checked (errors keyed ``addresses.2.kind``); an identifier's ``compact`` form
is computed, never sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from comptoir.access import policy
from comptoir.access.territories import active_territories, match_territory
from comptoir.core.bulk import BulkSpec, ChildRows, Errors
from comptoir.core.models import ObjectType
from comptoir.quality.identifiers import normalize_name

from .models import (
    Account,
    AccountAddress,
    AccountChannel,
    AccountIdentifier,
    Contact,
    compact_identifier,
)
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
    "shipping_postcode", "shipping_city", "shipping_country", "phone", "mobile", "fax",
    "email", "website", "headcount_band", "owner_id", "territory_id", "parent_id",
    "payment_terms", "credit_limit", "active", "erp_deleted_at", "custom",
]

# --- An account's rows: addresses, identifiers, channels --------------------------------------

MAX_ROWS = 1000  # per list and record: a retail chain's delivery addresses, not a runaway feed
ADDRESS_FIELDS = ["kind", "name", "street", "postcode", "city", "country", "position"]
IDENTIFIER_FIELDS = ["type", "value", "compact", "position"]
CHANNEL_FIELDS = ["kind", "value", "name", "position"]


def _row_cleaner(key: str, model: type[models.Model], names: Sequence[str],
                 computed: frozenset[str] = frozenset(),
                 finish: Callable[[dict[str, Any]], None] | None = None
                 ) -> Callable[[list[dict[str, Any]]], tuple[list[dict[str, Any]], Errors]]:
    """A ``ChildRows.clean`` checking each row with the model's own field rules (lengths,
    choices, numbers) and nothing more: the values are the ERP's. A missing choice takes the
    field's default, a missing position the row's rank."""
    fields = {f.attname: f for f in model._meta.concrete_fields if f.attname in names}
    accepted = set(names) - computed

    def clean(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Errors]:
        if len(rows) > MAX_ROWS:
            return [], {key: [_("At most %(n)d rows per record.") % {"n": MAX_ROWS}]}
        out: list[dict[str, Any]] = []
        errors: Errors = {}
        for n, row in enumerate(rows):
            item: dict[str, Any] = {}
            for name, value in row.items():
                f = fields.get(name)
                if f is None or name not in accepted:
                    errors[f"{key}.{n}.{name}"] = [_("Unknown field.")]
                    continue
                text = isinstance(f, models.CharField | models.TextField)
                if isinstance(value, dict | list):
                    errors[f"{key}.{n}.{name}"] = [_("Enter a single value.")]
                    continue
                if value is None or (value == "" and f.choices):
                    continue  # the default
                if text:
                    value = str(value).strip()
                try:
                    item[name] = f.clean(value, None)
                except ValidationError as exc:
                    errors[f"{key}.{n}.{name}"] = list(exc.messages)
            for name, f in fields.items():
                if name not in item and name not in computed:
                    item[name] = (n + 1 if name == "position" else
                                  f.get_default() if f.has_default() else "")
            if finish is not None:
                finish(item)
            out.append(item)
        return out, errors

    return clean


def _upper_country(row: dict[str, Any]) -> None:
    row["country"] = str(row.get("country") or "").upper()


def _compact(row: dict[str, Any]) -> None:
    row["compact"] = compact_identifier(str(row.get("value") or ""))[:100]


_ADDRESS_PARTS = ("street", "postcode", "city", "country")


def _first_class_addresses(pairs: list[tuple[dict[str, Any], list[dict[str, Any]]]]
                           ) -> dict[int, Errors]:
    """The first billing address (else the first address) and the first delivery address are
    the account's billing_* and shipping_* fields, unless the record gives those itself (any
    of a prefix's fields sent: the record's own values win, none are mixed in)."""
    for record, rows in pairs:
        billing = next((r for r in rows if r["kind"] == AccountAddress.Kind.BILLING),
                       rows[0] if rows else None)
        delivery = next((r for r in rows if r["kind"] == AccountAddress.Kind.DELIVERY), None)
        for prefix, address in (("billing_", billing), ("shipping_", delivery)):
            if any(f"{prefix}{part}" in record for part in _ADDRESS_PARTS):
                continue
            if address is None and prefix == "billing_":
                continue  # no address at all: the billing fields stay as they are
            record.update(_address_fields(prefix, address))
    return {}


def _address_fields(prefix: str, address: Mapping[str, Any] | None) -> dict[str, Any]:
    """One address as the account's ``<prefix>*`` fields (lines joined, cut to the columns)."""
    if address is None:
        return {f"{prefix}{p}": "" for p in ("street", "postcode", "city")}
    street = ", ".join(line.strip() for line in str(address["street"]).splitlines()
                       if line.strip())
    out = {f"{prefix}street": street[:200], f"{prefix}postcode": address["postcode"][:12],
           f"{prefix}city": address["city"][:100]}
    if address["country"]:
        out[f"{prefix}country"] = address["country"]
    return out


ACCOUNT_ROWS = (
    ChildRows(key="addresses", model=AccountAddress, parent="account_id",
              fields=ADDRESS_FIELDS,
              clean=_row_cleaner("addresses", AccountAddress, ADDRESS_FIELDS,
                                 finish=_upper_country),
              complete=_first_class_addresses),
    ChildRows(key="identifiers", model=AccountIdentifier, parent="account_id",
              fields=IDENTIFIER_FIELDS,
              clean=_row_cleaner("identifiers", AccountIdentifier, IDENTIFIER_FIELDS,
                                 computed=frozenset({"compact"}), finish=_compact),
              computed=frozenset({"compact"})),
    ChildRows(key="channels", model=AccountChannel, parent="account_id",
              fields=CHANNEL_FIELDS,
              clean=_row_cleaner("channels", AccountChannel, CHANNEL_FIELDS)),
)

ACCOUNT_BULK = BulkSpec(
    model=Account, object_type=ObjectType.ACCOUNT, fields=ACCOUNT_FIELDS,
    clean=clean_account_data, prepare_new=_account_defaults, derived=_account_derived,
    derived_fields=["normalized_name"],
    external_fks={"parent_id": ObjectType.ACCOUNT},
    children=ACCOUNT_ROWS,
)

CONTACT_FIELDS = [
    "account_id", "civility", "first_name", "last_name", "job_title", "email",
    "email_secondary", "phone", "mobile", "mailing_street", "mailing_postcode", "mailing_city",
    "mailing_country", "marketing_consent", "consent_date", "consent_source", "owner_id",
    "custom",
]

CONTACT_BULK = BulkSpec(
    model=Contact, object_type=ObjectType.CONTACT, fields=CONTACT_FIELDS,
    clean=clean_person_data, external_fks={"account_id": ObjectType.ACCOUNT},
)
