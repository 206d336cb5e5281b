"""What each object type puts in the index: title, subtitle, words, and the ids visibility needs.

One function per type turns a row of ``values()`` into an index row; the same functions serve
the full rebuild and the outbox consumer, so both always write the same thing. Children of an
account (contacts, opportunities, cases, sales documents) carry the account's name, owner and
territory: when those change on the account, its children's rows are written again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models

from comptoir.core.models import ObjectType

from .models import OBJECT_ID_MASK, TYPE_SHIFT
from .text import document_text, identifier_words, phone_words

# Fields of an account that its children's rows repeat.
ACCOUNT_FIELDS_IN_CHILDREN = frozenset({"legal_name", "trade_name", "owner_id", "territory_id"})

Row = tuple[int, str, int, str, str, str, int | None, int | None, int | None, int | None]
"""An index row, in the column order of ``ENTRY_COLUMNS``."""

ENTRY_COLUMNS = ("id", "object_type", "object_id", "title", "subtitle", "text", "owner_id",
                 "account_id", "account_owner_id", "account_territory_id")


def _join(*parts: str, sep: str = " · ") -> str:
    return sep.join(p for p in parts if p)[:300]


@dataclass(frozen=True)
class Source:
    object_type: str
    code: int
    model_label: str
    fields: tuple[str, ...]
    build: Callable[[Mapping[str, Any]], tuple[str, str, str]]  # title, subtitle, words
    owner: str | None = "owner_id"
    account: str | None = "account_id"  # None: not attached to an account
    # record ids -> words of the rows they own (an account's identifiers), read per batch
    related: Callable[[Sequence[int]], dict[int, str]] | None = None

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    @property
    def id_range(self) -> tuple[int, int]:
        low = self.code << TYPE_SHIFT
        return low, low + (1 << TYPE_SHIFT) - 1

    def entry_id(self, object_id: int) -> int:
        return (self.code << TYPE_SHIFT) | (OBJECT_ID_MASK - object_id)

    @staticmethod
    def object_id(entry_id: int) -> int:
        return OBJECT_ID_MASK - (entry_id & OBJECT_ID_MASK)

    @property
    def values(self) -> tuple[str, ...]:
        extra: tuple[str, ...] = ()
        if self.owner:
            extra += (self.owner,)
        if self.account == "id":
            extra += ("territory_id",)
        elif self.account:
            extra += (self.account, "account__owner_id", "account__territory_id")
        return ("id", *self.fields, *extra)

    def with_related(self, data: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``data`` (rows of ``values``) with the words of the rows each record owns under
        ``_related``: one query per batch, not per record."""
        if self.related is not None and data:
            words = self.related([int(d["id"]) for d in data])
            for d in data:
                d["_related"] = words.get(int(d["id"]), "")
        return data

    def row(self, data: Mapping[str, Any]) -> Row:
        title, subtitle, words = self.build(data)
        owner = data[self.owner] if self.owner else None
        if self.account == "id":  # the account itself
            account, account_owner, territory = data["id"], owner, data["territory_id"]
        elif self.account:
            account = data[self.account]
            account_owner, territory = data["account__owner_id"], data["account__territory_id"]
        else:
            account = account_owner = territory = None
        object_id = int(data["id"])
        return (self.entry_id(object_id), self.object_type, object_id, title[:300] or "—",
                subtitle[:300], words, owner, account, account_owner, territory)

    @property
    def via_account(self) -> bool:
        """Its rows repeat account data (name, owner, territory)."""
        return bool(self.account) and self.account != "id"


def _account(d: Mapping[str, Any]) -> tuple[str, str, str]:
    place = f"{d['billing_postcode']} {d['billing_city']}".strip()
    trade = d["trade_name"] if d["trade_name"] != d["legal_name"] else ""
    return (d["legal_name"], _join(trade, place, d["siren"]),
            document_text(d["legal_name"], trade, d["siren"], d["siret"], d["billing_postcode"],
                          d["billing_city"], d["email"], phone_words(d["phone"]),
                          phone_words(d["mobile"]), phone_words(d["fax"]),
                          identifier_words(d["vat_number"]), d.get("_related", "")))


_PHONE_KINDS = frozenset({"phone", "mobile", "fax"})
_RELATED_CHUNK = 1000


def _account_related(ids: Sequence[int]) -> dict[int, str]:
    """Words of what an account owns beyond its columns: every identifier (however typed) and
    every phone, e-mail or website the ERP gave."""
    words: dict[int, list[str]] = defaultdict(list)
    identifier = apps.get_model("crm.AccountIdentifier")
    channel = apps.get_model("crm.AccountChannel")
    for start in range(0, len(ids), _RELATED_CHUNK):
        chunk = ids[start:start + _RELATED_CHUNK]
        for account_id, value in (identifier._default_manager.filter(account_id__in=chunk)
                                  .order_by().values_list("account_id", "value")):
            words[account_id].append(identifier_words(value))
        for account_id, kind, value in (channel._default_manager.filter(account_id__in=chunk)
                                        .order_by().values_list("account_id", "kind", "value")):
            words[account_id].append(phone_words(value) if kind in _PHONE_KINDS else value)
    return {k: " ".join(v) for k, v in words.items()}


def _contact(d: Mapping[str, Any]) -> tuple[str, str, str]:
    name = f"{d['first_name']} {d['last_name']}".strip()
    return (name or d["email"], _join(d["account__legal_name"], d["email"]),
            document_text(d["first_name"], d["last_name"], d["email"], d["email_secondary"],
                          phone_words(d["phone"]), phone_words(d["mobile"]),
                          d["account__legal_name"], d["account__trade_name"]))


def _lead(d: Mapping[str, Any]) -> tuple[str, str, str]:
    person = f"{d['first_name']} {d['last_name']}".strip()
    title = person or d["company_name"] or d["email"] or d["phone"]
    return (title, _join(d["company_name"] if person else "", d["email"]),
            document_text(d["company_name"], d["first_name"], d["last_name"], d["email"],
                          phone_words(d["phone"])))


def _opportunity(d: Mapping[str, Any]) -> tuple[str, str, str]:
    return (d["name"], d["account__legal_name"],
            document_text(d["name"], d["account__legal_name"], d["account__trade_name"]))


def _case(d: Mapping[str, Any]) -> tuple[str, str, str]:
    number = d["number"] or ""
    return (d["subject"], _join(number, d["account__legal_name"]),
            document_text(number, d["subject"]))


def _sales_document(d: Mapping[str, Any]) -> tuple[str, str, str]:
    return (d["number"], d["account__legal_name"],
            document_text(d["number"], d["account__legal_name"], d["account__trade_name"]))


def _product(d: Mapping[str, Any]) -> tuple[str, str, str]:
    return d["name"], d["code"], document_text(d["code"], d["name"])


_ACCOUNT_NAMES = ("account__legal_name", "account__trade_name")

SOURCES: dict[str, Source] = {s.object_type: s for s in (
    Source(ObjectType.ACCOUNT.value, 1, "crm.Account",
           ("legal_name", "trade_name", "siren", "siret", "billing_postcode", "billing_city",
            "email", "phone", "mobile", "fax", "vat_number"), _account, account="id",
           related=_account_related),
    Source(ObjectType.CONTACT.value, 2, "crm.Contact",
           ("first_name", "last_name", "email", "email_secondary", "phone", "mobile",
            *_ACCOUNT_NAMES), _contact),
    Source(ObjectType.LEAD.value, 3, "crm.Lead",
           ("company_name", "first_name", "last_name", "email", "phone"), _lead, account=None),
    Source(ObjectType.OPPORTUNITY.value, 4, "crm.Opportunity", ("name", *_ACCOUNT_NAMES),
           _opportunity),
    Source(ObjectType.CASE.value, 5, "service.Case", ("number", "subject", "account__legal_name"),
           _case),
    Source(ObjectType.SALES_DOCUMENT.value, 6, "sales.SalesDocument", ("number", *_ACCOUNT_NAMES),
           _sales_document),
    Source(ObjectType.PRODUCT.value, 7, "sales.Product", ("code", "name"), _product, owner=None,
           account=None),
)}

CHILD_SOURCES = tuple(s for s in SOURCES.values() if s.via_account)


def source_of_entry(entry_id: int) -> Source:
    code = entry_id >> TYPE_SHIFT
    return next(s for s in SOURCES.values() if s.code == code)
