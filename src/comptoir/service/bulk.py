"""Bulk-load specification for support cases: the rules of ``case_create`` and
``case_update`` applied to a whole batch (an old CRM's tickets).

A case names its account and contact by external id; its status, priority and kind may be
given by code or by label; it keeps the number the other system gave it, else gets its own
(``CAS-000123``) as in the forms.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.core.bulk import BulkSpec, Errors, choice_coercer
from comptoir.core.models import ObjectType
from comptoir.core.sql import update_many
from comptoir.crm.bulk import Items, add_error, allowed_ids, check_change_rights, resolve_owners
from comptoir.crm.models import Account, Contact

from .models import Case

CASE_FIELDS = ["number", "account_id", "contact_id", "kind", "subject", "description",
               "status", "priority", "owner_id", "custom"]
_CLOSED = {Case.Status.RESOLVED, Case.Status.CLOSED}


def _finish_cases(user: Any, items: Items) -> dict[int, Errors]:
    """The right to change; an account the user sees and a contact of it; the owner; the
    closing date following the status."""
    errors: dict[int, Errors] = {}
    check_change_rights(Case, user, items, errors,
                        _("You are not allowed to change this case."))
    resolve_owners(Case, user, items, errors)
    linked = [(n, {**(b or {}), **r}) for n, (r, _p, b) in enumerate(items)
              if b is None or {"account_id", "contact_id"} & set(r)]
    account_ids: set[int] = {s["account_id"] for _n, s in linked if s.get("account_id")}
    visible = allowed_ids(Account, user, list(account_ids), "view")
    existing = set(Account.objects.filter(pk__in=account_ids).values_list("pk", flat=True))
    contacts = dict(Contact.objects.filter(
        pk__in={s["contact_id"] for _n, s in linked if s.get("contact_id")})
        .values_list("pk", "account_id"))
    for n, stored in linked:
        account_id = stored.get("account_id")
        if account_id not in existing or (visible is not None and account_id not in visible):
            add_error(errors, n, "account", _("Unknown or not accessible account."))
        elif stored.get("contact_id") and contacts.get(stored["contact_id"]) != account_id:
            add_error(errors, n, "contact", _("Choose a contact of the account."))
    now = timezone.now()
    for record, _pk, before in items:
        stored = {**(before or {}), **record}
        closed_at = (stored.get("closed_at") or now) if stored.get("status") in _CLOSED \
            else None
        if before is None or closed_at != before.get("closed_at"):
            record["closed_at"] = closed_at
    return errors


def _number_cases(created: list[tuple[dict[str, Any], int]]) -> None:
    """A case loaded without a number gets its own, made of its id, as in the forms."""
    rows = []
    for record, pk in created:
        if not record.get("number"):
            record["number"] = f"CAS-{pk:06d}"
            rows.append([record["number"], 1, pk])
    update_many(Case, ["number", "version"], rows)  # its first version still: just created


CASE_BULK = BulkSpec(
    model=Case, object_type=ObjectType.CASE, fields=CASE_FIELDS,
    coerce=choice_coercer(Case, ["kind", "status", "priority"]),
    external_fks={"account_id": ObjectType.ACCOUNT, "contact_id": ObjectType.CONTACT},
    unique=["number"], inputs=("owner_username",), finish=_finish_cases, per_record_rights=True,
    read_fields=["account_id", "contact_id", "status", "closed_at", "owner_id"],
    after_create=_number_cases,
)
