"""Data-quality area: the values the syncs left out of records that did land (``FieldIssue``).

A record whose only problems are optional values (a bad e-mail, phone, SIREN…) lands without
them; each value is kept with its reason. There is nothing to do here but read: an issue
resolves itself when the other system sends a valid value, so the list says what to fix at the
source. The same rows show on a run's page (what that run left out) and on the record's
quality card (``record_issues``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_GET

from comptoir.core.models import ObjectType
from comptoir.integration.loader import SPECS
from comptoir.integration.models import Connection, FieldIssue
from comptoir.web.objects import OBJECTS, detail_url_for

from .quality import render_quality, require_data_manager

PER_PAGE = 30
SORTS: dict[str, tuple[str, str]] = {"newest": ("-created_at", "-id"),
                                     "oldest": ("created_at", "id")}
SORT_LABELS: tuple[tuple[str, Any], ...] = (("newest", _l("Newest first")),
                                            ("oldest", _l("Oldest first")))
FIELD_CHOICES_LIMIT = 200  # distinct fields offered in the filter; a mapping has far fewer
FIELD_NAME = re.compile(r"[A-Za-z0-9_.]{1,120}")  # what the loader records (``lines.2.quantity``)


def model_of(object_type: str) -> type[Model] | None:
    """The model a sync loads ``object_type`` into (the loader's own table of targets)."""
    spec = SPECS.get(object_type)
    return spec.model if spec is not None else None


def field_label(object_type: str, name: str) -> str:
    """The field's verbose name on the target model; a parent given by its external id
    (``account_external_id``) takes its relation's name; anything else (a document line's
    ``lines.2.quantity``) keeps the name the loader recorded."""
    model = model_of(object_type)
    if model is None:
        return name
    for candidate in (name, name.removesuffix("_external_id")):
        try:
            found: Any = model._meta.get_field(candidate)
        except FieldDoesNotExist:
            continue
        label = str(getattr(found, "verbose_name", "") or "")
        if label:
            return label[:1].upper() + label[1:]
    return name


def type_label(object_type: str) -> str:
    try:
        return str(ObjectType(object_type).label)
    except ValueError:
        return object_type


def issue_rows(issues: Iterable[FieldIssue]) -> list[dict[str, Any]]:
    """One row per issue with what a person needs to read it: the record's name and page, the
    field's label. The records are read in one query per object type on the page."""
    items = list(issues)
    wanted: dict[str, set[int]] = {}
    for issue in items:
        wanted.setdefault(issue.object_type, set()).add(issue.object_id)
    records: dict[str, dict[int, Model]] = {}
    for object_type, ids in wanted.items():
        model = model_of(object_type)
        records[object_type] = (model._default_manager.in_bulk(list(ids))
                                if model is not None else {})
    rows = []
    for issue in items:
        obj = records.get(issue.object_type, {}).get(issue.object_id)
        kind = type_label(issue.object_type)
        if obj is None:
            label = _("%(kind)s #%(id)s (deleted)") % {"kind": kind, "id": issue.object_id}
        else:
            label = str(obj) or f"{kind} #{issue.object_id}"
        url = (detail_url_for(issue.object_type, issue.object_id)
               if obj is not None and issue.object_type in OBJECTS else "")
        rows.append({"issue": issue, "record": label, "kind": kind, "url": url,
                     "field": field_label(issue.object_type, issue.field)})
    return rows


def record_issues(object_type: str, pk: int) -> list[dict[str, Any]]:
    """The open left-out values of one record, for its quality card: one query on the
    ``fieldissue_record`` index. Shown to whoever may see the record: the values came from
    the other system about this very record and reveal nothing hidden. No query for the
    kinds of record no sync loads."""
    if model_of(object_type) is None:
        return []
    issues = (FieldIssue.objects.filter(object_type=object_type, object_id=pk,
                                        status=FieldIssue.Status.OPEN)
              .select_related("connection").order_by("field", "id"))
    return [{"issue": i, "field": field_label(object_type, i.field)} for i in issues]


def _choice(value: str | None, allowed: Iterable[str]) -> str:
    """A filter's value when it is one of the offered ones; anything else means no filter
    (a mistyped or hostile URL shows the whole list, never an error)."""
    return value if value and value in set(allowed) else ""


@login_required
@require_GET
def field_issues(request: HttpRequest) -> HttpResponse:
    """Open left-out values, filtered by connection, object type and field, newest first."""
    require_data_manager(request)
    connections = list(Connection.objects.order_by("name").values_list("name", flat=True))
    types = [(value, type_label(value)) for value in SPECS]
    connection = _choice(request.GET.get("connection"), connections)
    object_type = _choice(request.GET.get("object"), [v for v, _label in types])
    sort = _choice(request.GET.get("sort"), SORTS) or "newest"
    qs = FieldIssue.objects.filter(status=FieldIssue.Status.OPEN)
    if connection:
        qs = qs.filter(connection__name=connection)
    if object_type:
        qs = qs.filter(object_type=object_type)
    offered: dict[str, str] = {}
    for otype, name in (qs.order_by("field", "object_type").values_list("object_type", "field")
                        .distinct()[:FIELD_CHOICES_LIMIT]):
        offered.setdefault(name, field_label(otype, name))
    # Any field name is accepted (the options follow the other filters, and a field chosen
    # first then narrowed by connection must give "nothing", not the whole list).
    field = request.GET.get("field") or ""
    field = field if FIELD_NAME.fullmatch(field) else ""
    if field:
        offered.setdefault(field, field_label(object_type, field) if object_type else field)
    fields = sorted(offered.items(), key=lambda item: (item[1].lower(), item[0]))
    if field:
        qs = qs.filter(field=field)
    page = Paginator(qs.select_related("connection").order_by(*SORTS[sort]),
                     PER_PAGE).get_page(request.GET.get("page"))
    return render_quality(request, "web/quality/field_issues.html", {
        "rows": issue_rows(page.object_list), "page_obj": page,
        "connections": connections, "connection": connection,
        "types": types, "object_type": object_type,
        "fields": fields, "field": field,
        "sorts": SORT_LABELS, "sort": sort,
        "filtered": bool(connection or object_type or field),
    }, tab="field_issues")


urlpatterns = [
    path("quality/field-issues/", field_issues, name="quality_field_issues"),
]
