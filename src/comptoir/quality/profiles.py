"""Validation profiles (I8): what a record needs to be a lead, a CRM record, an ERP customer.

Following the seed's matrix: a **lead** needs one means of contact (an e-mail may suffice); a
**CRM** account needs its legal name and a contact; an **ERP** customer needs everything the ERP
tolerates no gap in — legal name, postal address, a contact, a valid SIRET and NAF code, payment
terms — and no duplicate among existing records. A record may pass one profile and not the next:
:func:`gaps` says what is missing, field by field, so the API, the UI, imports and syncs show
the same thing.

Profiles are lists of requirement codes per object type, overridable in the
``COMPTOIR_PROFILES`` setting (``{"erp": {"account": ["legal_name", "siret", …]}}``);
``field:<name>`` requires any field to be filled (``field:naf_code``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from comptoir.core.errors import ValidationFailed

from . import identifiers

PROFILE_NAMES = ("lead", "crm", "erp")

DEFAULT_PROFILES: dict[str, dict[str, list[str]]] = {
    "lead": {
        "lead": ["contact_means"],
        "contact": ["person_name", "contact_means"],
        "account": ["legal_name"],
    },
    "crm": {
        "lead": ["contact_means", "person_or_company"],
        "contact": ["person_name", "contact_means"],
        "account": ["legal_name", "contact"],
    },
    "erp": {
        "lead": ["contact_means", "person_or_company"],
        "contact": ["person_name", "contact_means", "postal_address"],
        "account": ["legal_name", "postal_address", "contact", "siret", "naf",
                    "payment_terms", "no_duplicate"],
    },
}


@dataclass
class Gap:
    """One unmet requirement: which fields to fill or fix, and why."""

    requirement: str
    fields: list[str]
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"requirement": self.requirement, "fields": self.fields,
                "message": self.message, "details": self.details}


@dataclass
class Context:
    """What a requirement may need beyond the record's own fields."""

    object_type: str
    record: models.Model | None
    contacts: int | None  # contacts of an account (None: unknown, counted when saved)


Check = Callable[[Mapping[str, Any], Context], Gap | None]


def _filled(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name)
    return value is not None and str(value).strip() != ""


def _missing(code: str, names: list[str], message: Promise | str) -> Gap:
    return Gap(code, names, str(message))


def _legal_name(data: Mapping[str, Any], ctx: Context) -> Gap | None:
    if _filled(data, "legal_name"):
        return None
    return _missing("legal_name", ["legal_name"], _("The legal name is missing."))


def _contact_means(data: Mapping[str, Any], ctx: Context) -> Gap | None:
    names = ["email", "phone", "mobile"] if ctx.object_type == "contact" else ["email", "phone"]
    if any(_filled(data, n) for n in names):
        return None
    return _missing("contact_means", names[:2],
                    _("Give at least one means of contact: an e-mail or a phone number."))


def _person_name(data: Mapping[str, Any], ctx: Context) -> Gap | None:
    if _filled(data, "last_name"):
        return None
    return _missing("person_name", ["last_name"], _("The last name is missing."))


def _person_or_company(data: Mapping[str, Any], ctx: Context) -> Gap | None:
    if _filled(data, "last_name") or _filled(data, "company_name"):
        return None
    return _missing("person_or_company", ["last_name", "company_name"],
                    _("Give the person's name or the company's."))


_ADDRESS = {"account": ("billing_street", "billing_postcode", "billing_city", "billing_country"),
            "lead": ("street", "postcode", "city", "country")}


def _postal_address(data: Mapping[str, Any], ctx: Context) -> Gap | None:
    if ctx.object_type == "contact":
        account = getattr(ctx.record, "account", None)
        if account is None:
            return None  # a contact's address is its account's: judged there
        data = {f.attname: getattr(account, f.attname) for f in account._meta.concrete_fields}
        names = _ADDRESS["account"]
    else:
        names = _ADDRESS.get(ctx.object_type, _ADDRESS["account"])
    missing = [n for n in names if not _filled(data, n)]
    if missing:
        return _missing("postal_address", missing, _("The postal address is incomplete."))
    _street, postcode, _city, country = names
    try:
        identifiers.check_postcode(str(data[postcode]), str(data.get(country) or "FR"))
    except ValueError as exc:
        return Gap("postal_address", [postcode], str(exc))
    return None


def _contact(data: Mapping[str, Any], ctx: Context) -> Gap | None:
    count = ctx.contacts
    if count is None and ctx.record is not None and ctx.record.pk is not None:
        count = ctx.record.contacts.count()  # type: ignore[attr-defined]
    if count:
        return None
    return _missing("contact", ["contacts"], _("Add a contact person to this account."))


def _checked(code: str, name: str, check: Callable[[str], str], message: Promise) -> Check:
    def run(data: Mapping[str, Any], ctx: Context) -> Gap | None:
        if not _filled(data, name):
            return _missing(code, [name], message)
        try:
            check(str(data[name]))
        except ValueError as exc:
            return Gap(code, [name], str(exc))
        return None

    return run


def _payment_terms(data: Mapping[str, Any], ctx: Context) -> Gap | None:
    if _filled(data, "payment_terms"):
        return None
    return _missing("payment_terms", ["payment_terms"], _("The payment terms are missing."))


def _no_duplicate(data: Mapping[str, Any], ctx: Context) -> Gap | None:
    from .dedupe import candidates, match_config

    record = dict(data)
    if ctx.record is not None and ctx.record.pk is not None:
        record["id"] = ctx.record.pk
    sure = match_config(ctx.object_type).sure
    found = [c for c in candidates(ctx.object_type, record, limit=5) if c.score >= sure]
    if not found:
        return None
    return Gap("no_duplicate", [], _("This record very probably exists already: merge the "
                                     "duplicates first."),
               {"candidates": [{"id": c.id, "score": c.score} for c in found]})


REQUIREMENTS: dict[str, Check] = {
    "legal_name": _legal_name,
    "contact_means": _contact_means,
    "person_name": _person_name,
    "person_or_company": _person_or_company,
    "postal_address": _postal_address,
    "contact": _contact,
    "siret": _checked("siret", "siret", identifiers.check_siret,
                      gettext_lazy("The SIRET is missing.")),
    "naf": _checked("naf", "naf_code", identifiers.check_naf,
                    gettext_lazy("The NAF code is missing.")),
    "payment_terms": _payment_terms,
    "no_duplicate": _no_duplicate,
}


def profile_requirements(profile: str, object_type: str) -> list[str]:
    """The requirement codes of ``profile`` for ``object_type`` (settings override first)."""
    if profile not in PROFILE_NAMES:
        raise ValidationFailed(_("Unknown profile: choose lead, crm or erp."),
                               fields={"profile": [_("Choose lead, crm or erp.")]})
    override = (getattr(settings, "COMPTOIR_PROFILES", None) or {}).get(profile) or {}
    if object_type in override:
        return list(override[object_type])
    return list(DEFAULT_PROFILES[profile].get(object_type, []))


def _requirement(code: str) -> Check:
    if code.startswith("field:"):
        name = code.split(":", 1)[1]

        def required(data: Mapping[str, Any], ctx: Context) -> Gap | None:
            return None if _filled(data, name) else _missing(
                code, [name], _("This field is required: %(field)s.") % {"field": name})

        return required
    try:
        return REQUIREMENTS[code]
    except KeyError as exc:
        raise ValueError(f"unknown requirement {code!r} in COMPTOIR_PROFILES") from exc


def gaps(object_type: str, data: Mapping[str, Any] | models.Model, profile: str, *,
         contacts: int | None = None, skip: frozenset[str] = frozenset()) -> list[Gap]:
    """What ``data`` (a record, or its field values) lacks to meet ``profile``.

    ``contacts`` gives an unsaved account's number of contacts (an import row with its
    people); ``skip`` leaves requirements out (``{"no_duplicate"}`` when checking thousands of
    rows whose duplicates are found by the batch anyway).
    """
    record = data if isinstance(data, models.Model) else None
    values: Mapping[str, Any] = data if record is None else {  # type: ignore[assignment]
        f.attname: getattr(record, f.attname) for f in record._meta.concrete_fields}
    ctx = Context(object_type, record, contacts)
    out: list[Gap] = []
    for code in profile_requirements(profile, object_type):
        if code in skip:
            continue
        gap = _requirement(code)(values, ctx)
        if gap is not None:
            out.append(gap)
    return out


def profile_report(object_type: str, data: Mapping[str, Any] | models.Model, *,
                   contacts: int | None = None) -> dict[str, list[Gap]]:
    """The gaps for every profile: a record may be a good CRM record and not yet an ERP one."""
    return {name: gaps(object_type, data, name, contacts=contacts) for name in PROFILE_NAMES}


# Added for bulk loads (API bulk calls, syncs): the same profile, as a record check.
BULK_SKIP = frozenset({"no_duplicate", "contact"})


def bulk_check(object_type: str, profile: str
               ) -> Callable[[Mapping[str, Any]], dict[str, list[str]]]:
    """A check for the bulk loader: a record's gaps under ``profile`` as field messages.

    Left out: ``no_duplicate`` (the loader matches duplicates to existing records itself) and
    ``contact`` (an account's contacts come in their own stream or call, after it: no row of
    an account batch could ever have one). A gap without fields is reported under its code.
    """
    profile_requirements(profile, object_type)  # an unknown profile fails now, not per row

    def check(data: Mapping[str, Any]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for gap in gaps(object_type, data, profile, skip=BULK_SKIP):
            for name in gap.fields or [gap.requirement]:
                errors.setdefault(name, []).append(gap.message)
        return errors

    return check
