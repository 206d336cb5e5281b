"""The import wizard's pages: upload, map the columns, audit and dry run, run, result.

Every step is on the import's own page, so it can be left and come back to; while a dry run
or the run is alive, its status part polls itself every two seconds (htmx). All the work is in
``comptoir.integration.imports``; these views only read forms and render.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from comptoir.access import policy
from comptoir.core.errors import DomainError, Forbidden, ValidationFailed
from comptoir.integration import import_undo, import_values
from comptoir.integration import imports as service
from comptoir.integration.import_models import ImportJob
from comptoir.integration.models import SyncRun

ROWS_PER_PAGE = 50
STATUS_LABELS = {
    "created": gettext_lazy("Would be created"),
    "updated": gettext_lazy("Would update its record"),
    "unchanged": gettext_lazy("Already up to date"),
    "matched": gettext_lazy("Matched to an existing record"),
    "refused": gettext_lazy("Refused"),
}
STATUS_TONES = {"created": "success", "updated": "info", "unchanged": "neutral",
                "matched": "info", "refused": "danger"}


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("CSV (separated by semicolons, commas or tabs, any encoding) "
                               "or Excel .xlsx, up to 20 MB. The first row names the "
                               "columns."))
    object_type = forms.ChoiceField(label=gettext_lazy("Each row is"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice = self.fields["object_type"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = [
            (name, service.object_label(name)) for name in service.importable_objects(user)]


def _require_importer(request: HttpRequest) -> None:
    """The import pages exist only for those who may import something (404 otherwise)."""
    if not service.can_import(request.user):
        raise Http404


def _job(request: HttpRequest, pk: int) -> ImportJob:
    _require_importer(request)
    return get_object_or_404(service.imports_visible(request.user), pk=pk)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The upload form and the imports the user may see."""
    _require_importer(request)
    status = 200
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            try:
                job = service.import_create(user=request.user,
                                            upload=form.cleaned_data["file"],
                                            object_type=form.cleaned_data["object_type"])
            except ValidationFailed as exc:
                for name, errors in exc.fields.items():
                    for error in errors:
                        form.add_error(name if name in form.fields else None, error)
                if not exc.fields:
                    form.add_error(None, exc.message)
            else:
                return HttpResponseRedirect(reverse("web:import_detail", args=[job.pk]))
        status = 422
    else:
        form = UploadForm(user=request.user)
    jobs = Paginator(service.imports_visible(request.user), 20).get_page(request.GET.get("page"))
    return render(request, "web/imports/index.html", {
        "title": _("Import"), "form": form, "page_obj": jobs,
        "jobs": [{"job": j, "state": service.import_state(j),
                  "object": service.object_label(j.object_type)} for j in jobs],
    }, status=status)


def _columns(job: ImportJob) -> list[dict[str, Any]]:
    samples = list(zip(*job.preview, strict=False)) if job.preview else []
    return [{"index": i, "name": column, "field": job.mapping.get(column, ""),
             "samples": [s for s in (samples[i] if i < len(samples) else ()) if s][:3]}
            for i, column in enumerate(job.columns)]


def _status_context(request: HttpRequest, job: ImportJob) -> dict[str, Any]:
    state = service.import_state(job)
    context: dict[str, Any] = {"job": job, "state": state,
                               "alive": state in ("checking", "running", "undoing"),
                               "audit_invalid": sum(inv.get("count", 0) for inv in
                                                    (job.audit or {}).get("invalid", []))}
    labels = dict(service.fields_for(job.object_type)) if job.dry_run_id else {}
    dry = job.dry_run
    if dry is not None and dry.status not in (SyncRun.Status.PENDING, SyncRun.Status.RUNNING):
        rows = (dry.details or {}).get("rows") or []
        show = request.GET.get("show", "")
        if show in STATUS_LABELS:
            rows = [r for r in rows if r["status"] == show]
        page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
        context.update(show=show, rows_page=page, rows=[
            {**r, "label_status": STATUS_LABELS.get(r["status"], r["status"]),
             "field_label": labels.get(r.get("field") or "", "") if r.get("field") else "",
             "tone": STATUS_TONES.get(r["status"], "neutral")} for r in page.object_list],
            filters=list(STATUS_LABELS.items()))
    run = job.run
    if run is not None:
        context["percent"] = min(100, round(100 * run.read / job.rows)) if job.rows else 100
        context.update(_undo_context(request, job))
    return context


KEPT_KINDS = {"changed": gettext_lazy("Changed since"), "used": gettext_lazy("Used since"),
              "refused": gettext_lazy("Refused")}


def _undo_context(request: HttpRequest, job: ImportJob) -> dict[str, Any]:
    """The undo part of the result: the button or why there is none, the progress, the
    report."""
    report = job.undo_report or {}
    return {
        "undo_refusal": import_undo.undo_refusal(job, request.user),
        "undo_deadline": import_undo.undo_deadline(job),
        "undo_days": import_undo.UNDO_DAYS,
        "undo_report": report,
        "undo_percent": (min(100, round(100 * report.get("done", 0) / report["total"]))
                         if report.get("total") else 0),
        "undo_kept": [{**item, "kind_label": KEPT_KINDS.get(item.get("kind", ""), "")}
                      for item in report.get("kept", [])],
    }


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The import's page: mapping (until it runs), audit, dry run, run and result."""
    job = _job(request, pk)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        chosen = {column: request.POST.get(f"col-{i}", "")
                  for i, column in enumerate(job.columns)}
        try:
            preset = request.POST.get("preset", "")
            service.import_set_mapping(job, user=request.user, mapping=chosen,
                                       owner=request.POST.get("owner", ""),
                                       values=_value_choices(request, job), preset=preset)
            # a column newly mapped to a list: its values are shown first
            if not preset and _values_to_review(request, job):
                messages.warning(request, _("Some values of the file are not in the CRM's "
                                            "lists: choose what each becomes, then check "
                                            "again."))
                return HttpResponseRedirect(reverse("web:import_detail", args=[job.pk])
                                            + "#import-values-title")
            service.import_dry_run_start(job, user=request.user)
        except ValidationFailed as exc:
            errors = exc.fields or {"__all__": [exc.message]}
            job.mapping = chosen
            status = 422
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("web:import_detail", args=[job.pk]))
        else:
            return HttpResponseRedirect(reverse("web:import_detail", args=[job.pk]))
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "web/imports/_status.html", _status_context(request, job))
    fields = service.fields_offered(job.object_type, request.user)
    if policy.sees_all(request.user):
        fields = [(service.KEY, _("Id of the row in the source (re-import updates)")),
                  *fields]
    columns = _columns(job)
    for column in columns:
        column["errors"] = errors.get(column["name"], [])
    return render(request, "web/imports/detail.html", {
        "title": _("Import %(file)s") % {"file": job.filename},
        "object": service.object_label(job.object_type), "columns": columns,
        "fields": fields, "form_errors": errors.get("__all__", []),
        "may_choose_owner": policy.sees_all(request.user),
        "unknown_values": (_values_context(job, errors)
                           if state_allows_mapping(job) and not job.options.get("preset")
                           else []),
        "presets": service.presets_for(job), "preset": job.options.get("preset", ""),
        "preset_errors": errors.get("preset", []),
        "first_error": next((c["index"] for c in columns if c["errors"]), None),
        **_status_context(request, job),
    }, status=status)


def state_allows_mapping(job: ImportJob) -> bool:
    return service.import_state(job) in ("mapping", "checked", "check_failed")


def _value_choices(request: HttpRequest, job: ImportJob) -> dict[str, dict[str, str]]:
    """The choices made for the lists' unknown values: ``val-<column>-<n>`` beside the value
    it is for, ``valname-<column>-<n>``."""
    out: dict[str, dict[str, str]] = {}
    for key in request.POST:
        if not key.startswith("valname-"):
            continue
        value = request.POST.get(key, "")
        try:
            index = int(key.split("-")[1])
            column = job.columns[index]
        except (ValueError, IndexError):
            continue
        out.setdefault(column, {})[value] = request.POST.get("val-" + key[len("valname-"):],
                                                             "")
    return out


def _values_to_review(request: HttpRequest, job: ImportJob) -> bool:
    """Whether a mapped list column has unknown values the page did not show yet."""
    shown = set(request.POST.getlist("values-shown"))
    return any(str(item["index"]) not in shown and item["values"]
               for item in import_values.unknown_values(job))


def _values_context(job: ImportJob, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    out = []
    for item in import_values.unknown_values(job):
        picklist = item["picklist"]
        choices = [(code, label) for code, label in picklist.choices if code != ""]
        if picklist.may_be_empty:
            choices.append((import_values.EMPTY, _("Leave empty")))
        out.append({**item, "field_label": picklist.label[:1].upper() + picklist.label[1:],
                    "choices": choices,
                    "rows_total": sum(v["rows"] for v in item["values"]),
                    "errors": errors.get(item["column"], [])})
    return out


@login_required
@require_POST
def run(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue the import for the worker; its page then shows the progress."""
    job = _job(request, pk)
    try:
        service.import_run_start(job, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The import has started; you can leave this page and "
                                    "come back."))
    return HttpResponseRedirect(reverse("web:import_detail", args=[job.pk]))


@login_required
def undo(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo the whole import: a page saying what will happen (or why it cannot), then the
    worker does it and the import's page shows the progress and the report."""
    job = _job(request, pk)
    if job.run_id is None:
        raise Http404
    refusal = import_undo.undo_refusal(job, request.user)
    status = 200
    if request.method == "POST":
        try:
            import_undo.import_undo_start(job, user=request.user)
        except DomainError as exc:
            refusal, status = exc.message, 409 if not isinstance(exc, Forbidden) else 403
        else:
            messages.success(request, _("The undo has started; you can leave this page and "
                                        "come back."))
            return HttpResponseRedirect(reverse("web:import_detail", args=[job.pk]))
    return render(request, "web/imports/undo.html", {
        "title": _("Undo the import %(file)s") % {"file": job.filename}, "job": job,
        "object": service.object_label(job.object_type), "refusal": refusal,
        "deadline": import_undo.undo_deadline(job), "days": import_undo.UNDO_DAYS,
        "cancel_url": reverse("web:import_detail", args=[job.pk]),
    }, status=status)


@login_required
def refused(request: HttpRequest, pk: int) -> HttpResponse:
    """The refused rows as a CSV with a reason column, to fix and upload again."""
    job = _job(request, pk)
    if job.run_id is None:
        raise Http404
    stem = job.filename.rsplit(".", 1)[0][:80] or "import"
    response = HttpResponse("\ufeff" + service.refused_rows_csv(job),
                            content_type="text/csv; charset=utf-8")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
    response["Content-Disposition"] = f'attachment; filename="{safe}-refused.csv"'
    return response


urlpatterns = [
    path("imports/", index, name="imports"),
    path("imports/<int:pk>/", detail, name="import_detail"),
    path("imports/<int:pk>/run/", run, name="import_run"),
    path("imports/<int:pk>/refused.csv", refused, name="import_refused"),
    path("imports/<int:pk>/undo/", undo, name="import_undo"),
]
