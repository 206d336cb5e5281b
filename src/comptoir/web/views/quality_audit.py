"""Data-quality area: audit a file before importing it (see views/quality.py for the frame).

The audit runs in the request (50,000 rows take seconds, see ``quality.audit``). Its report —
not the upload — is kept as JSON in a private directory under the data directory (never a
web-served one), named by a random token held in the user's session: the page, its pages of
duplicate pairs and the JSON/HTML downloads all read that same report. Reports older than a
day are deleted when a new one is stored.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext_lazy as _

from comptoir.quality.audit import AuditError, audit_file, parse_mapping, render_html
from comptoir.web.objects import detail_url_for

from .quality import render_quality, require_data_manager

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
PAIRS_PER_PAGE = 50
BASE_SHOWN = 100
KEEP_SECONDS = 24 * 3600
SESSION_KEY = "quality_audit_report"
_TOKEN = re.compile(r"[0-9a-f]{32}")


class AuditForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (separated by semicolons, commas or tabs) or Excel .xlsx, up to 20 MB. "
                    "The first row names the columns."))
    object_type = forms.ChoiceField(
        label=_("Each row is"), initial="account",
        choices=[("account", _("an account")), ("contact", _("a contact")),
                 ("lead", _("a lead"))])
    mapping = forms.CharField(
        label=_("Column mapping (optional)"), required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false",
                                     "placeholder": "Nom client=legal_name\nN° SIREN=siren"}),
        help_text=_("One Column=field per line, to correct the automatic mapping; "
                    "Column= leaves a column out."))
    sheet = forms.CharField(label=_("Sheet (Excel)"), required=False, max_length=100,
                            help_text=_("By default, the first sheet."))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("This file is %(size)s MB; the limit is %(limit)s MB. Split it, or run "
                  "“comptoir audit” on the server."),
                params={"size": f"{upload.size / 1024 / 1024:.1f}",
                        "limit": MAX_UPLOAD_BYTES // 1024 // 1024})
        if not upload.size:
            raise forms.ValidationError(_("The file is empty: no header row and no data."))
        return upload

    def clean_mapping(self) -> dict[str, str]:
        try:
            return parse_mapping(self.cleaned_data.get("mapping") or "")
        except AuditError as exc:
            raise forms.ValidationError(exc.message) from exc


def _reports_dir() -> Path:
    """Private storage for reports: under the data directory, outside media and static."""
    folder = Path(settings.DATA_DIR) / "audit-reports"
    for served in (settings.MEDIA_ROOT, settings.STATIC_ROOT):
        if served and folder.resolve().is_relative_to(Path(served).resolve()):
            raise RuntimeError("audit reports must not be stored in a web-served folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _store(request: HttpRequest, report: dict[str, Any]) -> None:
    folder = _reports_dir()
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.glob("*.json"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass  # removed by another worker meanwhile
    previous = request.session.get(SESSION_KEY)
    if isinstance(previous, str) and _TOKEN.fullmatch(previous):
        (folder / f"{previous}.json").unlink(missing_ok=True)
    token = secrets.token_hex(16)
    payload = {"user_id": request.user.pk, "report": report}
    (folder / f"{token}.json").write_text(json.dumps(payload, ensure_ascii=False),
                                          encoding="utf-8")
    request.session[SESSION_KEY] = token


def _load(request: HttpRequest) -> dict[str, Any] | None:
    """The last report of this session's user, if still kept."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    try:
        payload = json.loads((_reports_dir() / f"{token}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if payload.get("user_id") != request.user.pk:
        return None
    report = payload.get("report")
    return report if isinstance(report, dict) else None


def _page_context(request: HttpRequest, report: dict[str, Any]) -> dict[str, Any]:
    pairs = report["duplicates_in_file"]["items"]
    page_obj = Paginator(pairs, PAIRS_PER_PAGE).get_page(request.GET.get("page"))
    base = report["duplicates_in_base"]["items"][:BASE_SHOWN]
    object_type = report["object"]
    base_items = [{**item, "candidates": [
        {**c, "url": detail_url_for(object_type, int(c["id"]))} for c in item["candidates"]]}
        for item in base]
    return {
        "report": report, "page_obj": page_obj,
        "invalid_total": sum(inv["count"] for inv in report["invalid"]),
        "base_items": base_items,
        "base_hidden": max(0, len(report["duplicates_in_base"]["items"]) - BASE_SHOWN),
    }


@login_required
def index(request: HttpRequest) -> HttpResponse:
    require_data_manager(request)
    error = ""
    if request.method == "POST":
        form = AuditForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                audited = audit_file(
                    upload.read(), filename=Path(upload.name or "").name,
                    object_type=form.cleaned_data["object_type"], user=request.user,
                    mapping=form.cleaned_data["mapping"],
                    sheet=form.cleaned_data["sheet"] or None)
            except AuditError as exc:
                error = exc.message
                form.add_error(None, exc.message)
            else:
                _store(request, audited.as_dict())
                return redirect("web:quality_audit")
    else:
        form = AuditForm()
    report = None if request.method == "POST" else _load(request)
    context: dict[str, Any] = {"form": form, "max_mb": MAX_UPLOAD_BYTES // 1024 // 1024}
    if report is not None:
        context.update(_page_context(request, report))
    status = 422 if request.method == "POST" and (error or form.errors) else 200
    return render_quality(request, "web/quality/audit.html", context, tab="audit",
                          status=status)


@login_required
def download(request: HttpRequest, fmt: str) -> HttpResponse:
    require_data_manager(request)
    report = _load(request)
    if report is None or fmt not in ("json", "html"):
        raise Http404
    stem = Path(str(report.get("file") or "audit")).stem or "audit"
    stem = re.sub(r"[^\w.-]+", "_", stem)[:80]
    if fmt == "json":
        response = HttpResponse(json.dumps(report, ensure_ascii=False, indent=1),
                                content_type="application/json; charset=utf-8")
    else:
        response = HttpResponse(render_html(report), content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{stem}.{fmt}"'
    return response


urlpatterns = [
    path("quality/audit/", index, name="quality_audit"),
    path("quality/audit/report.<str:fmt>", download, name="quality_audit_download"),
]
