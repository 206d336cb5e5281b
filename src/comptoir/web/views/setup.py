"""First-run set-up: the few steps that make a new, empty instance usable (issue 15, part 4).

An administrator who starts without the demo data set finds a "Get started" card on their home
page and a ``/setup/`` page listing the steps — company profile, users and teams, the sales
pipeline, then the company's data (a file import or an ERP connection) — each with its state
and a link to the page that does it. A step's state is read from the base every time (nothing
is stored about the set-up itself), so doing the work anywhere ticks it.

The card disappears once every step is done, or when the administrator hides it: that choice
is kept in their session (a preference model for one flag would be overkill) and ``/setup/``
offers to show it again. Only administrators see the card and the page (404 for anyone else,
as for the settings it links to).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from comptoir.access import admin_services as admin
from comptoir.access import policy
from comptoir.access.models import User
from comptoir.core.company import company_profile
from comptoir.crm.models import Account, Pipeline
from comptoir.integration.models import Connection
from comptoir.web.views.settings import admin_only

HIDDEN_KEY = "web:setup:hidden"
"""Session key: the administrator hid the "Get started" card from their home page."""


def _pipeline_ready() -> bool:
    """The default pipeline (else the first, as deals use it) has stages."""
    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    return pipeline is not None and pipeline.stages.exists()


def setup_steps(user: Any) -> list[dict[str, Any]]:
    """The set-up steps in order, each with its state, why it matters and where to do it."""
    return [
        {"key": "company", "label": _("Company profile"),
         "help": _("Enter the company’s legal name, address, identifiers and bank details: "
                   "they are printed on every quote and invoice."),
         "done": bool(company_profile().legal_name),
         "links": [(reverse("web:settings_company"), _("Fill in the company profile"))]},
        {"key": "users", "label": _("Users and teams"),
         "help": _("Create an account for each person who will use Comptoir, with their role "
                   "and manager, and group them into teams to share territories."),
         "done": User.objects.filter(is_active=True).exclude(pk=user.pk).exists(),
         "links": [(reverse("web:settings_user_create"), _("Add a user")),
                   (reverse("web:settings_teams"), _("Set up teams"))]},
        {"key": "pipeline", "label": _("Sales pipeline"),
         "help": _("Check the stages of the default pipeline and their probability, and adapt "
                   "them to the way your company sells."),
         "done": _pipeline_ready(),
         "links": [(reverse("web:settings_pipelines"), _("Check the pipeline stages"))]},
        {"key": "data", "label": _("Your data"),
         "help": _("Import your accounts and contacts from a spreadsheet or another CRM, or "
                   "connect your ERP so that Comptoir reads them from it."),
         "done": (policy.restrict(Account.objects.all(), user).exists()
                  or Connection.objects.exists()),
         "links": [(reverse("web:imports"), _("Import a file")),
                   (reverse("web:connection_new"), _("Connect the ERP"))]},
    ]


def _progress(steps: list[dict[str, Any]]) -> dict[str, Any]:
    done = sum(1 for step in steps if step["done"])
    return {"steps": steps, "done": done, "total": len(steps),
            "all_done": done == len(steps),
            "summary": ngettext("%(done)s of %(total)s done", "%(done)s of %(total)s done",
                                done) % {"done": done, "total": len(steps)}}


def setup_card(request: HttpRequest) -> dict[str, Any] | None:
    """The home page's "Get started" card, or ``None``: not an administrator, card hidden by
    them in this session, or every step done."""
    if not admin.is_administrator(request.user) or request.session.get(HIDDEN_KEY):
        return None
    progress = _progress(setup_steps(request.user))
    return None if progress["all_done"] else progress


@admin_only
def setup(request: HttpRequest) -> HttpResponse:
    progress = _progress(setup_steps(request.user))
    return render(request, "web/setup/setup.html", {
        "title": _("Set up Comptoir"), "setup": progress,
        "hidden": bool(request.session.get(HIDDEN_KEY))})


@admin_only
@require_POST
def setup_hide(request: HttpRequest) -> HttpResponse:
    """Hide the card from the home page (this session); ``/setup/`` stays reachable."""
    request.session[HIDDEN_KEY] = True
    return HttpResponseRedirect(reverse("web:home"))


@admin_only
@require_POST
def setup_show(request: HttpRequest) -> HttpResponse:
    """Show the card on the home page again (until every step is done)."""
    request.session.pop(HIDDEN_KEY, None)
    return HttpResponseRedirect(reverse("web:setup"))


urlpatterns = [
    path("setup/", setup, name="setup"),
    path("setup/hide/", setup_hide, name="setup_hide"),
    path("setup/show/", setup_show, name="setup_show"),
]
