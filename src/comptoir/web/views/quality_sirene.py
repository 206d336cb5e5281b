"""Data-quality area: the local SIRENE copy (what is loaded, loading it, search) and account
enrichment.

The SIRENE page is the data manager's (``render_quality``): it uploads stock files, which the
worker loads (``sirene.uploads``), and shows the loads, polling while one is under way. The
enrichment page is for anyone allowed to change the account, reached from the account (404
when it is not visible).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_http_methods

from comptoir.access import policy
from comptoir.core.errors import DomainError
from comptoir.crm.models import Account
from comptoir.sirene import services, uploads
from comptoir.sirene.models import SireneLoad

from .quality import render_quality, require_data_manager
from .records import visible

LOAD_COMMAND = "comptoir sirene load StockUniteLegale_utf8.zip StockEtablissement_utf8.zip"
DOWNLOAD_URL = ("https://www.data.gouv.fr/fr/datasets/"
                "base-sirene-des-entreprises-et-de-leurs-etablissements-siren-siret/")


class SireneUploadForm(forms.Form):
    file = forms.FileField(
        label=_l("SIRENE stock file"),
        help_text=_l("StockUniteLegale (legal units) or StockEtablissement (establishments), "
                     "the .zip as downloaded or the CSV inside it. Load the legal units "
                     "first, then the establishments."),
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,.csv"}))


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """What is loaded, loading a file, and a search by name and postcode."""
    return _page(request, SireneUploadForm())


def _page(request: HttpRequest, form: SireneUploadForm, status: int = 200) -> HttpResponse:
    require_data_manager(request)
    q = request.GET.get("q", "").strip()[:200]
    postcode = request.GET.get("postcode", "").strip()[:5]
    hits = [h.as_dict() for h in services.search(q, postcode or None)] if q else []
    return render_quality(request, "web/quality/sirene.html", {
        **_status_context(), "form": form, "load_command": LOAD_COMMAND,
        "download_url": DOWNLOAD_URL, "q": q, "postcode": postcode, "hits": hits,
        "searched": bool(q),
    }, tab="sirene", status=status)


def _status_context() -> dict[str, Any]:
    """The figures, the last load of each file and the recent loads (polled while alive)."""
    loads = uploads.recent_loads()
    last = uploads.last_loaded()
    return {"stats": services.stats(), "loads": loads,
            "last_units": last[SireneLoad.Kind.UNITS],
            "last_establishments": last[SireneLoad.Kind.ESTABLISHMENTS],
            "alive": any(load.alive for load in loads)}


@login_required
@require_http_methods(["GET", "POST"])
def loads(request: HttpRequest) -> HttpResponse:
    """POST: upload a stock file and queue its load. GET: the loads' status, which polls
    itself every 2 s while one is under way (htmx); a plain GET goes to the page."""
    require_data_manager(request)
    if request.method == "GET":
        if not request.htmx:  # type: ignore[attr-defined]
            return redirect("web:quality_sirene")
        return render(request, "web/quality/sirene_status.html", _status_context())
    form = SireneUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            load = uploads.sirene_upload_create(request.user, form.cleaned_data["file"])
        except DomainError as exc:
            for error in exc.fields.get("file", []):
                form.add_error("file", error)
            if "file" not in exc.fields:
                form.add_error(None, exc.message)
        else:
            messages.success(request, _("%(file)s is uploaded: it is loaded in the "
                                        "background, follow it below.")
                             % {"file": load.file_name})
            return HttpResponseRedirect(reverse("web:quality_sirene") + "#sirene-loads",
                                        status=303)
    return _page(request, form, status=422)


@login_required
@require_http_methods(["GET", "POST"])
def account_enrich(request: HttpRequest, pk: int) -> HttpResponse:
    """The SIRENE proposal for one account, change by change, and applying the chosen ones."""
    account: Account = visible(request, Account, pk)
    if not policy.can(request.user, "change", account):
        raise Http404
    if request.method == "POST":
        chosen = request.POST.getlist("field")
        if not chosen:
            messages.warning(request, _("Nothing selected: the account is unchanged."))
            return redirect("web:account_enrich", pk=pk)
        try:
            applied = services.account_enrich(account=account, user=request.user, fields=chosen)
        except DomainError as exc:
            details = [m for ms in exc.fields.values() for m in ms]
            messages.error(request, " ".join([exc.message, *details]))
            return redirect("web:account_enrich", pk=pk)
        messages.success(request, _("%(n)d field(s) updated from SIRENE.") % {"n": len(applied)})
        return redirect("web:account_detail", pk=pk)
    proposal = services.enrichment_for(account)
    context: dict[str, Any] = {
        "object": account, "title": _("SIRENE enrichment"), "proposal": proposal,
        "account_url": reverse("web:account_detail", args=[pk]),
        "search_url": (reverse("web:quality_sirene") + "?" + _query(account))
        if policy.sees_all(request.user) else "",
    }
    return render(request, "web/quality/sirene_enrich.html", context)


def _query(account: Account) -> str:
    return urlencode({"q": account.legal_name, "postcode": account.billing_postcode or ""})


urlpatterns = [
    path("quality/sirene/", index, name="quality_sirene"),
    path("quality/sirene/loads/", loads, name="quality_sirene_loads"),
    path("accounts/<int:pk>/enrich/", account_enrich, name="account_enrich"),
]
