"""The lists of every object, their exports and saved views (R13)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
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

from comptoir.access.models import Territory
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
from comptoir.web.listing import Column, Filter, ListSpec, ListState, Preset, display, iter_rows
from comptoir.web.models import SavedView

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
    saved = SavedView.objects.filter(user_id=int(request.user.pk or 0), list_key=key)
    context = {
        "spec": spec, "state": state, "page_obj": page, "rows": rows, "columns": columns,
        "all_columns": [(c, c in columns) for c in spec.columns],
        "sort_links": _sort_links(state), "chips": state.active_chips(),
        "filters": [{"filter": f, "options": f.options(request.user)
                     if f.kind in ("choice", "user", "bool", "period") else [],
                     "values": state.filter_values.get(f.key, [])} for f in spec.filters],
        "presets": spec.presets, "saved_views": saved, "query": query,
        "count": page.paginator.count, "cap": listing.COUNT_CAP, "capped": page.paginator.capped,  # type: ignore[attr-defined]
        "list_url": reverse(f"web:{key}_list"),
        "create_url": reverse(f"web:{spec.create_url}") if spec.create_url else "",
        "title": spec.title, "new_label": pgettext("create", "New"),
        "can_assign": _updater(key) is not None,
        "owners": listing._users_for(request.user) if _updater(key) is not None else [],
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
    from comptoir.sales.services import salesdocument_update
    from comptoir.service.services import case_update

    return {
        "account": lambda obj, **kw: crm.account_update(account=obj, **kw),
        "contact": lambda obj, **kw: crm.contact_update(contact=obj, **kw),
        "lead": lambda obj, **kw: crm.lead_update(lead=obj, **kw),
        "opportunity": lambda obj, **kw: crm.opportunity_update(opportunity=obj, **kw),
        "activity": lambda obj, **kw: activity_update(activity=obj, **kw),
        "case": lambda obj, **kw: case_update(case=obj, **kw),
        "document": lambda obj, **kw: salesdocument_update(document=obj, **kw),
    }.get(key)


BULK_MAX = 200


@login_required
@require_POST
def bulk_assign(request: HttpRequest, key: str) -> HttpResponse:
    """Give the selected records to one owner, each through its service (access, audit)."""
    from comptoir.core.errors import DomainError

    spec = _spec(key)
    update = _updater(key)
    back = reverse(f"web:{key}_list") + "?" + request.POST.get("query", "")[:2000]
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()][:BULK_MAX]
    owner = request.POST.get("assign_to", "")
    if update is None or not ids or not owner.isdigit():
        messages.error(request, _("Select records and the person to give them to."))
        return HttpResponseRedirect(back)
    done, refused = 0, []
    for obj in spec.base_queryset(request.user).filter(pk__in=ids):
        try:
            with transaction.atomic():
                update(obj, user=request.user, data={"owner_id": int(owner)}, source="ui")
        except DomainError as exc:
            refused.append(f"{obj}: {exc.message}")
        else:
            done += 1
    if done:
        messages.success(request, ngettext("%(n)d record assigned.", "%(n)d records assigned.",
                                           done) % {"n": done})
    for reason in refused[:5]:
        messages.error(request, reason)
    return HttpResponseRedirect(back)


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
    path("views/<str:key>/save/", view_save, name="view_save"),
    path("views/<int:pk>/delete/", view_delete, name="view_delete"),
]
