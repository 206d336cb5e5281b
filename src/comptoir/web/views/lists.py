"""The lists of every object, their exports and saved views (R13)."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, ngettext, pgettext, pgettext_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from comptoir.access import policy
from comptoir.access.models import Territory, User
from comptoir.activities.models import Activity
from comptoir.core.exports import safe_row
from comptoir.core.models import ExternalRef, ObjectType
from comptoir.crm.models import (
    Account,
    Contact,
    HeadcountBand,
    Lead,
    Opportunity,
    Stage,
    open_for_business,
)
from comptoir.sales.models import Product, SalesDocument
from comptoir.service.models import Case
from comptoir.web import listing
from comptoir.web.forms import CUSTOM_PREFIX, FORMS, OwnerField, PickerField, RecordForm
from comptoir.web.listing import Column, Filter, ListSpec, ListState, Preset, display, iter_rows
from comptoir.web.models import SavedView
from comptoir.web.templatetags.web import number

SORTABLE_USER = "owner__first_name"


def _territories(user: Any) -> list[tuple[Any, str]]:
    return [(t.pk, t.name) for t in Territory.objects.filter(active=True)]


def _stages(user: Any) -> list[tuple[Any, str]]:
    return [(s.pk, f"{s.pipeline.name} · {s.name}" if not s.pipeline.is_default else s.name)
            for s in Stage.objects.select_related("pipeline").order_by("pipeline__name", "order")]


def _account_extra(qs: QuerySet[Any], key: str, value: Any) -> QuerySet[Any]:
    if key == "erp":
        linked = Exists(ExternalRef.objects.filter(object_type=ObjectType.ACCOUNT,
                                                   object_id=OuterRef("pk")))
        return qs.filter(linked) if value else qs.exclude(linked)
    if key == "active":  # inactive: archived or deleted in the ERP
        return qs.filter(open_for_business()) if value else qs.exclude(open_for_business())
    return qs


def account_badges(account: Account) -> list[tuple[str, str]]:
    """An account the ERP archived or deleted stays in the lists, marked (as Salesforce
    shows inactive records), so its history is still found."""
    if account.erp_deleted_at is not None:
        day = date_format(timezone.localtime(account.erp_deleted_at), "SHORT_DATE_FORMAT")
        return [(_("Deleted in the ERP on %(date)s") % {"date": day}, "danger")]
    if not account.active:
        return [(_("Inactive"), "warning")]
    return []


def _document_extra(qs: QuerySet[Any], key: str, value: Any) -> QuerySet[Any]:
    if key == "overdue":
        cond = {"amount_due__gt": 0, "due_date__lt": timezone.localdate()}
        return qs.filter(**cond) if value else qs.exclude(**cond)
    return qs


OWNER = Column("owner", _l("Owner"), sort=SORTABLE_USER)
UPDATED = Column("updated_at", _l("Updated"), sort="updated_at", kind="datetime", default=False)
CREATED = Column("created_at", pgettext_lazy("creation date", "Created"), sort="created_at",
                 kind="datetime", default=False)
OWNER_FILTER = Filter("owner", _l("Owner"), kind="user", lookup="owner_id")

SPECS: dict[str, ListSpec] = {
    "account": ListSpec(
        key="account", model=Account, title=_l("Accounts"),
        columns=[
            Column("legal_name", _l("Name"), sort="legal_name", link=True),
            Column("status", _l("Status"), sort="status", kind="badge"),
            Column("siren", _l("SIREN")),
            Column("billing_postcode", _l("Postcode"), sort="billing_postcode"),
            Column("billing_city", _l("City"), sort="billing_city"),
            Column("headcount_band", _l("Headcount"), kind="choice", default=False),
            Column("naf_code", _l("NAF code"), default=False),
            Column("phone", _l("Phone"), kind="phone", default=False),
            Column("email", _l("E-mail"), default=False),
            Column("territory", _l("Territory"), default=False),
            Column("active", _l("Active"), kind="bool", default=False),
            Column("erp_deleted_at", _l("Deleted in the ERP on"), sort="erp_deleted_at",
                   kind="datetime", default=False),
            OWNER, UPDATED, CREATED,
        ],
        filters=[
            Filter("status", _l("Status"), choices=Account.Status.choices),
            Filter("active", _l("Active"), kind="bool", lookup="@active"),
            OWNER_FILTER,
            Filter("territory", _l("Territory"), lookup="territory_id", choices=_territories),
            Filter("postcode", _l("Postcode starts with"), kind="prefix",
                   lookup="billing_postcode"),
            Filter("headcount", _l("Headcount"), lookup="headcount_band",
                   choices=HeadcountBand.choices),
            Filter("erp", _l("Linked to the ERP"), kind="bool", lookup="@erp"),
        ],
        default_sort="legal_name", search_fields=["legal_name", "trade_name", "siren"],
        select_related=["owner", "territory"],
        presets=[Preset("mine", _l("My accounts"), "owner=me"),
                 Preset("customers", _l("Customers"), "status=customer"),
                 Preset("prospects", _l("Prospects"), "status=prospect"),
                 Preset("active", _l("Active accounts"), "active=1")],
        create_url="account_create",
        empty_text=_l("No accounts match. Add one or import a file."),
        extra_filter=_account_extra, badges=account_badges,
    ),
    "contact": ListSpec(
        key="contact", model=Contact, title=_l("Contacts"),
        columns=[
            Column("name", _l("Name"), attr="__str__", sort="last_name", link=True),
            Column("account", _l("Account"), sort="account__legal_name"),
            Column("job_title", _l("Job title")),
            Column("email", _l("E-mail"), sort="email"),
            Column("phone", _l("Phone"), kind="phone"),
            Column("mobile", _l("Mobile"), kind="phone", default=False),
            Column("marketing_consent", _l("Consent"), kind="choice", default=False),
            OWNER, UPDATED, CREATED,
        ],
        filters=[
            OWNER_FILTER,
            Filter("consent", _l("Marketing consent"), lookup="marketing_consent",
                   choices=Contact.Consent.choices),
            Filter("account", _l("Account name"), kind="text", lookup="account__legal_name"),
        ],
        default_sort="name", search_fields=["last_name", "first_name", "email"],
        select_related=["account", "owner"],
        presets=[Preset("mine", _l("My contacts"), "owner=me")],
        create_url="contact_create",
        empty_text=_l("No contacts match. Add one from an account page."),
    ),
    "lead": ListSpec(
        key="lead", model=Lead, title=_l("Leads"),
        columns=[
            Column("name", _l("Name"), attr="__str__", sort="last_name", link=True),
            Column("company_name", _l("Company"), sort="company_name"),
            Column("email", _l("E-mail")),
            Column("phone", _l("Phone"), kind="phone", default=False),
            Column("source", _l("Source"), kind="choice", sort="source"),
            Column("status", _l("Status"), kind="badge", sort="status"),
            Column("score", _l("Score"), kind="number", sort="score"),
            OWNER, CREATED, UPDATED,
        ],
        filters=[
            Filter("status", _l("Status"), choices=Lead.Status.choices),
            Filter("source", _l("Source"), choices=Lead.Source.choices),
            OWNER_FILTER,
            Filter("score", _l("Minimum score"), kind="min"),
            Filter("created", pgettext_lazy("creation date", "Created"), kind="period",
                   lookup="created_at"),
        ],
        default_sort="-created_at",
        search_fields=["company_name", "last_name", "first_name", "email"],
        select_related=["owner"],
        presets=[Preset("mine", _l("My open leads"), "owner=me&status=new&status=working"),
                 Preset("qualified", _l("Qualified"), "status=qualified")],
        create_url="lead_create",
        empty_text=_l("No leads match. Add one or import a list."),
    ),
    "opportunity": ListSpec(
        key="opportunity", model=Opportunity, title=_l("Deals"),
        columns=[
            Column("name", _l("Name"), sort="name", link=True),
            Column("account", _l("Account"), sort="account__legal_name"),
            Column("stage", _l("Stage"), attr="stage.name", sort="stage__order"),
            Column("amount", _l("Amount"), kind="money", sort="amount"),
            Column("probability", _l("Probability"), kind="percent", sort="probability"),
            Column("expected_close_date", _l("Close date"), kind="date",
                   sort="expected_close_date"),
            Column("status", _l("Status"), kind="badge", sort="status"),
            OWNER, UPDATED,
        ],
        filters=[
            Filter("status", _l("Status"), choices=Opportunity.Status.choices),
            Filter("stage", _l("Stage"), lookup="stage_id", choices=_stages),
            OWNER_FILTER,
            Filter("close", _l("Close date"), kind="period", lookup="expected_close_date"),
            Filter("amount", _l("Minimum amount"), kind="min", lookup="amount"),
        ],
        default_sort="expected_close_date", search_fields=["name", "account__legal_name"],
        select_related=["account", "owner", "stage"],
        presets=[Preset("mine", _l("My open deals"), "owner=me&status=open"),
                 Preset("month", _l("Closing this month"), "status=open&close=month"),
                 Preset("won", _l("Won"), "status=won")],
        create_url="opportunity_create",
        empty_text=_l("No deals match. Create one from an account or convert a lead."),
    ),
    "activity": ListSpec(
        key="activity", model=Activity, title=_l("Activities"),
        columns=[
            Column("subject", _l("Subject"), sort="subject", link=True),
            Column("kind", _l("Kind"), kind="choice", sort="kind"),
            Column("due_at", _l("Due"), kind="datetime", sort="due_at"),
            Column("start_at", _l("Start"), kind="datetime", sort="start_at", default=False),
            Column("account", _l("Account")),
            Column("contact", _l("Contact"), default=False),
            Column("done", _l("Done"), kind="bool", sort="done"),
            OWNER, CREATED,
        ],
        filters=[
            Filter("kind", _l("Kind"), choices=Activity.Kind.choices),
            Filter("done", _l("Done"), kind="bool"),
            OWNER_FILTER,
            Filter("due", _l("Due"), kind="period", lookup="due_at__date"),
        ],
        default_sort="-created_at", search_fields=["subject"],
        select_related=["account", "contact", "owner"],
        presets=[Preset("todo", _l("My open tasks"), "owner=me&done=0"),
                 Preset("today", _l("Due today"), "owner=me&due=today"),
                 Preset("overdue", _l("Overdue"), "owner=me&done=0&due=overdue")],
        create_url="activity_create",
        empty_text=_l("Nothing here. Log a call or plan a task from any record."),
    ),
    "case": ListSpec(
        key="case", model=Case, title=_l("Cases"),
        columns=[
            Column("number", _l("Number"), sort="number", link=True),
            Column("subject", _l("Subject"), sort="subject"),
            Column("account", _l("Account"), sort="account__legal_name"),
            Column("kind", _l("Kind"), kind="choice", default=False),
            Column("priority", _l("Priority"), kind="badge", sort="priority"),
            Column("status", _l("Status"), kind="badge", sort="status"),
            OWNER, CREATED, UPDATED,
        ],
        filters=[
            Filter("status", _l("Status"), choices=Case.Status.choices),
            Filter("priority", _l("Priority"), choices=Case.Priority.choices),
            Filter("kind", _l("Kind"), choices=Case.Kind.choices),
            OWNER_FILTER,
        ],
        default_sort="-created_at", search_fields=["subject", "number"],
        select_related=["account", "owner"],
        presets=[Preset("open", _l("Open cases"), "status=new&status=open&status=waiting"),
                 Preset("mine", _l("My cases"), "owner=me&status=new&status=open&status=waiting"),
                 Preset("urgent", _l("Urgent"), "priority=urgent&status=new&status=open")],
        create_url="case_create",
        empty_text=_l("No cases match."),
    ),
    "product": ListSpec(
        key="product", model=Product, title=_l("Catalogue"),
        columns=[
            Column("code", _l("Code"), sort="code", link=True),
            Column("name", _l("Name"), sort="name"),
            Column("unit", _l("Unit"), kind="choice"),
            Column("tax_rate", _l("VAT rate"), kind="percent", sort="tax_rate"),
            Column("active", _l("Active"), kind="bool"),
            UPDATED,
        ],
        filters=[
            Filter("active", _l("Active"), kind="bool"),
            Filter("unit", _l("Unit"), choices=Product.Unit.choices),
        ],
        default_sort="code", search_fields=["code", "name"],
        presets=[Preset("active", _l("Active products"), "active=1")],
        create_url="product_create",
        empty_text=_l("The catalogue is empty. Add a product or sync it from the ERP."),
    ),
    "document": ListSpec(
        key="document", model=SalesDocument, title=_l("Documents"),
        columns=[
            Column("number", _l("Number"), sort="number", link=True),
            Column("kind", _l("Kind"), kind="choice", sort="kind"),
            Column("account", _l("Account"), sort="account__legal_name"),
            Column("status", _l("Status"), kind="badge", sort="status"),
            Column("issue_date", _l("Date"), kind="date", sort="issue_date"),
            Column("due_date", _l("Due date"), kind="date", sort="due_date", default=False),
            Column("total_excl_tax", _l("Total excl. tax"), kind="money",
                   sort="total_excl_tax", default=False),
            Column("total_incl_tax", _l("Total incl. tax"), kind="money",
                   sort="total_incl_tax"),
            Column("amount_due", _l("Amount due"), kind="money", sort="amount_due"),
            OWNER,
        ],
        filters=[
            Filter("kind", _l("Kind"), choices=SalesDocument.Kind.choices),
            Filter("status", _l("Status"), choices=SalesDocument.Status.choices),
            OWNER_FILTER,
            Filter("issued", _l("Date"), kind="period", lookup="issue_date"),
            Filter("overdue", _l("Overdue"), kind="bool", lookup="@overdue"),
        ],
        default_sort="-issue_date", search_fields=["number", "account__legal_name"],
        select_related=["account", "owner"],
        presets=[Preset("quotes", _l("Quotes"), "kind=quote"),
                 Preset("invoices", _l("Invoices"), "kind=invoice"),
                 Preset("overdue", _l("Overdue invoices"), "kind=invoice&overdue=1")],
        create_url="quote_create",
        empty_text=_l("No documents match. Create a quote from an account or a deal."),
        extra_filter=_document_extra,
    ),
}


def _spec(key: str) -> ListSpec:
    try:
        return SPECS[key]
    except KeyError as exc:
        raise Http404 from exc


def _clean_query(params: QueryDict) -> str:
    keep = params.copy()
    for k in ("page", "csrfmiddlewaretoken", "name", "format", "ids"):
        keep.pop(k, None)
    return keep.urlencode()


def _sort_links(state: ListState) -> dict[str, dict[str, str]]:
    links = {}
    for col in state.columns:
        if col.sort is None:
            continue
        current = state.sort.lstrip("-") == col.key
        desc = state.sort.startswith("-")
        params = state.params.copy()
        params["sort"] = f"-{col.key}" if current and not desc else col.key
        params.pop("page", None)
        links[col.key] = {
            "url": "?" + params.urlencode(),
            "aria": ("descending" if desc else "ascending") if current else "none",
        }
    return links


def _has_owner(spec: ListSpec) -> bool:
    return any(f.name == "owner" for f in spec.model._meta.get_fields())


@login_required
def list_view(request: HttpRequest, key: str) -> HttpResponse:
    spec = _spec(key)
    state = ListState(spec, request.GET, request.user)
    page = state.page(request.GET.get("page"))
    columns = state.columns
    rows = [{
        "pk": obj.pk, "url": reverse(f"web:{spec.key}_detail", args=[obj.pk]),
        "cells": [(c, *display(c, obj)) for c in columns],
        "badges": spec.badges(obj) if spec.badges is not None else [],
    } for obj in page.object_list]
    query = _clean_query(request.GET)
    can_assign = _updater(key) is not None and _has_owner(spec)
    # the catalogue is the data managers' (everyone reads it): no bulk buttons for the rest
    may_write = key != "product" or policy.can_manage_catalogue(request.user)
    saved = SavedView.objects.filter(user_id=int(request.user.pk or 0), list_key=key)
    filters: list[dict[str, Any]] = [
        {"filter": f, "options": f.options(request.user)
         if f.kind in ("choice", "user", "bool", "period") else [],
         "values": state.filter_values.get(f.key, [])} for f in state.filters]
    context = {
        "spec": spec, "state": state, "page_obj": page, "rows": rows, "columns": columns,
        "all_columns": [(c, c in columns) for c in state.all_columns],
        "sort_links": _sort_links(state), "chips": state.active_chips(),
        "filters": [f for f in filters if not f["filter"].custom],
        # admin-defined fields behind one disclosure: a dozen of them must not bury the rest
        "custom_filters": [f for f in filters if f["filter"].custom],
        "custom_active": len([f for f in filters if f["filter"].custom and f["values"]]),
        "presets": spec.presets, "saved_views": saved, "query": query,
        "count": page.paginator.count, "cap": listing.COUNT_CAP, "capped": page.paginator.capped,  # type: ignore[attr-defined]
        "list_url": reverse(f"web:{key}_list"),
        "create_url": reverse(f"web:{spec.create_url}") if spec.create_url else "",
        "title": spec.title, "new_label": pgettext("create", "New"),
        "can_assign": can_assign, "can_mass_edit": may_write and _updater(key) is not None,
        "can_delete": may_write and _deleter(key) is not None, "bulk_max": BULK_MAX,
        "owners": listing._users_for(request.user) if can_assign else [],
    }
    partial = request.htmx and request.htmx.target == "list-results"  # type: ignore[attr-defined]
    return render(request, "web/lists/results.html" if partial else "web/lists/list.html",
                  context)


# --- Export --------------------------------------------------------------------------------

class _Echo:
    def write(self, value: str) -> str:
        return value


def _export_rows(request: HttpRequest, spec: ListSpec) -> tuple[list[Column], QuerySet[Any]]:
    state = ListState(spec, request.GET, request.user)
    qs = state.queryset()
    ids = [int(i) for v in request.GET.getlist("ids") for i in v.split(",") if i.isdigit()]
    if ids:
        qs = qs.filter(pk__in=ids)
    return state.columns, qs


@login_required
def export_view(request: HttpRequest, key: str) -> HttpResponseBase:
    """The list as the user sees it (same filters, sort, columns and access) as CSV or XLSX."""
    spec = _spec(key)
    fmt = request.GET.get("format", "csv")
    columns, qs = _export_rows(request, spec)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"{key}s-{stamp}"
    headers = safe_row(str(c.label) for c in columns)
    if fmt == "xlsx":
        return _xlsx(filename, str(spec.title), headers, iter_rows(qs, columns))
    if fmt != "csv":
        return HttpResponse(_("Unknown export format."), status=400, content_type="text/plain")
    delimiter = ";" if (get_language() or "fr").startswith("fr") else ","
    writer = csv.writer(_Echo(), delimiter=delimiter)

    def stream() -> Iterator[str]:
        yield "\ufeff"  # spreadsheet programs read UTF-8 correctly with a BOM
        yield writer.writerow(headers)
        for row in iter_rows(qs, columns):
            yield writer.writerow(["" if v is None else v for v in safe_row(row)])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def _xlsx(filename: str, title: str, headers: list[str], rows: Iterator[list[Any]]
          ) -> HttpResponseBase:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31] or "Export")
    ws.append(headers)
    for n, row in enumerate(rows):
        if n >= 1_048_575:  # the format's own limit
            break
        ws.append(safe_row(row))
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return FileResponse(
        buffer, as_attachment=True, filename=f"{filename}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


# --- Bulk actions ----------------------------------------------------------------------------

def _updater(key: str) -> Any:
    """The domain service that changes one record of this list (owner included)."""
    from comptoir.activities.services import activity_update
    from comptoir.crm import services as crm
    from comptoir.sales.services import product_update, salesdocument_update
    from comptoir.service.services import case_update

    return {
        "account": lambda obj, **kw: crm.account_update(account=obj, **kw),
        "contact": lambda obj, **kw: crm.contact_update(contact=obj, **kw),
        "lead": lambda obj, **kw: crm.lead_update(lead=obj, **kw),
        "opportunity": lambda obj, **kw: crm.opportunity_update(opportunity=obj, **kw),
        "activity": lambda obj, **kw: activity_update(activity=obj, **kw),
        "case": lambda obj, **kw: case_update(case=obj, **kw),
        "product": lambda obj, **kw: product_update(product=obj, **kw),
        "document": lambda obj, **kw: salesdocument_update(document=obj, **kw),
    }.get(key)


def _deleter(key: str) -> Any:
    """The domain service that deletes one record of this list (it checks the right and
    keeps what a deletion keeps: audit, recycle bin)."""
    from comptoir.activities.services import activity_delete
    from comptoir.crm import services as crm
    from comptoir.sales.services import product_delete, salesdocument_delete
    from comptoir.service.services import case_delete

    return {
        "account": lambda obj, **kw: crm.account_delete(account=obj, **kw),
        "contact": lambda obj, **kw: crm.contact_delete(contact=obj, **kw),
        "lead": lambda obj, **kw: crm.lead_delete(lead=obj, **kw),
        "opportunity": lambda obj, **kw: crm.opportunity_delete(opportunity=obj, **kw),
        "activity": lambda obj, **kw: activity_delete(activity=obj, **kw),
        "case": lambda obj, **kw: case_delete(case=obj, **kw),
        "product": lambda obj, **kw: product_delete(product=obj, **kw),
        "document": lambda obj, **kw: salesdocument_delete(document=obj, **kw),
    }.get(key)


# A page holds 50 rows; a mass change of more than this is a data-management job (API, import)
BULK_MAX = 500


def _back(request: HttpRequest, key: str) -> str:
    query = request.POST.get("query", "")[:2000]
    return reverse(f"web:{key}_list") + (f"?{query}" if query else "")


def _selected_ids(request: HttpRequest) -> list[int]:
    """The ticked rows, in order, each once."""
    seen: dict[int, None] = {}
    for value in request.POST.getlist("ids"):
        for part in value.split(","):
            part = part.strip()
            if part.isdigit() and len(part) <= 18:
                seen.setdefault(int(part), None)
    return list(seen)


def _too_many(request: HttpRequest, ids: list[int]) -> bool:
    if len(ids) <= BULK_MAX:
        return False
    messages.error(request, _("You selected %(n)s records: at most %(max)s can be changed at "
                              "once. Select fewer, or narrow the list with filters.")
                   % {"n": number(len(ids)), "max": number(BULK_MAX)})
    return True


def _reason(exc: Any) -> str:
    """A service's refusal in one sentence: its field messages, else its message."""
    details = [m for msgs in exc.fields.values() for m in msgs]
    return " ".join(dict.fromkeys(details)) if details else str(exc.message)


@dataclass
class Outcome:
    """What a bulk action did, record by record, to tell the user."""

    done: int = 0
    forbidden: int = 0  # the user may not change them
    missing: int = 0  # gone, or never visible to the user
    failed: list[tuple[str, str]] = dc_field(default_factory=list)  # (record, why)

    def report(self, request: HttpRequest, done_message: str) -> None:
        if self.done:
            messages.success(request, done_message)
        if self.forbidden:
            messages.warning(request, ngettext(
                "%(n)s record skipped: you may not change it.",
                "%(n)s records skipped: you may not change them.",
                self.forbidden) % {"n": number(self.forbidden)})
        if self.missing:
            messages.warning(request, ngettext(
                "%(n)s record skipped: it no longer exists or you cannot see it.",
                "%(n)s records skipped: they no longer exist or you cannot see them.",
                self.missing) % {"n": number(self.missing)})
        for name, why in self.failed[:5]:
            messages.error(request, _("Not changed: %(record)s — %(reason)s")
                           % {"record": name, "reason": why})
        if len(self.failed) > 5:
            more = len(self.failed) - 5
            messages.error(request, ngettext("…and %(n)s other record not changed.",
                                             "…and %(n)s other records not changed.",
                                             more) % {"n": number(more)})
        if not (self.done or self.forbidden or self.missing or self.failed):
            messages.info(request, _("Nothing was changed."))


def _each(spec: ListSpec, user: Any, ids: list[int], action: policy.Action,
          write: Any) -> Outcome:
    """Run ``write(obj)`` on each selected record the user sees, one transaction per record
    (all or nothing for each), checking the right first; a refusal skips the record, never
    the others."""
    from comptoir.core.errors import DomainError, Forbidden

    outcome = Outcome()
    rows = {obj.pk: obj for obj in spec.base_queryset(user).filter(pk__in=ids)}
    allowed = set(policy.restrict(spec.model._default_manager.filter(pk__in=list(rows)),
                                  user, action).values_list("pk", flat=True))
    outcome.missing = len(ids) - len(rows)
    for pk in ids:
        obj = rows.get(pk)
        if obj is None:
            continue
        if pk not in allowed:
            outcome.forbidden += 1
            continue
        try:
            with transaction.atomic():
                write(obj)
        except Forbidden:
            outcome.forbidden += 1
        except DomainError as exc:
            outcome.failed.append((str(obj), _reason(exc)))
        else:
            outcome.done += 1
    return outcome


@login_required
@require_POST
def bulk_assign(request: HttpRequest, key: str) -> HttpResponse:
    """Give the selected records to one owner, each through its service (access, audit)."""
    spec = _spec(key)
    update = _updater(key)
    back = _back(request, key)
    ids = _selected_ids(request)
    owner = request.POST.get("assign_to", "")
    if update is None or not ids or not owner.isdigit():
        messages.error(request, _("Select records and the person to give them to."))
        return HttpResponseRedirect(back)
    if _too_many(request, ids):
        return HttpResponseRedirect(back)
    outcome = _each(spec, request.user, ids, "transfer",
                    lambda obj: update(obj, user=request.user, data={"owner_id": int(owner)},
                                       source="ui"))
    outcome.report(request, ngettext("%(n)d record assigned.", "%(n)d records assigned.",
                                     outcome.done) % {"n": outcome.done})
    return HttpResponseRedirect(back)


# --- Mass edit -------------------------------------------------------------------------------

class DocumentMassForm(RecordForm):
    """Sales documents come from the ERP or the quote editor: in bulk, only their owner and
    custom fields are people's to change."""

    object_type = ObjectType.SALES_DOCUMENT
    main = ("owner",)
    owner = OwnerField(queryset=User.objects.none(), label=_l("Owner"), required=False)

    class Meta:
        model = SalesDocument
        fields = ("owner",)


# Fields a bulk change would make no sense of: what identifies one record, what a dedicated
# action sets (lead status "converted" is the conversion's).
NOT_IN_BULK = {"legal_name", "trade_name", "siren", "siret", "vat_number", "first_name",
               "last_name", "name", "code", "subject"}


def _mass_form(key: str, user: Any) -> RecordForm | None:
    cls = DocumentMassForm if key == "document" else FORMS.get(key)
    if cls is None:
        return None
    form = cls(user=user)
    form.cleaned_data = {}  # field checks of some forms read it
    return form


def mass_fields(key: str, user: Any) -> tuple[RecordForm | None, dict[str, forms.Field]]:
    """The fields one may set on many records at once: the record form's own (owner and
    custom fields included), minus pickers, unique values and each record's own identity."""
    form = _mass_form(key, user)
    if form is None:
        return None, {}
    model = _spec(key).model
    out: dict[str, forms.Field] = {}
    for name, f in form.fields.items():
        if f.disabled or isinstance(f, PickerField):
            continue
        if name not in form.custom_names:
            if name in NOT_IN_BULK:
                continue
            try:
                model_field = model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if getattr(model_field, "unique", False):
                continue
        out[name] = f
    return form, out


class MassValueForm(forms.Form):
    """The one value given to every selected record, checked as the record form checks it."""

    def __init__(self, *args: Any, field: forms.Field, label: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(field, forms.BooleanField):  # a box cannot say "set to no" explicitly
            value: forms.Field = forms.TypedChoiceField(
                choices=[("1", _("Yes")), ("0", _("No"))], coerce=lambda v: v == "1")
        else:
            value = copy.deepcopy(field)
        value.label = _("New value for “%(field)s”") % {"field": label}
        if not value.required:
            value.help_text = " ".join(str(t) for t in (value.help_text,
                                                        _("Leave empty to clear the field."))
                                       if t)
        value.disabled = False
        value.initial = None  # no model default offered as if it were the records' value
        self.fields["value"] = value


def _to_service(form: RecordForm, name: str, value: Any
                ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(data, custom) for the update service, as the record form would send them."""
    if name in form.custom_names:
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        return {}, {name.removeprefix(CUSTOM_PREFIX): value}
    data = form.service_value(name, value)
    if not data:  # a value the form only sends when changed (a deal's probability)
        data = RecordForm.service_value(form, name, value)
    return data, None


def _value_errors(form: RecordForm, name: str, value: Any) -> list[str]:
    """What the service would say of the value itself (identifiers, e-mail, phone)."""
    if not isinstance(value, str) or not value or name in form.custom_names:
        return []
    return [str(m) for m in form.field_checks({name: value}).get(name, [])]


@login_required
@require_POST
def mass_edit(request: HttpRequest, key: str) -> HttpResponse:
    """Set one field to one value on the selected records, each through its own service
    (access, ERP-owned fields, versions, audit): a refused record is skipped and said."""
    spec = _spec(key)
    update = _updater(key)
    back = _back(request, key)
    ids = _selected_ids(request)
    form, fields = mass_fields(key, request.user)
    if update is None or form is None or not fields:
        messages.error(request, _("These records cannot be edited in bulk."))
        return HttpResponseRedirect(back)
    if not ids:
        messages.error(request, _("Select the records to edit first."))
        return HttpResponseRedirect(back)
    if _too_many(request, ids):
        return HttpResponseRedirect(back)
    name = request.POST.get("field", "")
    applying = request.POST.get("apply") == "1"
    if name not in fields:
        if applying:  # never another field than the one asked for
            messages.error(request, _("This field cannot be changed in bulk."))
            applying = False
        name = "owner" if "owner" in fields else next(iter(fields))
    label = form[name].label
    value_form = MassValueForm(request.POST if applying else None, field=fields[name],
                               label=label, prefix="mass")
    if applying and value_form.is_valid():
        value = value_form.cleaned_data["value"]
        for message in _value_errors(form, name, value):
            value_form.add_error("value", message)
        if value_form.is_valid():
            data, custom = _to_service(form, name, value)
            action: policy.Action = "transfer" if name == "owner" else "change"

            def write(obj: Any) -> None:
                obj._expected_version = obj.version  # refused if changed since it was read
                update(obj, user=request.user, data=data, custom=custom, source="ui")

            outcome = _each(spec, request.user, ids, action, write)
            outcome.report(request, ngettext(
                "%(n)s record updated: %(field)s changed.",
                "%(n)s records updated: %(field)s changed.",
                outcome.done) % {"n": number(outcome.done), "field": label})
            return HttpResponseRedirect(back)
    context = {
        "spec": spec, "title": ngettext("Edit %(n)s selected record", "Edit %(n)s selected records",
                                        len(ids)) % {"n": number(len(ids))},
        "ids": ids, "count": len(ids), "query": request.POST.get("query", "")[:2000],
        "back": back, "field_choices": [(n, form[n].label) for n in fields],
        "field": name, "value_form": value_form,
        "custom_names": form.custom_names,
    }
    status = 422 if applying and not request.htmx else 200  # type: ignore[attr-defined]
    return render(request, "web/lists/mass_edit.html", context, status=status)


@login_required
@require_POST
def mass_delete(request: HttpRequest, key: str) -> HttpResponse:
    """Delete the selected records after a confirmation, each through its delete service."""
    spec = _spec(key)
    delete = _deleter(key)
    back = _back(request, key)
    ids = _selected_ids(request)
    if delete is None or not ids:
        messages.error(request, _("Select the records to delete first."))
        return HttpResponseRedirect(back)
    if _too_many(request, ids):
        return HttpResponseRedirect(back)
    if request.POST.get("confirm") == "1":
        outcome = _each(spec, request.user, ids, "delete",
                        lambda obj: delete(obj, user=request.user, source="ui"))
        outcome.report(request, ngettext("%(n)s record deleted.", "%(n)s records deleted.",
                                         outcome.done) % {"n": number(outcome.done)})
        return HttpResponseRedirect(back)
    visible = spec.base_queryset(request.user).filter(pk__in=ids)
    deletable = list(policy.restrict(visible, request.user, "delete")[:BULK_MAX])
    context = {
        "spec": spec, "title": ngettext("Delete %(n)s selected record",
                                        "Delete %(n)s selected records",
                                        len(ids)) % {"n": number(len(ids))},
        "ids": ids, "count": len(ids),
        "deletable": deletable[:20], "n_deletable": len(deletable),
        "skipped": len(ids) - len(deletable),
        "query": request.POST.get("query", "")[:2000], "back": back,
    }
    return render(request, "web/lists/mass_delete.html", context)


# --- Saved views ---------------------------------------------------------------------------

@login_required
@require_POST
def view_save(request: HttpRequest, key: str) -> HttpResponse:
    _spec(key)
    name = request.POST.get("name", "").strip()[:80]
    query = request.POST.get("query", "")[:2000]
    target = reverse(f"web:{key}_list") + (f"?{query}" if query else "")
    if not name:
        messages.error(request, _("Give the view a name to save it."))
        return HttpResponseRedirect(target)
    SavedView.objects.update_or_create(user=request.user, list_key=key, name=name,
                                       defaults={"query": query})
    messages.success(request, _("View “%(name)s” saved.") % {"name": name})
    return HttpResponseRedirect(target)


@login_required
@require_POST
def view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=pk, user=request.user)
    view.delete()
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return HttpResponseRedirect(reverse(f"web:{view.list_key}_list"))


LIST_PATHS = {"account": "accounts", "contact": "contacts", "lead": "leads",
              "opportunity": "deals/list", "activity": "activities", "case": "cases",
              "product": "catalogue", "document": "documents"}

urlpatterns = [
    *[path(f"{prefix}/", list_view, {"key": key}, name=f"{key}_list")
      for key, prefix in LIST_PATHS.items()],
    path("export/<str:key>/", export_view, name="list_export"),
    path("bulk/<str:key>/assign/", bulk_assign, name="list_bulk_assign"),
    path("bulk/<str:key>/edit/", mass_edit, name="list_mass_edit"),
    path("bulk/<str:key>/delete/", mass_delete, name="list_mass_delete"),
    path("views/<str:key>/save/", view_save, name="view_save"),
    path("views/<int:pk>/delete/", view_delete, name="view_delete"),
]
