"""Record pages (R6): the account 360°, every record's detail page, attachments, and logging a
call or a note from any record in two clicks.

Reads go through the visibility policy: the record itself through ``policy.restrict`` (a record
the user may not see is a 404, never a 403), an account's children through
``policy.restrict_under`` as in ``crm.overview_api``. Related lists are bounded, with a link to
the rest. Writes go through the domain services, whose errors are shown next to the field.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import (
    BooleanField,
    Count,
    DateField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models import Case as SqlCase
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format, localize
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import pgettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods

from comptoir.access import policy
from comptoir.activities.models import Activity
from comptoir.activities.services import activity_create
from comptoir.core.errors import DomainError
from comptoir.core.models import AuditEntry, CustomField, ExternalRef, ObjectType
from comptoir.crm.models import Account, AccountChannel, Contact, Lead, Opportunity
from comptoir.documents.models import Attachment
from comptoir.documents.services import attachment_create
from comptoir.integration import ownership
from comptoir.integration.models import Connection, SyncRun
from comptoir.quality import promotion
from comptoir.quality.models import PromotionRequest
from comptoir.sales.models import PriceListItem, Product, SalesDocument
from comptoir.service.models import Case
from comptoir.sirene.services import loaded as sirene_loaded
from comptoir.web.objects import detail_url
from comptoir.web.templatetags.web import money, phone
from comptoir.web.views.quality import record_quality
from comptoir.web.views.recycle import delete_url

TIMELINE_PAGE = 10  # activities per page of a timeline ("load more" brings the next)
RELATED_LIMIT = 10  # rows of each related list on a record page
DOCS_PER_KIND = 5  # rows per kind of sales document in the commercial history
ATTACHMENTS_LIMIT = 12
AUDIT_LIMIT = 10
RELATED_PAGE = 25  # rows per page of an account's full related list
LINES_LIMIT = 500  # lines of a sales document shown on its page

IMAGE_PREVIEW = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PDF = "application/pdf"
# Served inline on request. Never SVG (or HTML): a browser runs the scripts they may carry.
INLINE_TYPES = IMAGE_PREVIEW | {PDF, "text/plain"}

MONEY_FIELDS = frozenset({"credit_limit", "amount", "total_excl_tax", "total_tax",
                          "total_incl_tax", "amount_due"})


# --- Reading helpers ------------------------------------------------------------------------

def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def visible(request: HttpRequest, model: type[Model], pk: int, *related: str) -> Any:
    """The record if ``request.user`` may see it, else a 404 that does not leak its existence."""
    qs = model._default_manager.all()
    if related:
        qs = qs.select_related(*related)
    return get_object_or_404(policy.restrict(qs, request.user), pk=pk)


def bounded(qs: QuerySet[Any], limit: int) -> tuple[list[Any], bool]:
    """The first ``limit`` rows and whether there are more (one query, no count)."""
    rows = list(qs[: limit + 1])
    return rows[:limit], len(rows) > limit


def children(qs: QuerySet[Any], user: Any, parent: Model) -> QuerySet[Any]:
    """Records under ``parent``: an account's through ``restrict_under``, others' restricted."""
    if isinstance(parent, Account):
        return policy.restrict_under(qs, user, parent)
    return policy.restrict(qs, user)


def _overdue() -> ExpressionWrapper:
    return ExpressionWrapper(Q(amount_due__gt=0, due_date__lt=timezone.localdate()),
                             output_field=BooleanField())


def _date(value: dt.date | dt.datetime | None, with_time: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value)
        return date_format(value, "SHORT_DATETIME_FORMAT" if with_time else "SHORT_DATE_FORMAT")
    return date_format(value, "SHORT_DATE_FORMAT")


# --- Facts, ERP ownership, audit ------------------------------------------------------------

@dataclass
class Fact:
    """One line of a record's key facts, already formatted for the user's language."""

    label: Any
    text: str
    url: str = ""
    system: str = ""  # the other system that masters the value, when one does
    multiline: bool = False
    external: bool = False
    nowrap: bool = False  # a number that must not break across lines (phone, SIRET, VAT)
    key: str = ""  # the form field (or group of fields, an address) it shows, for inline edit
    edit_url: str = ""  # set when the user may edit it in place (``record_edit``)


# identifiers read as one token: a line break inside would make them look like two numbers
NOWRAP_FIELDS = frozenset({"siren", "siret", "vat_number", "naf_code", "phone", "mobile",
                           "fax"})


def _label(model: type[Model], name: str) -> str:
    return capfirst(str(getattr(model._meta.get_field(name), "verbose_name", name)))


def fact(obj: Model, name: str, owned: dict[str, str], *, label: Any = None, url: str = "",
         text: str | None = None, nowrap: bool | None = None) -> Fact:
    """A fact from one field: choices shown by label, money and dates formatted."""
    model = type(obj)
    field_ = model._meta.get_field(name)
    value = getattr(obj, name)
    if text is None:
        if getattr(field_, "choices", None):
            text = str(getattr(obj, f"get_{name}_display")()) if value else ""
        elif isinstance(value, Decimal) and name in MONEY_FIELDS:
            text = money(value, getattr(obj, "currency", "EUR"))
        elif isinstance(value, bool):
            text = _("Yes") if value else _("No")
        elif isinstance(value, dt.date | dt.datetime):
            text = _date(value, with_time=isinstance(value, dt.datetime))
        elif value is None:
            text = ""
        else:
            text = str(localize(value)) if isinstance(value, Decimal | int) else str(value)
    return Fact(label or _label(model, name), text, url=url, system=owned.get(name, ""),
                nowrap=name in NOWRAP_FIELDS if nowrap is None else nowrap, key=name)


def address_fact(obj: Model, prefix: str, label: Any, owned: dict[str, str]) -> Fact:
    parts = [f"{prefix}{p}" for p in ("street", "postcode", "city", "country")]
    street, postcode, city, country = (getattr(obj, p) or "" for p in parts)
    lines = [street, f"{postcode} {city}".strip(), country if country and country != "FR" else ""]
    system = next((owned[p] for p in parts if p in owned), "")
    return Fact(label, "\n".join(line for line in lines if line), system=system, multiline=True,
                key=f"{prefix}address")


def contact_facts(obj: Any, owned: dict[str, str], *, blank: bool = False) -> list[Fact]:
    """Phone, e-mail and website as links a click or a tap acts on (an empty website only
    with ``blank``: to be filled in place)."""
    out = []
    for name in ("phone", "mobile", "fax"):
        if not hasattr(obj, name) or (name == "fax" and not obj.fax):
            continue
        value = getattr(obj, name)
        # shown as dialled (01 34 38 01 62), linked as stored (E.164)
        out.append(fact(obj, name, owned, text=phone(value),
                        url=f"tel:{value}" if value and name != "fax" else "", nowrap=True))
    if hasattr(obj, "email"):
        out.append(fact(obj, "email", owned, url=f"mailto:{obj.email}" if obj.email else ""))
    if getattr(obj, "website", "") or (blank and hasattr(obj, "website")):
        site = obj.website
        url = "" if not site else site if site.startswith(("http://", "https://")) \
            else f"https://{site}"
        item = fact(obj, "website", owned, url=url)
        item.external = True
        out.append(item)
    return out


def channel_url(kind: str, value: str) -> str:
    """A link a click or a tap acts on, for the kinds that have one (values are the ERP's,
    unchecked: the link is only ever mailto:, tel: or https:)."""
    value = value.strip()
    spaced = any(c.isspace() for c in value)
    if not value or (spaced and kind in (AccountChannel.Kind.EMAIL, AccountChannel.Kind.WEBSITE)):
        return ""
    if kind == AccountChannel.Kind.EMAIL:
        return f"mailto:{value}"
    if kind in (AccountChannel.Kind.PHONE, AccountChannel.Kind.MOBILE):
        return "tel:" + "".join(c for c in value if c.isdigit() or c == "+")
    if kind == AccountChannel.Kind.WEBSITE:
        return value if value.startswith(("http://", "https://")) else f"https://{value}"
    return ""


def party_context(account: Account) -> dict[str, Any]:
    """What the ERP party carries beyond the first-class fields: every address, way to reach
    it and identifier, in the ERP's order."""
    phones = (AccountChannel.Kind.PHONE, AccountChannel.Kind.MOBILE, AccountChannel.Kind.FAX)
    channels = [{"kind": c.get_kind_display(), "name": c.name,
                 "value": phone(c.value) if c.kind in phones else c.value,
                 "nowrap": c.kind in phones,
                 "url": channel_url(c.kind, c.value),
                 "external": c.kind == AccountChannel.Kind.WEBSITE}
                for c in account.channels.order_by("position", "id")]
    return {
        "addresses": list(account.addresses.order_by("position", "id")),
        "account_identifiers": list(account.identifiers.order_by("position", "id")),
        "channels": channels,
    }


def mailing_fact(contact: Contact, owned: dict[str, str]) -> Fact:
    return address_fact(contact, "mailing_", _("Mailing address"), owned)


def custom_facts(object_type: str, obj: Any, *, empty: bool = False) -> list[Fact]:
    """Values of the admin-defined fields (R14), labelled; empty ones left out unless
    ``empty`` (for someone who may fill them in place)."""
    values = getattr(obj, "custom", None) or {}
    if not values and not empty:
        return []
    out = []
    for cf in CustomField.objects.filter(object_type=object_type, active=True):
        value = values.get(cf.name)
        if value in (None, ""):
            if empty:
                out.append(Fact(cf.label, "", key=f"cf_{cf.name}"))
            continue
        if cf.type == CustomField.Type.BOOLEAN:
            text = _("Yes") if value else _("No")
        elif cf.type == CustomField.Type.DATE:
            try:
                text = _date(dt.date.fromisoformat(str(value)))
            except ValueError:
                text = str(value)
        elif cf.type == CustomField.Type.NUMBER:
            text = str(localize(value))
        else:
            text = str(value)
        out.append(Fact(cf.label, text, key=f"cf_{cf.name}"))
    return out


def owner_fact(obj: Any, owned: dict[str, str]) -> Fact:
    return Fact(_("Owner"), str(obj.owner) if obj.owner_id else _("Nobody"),
                system=owned.get("owner", ""), key="owner")


@dataclass
class Erp:
    """What other systems say about a record: its references, the fields they master, and the
    last run of each connection concerned."""

    refs: list[ExternalRef] = field(default_factory=list)
    owned: dict[str, str] = field(default_factory=dict)  # field name -> system
    runs: list[SyncRun] = field(default_factory=list)


def erp_of(object_type: str, pk: int, *, with_runs: bool = True) -> Erp:
    """Ownership applies only to records the owning system sent (a live ExternalRef of its
    system), as ``integration.ownership`` enforces on writes."""
    object_type = str(object_type)
    refs = list(ExternalRef.objects.filter(object_type=object_type, object_id=pk)
                .order_by("system", "id")[:20])
    if not refs:
        return Erp()
    live = {r.system for r in refs if r.deleted_at is None}
    owned: dict[str, str] = {}
    for _name, system, names in ownership.owners(object_type):
        if system in live:
            for name in names:
                owned.setdefault(name.removesuffix("_id"), system)
    runs = last_runs({r.system for r in refs}) if with_runs else []
    return Erp(refs=refs, owned=owned, runs=runs)


def last_runs(systems: Iterable[str]) -> list[SyncRun]:
    """The latest run of each enabled connection feeding one of ``systems``."""
    wanted = set(systems)
    runs = []
    for connection in Connection.objects.filter(enabled=True).order_by("name"):
        # ownership caches each connection's ExternalRef system until the connection changes
        if ownership.system_of(connection) not in wanted:
            continue
        run = connection.runs.order_by("-id").first()
        if run is not None:
            runs.append(run)
    return runs


@dataclass
class AuditLine:
    entry: AuditEntry
    changes: list[tuple[str, str, str]]  # (field label, before, after); values "" for links
    more: int = 0


def _audit_value(model_field: Any, value: Any, labels: Mapping[Any, str] | None = None) -> str:
    """A recorded value as people read it: a link by its label (``labels``, by id), a choice
    by its label, a date or time in the reader's format (audit entries hold ISO strings)."""
    if value in (None, "", {}, []):
        return "—"
    if labels is not None:
        return labels.get(value, f"#{value}")
    if getattr(model_field, "choices", None):
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(model_field, DateTimeField) and isinstance(value, str):
        moment = parse_datetime(value)
        if moment is not None:
            if timezone.is_aware(moment):
                moment = timezone.localtime(moment)
            return date_format(moment, "SHORT_DATETIME_FORMAT")
    elif isinstance(model_field, DateField) and isinstance(value, str):
        day = parse_date(value)
        if day is not None:
            return date_format(day, "SHORT_DATE_FORMAT")
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def audit_trail(object_type: str, model: type[Model], pk: int, user: Any,
                limit: int = AUDIT_LIMIT) -> list[AuditLine]:
    """The last changes of a record: who, when, and which fields from what to what. A link
    shows its record's label only when ``user`` may see that record (else ``#id``):
    the history must not reveal a record the access rules hide."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    entries = list(AuditEntry.objects.filter(object_type=object_type, object_id=pk)
                   .select_related("user").order_by("-at", "-id")[:limit])

    def pair_of(raw: Any) -> tuple[Any, Any]:
        return tuple([*raw, None, None][:2]) if isinstance(raw, list) else (None, raw)

    # the labels of the linked records (a stage's name…): one query per kind of link
    wanted: dict[str, set[Any]] = {}
    for entry in entries:
        if entry.action == AuditEntry.Action.UPDATE:
            for name, raw in (entry.changes or {}).items():
                model_field = by_attname.get(name)
                if model_field is not None and model_field.is_relation:
                    wanted.setdefault(name, set()).update(
                        v for v in pair_of(raw) if isinstance(v, int | str) and v != "")
    labels: dict[str, dict[Any, str]] = {}
    for name, ids in wanted.items():
        related = by_attname[name].related_model
        if not isinstance(related, type):
            continue
        linked = related._default_manager.filter(pk__in=list(ids))
        with contextlib.suppress(LookupError):  # set-up data (stages, users): not ruled
            linked = policy.restrict(linked, user)
        labels[name] = {obj.pk: str(obj) for obj in linked} if ids else {}
    lines = []
    for entry in entries:
        changes: list[tuple[str, str, str]] = []
        if entry.action == AuditEntry.Action.UPDATE:
            for name, raw in (entry.changes or {}).items():
                model_field = by_attname.get(name)
                label = (capfirst(str(model_field.verbose_name)) if model_field is not None
                         else name)
                before, after = pair_of(raw)
                link_labels = labels.get(name, {}) if model_field is not None \
                    and model_field.is_relation else None
                changes.append((label, _audit_value(model_field, before, link_labels),
                                _audit_value(model_field, after, link_labels)))
        lines.append(AuditLine(entry, changes[:5], max(0, len(changes) - 5)))
    return lines


# --- Timelines ------------------------------------------------------------------------------

# target of a timeline or a quick log -> (model, foreign key on Activity)
TIMELINE_TARGETS: dict[str, tuple[type[Model], str]] = {
    "account": (Account, "account_id"),
    "contact": (Contact, "contact_id"),
    "opportunity": (Opportunity, "opportunity_id"),
    "case": (Case, "case_id"),
}


def activity_when() -> Coalesce:
    """The date an activity belongs at on a timeline: when it happened (``start_at``), when it
    was done, when it is due if planned, else when it was entered. Ordering by id instead put
    a call logged today about last month's meeting above this week's."""
    return Coalesce(F("start_at"), SqlCase(When(done=True, then=F("done_at"))), F("due_at"),
                    F("created_at"))


def with_email_status(qs: Any) -> Any:
    """An e-mail sent from the CRM shows its status (sent, failed…) in the timeline: read in
    the same query, not one more per page."""
    from django.db.models import OuterRef, Subquery

    from comptoir.mail.models import OutgoingEmail

    sent = OutgoingEmail.objects.filter(activity=OuterRef("pk")).order_by("-pk")
    return qs.annotate(email_id=Subquery(sent.values("pk")[:1]),
                       email_status=Subquery(sent.values("status")[:1]))


def timeline_items(user: Any, target: str, obj: Model, before: Any = None
                   ) -> tuple[list[Activity], int | None]:
    """One page of a record's activities, newest (by their own date) first, and the cursor of
    the next page.

    A keyset cursor (``before`` the id of the last activity shown, whose date and id are the
    key) rather than page numbers: an activity logged meanwhile does not shift the next page.
    """
    _model, fk = TIMELINE_TARGETS[target]
    qs = Activity.objects.filter(**{fk: obj.pk}).select_related(
        "owner", "contact", "opportunity", "case")
    qs = with_email_status(qs)
    qs = children(qs, user, obj).annotate(timeline_at=activity_when())
    if before is not None and str(before).isdigit():
        last = qs.filter(pk=int(before)).values_list("timeline_at", flat=True).first()
        if last is not None:
            qs = qs.filter(Q(timeline_at__lt=last) | Q(timeline_at=last, pk__lt=int(before)))
    rows, more = bounded(qs.order_by("-timeline_at", "-id"), TIMELINE_PAGE)
    return rows, (rows[-1].pk if more and rows else None)


def timeline_context(request: HttpRequest, target: str, obj: Model) -> dict[str, Any]:
    items, next_before = timeline_items(request.user, target, obj)
    return {
        "items": items, "next_before": next_before, "timeline_target": target,
        "timeline_url": reverse("web:timeline", args=[target, obj.pk]),
        "log_url": reverse("web:log_activity", args=[target, obj.pk]),
    }


# --- Attachments ----------------------------------------------------------------------------

# URL target -> (model, the service's target name, foreign key on Attachment)
ATTACHMENT_TARGETS: dict[str, tuple[type[Model], str, str]] = {
    "account": (Account, "account", "account_id"),
    "contact": (Contact, "contact", "contact_id"),
    "opportunity": (Opportunity, "opportunity", "opportunity_id"),
    "case": (Case, "case", "case_id"),
    "salesdocument": (SalesDocument, "sales_document", "sales_document_id"),
    "sales_document": (SalesDocument, "sales_document", "sales_document_id"),
}


@dataclass
class AttachmentRow:
    obj: Attachment
    preview: str  # "image", "pdf" or ""
    on: Any = None  # the record it hangs on, when shown on its account's page

    @property
    def url(self) -> str:
        return reverse("web:attachment_download", args=[self.obj.pk])


def attachments_context(request: HttpRequest, target: str, obj: Model, *,
                        can_upload: bool | None = None) -> dict[str, Any]:
    _model, _service_target, fk = ATTACHMENT_TARGETS[target]
    qs = Attachment.objects.filter(**{fk: obj.pk}).select_related("uploaded_by")
    if target == "account":
        qs = qs.select_related("contact", "opportunity", "case", "sales_document")
    rows, more = bounded(children(qs, request.user, obj).order_by("-created_at", "-id"),
                         ATTACHMENTS_LIMIT)
    out = []
    for a in rows:
        preview = ("image" if a.content_type in IMAGE_PREVIEW
                   else "pdf" if a.content_type == PDF else "")
        on = None
        if target == "account":
            on = a.contact or a.opportunity or a.case or a.sales_document
        out.append(AttachmentRow(a, preview, on))
    if can_upload is None:
        can_upload = policy.can(request.user, "change", obj)
    return {
        "attachments": out, "more_attachments": more, "attachment_target": target,
        "upload_url": reverse("web:attachment_upload", args=[target, obj.pk]),
        "can_upload": can_upload, "attachment_parent": obj,
        "all_attachments_url": (reverse("web:account_related", args=[obj.pk, "attachments"])
                                if target == "account" else ""),
        "max_mb": _max_mb(),
    }


def _max_mb() -> int:
    from django.conf import settings

    return int(settings.COMPTOIR_ATTACHMENT_MAX_BYTES / 1024 / 1024)


# --- Commercial history ---------------------------------------------------------------------

@dataclass
class DocGroup:
    kind: str
    label: Any
    rows: list[SalesDocument]
    count: int
    more: bool
    totals: list[dict[str, Any]]  # per currency: total, due, overdue
    see_all: str = ""


KIND_PLURALS: dict[str, Any] = {
    SalesDocument.Kind.QUOTE: _l("Quotes"), SalesDocument.Kind.ORDER: _l("Orders"),
    SalesDocument.Kind.CONTRACT: _l("Contracts"), SalesDocument.Kind.INVOICE: _l("Invoices"),
    SalesDocument.Kind.CREDIT_NOTE: _l("Credit notes"),
}


def commercial_history(user: Any, account: Account) -> tuple[list[DocGroup], list[dict[str, Any]]]:
    """Sales documents grouped by kind with their totals, and the open amounts per currency."""
    base = policy.restrict_under(SalesDocument.objects.filter(account_id=account.pk), user,
                                 account)
    overdue_q = Q(amount_due__gt=0, due_date__lt=timezone.localdate())
    stats = (base.order_by().values("kind", "currency")
             .annotate(n=Count("id"), total=Sum("total_incl_tax"), due=Sum("amount_due"),
                       overdue=Sum("amount_due", filter=overdue_q),
                       n_overdue=Count("id", filter=overdue_q)))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for row in stats:
        by_kind.setdefault(row["kind"], []).append(row)
    groups = []
    open_by_currency: dict[str, dict[str, Any]] = {}
    for kind, label in SalesDocument.Kind.choices:
        rows_stats = by_kind.get(kind)
        if not rows_stats:
            continue
        rows, more = bounded(
            base.filter(kind=kind).select_related("opportunity").annotate(is_overdue=_overdue())
            .order_by(F("issue_date").desc(nulls_last=True), "-id"), DOCS_PER_KIND)
        totals = [{"currency": s["currency"], "total": s["total"] or Decimal(0),
                   "due": s["due"] or Decimal(0), "overdue": s["overdue"] or Decimal(0),
                   "n_overdue": s["n_overdue"]} for s in rows_stats]
        for t in totals:
            acc = open_by_currency.setdefault(t["currency"], {
                "currency": t["currency"], "due": Decimal(0), "overdue": Decimal(0),
                "n_overdue": 0})
            acc["due"] += t["due"]
            acc["overdue"] += t["overdue"]
            acc["n_overdue"] += t["n_overdue"]
        groups.append(DocGroup(
            kind=kind, label=KIND_PLURALS.get(kind, label), rows=rows,
            count=sum(s["n"] for s in rows_stats), more=more, totals=totals,
            see_all=reverse("web:account_related", args=[account.pk, "documents"])
            + f"?kind={kind}"))
    return groups, [v for v in open_by_currency.values() if v["due"] or v["overdue"]]


def _open_first() -> SqlCase:
    return SqlCase(When(status="open", then=Value(0)), default=Value(1),
                   output_field=IntegerField())


# --- Page context shared by every record page -----------------------------------------------

def rights(user: Any, obj: Model, *actions: policy.Action) -> dict[str, bool]:
    """``policy.can`` for several actions in one query (a record page asks two)."""
    model = type(obj)
    manager = model._default_manager
    row = manager.filter(pk=obj.pk).annotate(**{
        f"may_{a}": Exists(policy.restrict(manager.filter(pk=OuterRef("pk")), user, a))
        for a in actions}).values(*[f"may_{a}" for a in actions]).first()
    return {a: bool(row and row[f"may_{a}"]) for a in actions}


def record_rights(user: Any, obj: Model, object_type: str) -> dict[str, Any]:
    """May the user change the record, delete it (also the right to give it to someone
    else), and the delete page's address when so."""
    if object_type == ObjectType.PRODUCT:
        can_change = can_delete = policy.can_manage_catalogue(user)
    else:
        found = rights(user, obj, "change", "delete")
        can_change, can_delete = found["change"], found["delete"]
    return {"can_change": can_change, "can_delete": can_delete,
            "delete_url": delete_url(obj) if can_delete else ""}


def record_context(request: HttpRequest, obj: Model, object_type: str, *,
                   with_runs: bool = True) -> dict[str, Any]:
    erp = erp_of(object_type, int(obj.pk), with_runs=with_runs)  # type: ignore[arg-type]
    return {
        "object": obj, "object_type": object_type, "title": str(obj), "erp": erp,
        "audit": audit_trail(object_type, type(obj), int(obj.pk),  # type: ignore[arg-type]
                             request.user),
        "sees_all": policy.sees_all(request.user),
        "today": timezone.localdate(),
        **record_rights(request.user, obj, object_type),
        **record_quality(request, object_type, obj),  # accounts, contacts, leads
    }


# --- Key facts, per kind of record -----------------------------------------------------------
# One function per kind: the record page shows them, and an inline edit (``record_edit``)
# renders them again after a save. ``blank`` shows empty custom fields (to fill them in place).

def account_facts(user: Any, account: Account, owned: dict[str, str], *,
                  blank: bool = False) -> list[Fact]:
    parent = None
    if account.parent_id:
        parent = policy.restrict(Account.objects.filter(pk=account.parent_id), user).first()
    return [
        address_fact(account, "billing_", _("Billing address"), owned),
        *([address_fact(account, "shipping_", _("Shipping address"), owned)]
          if account.shipping_street or account.shipping_city or blank else []),
        *contact_facts(account, owned, blank=blank),
        fact(account, "headcount_band", owned, label=_("Headcount")),
        fact(account, "payment_terms", owned),
        fact(account, "credit_limit", owned),
        fact(account, "territory", owned,
             text=str(account.territory) if account.territory_id else ""),
        Fact(_("Parent account"), str(parent) if parent else "",
             url=detail_url(parent) if parent else "", system=owned.get("parent", ""),
             key="parent"),
        fact(account, "siren", owned),
        fact(account, "siret", owned),
        fact(account, "vat_number", owned),
        fact(account, "naf_code", owned),
        owner_fact(account, owned),
        *custom_facts(ObjectType.ACCOUNT, account, empty=blank),
        fact(account, "created_at", owned, label=pgettext("creation date", "Created")),
        fact(account, "updated_at", owned, label=_("Updated")),
    ]


def contact_facts_of(user: Any, contact: Contact, owned: dict[str, str], *,
                     blank: bool = False) -> list[Fact]:
    return [
        Fact(_("Account"), str(contact.account), url=detail_url(contact.account),
             system=owned.get("account", ""), key="account"),
        fact(contact, "job_title", owned),
        *contact_facts(contact, owned, blank=blank),
        mailing_fact(contact, owned),
        fact(contact, "email_secondary", owned),
        fact(contact, "marketing_consent", owned),
        fact(contact, "consent_date", owned),
        fact(contact, "consent_source", owned),
        owner_fact(contact, owned),
        *custom_facts(ObjectType.CONTACT, contact, empty=blank),
        fact(contact, "created_at", owned, label=pgettext("creation date", "Created")),
    ]


def lead_facts(user: Any, lead: Lead, owned: dict[str, str], *,
               blank: bool = False) -> list[Fact]:
    return [
        fact(lead, "company_name", owned),
        fact(lead, "siren", owned),
        fact(lead, "job_title", owned),
        *contact_facts(lead, owned, blank=blank),
        address_fact(lead, "", _("Address"), owned),
        fact(lead, "source", owned),
        fact(lead, "score", owned),
        owner_fact(lead, owned),
        *custom_facts(ObjectType.LEAD, lead, empty=blank),
        fact(lead, "created_at", owned, label=pgettext("creation date", "Created")),
    ]


def opportunity_facts(user: Any, opp: Opportunity, owned: dict[str, str], *,
                      blank: bool = False) -> list[Fact]:
    weighted = (opp.amount * opp.probability / Decimal(100)).quantize(Decimal("0.01"))
    return [
        Fact(_("Account"), str(opp.account), url=detail_url(opp.account),
             system=owned.get("account", ""), key="account"),
        Fact(_("Contact"), str(opp.contact) if opp.contact_id else "",
             url=detail_url(opp.contact) if opp.contact_id else "",
             system=owned.get("contact", ""), key="contact"),
        fact(opp, "amount", owned),
        Fact(_("Weighted amount"), money(weighted, opp.currency)),
        fact(opp, "probability", owned, text=f"{opp.probability} %"),
        fact(opp, "expected_close_date", owned),
        Fact(_("Pipeline"), str(opp.pipeline)),
        fact(opp, "stage", owned, text=str(opp.stage)),
        fact(opp, "closed_at", owned),
        fact(opp, "lost_reason", owned),
        owner_fact(opp, owned),
        *custom_facts(ObjectType.OPPORTUNITY, opp, empty=blank),
        fact(opp, "created_at", owned, label=pgettext("creation date", "Created")),
    ]


def activity_facts(user: Any, activity: Activity, owned: dict[str, str], *,
                   blank: bool = False) -> list[Fact]:
    links = [(label, obj) for label, obj in (
        (_("Account"), activity.account), (_("Contact"), activity.contact),
        (_("Deal"), activity.opportunity), (_("Case"), activity.case)) if obj is not None]
    return [
        fact(activity, "kind", owned),
        fact(activity, "start_at", owned),
        fact(activity, "end_at", owned),
        fact(activity, "due_at", owned),
        fact(activity, "remind_at", owned),
        fact(activity, "done", owned),
        fact(activity, "done_at", owned),
        *[Fact(label, str(obj), url=detail_url(obj)) for label, obj in links],
        owner_fact(activity, owned),
        *custom_facts(ObjectType.ACTIVITY, activity, empty=blank),
        fact(activity, "created_at", owned, label=pgettext("creation date", "Created")),
    ]


def case_facts(user: Any, case: Case, owned: dict[str, str], *,
               blank: bool = False) -> list[Fact]:
    return [
        Fact(_("Account"), str(case.account), url=detail_url(case.account),
             system=owned.get("account", ""), key="account"),
        Fact(_("Contact"), str(case.contact) if case.contact_id else "",
             url=detail_url(case.contact) if case.contact_id else "", key="contact"),
        fact(case, "kind", owned),
        fact(case, "priority", owned),
        fact(case, "status", owned),
        fact(case, "closed_at", owned),
        owner_fact(case, owned),
        *custom_facts(ObjectType.CASE, case, empty=blank),
        fact(case, "created_at", owned, label=pgettext("creation date", "Created")),
        fact(case, "updated_at", owned, label=_("Updated")),
    ]


def product_facts(user: Any, product: Product, owned: dict[str, str], *,
                  blank: bool = False) -> list[Fact]:
    return [
        fact(product, "code", owned),
        fact(product, "unit", owned),
        fact(product, "tax_rate", owned, text=f"{localize(product.tax_rate)} %"),
        fact(product, "active", owned),
        *custom_facts(ObjectType.PRODUCT, product, empty=blank),
        fact(product, "updated_at", owned, label=_("Updated")),
    ]


# kind of record (as in ``views.forms.KINDS``) -> (related rows to read, its facts)
FACTS: dict[str, tuple[tuple[str, ...], Callable[..., list[Fact]]]] = {
    "account": (("owner", "territory"), account_facts),
    "contact": (("account", "owner"), contact_facts_of),
    "lead": (("owner",), lead_facts),
    "opportunity": (("account", "contact", "stage", "pipeline", "owner"), opportunity_facts),
    "activity": (("account", "contact", "opportunity", "case", "owner"), activity_facts),
    "case": (("account", "contact", "owner"), case_facts),
    "product": ((), product_facts),
}


def with_inline_edit(request: HttpRequest, kind: str, obj: Model, owned: dict[str, str], *,
                     can_change: bool, can_transfer: bool) -> list[Fact]:
    """The record's key facts, those the user may change in place carrying their edit URL
    (empty custom fields shown then, to be filled in). ``can_change`` and ``can_transfer``
    are the page's answers from the policy (no query more here)."""
    from comptoir.web.views.record_edit import CUSTOM_PREFIX, editable_keys  # renders these

    build = FACTS[kind][1]
    keys = editable_keys(kind, obj, request.user, can_change=can_change,
                         can_transfer=can_transfer, owned=owned)
    facts = build(request.user, obj, owned, blank=bool(keys))
    for f in facts:
        if f.key and keys and (f.key in keys or f.key.startswith(CUSTOM_PREFIX)):
            f.edit_url = reverse("web:record_field", args=[kind, obj.pk, f.key])
    return facts


# --- Pages ----------------------------------------------------------------------------------

@login_required
@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The 360° page: who the customer is, what happened, what they bought and owe."""
    account = visible(request, Account, pk, "owner", "territory")
    user = request.user
    ctx = record_context(request, account, ObjectType.ACCOUNT)
    owned = ctx["erp"].owned
    can_change = ctx["can_change"]

    def under(qs: QuerySet[Any]) -> QuerySet[Any]:
        return policy.restrict_under(qs, user, account)

    contacts, more_contacts = bounded(
        under(Contact.objects.filter(account_id=pk)).order_by("last_name", "first_name", "id"),
        RELATED_LIMIT)
    opportunities, more_opps = bounded(
        under(Opportunity.objects.filter(account_id=pk).select_related("stage", "owner"))
        .order_by(_open_first(), F("expected_close_date").asc(nulls_last=True), "id"),
        RELATED_LIMIT)
    cases, more_cases = bounded(
        under(Case.objects.filter(account_id=pk).select_related("owner"))
        .order_by("-created_at", "-id"), RELATED_LIMIT)
    groups, open_amounts = commercial_history(user, account)

    facts = with_inline_edit(request, "account", account, owned, can_change=can_change,
                             can_transfer=ctx["can_delete"])
    related = {s: reverse("web:account_related", args=[pk, s])
               for s in ("contacts", "opportunities", "cases", "documents")}
    ctx.update(
        account=account, facts=facts, can_change=can_change,
        identifiers=[fact(account, n, owned) for n in ("siren", "siret", "vat_number",
                                                        "naf_code")],
        contacts=contacts, more_contacts=more_contacts,
        opportunities=opportunities, more_opportunities=more_opps,
        cases=cases, more_cases=more_cases,
        doc_groups=groups, open_amounts=open_amounts, related=related,
        **party_context(account),
        **timeline_context(request, "account", account),
        **attachments_context(request, "account", account, can_upload=can_change),
    )
    # offered only once the register is loaded: before, it could only say "not found"
    ctx["sirene_loaded"] = can_change and sirene_loaded()
    if can_change and promotion.not_promotable(account) is None:
        # a prospect the ERP does not know yet; its requests are its sales side's business
        ctx["promotion"] = promotion.promotions_visible(
            user, status=PromotionRequest.Status.PENDING).filter(account_id=pk).first()
        ctx["can_ask_promotion"] = True
    return render(request, "web/records/account.html", ctx)


@login_required
@require_GET
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = visible(request, Contact, pk, "account", "owner")
    user = request.user
    ctx = record_context(request, contact, ObjectType.CONTACT)
    owned = ctx["erp"].owned
    can_change = ctx["can_change"]
    opportunities, more_opps = bounded(
        policy.restrict(Opportunity.objects.filter(contact_id=pk).select_related("stage"), user)
        .order_by(_open_first(), F("expected_close_date").asc(nulls_last=True), "id"),
        RELATED_LIMIT)
    cases, more_cases = bounded(
        policy.restrict(Case.objects.filter(contact_id=pk), user).order_by("-created_at", "-id"),
        RELATED_LIMIT)
    facts = with_inline_edit(request, "contact", contact, owned, can_change=can_change,
                             can_transfer=ctx["can_delete"])
    ctx.update(
        contact=contact, facts=facts, can_change=can_change,
        opportunities=opportunities, more_opportunities=more_opps,
        cases=cases, more_cases=more_cases,
        **timeline_context(request, "contact", contact),
        **attachments_context(request, "contact", contact, can_upload=can_change),
    )
    return render(request, "web/records/contact.html", ctx)


@login_required
@require_GET
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = visible(request, Lead, pk, "owner")
    ctx = record_context(request, lead, ObjectType.LEAD)
    owned = ctx["erp"].owned
    converted = []
    if lead.status == Lead.Status.CONVERTED:
        for model, pk_ in ((Account, lead.converted_account_id),
                           (Contact, lead.converted_contact_id),
                           (Opportunity, lead.converted_opportunity_id)):
            if pk_:
                obj = policy.restrict(model._default_manager.filter(pk=pk_), request.user).first()
                if obj is not None:
                    converted.append((capfirst(str(model._meta.verbose_name)), obj))
    can_change = ctx["can_change"]
    facts = with_inline_edit(request, "lead", lead, owned, can_change=can_change,
                             can_transfer=ctx["can_delete"])
    ctx.update(lead=lead, facts=facts, converted=converted,
               can_change=can_change,
               can_convert=lead.status not in (Lead.Status.CONVERTED,))
    return render(request, "web/records/lead.html", ctx)


@login_required
@require_GET
def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    opp = visible(request, Opportunity, pk, "account", "contact", "stage", "pipeline", "owner")
    user = request.user
    ctx = record_context(request, opp, ObjectType.OPPORTUNITY)
    owned = ctx["erp"].owned
    can_change = ctx["can_change"]
    documents, more_docs = bounded(
        policy.restrict(SalesDocument.objects.filter(opportunity_id=pk), user)
        .annotate(is_overdue=_overdue())
        .order_by(F("issue_date").desc(nulls_last=True), "-id"), RELATED_LIMIT)
    facts = with_inline_edit(request, "opportunity", opp, owned, can_change=can_change,
                             can_transfer=ctx["can_delete"])
    ctx.update(
        opportunity=opp, facts=facts, can_change=can_change,
        documents=documents, more_documents=more_docs,
        documents_url=reverse("web:account_related", args=[opp.account_id, "documents"]),
        **timeline_context(request, "opportunity", opp),
        **attachments_context(request, "opportunity", opp, can_upload=can_change),
    )
    return render(request, "web/records/opportunity.html", ctx)


@login_required
@require_GET
def activity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    activity = visible(request, Activity, pk, "account", "contact", "opportunity", "case",
                       "owner")
    ctx = record_context(request, activity, ObjectType.ACTIVITY)
    owned = ctx["erp"].owned
    can_change = ctx["can_change"]
    facts = with_inline_edit(request, "activity", activity, owned, can_change=can_change,
                             can_transfer=ctx["can_delete"])
    ctx.update(activity=activity, facts=facts,
               can_change=can_change)
    return render(request, "web/records/activity.html", ctx)


@login_required
@require_GET
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = visible(request, Case, pk, "account", "contact", "owner")
    ctx = record_context(request, case, ObjectType.CASE)
    owned = ctx["erp"].owned
    can_change = ctx["can_change"]
    facts = with_inline_edit(request, "case", case, owned, can_change=can_change,
                             can_transfer=ctx["can_delete"])
    ctx.update(case=case, facts=facts, can_change=can_change,
               **timeline_context(request, "case", case),
               **attachments_context(request, "case", case, can_upload=can_change))
    return render(request, "web/records/case.html", ctx)


@login_required
@require_GET
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    product = visible(request, Product, pk)
    ctx = record_context(request, product, ObjectType.PRODUCT)
    owned = ctx["erp"].owned
    prices = list(PriceListItem.objects.filter(product_id=pk).select_related("price_list")
                  .order_by("price_list__name", "min_quantity", "id")[:100])
    can_change = ctx["can_change"]
    facts = with_inline_edit(request, "product", product, owned, can_change=can_change,
                             can_transfer=can_change)
    ctx.update(product=product, facts=facts, prices=prices,
               can_change=can_change)
    return render(request, "web/records/product.html", ctx)


@login_required
@require_GET
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    qs = (SalesDocument.objects.select_related("account", "contact", "opportunity", "owner",
                                               "price_list")
          .annotate(is_overdue=_overdue()))
    document = get_object_or_404(policy.restrict(qs, request.user), pk=pk)
    ctx = record_context(request, document, ObjectType.SALES_DOCUMENT)
    owned = ctx["erp"].owned
    can_change = ctx["can_change"]
    lines = list(document.lines.select_related("product")[:LINES_LIMIT])
    facts = [
        Fact(_("Account"), str(document.account), url=detail_url(document.account),
             system=owned.get("account", "")),
        Fact(_("Contact"), str(document.contact) if document.contact_id else "",
             url=detail_url(document.contact) if document.contact_id else ""),
        Fact(_("Deal"), str(document.opportunity) if document.opportunity_id else "",
             url=detail_url(document.opportunity) if document.opportunity_id else ""),
        fact(document, "issue_date", owned),
        *[fact(document, n, owned) for n in ("valid_until", "due_date", "start_date",
                                             "end_date") if getattr(document, n)],
        fact(document, "price_list", owned,
             text=str(document.price_list) if document.price_list_id else ""),
        owner_fact(document, owned),
        *custom_facts(ObjectType.SALES_DOCUMENT, document),
    ]
    ctx.update(
        document=document, facts=facts, lines=lines, can_change=can_change,
        more_lines=len(lines) >= LINES_LIMIT,
        can_edit_quote=can_change and document.kind == SalesDocument.Kind.QUOTE,
        **attachments_context(request, "salesdocument", document, can_upload=can_change),
    )
    return render(request, "web/records/document.html", ctx)


# --- An account's full related lists and a record's whole timeline --------------------------

RELATED_SECTIONS: dict[str, tuple[Any, Callable[[int], QuerySet[Any]]]] = {
    "contacts": (_l("Contacts"), lambda pk: Contact.objects.filter(account_id=pk)
                 .order_by("last_name", "first_name", "id")),
    "opportunities": (_l("Deals"), lambda pk: Opportunity.objects.filter(account_id=pk)
                      .select_related("stage", "owner")
                      .order_by(_open_first(), F("expected_close_date").asc(nulls_last=True),
                                "id")),
    "cases": (_l("Cases"), lambda pk: Case.objects.filter(account_id=pk)
              .select_related("owner").order_by("-created_at", "-id")),
    "documents": (_l("Commercial history"), lambda pk: SalesDocument.objects
                  .filter(account_id=pk).select_related("opportunity")
                  .annotate(is_overdue=_overdue())
                  .order_by(F("issue_date").desc(nulls_last=True), "-id")),
    "attachments": (_l("Files"), lambda pk: Attachment.objects.filter(account_id=pk)
                    .select_related("uploaded_by").order_by("-created_at", "-id")),
}


@login_required
@require_GET
def account_related(request: HttpRequest, pk: int, section: str) -> HttpResponse:
    """Every contact, deal, case, document or file of an account, page by page."""
    if section not in RELATED_SECTIONS:
        raise Http404
    account = visible(request, Account, pk)
    label, build = RELATED_SECTIONS[section]
    qs = policy.restrict_under(build(pk), request.user, account)
    kind = request.GET.get("kind", "")
    kind_label: Any = ""
    if section == "documents" and kind in SalesDocument.Kind.values:
        qs = qs.filter(kind=kind)
        kind_label = KIND_PLURALS[SalesDocument.Kind(kind)]
    page = Paginator(qs, RELATED_PAGE).get_page(request.GET.get("page"))
    rows: Sequence[Any] = list(page.object_list)
    if section == "attachments":
        rows = [AttachmentRow(a, "image" if a.content_type in IMAGE_PREVIEW
                              else "pdf" if a.content_type == PDF else "")
                for a in page.object_list]
    return render(request, "web/records/related.html", {
        "account": account, "object": account, "section": section, "section_label": label,
        "kind_label": kind_label, "page_obj": page, "rows": rows,
        "title": f"{label} · {account}", "today": timezone.localdate(),
    })


@login_required
@require_GET
def timeline(request: HttpRequest, target: str, pk: int) -> HttpResponse:
    """A record's activities, newest first; htmx asks it for the next page ("load more")."""
    if target not in TIMELINE_TARGETS:
        raise Http404
    model, _fk = TIMELINE_TARGETS[target]
    obj = visible(request, model, pk)
    items, next_before = timeline_items(request.user, target, obj, request.GET.get("before"))
    ctx = {
        "object": obj, "items": items, "next_before": next_before, "timeline_target": target,
        "timeline_url": reverse("web:timeline", args=[target, pk]),
        "log_url": reverse("web:log_activity", args=[target, pk]),
        "title": _("Timeline of %(record)s") % {"record": obj},
    }
    if _htmx(request):
        return render(request, "web/records/_timeline_items.html", ctx)
    return render(request, "web/records/timeline.html", ctx)


# --- Quick log ------------------------------------------------------------------------------

class QuickLogForm(forms.Form):
    """A call or a note in one line: the subject may be left out when there is a text."""

    kind = forms.ChoiceField(choices=[("call", _l("Call")), ("note", _l("Note"))],
                             widget=forms.HiddenInput)
    subject = forms.CharField(label=_l("Subject"), max_length=200, required=False)
    body = forms.CharField(label=_l("Notes"), required=False,
                           widget=forms.Textarea(attrs={"rows": 3}))
    done = forms.BooleanField(label=_l("Already done (untick to plan the call)"),
                              required=False, initial=True)
    # a planned call without a date would never show in Today or Overdue
    due_at = forms.DateTimeField(
        label=_l("Planned for"), required=False, help_text=_l("When the call is not done yet."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == "call" and not data.get("done") and not data.get("due_at") \
                and "due_at" not in self.errors:
            self.add_error("due_at", _("Give the date of the planned call."))
        subject = (data.get("subject") or "").strip()
        body = (data.get("body") or "").strip()
        if not subject and not body:
            self.add_error("subject", _("Write a subject or a note."))
        elif not subject:
            first = body.splitlines()[0].strip()
            data["subject"] = first if len(first) <= 80 else first[:79] + "…"
        return data


def apply_domain_error(form: forms.Form, exc: DomainError) -> None:
    """A service's refusal on the form: each message beside its field, the rest on top."""
    placed = False
    for name, errors in exc.fields.items():
        key = name if name in form.fields else None
        for message in errors:
            form.add_error(key, message)
            placed = placed or key is not None
    if not exc.fields or not placed:
        form.add_error(None, exc.message)


@login_required
@require_http_methods(["GET", "POST"])
def log_activity(request: HttpRequest, target: str, pk: int) -> HttpResponse:
    """Log a call or a note on a record: the form opens in place, the entry lands on top of
    the timeline without a reload (htmx); without JavaScript it is an ordinary page."""
    if target not in TIMELINE_TARGETS:
        raise Http404
    model, fk = TIMELINE_TARGETS[target]
    obj = visible(request, model, pk)
    kind = request.POST.get("kind") or request.GET.get("kind") or "call"
    kind = kind if kind in ("call", "note") else "call"
    if request.method == "POST":
        form = QuickLogForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                activity = activity_create(user=request.user, data={
                    "kind": data["kind"], "subject": data["subject"],
                    "body": data["body"].strip(),
                    "done": bool(data["done"]) if data["kind"] == "call" else True,
                    **({"due_at": data["due_at"]} if data["kind"] == "call"
                       and not data["done"] else {}),
                    fk: obj.pk,
                })
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                done = _("Call logged.") if activity.kind == "call" else _("Note added.")
                if _htmx(request):
                    activity = Activity.objects.select_related(
                        "owner", "contact", "opportunity", "case").annotate(
                        timeline_at=activity_when()).get(pk=activity.pk)
                    html = render_to_string("web/records/_log_done.html", {
                        "a": activity, "timeline_target": target, "status": done,
                    }, request=request)
                    return HttpResponse(html)
                messages.success(request, done)
                return HttpResponseRedirect(detail_url(obj) + "#timeline")
    else:
        in_an_hour = timezone.localtime().replace(second=0, microsecond=0) + dt.timedelta(hours=1)
        form = QuickLogForm(initial={"kind": kind, "done": True, "due_at": in_an_hour})
    ctx = {"form": form, "kind": kind, "object": obj, "log_url": request.path,
           "record_url": detail_url(obj), "inline": _htmx(request),
           "title": _("Log a call") if kind == "call" else _("Add a note")}
    if _htmx(request):
        response = render(request, "web/records/_quicklog_form.html", ctx)
        if request.method == "POST":  # errors: show the form again where it was
            response["HX-Retarget"] = "#quicklog"
            response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "web/records/log.html", ctx,
                  status=422 if request.method == "POST" else 200)


# --- Attachments ----------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def attachment_upload(request: HttpRequest, target: str, pk: int) -> HttpResponse:
    """Add a file to a record; the service checks access, size and type."""
    if target not in ATTACHMENT_TARGETS:
        raise Http404
    model, service_target, _fk = ATTACHMENT_TARGETS[target]
    obj = visible(request, model, pk)
    error = ""
    uploaded = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error = _("Choose a file to upload.")
        else:
            try:
                attachment = attachment_create(user=request.user, target=service_target,
                                               target_id=obj.pk, upload=upload)
            except DomainError as exc:
                error = exc.message
            else:
                uploaded = attachment.name
        if not error and not _htmx(request):
            messages.success(request, _("“%(name)s” added.") % {"name": uploaded})
            return HttpResponseRedirect(detail_url(obj) + "#attachments")
    ctx = {"object": obj, "upload_error": error, "uploaded": uploaded,
           "record_url": detail_url(obj), "title": _("Files of %(record)s") % {"record": obj},
           **attachments_context(request, target, obj)}
    if _htmx(request):
        return render(request, "web/records/_attachments.html", ctx)
    return render(request, "web/records/attachments.html", ctx, status=422 if error else 200)


@login_required
@require_GET
@xframe_options_sameorigin  # a PDF previews in an iframe of our own pages
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """The file, to whoever may see it. ``?inline=1`` previews images and PDFs in the browser;
    other types (SVG, HTML…) are always downloaded, never rendered on our origin."""
    attachment = get_object_or_404(policy.restrict(Attachment.objects.all(), request.user), pk=pk)
    inline = request.GET.get("inline") == "1" and attachment.content_type in INLINE_TYPES
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404 from exc
    response = FileResponse(handle, as_attachment=not inline, filename=attachment.name,
                            content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    # Everything is sandboxed but an inline PDF: some browsers' PDF viewers (Firefox's) refuse
    # to run in a sandboxed document. A PDF carries no script the page's origin would run.
    response["Content-Security-Policy"] = ("default-src 'none'" if inline and
                                           attachment.content_type == PDF
                                           else "default-src 'none'; sandbox")
    return response


urlpatterns = [
    path("accounts/<int:pk>/", account_detail, name="account_detail"),
    path("accounts/<int:pk>/related/<str:section>/", account_related, name="account_related"),
    path("contacts/<int:pk>/", contact_detail, name="contact_detail"),
    path("leads/<int:pk>/", lead_detail, name="lead_detail"),
    path("deals/<int:pk>/", opportunity_detail, name="opportunity_detail"),
    path("activities/<int:pk>/", activity_detail, name="activity_detail"),
    path("cases/<int:pk>/", case_detail, name="case_detail"),
    path("catalogue/<int:pk>/", product_detail, name="product_detail"),
    path("documents/<int:pk>/", document_detail, name="document_detail"),
    path("attachments/<int:pk>/", attachment_download, name="attachment_download"),
    path("attachments/upload/<str:target>/<int:pk>/", attachment_upload,
         name="attachment_upload"),
    path("log/<str:target>/<int:pk>/", log_activity, name="log_activity"),
    path("timeline/<str:target>/<int:pk>/", timeline, name="timeline"),
]
