"""Correcting a quarantined record in the page, and an import's refused rows.

``sync/quarantine/<pk>/`` shows one record (reason, faulty field, connection, run, where) with
a form of its fields, the faulty one first; "Save and replay" corrects and applies it at
once. ``imports/<pk>/refused/`` lists the refused rows of one import, each with a Correct link
and a Replay button. Who sees what is ``comptoir.integration.quarantine.quarantine_visible``
(data managers everything, anyone else their own imports' rows); a record one may not see is
a 404. All the work is in ``comptoir.integration.quarantine``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from comptoir.core.errors import DomainError, NotFound, ValidationFailed
from comptoir.integration import imports
from comptoir.integration import quarantine as service
from comptoir.integration.import_keys import HIDDEN
from comptoir.integration.import_models import ImportJob
from comptoir.integration.models import QuarantinedRecord
from comptoir.web.views.quality_issues import field_label

ROWS_PER_PAGE = 50
LONG_VALUE = 80  # a value longer than this is edited in a text area


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return ""


def _visible_job(request: HttpRequest, record: QuarantinedRecord) -> ImportJob | None:
    """The import of the record, when the user may see it."""
    return imports.imports_visible(request.user).filter(
        connection_id=record.connection_id).first()


def _back(request: HttpRequest, record: QuarantinedRecord) -> str:
    """Where to go after a replay: ``next``, else the import's page, else the sync page."""
    job = _visible_job(request, record)
    if job is not None:
        fallback = reverse("web:import_detail", args=[job.pk])
    else:
        fallback = reverse("web:sync") + "#quarantine"
    return _safe_next(request) or fallback


def _form_fields(record: QuarantinedRecord, values: dict[str, str],
                 errors: dict[str, list[str]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The form's fields, the faulty ones first, and the errors no field shows.

    ``errors`` are by CRM field (the loader's) or by field of the record (the form's); each
    is shown next to the field of the record that feeds it."""
    mapping = service.stream_mapping(record)
    names = service.correctable_fields(record, mapping)
    payload = record.payload if isinstance(record.payload, dict) else {}
    target = mapping.target if mapping is not None else ""
    fills: dict[str, list[str]] = {}
    if mapping is not None:
        for crm, spec in mapping.fields.items():
            for source in spec.sources:
                fills.setdefault(source, []).append(field_label(target, crm) if target
                                                    else crm)
    by_name: dict[str, list[str]] = {}
    general: list[str] = []
    faulty: list[str] = []
    if record.field:
        faulty += service.source_columns(mapping, record.field, names)
    for key, messages_ in errors.items():
        columns = service.source_columns(mapping, key, names)
        if not columns:
            general += [str(m) for m in messages_]
            continue
        for column in columns:
            by_name.setdefault(column, []).extend(str(m) for m in messages_)
            if column not in faulty:
                faulty.append(column)
    ordered = faulty + [n for n in names if n not in faulty]
    out = []
    for index, name in enumerate(ordered):
        value = values.get(name, service.text(payload.get(name)))
        out.append({
            "index": index, "name": name, "value": value, "errors": by_name.get(name, []),
            "faulty": name in faulty, "fills": ", ".join(fills.get(name, [])),
            "editable": service.editable(payload.get(name)),
            "long": len(value) > LONG_VALUE or "\n" in value,
        })
    return out, general


def _record_context(request: HttpRequest, record: QuarantinedRecord, *,
                    values: dict[str, str] | None = None,
                    errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    errs = errors if errors is not None else (
        record.errors if isinstance(record.errors, dict) else {})
    if errors is None and record.field and record.field not in errs:
        errs = {record.field: [record.reason], **errs}
    fields, general = _form_fields(record, values or {}, errs)
    mapping = service.stream_mapping(record)
    job = _visible_job(request, record)
    return {
        "title": _("Correct the record %(what)s") % {
            "what": record.external_id or record.position or record.pk},
        "q": record, "job": job, "fields": fields, "general_errors": general,
        "field_label": (field_label(mapping.target, record.field)
                        if mapping is not None and record.field else record.field),
        "refusal": service.quarantine_refusal(record),
        "first_error": next((f["index"] for f in fields if f["errors"] or f["faulty"]), 0),
        "hidden": [k for k in (record.payload or {}) if k in HIDDEN],
        "next": _safe_next(request),
        "back_url": _back(request, record),
        "original": (record.original_payload
                     if isinstance(record.original_payload, dict) else None),
    }


@login_required
@require_http_methods(["GET", "POST"])
def correct(request: HttpRequest, pk: int) -> HttpResponse:
    """One quarantined record and the form to correct and replay it."""
    record = get_object_or_404(service.quarantine_visible(request.user), pk=pk)
    if request.method != "POST":
        return render(request, "web/quarantine/correct.html", _record_context(request, record))
    values: dict[str, str] = {}
    for key in request.POST:
        if key.startswith("k-") and (index := key[2:]).isdigit():
            values[request.POST.get(key, "")] = request.POST.get(f"v-{index}", "")
    try:
        record = service.quarantine_correct(record, user=request.user, values=values)
    except NotFound as exc:
        raise Http404 from exc
    except ValidationFailed as exc:
        errors = exc.fields or {"__all__": [exc.message]}
        return render(request, "web/quarantine/correct.html",
                      _record_context(request, record, values=values, errors=errors),
                      status=422)
    except DomainError as exc:  # replayed meanwhile, a run alive, an undone import
        record.refresh_from_db()
        context = _record_context(request, record, values=values)
        context["general_errors"] = [exc.message, *context["general_errors"]]
        return render(request, "web/quarantine/correct.html", context, status=exc.status)
    except Exception as exc:  # a broken mapping or connector: say so, never a 500
        record.refresh_from_db()
        context = _record_context(request, record, values=values)
        context["general_errors"] = [_("The record could not be replayed: %(error)s")
                                     % {"error": exc}]
        return render(request, "web/quarantine/correct.html", context, status=422)
    if record.status == QuarantinedRecord.Status.REPLAYED:
        messages.success(request, _("Corrected and replayed: the record is now in the CRM."))
        return HttpResponseRedirect(_back(request, record))
    context = _record_context(request, record)  # its new reason, next to the field
    context["still_refused"] = True
    return render(request, "web/quarantine/correct.html", context, status=422)


@login_required
@require_POST
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Replay a record as it is (the refused rows' Replay button, for reps too)."""
    record = get_object_or_404(service.quarantine_visible(request.user), pk=pk)
    try:
        record = service.quarantine_retry(record, user=request.user)
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    except Exception as exc:  # a broken mapping or connector: say so, never a 500
        messages.error(request, _("The record could not be replayed: %(error)s")
                       % {"error": exc})
    else:
        if record.status == QuarantinedRecord.Status.REPLAYED:
            messages.success(request, _("Replayed: the record is now in the CRM."))
        else:
            messages.error(request, _("Still refused: %(reason)s") % {"reason": record.reason})
    return HttpResponseRedirect(_back(request, record))


@login_required
def refused_rows(request: HttpRequest, pk: int) -> HttpResponse:
    """The refused rows of one import: each with its line, reason and values, to correct or
    replay; the corrected ones too on demand."""
    job = get_object_or_404(imports.imports_visible(request.user), pk=pk)
    if job.run_id is None or job.connection_id is None:
        raise Http404
    show_all = request.GET.get("show") == "all"
    qs = service.quarantine_visible(request.user).filter(connection_id=job.connection_id)
    open_count = qs.filter(status=QuarantinedRecord.Status.OPEN).count()
    if not show_all:
        qs = qs.filter(status=QuarantinedRecord.Status.OPEN)
    page = Paginator(qs.order_by("id"), ROWS_PER_PAGE).get_page(request.GET.get("page"))
    here = request.get_full_path()
    records = list(page.object_list)
    mapping = service.stream_mapping(records[0]) if records else None
    target = mapping.target if mapping is not None else job.object_type
    rows = []
    for q in records:
        payload = q.payload if isinstance(q.payload, dict) else {}
        rows.append({
            "q": q, "line": service.line_of(q),
            "field_label": field_label(target, q.field) if q.field else "",
            "values": [(k, service.text(v)) for k, v in payload.items()
                       if k not in HIDDEN and service.text(v)],
            "correct_url": reverse("web:quarantine_correct", args=[q.pk]) + "?" + urlencode(
                {"next": here}),
            "refusal": service.quarantine_refusal(q),
        })
    return render(request, "web/quarantine/refused.html", {
        "title": _("Refused rows of %(file)s") % {"file": job.filename},
        "job": job, "rows": rows, "page_obj": page, "show_all": show_all,
        "open_count": open_count, "here": here,
        "object": imports.object_label(job.object_type),
    })


urlpatterns = [
    path("sync/quarantine/<int:pk>/", correct, name="quarantine_correct"),
    path("sync/quarantine/<int:pk>/retry/", retry, name="quarantine_retry"),
    path("imports/<int:pk>/refused/", refused_rows, name="import_refused_rows"),
]
