"""Data-quality area: the local SIRENE copy (what is loaded, search) and account enrichment.

The SIRENE page is the data manager's (``render_quality``); the enrichment page is for anyone
allowed to change the account, reached from the account (404 when it is not visible).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from comptoir.access import policy
from comptoir.core.errors import DomainError
from comptoir.crm.models import Account
from comptoir.sirene import services

from .quality import render_quality
from .records import visible

LOAD_COMMAND = "comptoir sirene load StockUniteLegale_utf8.zip StockEtablissement_utf8.zip"


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """What is loaded, how to load it, and a search by name and postcode."""
    q = request.GET.get("q", "").strip()[:200]
    postcode = request.GET.get("postcode", "").strip()[:5]
    hits = [h.as_dict() for h in services.search(q, postcode or None)] if q else []
    return render_quality(request, "web/quality/sirene.html", {
        "stats": services.stats(), "load_command": LOAD_COMMAND, "q": q,
        "postcode": postcode, "hits": hits, "searched": bool(q),
    }, tab="sirene")


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
    path("accounts/<int:pk>/enrich/", account_enrich, name="account_enrich"),
]
