"""Settings for administrators (R14): the company profile printed on documents, users, roles,
teams, territories, pipelines and stages, lost reasons, custom fields and picklists — without
touching code.

Only administrators and superusers reach these pages; anyone else gets a 404, as for a record
they may not see. Every write goes through a service (``access.admin_services``,
``crm.pipeline_services``, ``core.config_services``) whose errors come back next to the fields.
Reordering (stages, options) and territory rules answer htmx with the section they changed and
a plain form post with a redirect, so the pages work without JavaScript.

One route is public: ``settings_password_set``, the "choose your password" link an
administrator hands to a new user.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import ngettext, npgettext
from django.views.decorators.http import require_GET, require_POST

from comptoir.access import admin_services as admin
from comptoir.access.models import Role, Team, Territory, TerritoryRule, User
from comptoir.core import company as company_profiles
from comptoir.core import config_services as config
from comptoir.core.errors import DomainError
from comptoir.core.models import CustomField, ObjectType
from comptoir.crm import lost_reason_services as lost_reasons
from comptoir.crm import pipeline_services as pipelines
from comptoir.crm.models import LostReason, Pipeline, Stage
from comptoir.crm.services import accounts_assign_territories
from comptoir.web.settings_forms import (
    CompanyProfileForm,
    CustomFieldForm,
    LostReasonForm,
    LostReasonRenameForm,
    OptionForm,
    OptionRemoveForm,
    OptionRenameForm,
    PipelineEditForm,
    PipelineForm,
    StageDeleteForm,
    StageForm,
    TeamForm,
    TerritoryForm,
    TerritoryRuleForm,
    UserForm,
    apply_errors,
)

View = Callable[..., HttpResponseBase]
USERS_PER_PAGE = 50
PASSWORD_LINK_KEY = "settings_password_link"

SECTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("settings_company", _l("Company"),
     _l("The company that issues the quotes and invoices: identity, logo, bank details and "
        "the legal mentions printed on the PDFs.")),
    ("settings_users", _l("Users"),
     _l("Who signs in, their role, manager and teams; deactivate those who leave.")),
    ("settings_roles", _l("Roles"), _l("What each role sees and may change.")),
    ("settings_teams", _l("Teams"), _l("Groups of people who share their territories.")),
    ("settings_territories", _l("Territories"),
     _l("Slices of the market by postcode, country, NAF code or size, and who covers them.")),
    ("settings_pipelines", _l("Pipelines and stages"),
     _l("The steps of a sale, their probability, and which ones mean won or lost.")),
    ("settings_lost_reasons", _l("Lost reasons"),
     _l("The reasons offered when a deal is lost, in their order.")),
    ("settings_fields", _l("Custom fields"),
     _l("Extra fields on accounts, contacts, deals and other records.")),
    ("settings_picklists", _l("Picklists"), _l("The options of choice fields.")),
)

ROLE_HELP: dict[str, Any] = {
    Role.REP: _l("Sees and changes their own records, and the accounts of their territories."),
    Role.MANAGER: _l("Like a rep, plus every record of the people below them, at any depth."),
    Role.MARKETING: _l("Reads all leads, accounts and contacts; changes leads."),
    Role.SERVICE: _l("Reads all accounts and contacts; reads and changes all cases."),
    Role.DATA_MANAGER: _l("Sees and changes everything: data quality, imports, the ERP sync."),
    Role.ADMIN: _l("Sees and changes everything, and reaches these settings."),
}


def admin_only(view: View) -> View:
    """Signed-in administrators only; anyone else gets a 404 (no hint the page exists)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not admin.is_administrator(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def _page(request: HttpRequest, template: str, context: dict[str, Any],
          section: str = "", status: int = 200) -> HttpResponse:
    context.setdefault("sections", [(name, reverse(f"web:{name}"), label)
                                    for name, label, _help in SECTIONS])
    context["section"] = section
    return render(request, template, context, status=status)


def _posted(request: HttpRequest) -> Any:
    """The form data of a POST (even an empty one), else ``None`` for an unbound form."""
    return request.POST if request.method == "POST" else None


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _offset(request: HttpRequest) -> int:
    return -1 if request.POST.get("direction") == "up" else 1


# --- Index ---------------------------------------------------------------------------------

@admin_only
def index(request: HttpRequest) -> HttpResponse:
    counts = {
        "settings_users": User.objects.filter(is_active=True).count(),
        "settings_roles": len(Role.choices),
        "settings_teams": Team.objects.count(),
        "settings_territories": Territory.objects.filter(active=True).count(),
        "settings_pipelines": Pipeline.objects.count(),
        "settings_fields": CustomField.objects.filter(active=True).count(),
        "settings_picklists": CustomField.objects.filter(
            type=CustomField.Type.CHOICE, active=True).count(),
        "settings_lost_reasons": LostReason.objects.filter(active=True).count(),
    }
    profile = company_profiles.company_profile()
    units = {
        "settings_company": (profile.legal_name if not profile._state.adding
                             else _("Not filled in yet: documents show “%(name)s”.")
                             % {"name": company_profiles.seller_name(profile)}),
        "settings_users": ngettext("active user", "active users", counts["settings_users"]),
        "settings_roles": npgettext("count", "role", "roles", counts["settings_roles"]),
        "settings_teams": npgettext("count", "team", "teams", counts["settings_teams"]),
        "settings_territories": ngettext("active territory", "active territories",
                                         counts["settings_territories"]),
        "settings_pipelines": npgettext("count", "pipeline", "pipelines",
                                        counts["settings_pipelines"]),
        "settings_fields": ngettext("active field", "active fields", counts["settings_fields"]),
        "settings_picklists": ngettext("picklist", "picklists", counts["settings_picklists"]),
        "settings_lost_reasons": ngettext("active reason", "active reasons",
                                          counts["settings_lost_reasons"]),
    }
    cards = [{"url": reverse(f"web:{name}"), "label": label, "help": help_text,
              "count": counts.get(name), "unit": units[name]}  # no count: a summary
             for name, label, help_text in SECTIONS]
    return _page(request, "web/settings/index.html", {"cards": cards, "title": _("Settings")})


# --- Company profile -----------------------------------------------------------------------

@admin_only
def company(request: HttpRequest) -> HttpResponse:
    """The seller printed on quotes and invoices. A new logo chosen with a form that has
    errors elsewhere is not kept (a browser cannot refill a file input): the page says so."""
    profile = company_profiles.company_profile()
    form = CompanyProfileForm(_posted(request), request.FILES or None, profile=profile)
    logo_lost = False
    if request.method == "POST" and form.is_valid():
        try:
            company_profiles.company_profile_update(
                user=request.user, data=form.values(), logo=form.cleaned_data.get("logo"),
                remove_logo=bool(form.cleaned_data.get("remove_logo")))
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Company profile saved: the next documents will "
                                        "show it."))
            return HttpResponseRedirect(reverse("web:settings_company"))
    elif request.method == "POST":
        _check_other_fields(form)
    if form.errors and request.FILES.get("logo") and "logo" not in form.errors:
        logo_lost = True
    return _page(request, "web/settings/company.html", {
        "form": form, "profile": profile, "logo_lost": logo_lost,
        "seller": company_profiles.seller_name(profile), "title": _("Company"),
    }, "settings_company")


def _check_other_fields(form: CompanyProfileForm) -> None:
    """A form refused for its shapes (a number that is not one) still says what the service
    thinks of the other fields, so every mistake shows at once."""
    data = {name: form.cleaned_data.get(name, form.data.get(name))
            for name in company_profiles.EDITABLE}
    try:
        company_profiles.clean_profile(data)
    except DomainError as exc:
        for name, errors in exc.fields.items():
            if name in form.fields and name not in form.errors:
                for error in errors:
                    form.add_error(name, error)


@admin_only
@require_GET
def company_logo(request: HttpRequest) -> FileResponse:
    """The stored logo, for the preview on the company page (never rendered as a page)."""
    profile = company_profiles.company_profile()
    if not profile.logo:
        raise Http404
    try:
        handle = profile.logo.open("rb")
    except (OSError, ValueError) as exc:
        raise Http404 from exc
    kind = "image/png" if profile.logo.name.lower().endswith(".png") else "image/jpeg"
    response = FileResponse(handle, content_type=kind)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- Users ---------------------------------------------------------------------------------

@admin_only
def users(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    role = request.GET.get("role", "")
    status = request.GET.get("status", "active")
    qs = User.objects.select_related("manager").prefetch_related("teams")
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(first_name__icontains=q)
                       | Q(last_name__icontains=q) | Q(email__icontains=q))
    if role in Role.values:
        qs = qs.filter(role=role)
    if status == "active":
        qs = qs.filter(is_active=True)
    elif status == "inactive":
        qs = qs.filter(is_active=False)
    page = Paginator(qs.order_by("first_name", "last_name", "username"),
                     USERS_PER_PAGE).get_page(request.GET.get("page"))
    return _page(request, "web/settings/users.html", {
        "page_obj": page, "q": q, "role": role, "status": status, "roles": Role.choices,
        "filtered": bool(q or role or status != "active"), "title": _("Users"),
    }, "settings_users")


def _password_link(request: HttpRequest, target: User) -> None:
    uid, token = admin.password_set_link_parts(user=request.user, target=target)
    url = request.build_absolute_uri(reverse("web:settings_password_set", args=[uid, token]))
    request.session[PASSWORD_LINK_KEY] = {"user": target.pk, "url": url}


@admin_only
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            target = admin.user_create(user=request.user, data=form.values(),
                                       password=form.initial_password(),
                                       team_ids=form.team_ids())
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            if form.initial_password() is None:
                _password_link(request, target)
            messages.success(request, _("User %(name)s created.") % {"name": target})
            return HttpResponseRedirect(reverse("web:settings_user_edit", args=[target.pk]))
    return _page(request, "web/settings/user_form.html",
                 {"form": form, "title": _("New user")}, "settings_users")


@admin_only
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(User.objects.select_related("manager"), pk=pk)
    form = UserForm(_posted(request), instance=target)
    if request.method == "POST" and form.is_valid():
        try:
            admin.user_update(user=request.user, target=target, data=form.values(),
                              team_ids=form.team_ids())
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return HttpResponseRedirect(reverse("web:settings_users"))
    link = request.session.get(PASSWORD_LINK_KEY)
    if link and link.get("user") == target.pk and request.method == "GET":
        del request.session[PASSWORD_LINK_KEY]
    else:
        link = None
    return _page(request, "web/settings/user_form.html", {
        "form": form, "target": target, "password_link": link and link["url"],
        "reports": target.reports.filter(is_active=True).count(),
        "title": _("Edit %(name)s") % {"name": target},
    }, "settings_users")


@admin_only
@require_POST
def user_password_link(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(User, pk=pk)
    try:
        _password_link(request, target)
    except DomainError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(reverse("web:settings_user_edit", args=[pk]))


@admin_only
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, then deactivate: the page says what stays (records, history) and what to
    reassign (default owner of territories, reports)."""
    target = get_object_or_404(User, pk=pk)
    error = ""
    if request.method == "POST":
        try:
            admin.user_set_active(user=request.user, target=target, active=False)
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("%(name)s is deactivated.") % {"name": target})
            return HttpResponseRedirect(reverse("web:settings_users"))
    return _page(request, "web/settings/user_deactivate.html", {
        "target": target, "error": error,
        "territories": list(target.default_territories.filter(active=True)),
        "reports": list(target.reports.filter(is_active=True)[:20]),
        "title": _("Deactivate %(name)s") % {"name": target},
    }, "settings_users", status=422 if error else 200)


@admin_only
@require_POST
def user_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(User, pk=pk)
    admin.user_set_active(user=request.user, target=target, active=True)
    messages.success(request, _("%(name)s can sign in again.") % {"name": target})
    return HttpResponseRedirect(reverse("web:settings_user_edit", args=[pk]))


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """The new user's "choose your password" page (public: the token is the key)."""

    template_name = "web/settings/password_set.html"
    success_url = reverse_lazy("web:login")
    reset_url_token = "set-password"  # a URL segment, not a secret

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, _("Your password is set. Sign in with it."))
        return response


# --- Roles ---------------------------------------------------------------------------------

@admin_only
def roles(request: HttpRequest) -> HttpResponse:
    counts = dict(User.objects.filter(is_active=True).values("role")
                  .annotate(n=Count("id")).values_list("role", "n"))
    rows = [{"value": value, "label": label, "help": ROLE_HELP.get(value, ""),
             "count": counts.get(value, 0)} for value, label in Role.choices]
    return _page(request, "web/settings/roles.html", {"rows": rows, "title": _("Roles")},
                 "settings_roles")


# --- Teams ---------------------------------------------------------------------------------

@admin_only
def teams(request: HttpRequest) -> HttpResponse:
    qs = (Team.objects.select_related("leader").prefetch_related("territories")
          .annotate(member_count=Count("members", filter=Q(members__is_active=True))))
    return _page(request, "web/settings/teams.html", {"teams": qs, "title": _("Teams")},
                 "settings_teams")


@admin_only
def team_create(request: HttpRequest) -> HttpResponse:
    return _team_form(request, None)


@admin_only
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _team_form(request, get_object_or_404(Team, pk=pk))


def _team_form(request: HttpRequest, team: Team | None) -> HttpResponse:
    form = TeamForm(_posted(request), instance=team)
    if request.method == "POST" and form.is_valid():
        try:
            if team is None:
                team = admin.team_create(user=request.user, data=form.values(),
                                         member_ids=form.member_ids())
            else:
                admin.team_update(user=request.user, team=team, data=form.values(),
                                  member_ids=form.member_ids())
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Team %(name)s saved.") % {"name": team})
            return HttpResponseRedirect(reverse("web:settings_teams"))
    title = _("New team") if team is None else _("Edit %(name)s") % {"name": team}
    return _page(request, "web/settings/team_form.html",
                 {"form": form, "team": team, "title": title}, "settings_teams")


@admin_only
def team_delete(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)
    if request.method == "POST":
        admin.team_delete(user=request.user, team=team)
        messages.success(request, _("Team deleted."))
        return HttpResponseRedirect(reverse("web:settings_teams"))
    return _page(request, "web/settings/confirm_delete.html", {
        "title": _("Delete team %(name)s") % {"name": team},
        "text": _("Its members keep their records but no longer see the accounts of the "
                  "territories they saw through this team."),
        "cancel_url": reverse("web:settings_team_edit", args=[pk]),
    }, "settings_teams")


# --- Territories ---------------------------------------------------------------------------

@admin_only
def territories(request: HttpRequest) -> HttpResponse:
    qs = (Territory.objects.select_related("default_owner")
          .prefetch_related("rules", "teams")
          .annotate(member_count=Count("members", distinct=True))
          .order_by("-active", "priority", "name"))
    return _page(request, "web/settings/territories.html",
                 {"territories": qs, "title": _("Territories")}, "settings_territories")


@admin_only
def territory_create(request: HttpRequest) -> HttpResponse:
    form = TerritoryForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            territory = admin.territory_create(user=request.user, data=form.values(),
                                               member_ids=form.member_ids(),
                                               team_ids=form.team_ids())
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Territory created: now add the rules that decide "
                                        "which accounts belong to it."))
            return HttpResponseRedirect(reverse("web:settings_territory_edit",
                                                args=[territory.pk]) + "#rules")
    return _page(request, "web/settings/territory_form.html",
                 {"form": form, "title": _("New territory")}, "settings_territories")


def _rules_context(territory: Territory, rule_form: TerritoryRuleForm | None = None
                   ) -> dict[str, Any]:
    return {"territory": territory, "rules": list(territory.rules.order_by("kind", "value")),
            "rule_form": rule_form or TerritoryRuleForm()}


@admin_only
def territory_edit(request: HttpRequest, pk: int) -> HttpResponse:
    territory = get_object_or_404(Territory, pk=pk)
    form = TerritoryForm(_posted(request), instance=territory)
    if request.method == "POST" and form.is_valid():
        try:
            admin.territory_update(user=request.user, territory=territory, data=form.values(),
                                   member_ids=form.member_ids(), team_ids=form.team_ids())
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Territory %(name)s saved.") % {"name": territory})
            return HttpResponseRedirect(reverse("web:settings_territories"))
    return _page(request, "web/settings/territory_form.html", {
        "form": form, **_rules_context(territory),
        "title": _("Edit %(name)s") % {"name": territory},
    }, "settings_territories")


def _rules_answer(request: HttpRequest, territory: Territory,
                  rule_form: TerritoryRuleForm | None = None) -> HttpResponse:
    if _is_htmx(request):
        return render(request, "web/settings/_rules.html", _rules_context(territory, rule_form))
    if rule_form is not None and rule_form.errors:
        form = TerritoryForm(instance=territory)
        return _page(request, "web/settings/territory_form.html", {
            "form": form, **_rules_context(territory, rule_form),
            "title": _("Edit %(name)s") % {"name": territory},
        }, "settings_territories")
    return HttpResponseRedirect(reverse("web:settings_territory_edit", args=[territory.pk])
                                + "#rules")


@admin_only
@require_POST
def territory_rule_add(request: HttpRequest, pk: int) -> HttpResponse:
    territory = get_object_or_404(Territory, pk=pk)
    form = TerritoryRuleForm(request.POST)
    if form.is_valid():
        try:
            admin.territory_rule_add(user=request.user, territory=territory,
                                     kind=form.cleaned_data["kind"],
                                     value=form.cleaned_data["value"])
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            return _rules_answer(request, territory)
    return _rules_answer(request, territory, form)


@admin_only
@require_POST
def territory_rule_delete(request: HttpRequest, pk: int, rule_pk: int) -> HttpResponse:
    rule = get_object_or_404(TerritoryRule.objects.select_related("territory"),
                             pk=rule_pk, territory_id=pk)
    admin.territory_rule_delete(user=request.user, rule=rule)
    return _rules_answer(request, rule.territory)


@admin_only
def territories_reassign(request: HttpRequest) -> HttpResponse:
    """Apply the rules to existing accounts (new accounts follow them at creation)."""
    if request.method == "POST":
        only_unassigned = request.POST.get("scope") == "unassigned"
        try:
            counts = accounts_assign_territories(user=request.user,
                                                 only_unassigned=only_unassigned)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            moved = sum(counts.values())
            no_territory = _("no territory")
            detail = ", ".join(f"{no_territory if name == '(none)' else name}: {n}"
                               for name, n in counts.items() if n)
            messages.success(request, ngettext(
                "%(n)d account changed territory.", "%(n)d accounts changed territory.",
                moved) % {"n": moved} + (f" ({detail})" if detail else ""))
        return HttpResponseRedirect(reverse("web:settings_territories"))
    return _page(request, "web/settings/territories_reassign.html",
                 {"title": _("Re-assign accounts to territories")}, "settings_territories")


# --- Pipelines and stages ------------------------------------------------------------------

@admin_only
def pipeline_list(request: HttpRequest) -> HttpResponse:
    qs = Pipeline.objects.annotate(stage_count=Count("stages")).order_by("-is_default", "name")
    form = PipelineForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            pipeline = pipelines.pipeline_create(user=request.user,
                                                 name=form.cleaned_data["name"])
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Pipeline created: now add its stages."))
            return HttpResponseRedirect(reverse("web:settings_pipeline", args=[pipeline.pk]))
    return _page(request, "web/settings/pipelines.html",
                 {"pipelines": qs, "form": form, "title": _("Pipelines and stages")},
                 "settings_pipelines")


def _stages_context(pipeline: Pipeline, stage_form: StageForm | None = None,
                    focus: str = "") -> dict[str, Any]:
    """The stages table; ``focus`` (``up-<pk>``, ``down-<pk>``, ``new-<pk>``) says which
    control gets ``autofocus`` after a move or an addition, so keyboard users keep their place
    (htmx focuses ``[autofocus]`` in swapped content; a full page load does too)."""
    counts = pipelines.stage_deal_counts(pipeline)
    stages = list(pipeline.stages.order_by("order", "id"))
    direction, _sep, key = focus.partition("-")
    last = len(stages) - 1
    for i, stage in enumerate(stages):
        stage.deal_count = counts.get(stage.pk, 0)  # type: ignore[attr-defined]
        focus_here = ""
        if key == str(stage.pk) and direction in ("up", "down"):
            at_edge = (i == 0) if direction == "up" else (i == last)
            focus_here = direction if not at_edge else ("down" if direction == "up" else "up")
            if last == 0:
                focus_here = ""
        stage.focus = focus_here  # type: ignore[attr-defined]
    form = stage_form or StageForm(prefix="stage")
    if direction == "new" or form.errors:
        form.fields["name"].widget.attrs["autofocus"] = True
    return {"pipeline": pipeline, "stages": stages, "stage_form": form}


def _stages_answer(request: HttpRequest, pipeline: Pipeline, *,
                   stage_form: StageForm | None = None, focus: str = "") -> HttpResponse:
    if _is_htmx(request):
        return render(request, "web/settings/_stages.html",
                      _stages_context(pipeline, stage_form, focus))
    if stage_form is not None and stage_form.errors:
        return _pipeline_page(request, pipeline, stage_form=stage_form)
    url = reverse("web:settings_pipeline", args=[pipeline.pk])
    return HttpResponseRedirect(f"{url}?focus={focus}#stages" if focus else f"{url}#stages")


def _pipeline_initial(pipeline: Pipeline) -> dict[str, Any]:
    return {"name": pipeline.name, "idle_days": pipeline.idle_days}


def _pipeline_page(request: HttpRequest, pipeline: Pipeline, *,
                   form: PipelineForm | None = None, stage_form: StageForm | None = None
                   ) -> HttpResponse:
    focus = request.GET.get("focus", "")
    return _page(request, "web/settings/pipeline.html", {
        "form": form or PipelineEditForm(initial=_pipeline_initial(pipeline)),
        **_stages_context(pipeline, stage_form, focus),
        "title": pipeline.name,
    }, "settings_pipelines")


@admin_only
def pipeline_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    form = PipelineEditForm(_posted(request), initial=_pipeline_initial(pipeline))
    if request.method == "POST" and form.is_valid():
        try:
            pipelines.pipeline_rename(user=request.user, pipeline=pipeline,
                                      name=form.cleaned_data["name"],
                                      idle_days=form.cleaned_data["idle_days"])
        except DomainError as exc:
            apply_errors(form, exc)
            pipeline.refresh_from_db()
        else:
            messages.success(request, _("Pipeline saved."))
            return HttpResponseRedirect(reverse("web:settings_pipeline", args=[pk]))
    return _pipeline_page(request, pipeline, form=form)


@admin_only
@require_POST
def pipeline_default(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    pipelines.pipeline_set_default(user=request.user, pipeline=pipeline)
    messages.success(request, _("New deals now go to %(name)s by default.") % {
        "name": pipeline})
    return HttpResponseRedirect(reverse("web:settings_pipeline", args=[pk]))


@admin_only
def pipeline_delete(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    error = ""
    if request.method == "POST":
        try:
            pipelines.pipeline_delete(user=request.user, pipeline=pipeline)
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("Pipeline deleted."))
            return HttpResponseRedirect(reverse("web:settings_pipelines"))
    return _page(request, "web/settings/confirm_delete.html", {
        "title": _("Delete pipeline %(name)s") % {"name": pipeline}, "error": error,
        "text": _("Its stages are deleted with it. A pipeline that still holds deals cannot "
                  "be deleted."),
        "cancel_url": reverse("web:settings_pipeline", args=[pk]),
    }, "settings_pipelines", status=409 if error else 200)


@admin_only
@require_POST
def stage_create(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    form = StageForm(request.POST, prefix="stage")
    if form.is_valid():
        try:
            stage = pipelines.stage_create(user=request.user, pipeline=pipeline,
                                           data=form.values())
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            return _stages_answer(request, pipeline, focus=f"new-{stage.pk}")
    return _stages_answer(request, pipeline, stage_form=form)


@admin_only
@require_POST
def stage_move(request: HttpRequest, pk: int) -> HttpResponse:
    stage = get_object_or_404(Stage.objects.select_related("pipeline"), pk=pk)
    offset = _offset(request)
    pipelines.stage_move(user=request.user, stage=stage, offset=offset)
    return _stages_answer(request, stage.pipeline,
                          focus=f"{'up' if offset < 0 else 'down'}-{stage.pk}")


@admin_only
def stage_edit(request: HttpRequest, pk: int) -> HttpResponse:
    stage = get_object_or_404(Stage.objects.select_related("pipeline"), pk=pk)
    form = StageForm(_posted(request), initial={
        "name": stage.name, "probability": stage.probability, "is_won": stage.is_won,
        "is_lost": stage.is_lost})
    back = reverse("web:settings_pipeline", args=[stage.pipeline_id])
    if request.method == "POST" and form.is_valid():
        try:
            pipelines.stage_update(user=request.user, stage=stage, data=form.values())
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Stage saved."))
            return HttpResponseRedirect(back + "#stages")
    return _page(request, "web/settings/stage_form.html", {
        "form": form, "stage": stage, "cancel_url": back,
        "title": _("Edit stage %(name)s") % {"name": stage},
    }, "settings_pipelines")


@admin_only
def stage_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Deleting a stage that holds deals asks where they go (the stage is protected)."""
    stage = get_object_or_404(Stage.objects.select_related("pipeline"), pk=pk)
    deals = pipelines.stage_deal_counts(stage.pipeline).get(stage.pk, 0)
    form = StageDeleteForm(_posted(request), stage=stage)
    back = reverse("web:settings_pipeline", args=[stage.pipeline_id])
    if request.method == "POST" and form.is_valid():
        try:
            moved = pipelines.stage_delete(user=request.user, stage=stage,
                                           move_to=form.cleaned_data["move_to"])
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            text = _("Stage deleted.")
            if moved:
                text += " " + ngettext("%(n)d deal moved to %(stage)s.",
                                       "%(n)d deals moved to %(stage)s.", moved) % {
                    "n": moved, "stage": form.cleaned_data["move_to"]}
            messages.success(request, text)
            return HttpResponseRedirect(back + "#stages")
    return _page(request, "web/settings/stage_delete.html", {
        "form": form, "stage": stage, "deals": deals, "cancel_url": back,
        "title": _("Delete stage %(name)s") % {"name": stage},
    }, "settings_pipelines", status=422 if form.errors else 200)


# --- Custom fields and picklists -----------------------------------------------------------

def _object_labels() -> dict[str, Any]:
    return dict(ObjectType.choices)


@admin_only
def fields(request: HttpRequest) -> HttpResponse:
    object_type = request.GET.get("object", "")
    qs = CustomField.objects.order_by("object_type", "-active", "label")
    if object_type in config.CUSTOMIZABLE:
        qs = qs.filter(object_type=object_type)
    labels = _object_labels()
    groups: dict[str, list[CustomField]] = {}
    for cf in qs:
        groups.setdefault(cf.object_type, []).append(cf)
    return _page(request, "web/settings/fields.html", {
        "groups": [(key, labels.get(key, key), rows) for key, rows in groups.items()],
        "objects": [(key, labels[key]) for key in config.CUSTOMIZABLE],
        "object_type": object_type, "title": _("Custom fields"),
    }, "settings_fields")


@admin_only
def picklists(request: HttpRequest) -> HttpResponse:
    labels = _object_labels()
    rows = [(labels.get(cf.object_type, cf.object_type), cf) for cf in
            CustomField.objects.filter(type=CustomField.Type.CHOICE)
            .order_by("object_type", "-active", "label")]
    return _page(request, "web/settings/picklists.html",
                 {"rows": rows, "title": _("Picklists")}, "settings_picklists")


@admin_only
def field_create(request: HttpRequest) -> HttpResponse:
    initial = {"object_type": request.GET.get("object", ObjectType.ACCOUNT),
               "type": request.GET.get("type", CustomField.Type.TEXT)}
    form = CustomFieldForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            cf = config.custom_field_create(user=request.user, data=form.values())
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Field %(label)s added.") % {"label": cf.label})
            target = "web:settings_field_edit" if cf.type == CustomField.Type.CHOICE \
                else "web:settings_fields"
            args = [cf.pk] if cf.type == CustomField.Type.CHOICE else []
            return HttpResponseRedirect(reverse(target, args=args))
    return _page(request, "web/settings/field_form.html",
                 {"form": form, "title": _("New custom field")}, "settings_fields")


def _options_context(cf: CustomField, *, option_form: OptionForm | None = None,
                     rename_errors: dict[str, Any] | None = None, focus: str = ""
                     ) -> dict[str, Any]:
    """The options section; ``focus`` (``up-<index>``, ``down-<index>``, ``add``) keeps the
    keyboard user's place after a move or an addition, as for stages."""
    values = [str(c) for c in cf.choices]
    direction, _sep, key = focus.partition("-")
    last = len(values) - 1
    options = []
    for i, value in enumerate(values):
        here = ""
        if key == str(i) and direction in ("up", "down") and last > 0:
            at_edge = (i == 0) if direction == "up" else (i == last)
            here = direction if not at_edge else ("down" if direction == "up" else "up")
        options.append({"value": value, "focus": here,
                        "errors": (rename_errors or {}).get(value, [])})
    form = option_form or OptionForm()
    if focus == "add" or form.errors:
        form.fields["option"].widget.attrs["autofocus"] = True
    return {"field": cf, "options": options, "option_form": form}


def _options_answer(request: HttpRequest, cf: CustomField, **kwargs: Any) -> HttpResponse:
    if _is_htmx(request):
        return render(request, "web/settings/_options.html", _options_context(cf, **kwargs))
    if kwargs.get("option_form") is not None or kwargs.get("rename_errors"):
        return _field_page(request, cf, **kwargs)
    focus = kwargs.get("focus", "")
    url = reverse("web:settings_field_edit", args=[cf.pk])
    return HttpResponseRedirect(f"{url}?focus={focus}#options" if focus else f"{url}#options")


def _field_page(request: HttpRequest, cf: CustomField, form: CustomFieldForm | None = None,
                **kwargs: Any) -> HttpResponse:
    kwargs.setdefault("focus", request.GET.get("focus", ""))
    return _page(request, "web/settings/field_form.html", {
        "form": form or CustomFieldForm(instance=cf), **_options_context(cf, **kwargs),
        "title": _("Edit %(label)s") % {"label": cf.label},
    }, "settings_fields")


@admin_only
def field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    cf = get_object_or_404(CustomField, pk=pk)
    form = CustomFieldForm(_posted(request), instance=cf)
    if request.method == "POST" and form.is_valid():
        try:
            config.custom_field_update(user=request.user, field=cf, data=form.values())
        except DomainError as exc:
            apply_errors(form, exc)
            cf.refresh_from_db()
        else:
            messages.success(request, _("Field %(label)s saved.") % {"label": cf.label})
            return HttpResponseRedirect(reverse("web:settings_fields")
                                        + f"?object={cf.object_type}")
    return _field_page(request, cf, form)


@admin_only
@require_POST
def field_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    cf = get_object_or_404(CustomField, pk=pk)
    config.custom_field_update(user=request.user, field=cf, data={"active": not cf.active})
    messages.success(request, (_("Field %(label)s is active again.") if cf.active else
                               _("Field %(label)s is deactivated: hidden from forms, its values "
                                 "are kept.")) % {"label": cf.label})
    return HttpResponseRedirect(reverse("web:settings_field_edit", args=[pk]))


def _choice_field(pk: int) -> CustomField:
    return get_object_or_404(CustomField, pk=pk, type=CustomField.Type.CHOICE)


@admin_only
@require_POST
def option_add(request: HttpRequest, pk: int) -> HttpResponse:
    cf = _choice_field(pk)
    form = OptionForm(request.POST)
    if form.is_valid():
        try:
            config.picklist_option_add(user=request.user, field=cf,
                                       option=form.cleaned_data["option"])
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            return _options_answer(request, cf, focus="add")
    return _options_answer(request, cf, option_form=form)


@admin_only
@require_POST
def option_rename(request: HttpRequest, pk: int) -> HttpResponse:
    cf = _choice_field(pk)
    form = OptionRenameForm(request.POST)
    option = request.POST.get("option", "")
    if form.is_valid():
        try:
            moved = config.picklist_option_rename(user=request.user, field=cf, option=option,
                                                  new=form.cleaned_data["new"])
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            if moved and not _is_htmx(request):
                messages.success(request, ngettext(
                    "%(n)d record updated.", "%(n)d records updated.", moved) % {"n": moved})
            return _options_answer(request, cf)
    errors = [str(e) for errs in form.errors.values() for e in errs]
    return _options_answer(request, cf, rename_errors={option: errors})


@admin_only
@require_POST
def option_move(request: HttpRequest, pk: int) -> HttpResponse:
    cf = _choice_field(pk)
    option = request.POST.get("option", "")
    offset = _offset(request)
    try:
        config.picklist_option_move(user=request.user, field=cf, option=option, offset=offset)
    except DomainError as exc:
        raise Http404 from exc
    index = [str(c) for c in cf.choices].index(option)
    return _options_answer(request, cf, focus=f"{'up' if offset < 0 else 'down'}-{index}")


@admin_only
def option_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm the removal of an option, saying how many records hold it and letting the
    administrator move them to another option or clear their value."""
    cf = _choice_field(pk)
    option = request.GET.get("option") or request.POST.get("option") or ""
    if option not in [str(c) for c in cf.choices]:
        raise Http404
    form = OptionRemoveForm(_posted(request), field=cf, option=option)
    error = ""
    if request.method == "POST" and form.is_valid():
        replacement = form.cleaned_data["replacement"] or None
        try:
            moved = config.picklist_option_remove(user=request.user, field=cf, option=option,
                                                  replacement=replacement)
        except DomainError as exc:
            error = exc.message
        else:
            text = _("Option “%(option)s” removed.") % {"option": option}
            if moved:
                text += " " + ngettext("%(n)d record updated.", "%(n)d records updated.",
                                       moved) % {"n": moved}
            messages.success(request, text)
            return HttpResponseRedirect(reverse("web:settings_field_edit", args=[pk])
                                        + "#options")
    return _page(request, "web/settings/option_remove.html", {
        "field": cf, "option": option, "form": form, "error": error,
        "usage": config.option_usage(cf, option),
        "object_label": _object_labels().get(cf.object_type, cf.object_type),
        "cancel_url": reverse("web:settings_field_edit", args=[pk]),
        "title": _("Remove option “%(option)s”") % {"option": option},
    }, "settings_picklists", status=422 if error else 200)


# --- Lost reasons --------------------------------------------------------------------------

def _lost_reasons_context(*, add_form: LostReasonForm | None = None,
                          rename_errors: dict[int, list[str]] | None = None, focus: str = ""
                          ) -> dict[str, Any]:
    """The reasons section; ``focus`` (``up-<pk>``, ``down-<pk>``, ``add``, ``toggle-<pk>``)
    keeps the keyboard user's place after a change, as for stages and options."""
    reasons = list(LostReason.objects.order_by("-active", "order", "name", "id"))
    active = [r for r in reasons if r.active]
    direction, _sep, key = focus.partition("-")
    for reason in reasons:
        here = ""
        if key == str(reason.pk) and direction in ("up", "down") and len(active) > 1:
            i = active.index(reason) if reason in active else -1
            at_edge = (i == 0) if direction == "up" else (i == len(active) - 1)
            here = direction if not at_edge else ("down" if direction == "up" else "up")
        elif key == str(reason.pk) and direction == "toggle":
            here = "toggle"
        reason.focus = here  # type: ignore[attr-defined]
        reason.errors = (rename_errors or {}).get(reason.pk, [])  # type: ignore[attr-defined]
    form = add_form or LostReasonForm()
    if focus == "add" or form.errors:
        form.fields["name"].widget.attrs["autofocus"] = True
    return {"active_reasons": active, "inactive_reasons": [r for r in reasons if not r.active],
            "reason_form": form}


def _lost_reasons_answer(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    if _is_htmx(request):
        return render(request, "web/settings/_lost_reasons.html",
                      _lost_reasons_context(**kwargs))
    if kwargs.get("add_form") is not None or kwargs.get("rename_errors"):
        return _page(request, "web/settings/lost_reasons.html", {
            **_lost_reasons_context(**kwargs), "title": _("Lost reasons")},
            "settings_lost_reasons")
    focus = kwargs.get("focus", "")
    url = reverse("web:settings_lost_reasons")
    return HttpResponseRedirect(f"{url}?focus={focus}#reasons" if focus else f"{url}#reasons")


@admin_only
def lost_reason_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = LostReasonForm(request.POST)
        if form.is_valid():
            try:
                lost_reasons.lost_reason_create(user=request.user,
                                                name=form.cleaned_data["name"])
            except DomainError as exc:
                apply_errors(form, exc)
            else:
                return _lost_reasons_answer(request, focus="add")
        return _lost_reasons_answer(request, add_form=form)
    return _page(request, "web/settings/lost_reasons.html", {
        **_lost_reasons_context(focus=request.GET.get("focus", "")),
        "title": _("Lost reasons")}, "settings_lost_reasons")


@admin_only
@require_POST
def lost_reason_rename(request: HttpRequest, pk: int) -> HttpResponse:
    reason = get_object_or_404(LostReason, pk=pk)
    form = LostReasonRenameForm(request.POST)
    if form.is_valid():
        try:
            lost_reasons.lost_reason_rename(user=request.user, reason=reason,
                                            name=form.cleaned_data["name"])
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            if not _is_htmx(request):
                messages.success(request, _("Reason renamed."))
            return _lost_reasons_answer(request)
    errors = [str(e) for errs in form.errors.values() for e in errs]
    return _lost_reasons_answer(request, rename_errors={reason.pk: errors})


@admin_only
@require_POST
def lost_reason_move(request: HttpRequest, pk: int) -> HttpResponse:
    reason = get_object_or_404(LostReason, pk=pk, active=True)
    offset = _offset(request)
    lost_reasons.lost_reason_move(user=request.user, reason=reason, offset=offset)
    return _lost_reasons_answer(request, focus=f"{'up' if offset < 0 else 'down'}-{pk}")


@admin_only
@require_POST
def lost_reason_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    reason = get_object_or_404(LostReason, pk=pk)
    lost_reasons.lost_reason_set_active(user=request.user, reason=reason,
                                        active=not reason.active)
    if not _is_htmx(request):
        messages.success(request, (_("“%(name)s” is offered again.") if reason.active else
                                   _("“%(name)s” is no longer offered; deals lost with it "
                                     "keep it.")) % {"name": reason.name})
    return _lost_reasons_answer(request, focus=f"toggle-{pk}")


urlpatterns = [
    path("settings/", index, name="settings"),
    path("settings/company/", company, name="settings_company"),
    path("settings/company/logo/", company_logo, name="settings_company_logo"),
    path("settings/lost-reasons/", lost_reason_list, name="settings_lost_reasons"),
    path("settings/lost-reasons/<int:pk>/rename/", lost_reason_rename,
         name="settings_lost_reason_rename"),
    path("settings/lost-reasons/<int:pk>/move/", lost_reason_move,
         name="settings_lost_reason_move"),
    path("settings/lost-reasons/<int:pk>/active/", lost_reason_toggle,
         name="settings_lost_reason_toggle"),
    path("settings/users/", users, name="settings_users"),
    path("settings/users/new/", user_create, name="settings_user_create"),
    path("settings/users/<int:pk>/", user_edit, name="settings_user_edit"),
    path("settings/users/<int:pk>/password-link/", user_password_link,
         name="settings_user_password_link"),
    path("settings/users/<int:pk>/deactivate/", user_deactivate,
         name="settings_user_deactivate"),
    path("settings/users/<int:pk>/reactivate/", user_reactivate,
         name="settings_user_reactivate"),
    path("settings/roles/", roles, name="settings_roles"),
    path("settings/teams/", teams, name="settings_teams"),
    path("settings/teams/new/", team_create, name="settings_team_create"),
    path("settings/teams/<int:pk>/", team_edit, name="settings_team_edit"),
    path("settings/teams/<int:pk>/delete/", team_delete, name="settings_team_delete"),
    path("settings/territories/", territories, name="settings_territories"),
    path("settings/territories/new/", territory_create, name="settings_territory_create"),
    path("settings/territories/reassign/", territories_reassign,
         name="settings_territories_reassign"),
    path("settings/territories/<int:pk>/", territory_edit, name="settings_territory_edit"),
    path("settings/territories/<int:pk>/rules/", territory_rule_add,
         name="settings_territory_rule_add"),
    path("settings/territories/<int:pk>/rules/<int:rule_pk>/delete/", territory_rule_delete,
         name="settings_territory_rule_delete"),
    path("settings/pipelines/", pipeline_list, name="settings_pipelines"),
    path("settings/pipelines/<int:pk>/", pipeline_detail, name="settings_pipeline"),
    path("settings/pipelines/<int:pk>/default/", pipeline_default,
         name="settings_pipeline_default"),
    path("settings/pipelines/<int:pk>/delete/", pipeline_delete,
         name="settings_pipeline_delete"),
    path("settings/pipelines/<int:pk>/stages/", stage_create, name="settings_stage_create"),
    path("settings/stages/<int:pk>/", stage_edit, name="settings_stage_edit"),
    path("settings/stages/<int:pk>/move/", stage_move, name="settings_stage_move"),
    path("settings/stages/<int:pk>/delete/", stage_delete, name="settings_stage_delete"),
    path("settings/fields/", fields, name="settings_fields"),
    path("settings/fields/new/", field_create, name="settings_field_create"),
    path("settings/fields/<int:pk>/", field_edit, name="settings_field_edit"),
    path("settings/fields/<int:pk>/active/", field_toggle, name="settings_field_toggle"),
    path("settings/fields/<int:pk>/options/", option_add, name="settings_option_add"),
    path("settings/fields/<int:pk>/options/rename/", option_rename,
         name="settings_option_rename"),
    path("settings/fields/<int:pk>/options/move/", option_move, name="settings_option_move"),
    path("settings/fields/<int:pk>/options/remove/", option_remove,
         name="settings_option_remove"),
    path("settings/picklists/", picklists, name="settings_picklists"),
    # Public: the link a new user follows to choose a password (outside settings/ on purpose).
    path("password/set/<uidb64>/<token>/", PasswordSetView.as_view(),
         name="settings_password_set"),
]
