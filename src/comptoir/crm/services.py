"""Every write to accounts, contacts, leads and opportunities (validation, audit, events)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from comptoir.access import policy
from comptoir.access.models import Territory
from comptoir.access.territories import active_territories, match_territory, rules_q
from comptoir.core.errors import Conflict, Forbidden, ValidationFailed
from comptoir.core.models import AuditEntry, ObjectType, OutboxEvent
from comptoir.core.services import (
    apply_fields,
    create_record,
    delete_record,
    record_change,
    snapshot,
    update_record,
)
from comptoir.quality import identifiers

from .models import Account, Contact, Lead, LostReason, Opportunity, Pipeline, Stage

FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "yahoo.fr", "yahoo.com", "hotmail.com", "hotmail.fr", "outlook.com",
    "outlook.fr", "live.fr", "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr", "laposte.net",
    "icloud.com", "gmx.fr", "protonmail.com", "proton.me",
})


# --- Shared field rules --------------------------------------------------------------------

def _check(errors: dict[str, list[str]], data: dict[str, Any], field: str, fn: Any) -> None:
    value = data.get(field)
    if value in (None, ""):
        return
    try:
        data[field] = fn(str(value))
    except ValueError as exc:
        errors.setdefault(field, []).append(str(exc))


def clean_account_data(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Normalise identifiers, phone and e-mail of account fields; return (data, errors).

    Shared by the single-record service and the bulk loader so both apply the same rules.
    """
    out = dict(data)
    errors: dict[str, list[str]] = {}
    _check(errors, out, "siren", identifiers.check_siren)
    _check(errors, out, "siret", identifiers.check_siret)
    _check(errors, out, "vat_number", identifiers.check_vat)
    _check(errors, out, "naf_code", identifiers.check_naf)
    _check(errors, out, "email", identifiers.check_email)
    country = str(out.get("billing_country") or "FR")
    for field in ("phone", "mobile", "fax"):
        _check(errors, out, field, lambda v: identifiers.check_phone(v, country))
    for field in ("billing_country", "shipping_country"):
        if out.get(field):
            out[field] = str(out[field]).strip().upper()
    siren_v, siret_v = out.get("siren"), out.get("siret")
    if siret_v and "siret" not in errors:
        if not siren_v:
            out["siren"] = siret_v[:9]
        elif "siren" not in errors and siret_v[:9] != siren_v:
            errors.setdefault("siret", []).append(_("The SIRET does not belong to this SIREN."))
    if "legal_name" in out and out["legal_name"] is not None:
        out["legal_name"] = str(out["legal_name"]).strip()
    if "active" in out and out["active"] is None:  # a mirror of the ERP's flag: yes or no
        errors.setdefault("active", []).append(_("Say whether the account is active."))
    return out, errors


def clean_person_data(data: Mapping[str, Any], *, country: str = "FR"
                      ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    out = dict(data)
    errors: dict[str, list[str]] = {}
    for field in ("email", "email_secondary"):
        _check(errors, out, field, identifiers.check_email)
    for field in ("phone", "mobile"):
        _check(errors, out, field, lambda v: identifiers.check_phone(v, country))
    if out.get("mailing_country"):
        out["mailing_country"] = str(out["mailing_country"]).strip().upper()
    return out, errors


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationFailed(_("Some fields are not valid."), fields=errors)


_check_owner = policy.require_assignable


_DENIED = {
    "view": gettext_lazy("You are not allowed to see this record (%(what)s)."),
    "change": gettext_lazy("You are not allowed to change this record (%(what)s)."),
    "delete": gettext_lazy("You are not allowed to delete this record (%(what)s): only its owner, "
                    "their managers and data managers can."),
}
_MATCHED_BY = {
    "siren": gettext_lazy("SIREN"),
    "email_domain": gettext_lazy("e-mail domain"),
    "name": gettext_lazy("name"),
}


def _require(user: Any, action: policy.Action, obj: Any, what: str) -> None:
    # a delete is decided on the row, locked: an ownership change cannot slip in between
    if not policy.can(user, action, obj, lock=action == "delete"):
        raise Forbidden(str(_DENIED[action]) % {"what": what})


# --- Accounts ------------------------------------------------------------------------------

def _parent_for_write(user: Any, parent_id: Any) -> Account:
    """The parent account, if the user sees it; a hidden one is refused as a missing one."""
    found = policy.require_link(user, Account, parent_id, field="parent",
                                message=_("Choose an account you can see."),
                                field_message=_("Unknown or not accessible account."))
    assert isinstance(found, Account)
    return found


@transaction.atomic
def account_create(*, user: Any, data: Mapping[str, Any], custom: Mapping[str, Any] | None = None,
                   source: str = "app") -> Account:
    """Create an account; the territory comes from the assignment rules.

    The owner is the one given, else the creator when they sell, else the territory's default
    owner (imports by data managers land with the right rep).
    """
    cleaned, errors = clean_account_data(data)
    _raise(errors)
    if cleaned.get("territory_id") is not None:
        policy.require_territory_right(user, cleaned["territory_id"])
    if cleaned.get("parent_id") is not None:
        _parent_for_write(user, cleaned["parent_id"])
    account = Account()
    apply_fields(account, cleaned)
    account.normalized_name = identifiers.normalize_name(account.legal_name or "")
    if account.territory_id is None:
        territory = match_territory(cleaned | {"billing_country": account.billing_country})
        account.territory = territory
    if account.owner_id is None:
        if not policy.sees_all(user) and getattr(user, "is_authenticated", False):
            account.owner_id = user.pk
        elif account.territory is not None and account.territory.default_owner_id:
            account.owner_id = account.territory.default_owner_id
    _check_owner(user, account.owner_id)
    return create_record(account, object_type=ObjectType.ACCOUNT, user=user, source=source,
                         custom=custom)


@transaction.atomic
def account_update(*, account: Account, user: Any, data: Mapping[str, Any],
                   custom: Mapping[str, Any] | None = None, source: str = "app") -> Account:
    _require(user, "change", account, _("account"))
    cleaned, errors = clean_account_data(data)
    _raise(errors)
    if "owner_id" in cleaned:
        _check_owner(user, cleaned["owner_id"], record=account)
    if "territory_id" in cleaned:
        current = Account.objects.filter(pk=account.pk).values_list("territory_id",
                                                                    flat=True).first()
        policy.require_territory_right(user, cleaned["territory_id"], current)
    if cleaned.get("parent_id") and cleaned["parent_id"] == account.pk:
        raise ValidationFailed(_("An account cannot be its own parent."),
                               fields={"parent": [_("Choose another account.")]})
    if cleaned.get("parent_id") is not None and cleaned["parent_id"] != account.parent_id:
        _parent_for_write(user, cleaned["parent_id"])
    if "legal_name" in cleaned:
        cleaned["normalized_name"] = identifiers.normalize_name(cleaned["legal_name"] or "")
    return update_record(account, cleaned, object_type=ObjectType.ACCOUNT, user=user,
                         source=source, custom=custom)


@transaction.atomic
def account_promote(*, account: Account, user: Any, source: str = "app") -> Account:
    """Ask for the account to be created as a customer in the ERP (I5).

    Data managers and administrators only: the ERP's customer file is theirs to keep clean.
    The account becomes a customer and an ``account.promoted`` event is written in the same
    transaction; the outbound connector of each ERP connection consumes it.
    """
    if not policy.sees_all(user):
        raise Forbidden(_("Only data managers and administrators can promote an account to the "
                          "ERP."))
    account = Account.objects.select_for_update().get(pk=account.pk)
    missing = {name: [_("Required to create the customer in the ERP.")]
               for name in ("legal_name", "billing_postcode", "billing_city")
               if not getattr(account, name)}
    if missing:
        raise ValidationFailed(_("Complete the account before promoting it."), fields=missing)
    if account.status != Account.Status.CUSTOMER:
        update_record(account, {"status": Account.Status.CUSTOMER},
                      object_type=ObjectType.ACCOUNT, user=user, source=source)
    record_change(object_type=ObjectType.ACCOUNT, instance=account, action="promote", user=user,
                  changes={}, source=source)
    return account


@transaction.atomic
def account_delete(*, account: Account, user: Any, source: str = "app") -> None:
    _require(user, "delete", account, _("account"))
    delete_record(account, object_type=ObjectType.ACCOUNT, user=user, source=source)


@transaction.atomic
def accounts_assign_territories(*, user: Any, only_unassigned: bool = False) -> dict[str, int]:
    """Re-apply the territory rules to every account, set-based, territory by territory.

    Returns how many accounts each territory received (``"(none)"`` for no match). Each moved
    account gets an audit entry and an event.
    """
    if not policy.sees_all(user):
        raise Forbidden(_("Only data managers and administrators can reassign territories."))
    base = Account.objects.all()
    if only_unassigned:
        base = base.filter(territory__isnull=True)
    counts: dict[str, int] = {}
    claimed = Q(pk__in=[])
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    targets: list[tuple[Territory | None, Q]] = []
    for candidate in active_territories():
        q = rules_q(candidate)
        if q is not None:
            targets.append((candidate, q & ~claimed))
            claimed |= q
    targets.append((None, ~claimed))
    for territory, q in targets:
        new_id = territory.pk if territory else None
        moving = base.filter(q).exclude(territory_id=new_id) if new_id else \
            base.filter(q).exclude(territory__isnull=True)
        rows = list(moving.values_list("id", "territory_id"))
        for start in range(0, len(rows), 5000):
            chunk = rows[start:start + 5000]
            ids = [r[0] for r in chunk]
            Account.objects.filter(pk__in=ids).update(territory_id=new_id,
                                                      updated_at=timezone.now())
            AuditEntry.objects.bulk_create([
                AuditEntry(object_type=ObjectType.ACCOUNT, object_id=pk, action="update",
                           user_id=user_id, source="territory-rules",
                           changes={"territory_id": [old, new_id]})
                for pk, old in chunk
            ])
            OutboxEvent.objects.bulk_create([
                OutboxEvent(topic="account.updated", object_type=ObjectType.ACCOUNT,
                            object_id=pk, payload={"changes": {"territory_id": [old, new_id]}})
                for pk, old in chunk
            ])
        counts[territory.name if territory else "(none)"] = len(rows)
    return counts


# --- Contacts ------------------------------------------------------------------------------

def _account_for_write(user: Any, account_id: Any) -> Account:
    account = Account.objects.filter(pk=account_id).first() if account_id else None
    if account is None or not policy.can(user, "change", account):
        raise ValidationFailed(_("Choose an account you can work on."),
                               fields={"account": [_("Unknown or not accessible account.")]})
    return account


def require_open_for_business(account: Account) -> None:
    """Refuse to start new business (a quote, an order, a deal) with an account the ERP has
    archived or deleted; what it already has stays readable and editable."""
    if account.open_for_business:
        return
    field_message = (_("Deleted in the ERP: choose an active account.")
                     if account.erp_deleted_at is not None
                     else _("Inactive: choose an active account."))
    raise ValidationFailed(
        _("%(account)s is no longer active: new quotes, orders and deals cannot be started "
          "for it.") % {"account": account.legal_name},
        fields={"account": [field_message]})


@transaction.atomic
def contact_create(*, user: Any, data: Mapping[str, Any], custom: Mapping[str, Any] | None = None,
                   source: str = "app") -> Contact:
    account = _account_for_write(user, data.get("account_id"))
    cleaned, errors = clean_person_data(data, country=account.billing_country)
    _raise(errors)
    contact = Contact()
    apply_fields(contact, cleaned)
    if contact.owner_id is None and getattr(user, "is_authenticated", False):
        contact.owner_id = user.pk  # as for deals, cases, activities: else nobody may delete it
    _check_owner(user, contact.owner_id)
    _consent_stamp(contact, None)
    return create_record(contact, object_type=ObjectType.CONTACT, user=user, source=source,
                         custom=custom)


def _consent_stamp(contact: Contact, previous: str | None) -> None:
    """Opt-in/opt-out changes carry their date (GDPR proof) when none is given."""
    if contact.marketing_consent != previous and contact.marketing_consent != "unknown" \
            and contact.consent_date is None:
        contact.consent_date = timezone.now()


@transaction.atomic
def contact_update(*, contact: Contact, user: Any, data: Mapping[str, Any],
                   custom: Mapping[str, Any] | None = None, source: str = "app") -> Contact:
    _require(user, "change", contact, _("contact"))
    before = snapshot(contact)
    if "account_id" in data and data["account_id"] != contact.account_id:
        _account_for_write(user, data["account_id"])
    cleaned, errors = clean_person_data(data, country=contact.account.billing_country)
    _raise(errors)
    if "owner_id" in cleaned:
        _check_owner(user, cleaned["owner_id"], record=contact)
    previous = contact.marketing_consent
    if "marketing_consent" in cleaned and "consent_date" not in cleaned:
        cleaned["consent_date"] = None if cleaned["marketing_consent"] != previous \
            else contact.consent_date
    apply_fields(contact, cleaned)
    _consent_stamp(contact, previous)
    return update_record(contact, {}, object_type=ObjectType.CONTACT, user=user, source=source,
                         custom=custom, before=before)


@transaction.atomic
def contact_delete(*, contact: Contact, user: Any, source: str = "app") -> None:
    _require(user, "delete", contact, _("contact"))
    delete_record(contact, object_type=ObjectType.CONTACT, user=user, source=source)


# --- Leads ---------------------------------------------------------------------------------

def _check_lead_contact_means(lead: Lead) -> None:
    if not (lead.email or lead.phone):
        raise ValidationFailed(
            _("A lead needs at least one means of contact: an e-mail or a phone number."),
            fields={"email": [_("Give an e-mail or a phone number.")]},
        )


@transaction.atomic
def lead_create(*, user: Any, data: Mapping[str, Any], custom: Mapping[str, Any] | None = None,
                source: str = "app") -> Lead:
    cleaned, errors = clean_person_data(data, country=str(data.get("country") or "FR"))
    _check(errors, cleaned, "siren", identifiers.check_siren)
    _raise(errors)
    lead = Lead()
    apply_fields(lead, cleaned)
    if lead.owner_id is None and getattr(user, "is_authenticated", False) \
            and not policy.sees_all(user):
        lead.owner_id = user.pk
    _check_owner(user, lead.owner_id)
    _check_lead_contact_means(lead)
    if lead.status == Lead.Status.CONVERTED:
        raise ValidationFailed(_("Use the conversion to convert a lead."),
                               fields={"status": [_("Use the conversion action.")]})
    return create_record(lead, object_type=ObjectType.LEAD, user=user, source=source,
                         custom=custom)


@transaction.atomic
def lead_update(*, lead: Lead, user: Any, data: Mapping[str, Any],
                custom: Mapping[str, Any] | None = None, source: str = "app") -> Lead:
    _require(user, "change", lead, _("lead"))
    if lead.status == Lead.Status.CONVERTED:
        raise Conflict(_("This lead is converted; edit the account and contact it became."))
    before = snapshot(lead)
    cleaned, errors = clean_person_data(data, country=str(data.get("country") or lead.country
                                                          or "FR"))
    _check(errors, cleaned, "siren", identifiers.check_siren)
    _raise(errors)
    if cleaned.get("status") == Lead.Status.CONVERTED:
        raise ValidationFailed(_("Use the conversion to convert a lead."),
                               fields={"status": [_("Use the conversion action.")]})
    if "owner_id" in cleaned:
        _check_owner(user, cleaned["owner_id"], record=lead)
    apply_fields(lead, cleaned)
    _check_lead_contact_means(lead)
    return update_record(lead, {}, object_type=ObjectType.LEAD, user=user, source=source,
                         custom=custom, before=before)


@transaction.atomic
def lead_delete(*, lead: Lead, user: Any, source: str = "app") -> None:
    _require(user, "delete", lead, _("lead"))
    delete_record(lead, object_type=ObjectType.LEAD, user=user, source=source)


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower().strip() if "@" in email else ""


def find_matching_account(*, siren: str = "", email: str = "", company_name: str = ""
                          ) -> tuple[Account | None, str]:
    """The existing account a lead belongs to, and why: SIREN, then e-mail domain, then name.

    Searched over the whole base, not the user's view: a duplicate is a duplicate even when
    someone else owns the original.
    """
    if siren:
        found = Account.objects.filter(siren=siren).order_by("id").first()
        if found:
            return found, "siren"
    domain = email_domain(email)
    if domain and domain not in FREE_MAIL_DOMAINS:
        found = (Account.objects.filter(Q(email__iendswith=f"@{domain}")
                                        | Q(website__icontains=domain))
                 .order_by("id").first())
        if found is None:
            contact = Contact.objects.filter(email__iendswith=f"@{domain}").order_by("id").first()
            found = contact.account if contact else None
        if found:
            return found, "email_domain"
    name = identifiers.normalize_name(company_name)
    if name:
        found = Account.objects.filter(normalized_name=name).order_by("id").first()
        if found:
            return found, "name"
    return None, ""


@dataclass
class Conversion:
    lead: Lead
    account: Account
    contact: Contact
    opportunity: Opportunity | None
    account_created: bool
    matched_by: str


@transaction.atomic
def lead_convert(
    *, lead: Lead, user: Any, account_id: int | None = None, create_opportunity: bool = False,
    opportunity: Mapping[str, Any] | None = None,
) -> Conversion:
    """Turn a lead into contact + account (+ opportunity), reusing a matching account (R2).

    The lead stays, marked converted and linked to what it became; its description is kept as a
    note on the new contact, so nothing of it is lost.
    """
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require(user, "change", lead, _("lead"))
    if lead.status == Lead.Status.CONVERTED:
        raise Conflict(_("This lead is already converted."))
    allowed = policy.assignable_owner_ids(user)
    if lead.owner_id is not None and allowed is not None and lead.owner_id not in allowed:
        raise Forbidden(_("Only the lead's owner, their managers or a data manager can convert "
                          "it: the account, contact and deal will belong to its owner."))
    if account_id is not None:
        account = _account_for_write(user, account_id)
        matched_by, created = "chosen", False
    else:
        found, matched_by = find_matching_account(siren=lead.siren, email=lead.email,
                                                  company_name=lead.company_name)
        if found is not None:
            if not policy.can(user, "change", found):
                owner = found.owner.get_full_name() if found.owner else _("nobody")
                raise Conflict(
                    _("The account “%(name)s” (owner: %(owner)s) already matches this lead by "
                      "%(how)s; ask its owner or a data manager to convert it.")
                    % {"name": found.legal_name, "owner": owner,
                       "how": _MATCHED_BY.get(matched_by, matched_by)}
                )
            account, created = found, False
        else:
            legal_name = lead.company_name or f"{lead.first_name} {lead.last_name}".strip() \
                or lead.email or lead.phone
            account = account_create(user=user, source="lead-conversion", data={
                "legal_name": legal_name, "siren": lead.siren, "website": lead.website,
                "billing_street": lead.street, "billing_postcode": lead.postcode,
                "billing_city": lead.city, "billing_country": lead.country or "FR",
                "owner_id": lead.owner_id,
            })
            created, matched_by = True, ""
    contact = contact_create(user=user, source="lead-conversion", data={
        "account_id": account.pk, "civility": lead.civility, "first_name": lead.first_name,
        "last_name": lead.last_name or lead.email or lead.phone, "job_title": lead.job_title,
        "email": lead.email, "phone": lead.phone, "owner_id": lead.owner_id,
    })
    opp = None
    if create_opportunity:
        values = dict(opportunity or {})
        values.setdefault("name", f"{account.legal_name} — {lead.get_source_display()}")
        values["account_id"] = account.pk
        values["contact_id"] = contact.pk
        values.setdefault("owner_id", lead.owner_id)
        opp = opportunity_create(user=user, data=values, source="lead-conversion")
    if lead.description:
        from comptoir.activities.services import activity_create

        activity_create(user=user, source="lead-conversion", data={
            "kind": "note", "subject": _("Lead notes (%(source)s)")
            % {"source": lead.get_source_display()},
            "body": lead.description, "contact_id": contact.pk, "done": True,
        })
    update_record(lead, {
        "status": Lead.Status.CONVERTED, "converted_at": timezone.now(),
        "converted_account_id": account.pk, "converted_contact_id": contact.pk,
        "converted_opportunity_id": opp.pk if opp else None,
    }, object_type=ObjectType.LEAD, user=user, source="lead-conversion")
    return Conversion(lead, account, contact, opp, created, matched_by)


# --- Opportunities -------------------------------------------------------------------------

def default_pipeline() -> Pipeline:
    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    if pipeline is None:
        raise ValidationFailed(_("No pipeline is configured yet."),
                               fields={"pipeline": [_("Create a pipeline first.")]})
    return pipeline


def _check_opportunity(opp: Opportunity) -> None:
    errors: dict[str, list[str]] = {}
    if opp.amount is not None and Decimal(opp.amount) < 0:
        errors["amount"] = [_("Enter a positive amount.")]
    if opp.contact_id and not Contact.objects.filter(pk=opp.contact_id,
                                                     account_id=opp.account_id).exists():
        errors["contact"] = [_("Choose a contact of the deal's account.")]
    if errors:
        raise ValidationFailed(_("Some fields are not valid."), fields=errors)


def lost_reason_choices() -> list[str]:
    """The active options of the lost-reason picklist (empty: any reason in free text)."""
    return list(LostReason.objects.filter(active=True).values_list("name", flat=True))


def _check_lost_reason(opp: Opportunity) -> None:
    """A deal becoming lost says why (forecast reviews and win/loss analysis rely on it): one
    of the picklist's options when there is a picklist, any text otherwise."""
    reason = (opp.lost_reason or "").strip()
    choices = lost_reason_choices()
    if not reason:
        raise ValidationFailed(_("Give the reason the deal was lost."),
                               fields={"lost_reason": [_("Required when the deal is lost.")]})
    if choices:
        known = {c.casefold(): c for c in choices}
        if reason.casefold() not in known:
            raise ValidationFailed(
                _("Choose one of the lost reasons."),
                fields={"lost_reason": [_("Choose one of: %(choices)s.")
                                        % {"choices": ", ".join(choices)}]})
        reason = known[reason.casefold()]
    opp.lost_reason = reason


def _apply_stage(opp: Opportunity, stage_changed: bool, probability_given: bool) -> None:
    stage = opp.stage
    if stage.pipeline_id != opp.pipeline_id:
        raise ValidationFailed(_("This stage belongs to another pipeline."),
                               fields={"stage": [_("Choose a stage of the deal's pipeline.")]})
    if stage_changed and not probability_given:
        opp.probability = stage.probability
    new_status = (Opportunity.Status.WON if stage.is_won else
                  Opportunity.Status.LOST if stage.is_lost else Opportunity.Status.OPEN)
    if new_status != opp.status:
        if new_status == Opportunity.Status.LOST:
            _check_lost_reason(opp)
        opp.status = new_status
        opp.closed_at = timezone.now() if new_status != Opportunity.Status.OPEN else None


@transaction.atomic
def opportunity_create(*, user: Any, data: Mapping[str, Any],
                       custom: Mapping[str, Any] | None = None,
                       source: str = "app") -> Opportunity:
    values = dict(data)
    require_open_for_business(_account_for_write(user, values.get("account_id")))
    if not values.get("pipeline_id"):
        values["pipeline_id"] = default_pipeline().pk
    if not values.get("stage_id"):
        first = Stage.objects.filter(pipeline_id=values["pipeline_id"]).order_by("order").first()
        if first is None:
            raise ValidationFailed(_("This pipeline has no stages."),
                                   fields={"pipeline": [_("Add stages to this pipeline.")]})
        values["stage_id"] = first.pk
    opp = Opportunity()
    apply_fields(opp, values)
    if opp.owner_id is None and getattr(user, "is_authenticated", False):
        opp.owner_id = user.pk
    _check_owner(user, opp.owner_id)
    if not Stage.objects.filter(pk=opp.stage_id).exists():
        raise ValidationFailed(_("Unknown stage."), fields={"stage": [_("Unknown stage.")]})
    _apply_stage(opp, True, "probability" in values)
    _check_opportunity(opp)
    return create_record(opp, object_type=ObjectType.OPPORTUNITY, user=user, source=source,
                         custom=custom)


@transaction.atomic
def opportunity_update(*, opportunity: Opportunity, user: Any, data: Mapping[str, Any],
                       custom: Mapping[str, Any] | None = None,
                       source: str = "app") -> Opportunity:
    _require(user, "change", opportunity, _("opportunity"))
    before = snapshot(opportunity)
    values = dict(data)
    if "account_id" in values and values["account_id"] != opportunity.account_id:
        require_open_for_business(_account_for_write(user, values["account_id"]))
    if "owner_id" in values:
        _check_owner(user, values["owner_id"], record=opportunity)
    stage_changed = "stage_id" in values and values["stage_id"] != opportunity.stage_id
    apply_fields(opportunity, values)
    if stage_changed and not Stage.objects.filter(pk=opportunity.stage_id).exists():
        raise ValidationFailed(_("Unknown stage."), fields={"stage": [_("Unknown stage.")]})
    _apply_stage(opportunity, stage_changed, "probability" in values)
    _check_opportunity(opportunity)
    return update_record(opportunity, {}, object_type=ObjectType.OPPORTUNITY, user=user,
                         source=source, custom=custom, before=before)


@transaction.atomic
def opportunity_delete(*, opportunity: Opportunity, user: Any, source: str = "app") -> None:
    _require(user, "delete", opportunity, _("opportunity"))
    delete_record(opportunity, object_type=ObjectType.OPPORTUNITY, user=user, source=source)
