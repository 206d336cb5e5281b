"""Bulk-load specifications for accounts and contacts (same rules as the single services).

An account carries what an ERP party holds beyond its first-class fields as three lists of
rows, each replaced as a whole when sent and left alone when not: ``addresses``,
``identifiers`` and ``channels``. Their values are stored as the ERP has them: only lengths
and choices are checked (errors keyed ``addresses.2.kind``); an identifier's ``compact`` form
is computed, never sent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.access import policy
from comptoir.access.territories import active_territories, match_territory
from comptoir.core.bulk import BulkSpec, ChildRows, Errors, choice_coercer, folded
from comptoir.core.errors import DomainError
from comptoir.core.models import ObjectType
from comptoir.quality import identifiers
from comptoir.quality.identifiers import normalize_name

from .models import (
    Account,
    AccountAddress,
    AccountChannel,
    AccountIdentifier,
    Contact,
    Lead,
    Opportunity,
    Pipeline,
    Stage,
    compact_identifier,
)
from .services import (
    clean_account_data,
    clean_person_data,
    lost_reason_choices,
    require_open_for_business,
)

User = get_user_model()


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


# --- What leads, deals, activities and cases share: rights, owners, record errors -------------
# The bulk path applies the single-record services' rules, set-based where a rule reads the
# database (who may change which records, which parents are visible), so a rep may load their
# own leads and nobody changes through a file what they could not change in a form.

RECORD = "__all__"  # errors about the record as a whole (the right to change it)
Items = list[tuple[dict[str, Any], int | None, dict[str, Any] | None]]


def add_error(errors: dict[int, Errors], position: int, key: str, message: str) -> None:
    errors.setdefault(position, {}).setdefault(key, []).append(message)


def caught(errors: dict[int, Errors], position: int, fn: Callable[..., Any], *args: Any,
           **kwargs: Any) -> bool:
    """Run a service rule raising ``DomainError``; its field messages become the record's
    errors (its message under ``__all__`` when it names no field). True when it passed."""
    try:
        fn(*args, **kwargs)
    except DomainError as exc:
        for key, messages in (exc.fields or {RECORD: [exc.message]}).items():
            for message in messages:
                add_error(errors, position, key, message)
        return False
    return True


def trusted(user: Any) -> bool:
    """No rights to check: a data manager or an administrator, or no user at all (a sync
    run by the scheduler or the command line, whose mapping an administrator wrote)."""
    return user is None or policy.sees_all(user)


def allowed_ids(model: type[models.Model], user: Any, ids: Sequence[int],
                action: policy.Action) -> set[int] | None:
    """Those of ``ids`` that ``user`` may ``action``, in one query per 5,000; None: all."""
    if trusted(user):
        return None
    wanted = sorted({i for i in ids if i is not None})
    found: set[int] = set()
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start:start + 5000]
        found |= set(policy.restrict(model._default_manager.filter(pk__in=chunk), user, action)
                     .values_list("pk", flat=True))
    return found


def check_change_rights(model: type[models.Model], user: Any, items: Items,
                        errors: dict[int, Errors], message: str) -> None:
    """Changed records ``user`` may not change get ``message``, as their service says it."""
    allowed = allowed_ids(model, user, [pk for _r, pk, _b in items if pk is not None], "change")
    if allowed is None:
        return
    for n, (_record, pk, _before) in enumerate(items):
        if pk is not None and pk not in allowed:
            add_error(errors, n, RECORD, message)


def resolve_owners(model: type[models.Model], user: Any, items: Items,
                   errors: dict[int, Errors], *, default_to_user: bool = True) -> None:
    """``owner_username`` (a username or an e-mail) into ``owner_id``; a new record without
    an owner gets its creator (``default_to_user``: always; else only a rep, as for leads);
    every owner given must be one the user may assign to, and a new owner of an existing
    record needs the right to transfer it (the services' ``require_assignable``)."""
    names = {str(r.get("owner_username") or "").strip() for r, _p, _b in items} - {""}
    users: dict[str, list[int]] = {}
    for name in names:
        users[name] = list(User.objects.filter(
            Q(username__iexact=name) | Q(email__iexact=name), is_active=True)
            .values_list("pk", flat=True)[:2])
    for n, (record, pk, before) in enumerate(items):
        name = str(record.pop("owner_username", "") or "").strip()
        if name:
            found = users.get(name, [])
            if len(found) != 1:
                add_error(errors, n, "owner_username",
                          _("No active user with this username or e-mail: %(name)s.")
                          % {"name": name} if not found else
                          _("Several users answer to %(name)s: give the username.")
                          % {"name": name})
                continue
            if record.get("owner_id") not in (None, found[0]):
                add_error(errors, n, "owner_username",
                          _("Give the owner once: by id or by username."))
                continue
            record["owner_id"] = found[0]
        if before is None:
            if record.get("owner_id") is None and getattr(user, "is_authenticated", False) \
                    and (default_to_user or not policy.sees_all(user)):
                record["owner_id"] = user.pk
            if user is not None:
                caught(errors, n, policy.require_assignable, user, record.get("owner_id"))
        elif "owner_id" in record and record["owner_id"] != before.get("owner_id") \
                and user is not None:
            caught(errors, n, policy.require_assignable, user, record["owner_id"],
                   record=model(pk=pk))


# --- Leads --------------------------------------------------------------------------------------

LEAD_FIELDS = [
    "company_name", "siren", "civility", "first_name", "last_name", "job_title", "email",
    "phone", "website", "street", "postcode", "city", "country", "source", "status", "score",
    "description", "owner_id", "custom",
]


def clean_lead_data(data: Mapping[str, Any]) -> tuple[dict[str, Any], Errors]:
    """The lead services' field rules: e-mail, phone (by the lead's country) and SIREN."""
    out, errors = clean_person_data(data, country=str(data.get("country") or "FR"))
    siren = out.get("siren")
    if siren not in (None, ""):
        try:
            out["siren"] = identifiers.check_siren(str(siren))
        except ValueError as exc:
            errors.setdefault("siren", []).append(str(exc))
    return out, errors


def _finish_leads(user: Any, items: Items) -> dict[int, Errors]:
    """``lead_create`` / ``lead_update``: the right to change, no conversion by file, the
    owner, and an e-mail or a phone on the lead as stored."""
    errors: dict[int, Errors] = {}
    check_change_rights(Lead, user, items, errors,
                        _("You are not allowed to change this record (%(what)s).")
                        % {"what": _("lead")})
    resolve_owners(Lead, user, items, errors, default_to_user=False)
    for n, (record, _pk, before) in enumerate(items):
        if before is not None and before.get("status") == Lead.Status.CONVERTED:
            add_error(errors, n, RECORD, _("This lead is converted; edit the account and "
                                           "contact it became."))
        if record.get("status") == Lead.Status.CONVERTED and (
                before is None or before.get("status") != Lead.Status.CONVERTED):
            add_error(errors, n, "status", _("Use the conversion action."))
        stored = {**(before or {}), **record}
        if not (stored.get("email") or stored.get("phone")):
            add_error(errors, n, "email", _("Give an e-mail or a phone number."))
    return errors


LEAD_BULK = BulkSpec(
    model=Lead, object_type=ObjectType.LEAD, fields=LEAD_FIELDS, clean=clean_lead_data,
    coerce=choice_coercer(Lead, ["source", "status", "civility"]),
    inputs=("owner_username",), finish=_finish_leads, per_record_rights=True,
    read_fields=["email", "phone", "status", "owner_id"],
)


# --- Opportunities ------------------------------------------------------------------------------

OPPORTUNITY_FIELDS = [
    "name", "account_id", "contact_id", "pipeline_id", "stage_id", "amount", "currency",
    "probability", "expected_close_date", "owner_id", "lost_reason", "description", "custom",
]


def _clean_opportunity(data: Mapping[str, Any]) -> tuple[dict[str, Any], Errors]:
    out = dict(data)
    errors: Errors = {}
    amount = out.get("amount")
    try:
        if amount is not None and Decimal(str(amount)) < 0:
            errors["amount"] = [_("Enter a positive amount.")]
    except (ArithmeticError, ValueError):
        pass  # the types were checked before; a wrong one is reported there
    for name in ("stage", "pipeline"):
        if name in out and out[name] is not None and not isinstance(out[name], str):
            out[name] = str(out[name])
    return out, errors


def _finish_opportunities(user: Any, items: Items) -> dict[int, Errors]:
    """``opportunity_create`` / ``opportunity_update``: the right to change; the account one
    the user may work on and open for business; the pipeline (by name, else the default) and
    the stage (by name within it, else its first); the probability from a new stage unless
    given; the status and closing date from the stage, a lost deal with its reason; the
    contact one of the account's; the owner."""
    errors: dict[int, Errors] = {}
    check_change_rights(Opportunity, user, items, errors,
                        _("You are not allowed to change this record (%(what)s).")
                        % {"what": _("opportunity")})
    resolve_owners(Opportunity, user, items, errors)
    pipelines = {p.pk: p for p in Pipeline.objects.all()}
    by_name = {folded(p.name): p.pk for p in pipelines.values()}
    default = next((p.pk for p in pipelines.values() if p.is_default),
                   min(pipelines) if pipelines else None)
    stages: dict[int, list[Stage]] = defaultdict(list)
    stage_by_id: dict[int, Stage] = {}
    for stage in Stage.objects.order_by("pipeline_id", "order", "pk"):
        stages[stage.pipeline_id].append(stage)
        stage_by_id[stage.pk] = stage
    reasons = {c.casefold(): c for c in lost_reason_choices()}
    # the accounts new or moved deals go to: the right to work on them, open for business
    moved = [(n, r["account_id"]) for n, (r, _p, b) in enumerate(items)
             if r.get("account_id") is not None
             and (b is None or r["account_id"] != b.get("account_id"))]
    workable = allowed_ids(Account, user, [a for _n, a in moved], "change")
    accounts = {a.pk: a for a in Account.objects.filter(pk__in={a for _n, a in moved})
                .only("pk", "legal_name", "active", "erp_deleted_at")}
    for n, account_id in moved:
        account = accounts.get(account_id)
        if account is None or (workable is not None and account_id not in workable):
            add_error(errors, n, "account", _("Unknown or not accessible account."))
        else:
            caught(errors, n, require_open_for_business, account)
    # contacts: each one of its deal's account
    pairs = {}
    for n, (record, _pk, before) in enumerate(items):
        stored = {**(before or {}), **record}
        if stored.get("contact_id") and ({"contact_id", "account_id"} & set(record)):
            pairs[n] = (stored["contact_id"], stored.get("account_id"))
    contact_accounts = dict(Contact.objects.filter(pk__in={c for c, _a in pairs.values()})
                            .values_list("pk", "account_id"))
    for n, (contact_id, account_id) in pairs.items():
        if contact_accounts.get(contact_id) != account_id:
            add_error(errors, n, "contact", _("Choose a contact of the deal's account."))
    now = timezone.now()
    for n, (record, _pk, before) in enumerate(items):
        pipeline_name = record.pop("pipeline", None)
        stage_name = record.pop("stage", None)
        if pipeline_name:
            found = by_name.get(folded(pipeline_name))
            if found is None:
                add_error(errors, n, "pipeline",
                          _("No pipeline named “%(name)s”: choose one of %(choices)s.")
                          % {"name": pipeline_name,
                             "choices": ", ".join(p.name for p in pipelines.values())})
                continue
            if record.get("pipeline_id") not in (None, found):
                add_error(errors, n, "pipeline", _("Give the pipeline once: by id or by name."))
                continue
            record["pipeline_id"] = found
        stored = {**(before or {}), **record}
        if before is None and not stored.get("pipeline_id"):
            if default is None:
                add_error(errors, n, "pipeline", _("Create a pipeline first."))
                continue
            record["pipeline_id"] = stored["pipeline_id"] = default
        pipeline_stages = stages.get(stored["pipeline_id"], [])
        if stage_name:
            found_stage = next((s for s in pipeline_stages
                                if folded(s.name) == folded(stage_name)), None)
            if found_stage is None:
                add_error(errors, n, "stage",
                          _("No stage “%(name)s” in the pipeline %(pipeline)s: choose one of "
                            "%(choices)s.")
                          % {"name": stage_name, "pipeline": pipelines[stored["pipeline_id"]],
                             "choices": ", ".join(s.name for s in pipeline_stages)})
                continue
            if record.get("stage_id") not in (None, found_stage.pk):
                add_error(errors, n, "stage", _("Give the stage once: by id or by name."))
                continue
            record["stage_id"] = stored["stage_id"] = found_stage.pk
        if before is None and not stored.get("stage_id"):
            if not pipeline_stages:
                add_error(errors, n, "pipeline", _("Add stages to this pipeline."))
                continue
            record["stage_id"] = stored["stage_id"] = pipeline_stages[0].pk
        current_stage = stage_by_id.get(stored["stage_id"])
        if current_stage is None:
            add_error(errors, n, "stage", _("Unknown stage."))
            continue
        if current_stage.pipeline_id != stored["pipeline_id"]:
            add_error(errors, n, "stage", _("Choose a stage of the deal's pipeline."))
            continue
        stage_changed = before is None or current_stage.pk != before.get("stage_id")
        if stage_changed and "probability" not in record:
            record["probability"] = current_stage.probability
        status = (Opportunity.Status.WON if current_stage.is_won else
                  Opportunity.Status.LOST if current_stage.is_lost
                  else Opportunity.Status.OPEN)
        previous = before.get("status") if before is not None else Opportunity.Status.OPEN
        if before is None or status != previous:
            if status == Opportunity.Status.LOST:
                reason = str(stored.get("lost_reason") or "").strip()
                if not reason:
                    add_error(errors, n, "lost_reason", _("Required when the deal is lost."))
                    continue
                if reasons and reason.casefold() not in reasons:
                    add_error(errors, n, "lost_reason", _("Choose one of: %(choices)s.")
                              % {"choices": ", ".join(reasons.values())})
                    continue
                record["lost_reason"] = reasons.get(reason.casefold(), reason)
            record["status"] = status
            record["closed_at"] = now if status != Opportunity.Status.OPEN else None
    return errors


OPPORTUNITY_BULK = BulkSpec(
    model=Opportunity, object_type=ObjectType.OPPORTUNITY, fields=OPPORTUNITY_FIELDS,
    clean=_clean_opportunity,
    external_fks={"account_id": ObjectType.ACCOUNT, "contact_id": ObjectType.CONTACT},
    inputs=("stage", "pipeline", "owner_username"), finish=_finish_opportunities,
    per_record_rights=True,
    read_fields=["account_id", "contact_id", "pipeline_id", "stage_id", "status", "closed_at",
                 "probability", "owner_id", "lost_reason"],
    defaulted=frozenset({"pipeline_id", "stage_id"}),
)
