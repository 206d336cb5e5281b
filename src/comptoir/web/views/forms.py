"""Create and edit pages, the duplicate warning, record pickers and lead conversion.

Every save goes through the domain service of the record; this module only turns a request
into a form, a form into service data, and the service's refusals back into inline errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model
from django.forms.utils import ErrorDict
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from comptoir.access import policy
from comptoir.activities import services as activity_services
from comptoir.activities.models import Activity
from comptoir.core.errors import DomainError, StaleRecord
from comptoir.core.models import ExternalRef, ObjectType
from comptoir.core.services import snapshot
from comptoir.crm import services as crm
from comptoir.crm.models import Account, Contact, Lead, Opportunity
from comptoir.quality import identifiers
from comptoir.quality.wording import reason_text
from comptoir.sales import services as sales_services
from comptoir.sales.models import Product
from comptoir.service import services as case_services
from comptoir.service.models import Case
from comptoir.web.forms import FORMS, PICKERS, LeadConvertForm, RecordForm, suggest
from comptoir.web.objects import detail_url

# --- Duplicate candidates ------------------------------------------------------------------

MAX_CANDIDATES = 8
NAME_POOL = 200  # accounts read per look-up for near names, never more
WARN_SCORE = 25  # an identical name alone is worth a look before creating a record

DETERMINISTIC = {"siren", "vat", "email"}  # one of these shared: warn before creating


@dataclass
class DuplicateCandidate:
    """An existing record the one being created may duplicate (score, why, how sure)."""

    obj: Model
    score: int
    reasons: list[str] = field(default_factory=list)
    strong: bool = False  # sure enough that the first submit shows the warning instead


def duplicate_candidates(object_type: str, data: Mapping[str, Any],
                         user: Any) -> list[DuplicateCandidate]:
    """Existing records ``data`` may duplicate, best first — only records ``user`` may see.

    The matching engine of ``comptoir.quality`` (blocking keys, explainable scores) decides;
    this turns its answer into what the panel shows.
    """
    from comptoir.quality.dedupe import candidates

    if object_type not in DEDUPED.values():
        return []
    found = [(c.id, c.score, c.reasons, c.sure or bool(DETERMINISTIC & set(c.keys)))
             for c in candidates(object_type, data, user=user, limit=MAX_CANDIDATES,
                                 min_score=WARN_SCORE)]
    if object_type == ObjectType.ACCOUNT:
        found += _similar_names(data, user, exclude={f[0] for f in found})
        found.sort(key=lambda f: -f[1])
        found = found[:MAX_CANDIDATES]
    model: type[Model] = Account if object_type == ObjectType.ACCOUNT else Contact
    related = ["owner"] if model is Account else ["owner", "account"]
    objs = model._default_manager.select_related(*related).in_bulk([f[0] for f in found])
    return [DuplicateCandidate(objs[pk], min(100, round(score)),
                               [reason_text(r) for r in reasons if r.points > 0],
                               sure or _same_name_and_postcode(data, objs[pk]))
            for pk, score, reasons, sure in found if pk in objs]


def _postcode(value: Any) -> str:
    return "".join(str(value or "").split()).upper()


def _same_name_and_postcode(data: Mapping[str, Any], obj: Model) -> bool:
    """Same normalised name at the same postcode: a sure duplicate for a person creating an
    account, though the engine scores it below "sure" (a name alone may be common)."""
    if not isinstance(obj, Account):
        return False
    name = identifiers.normalize_name(str(data.get("legal_name") or "")[:200])
    postcode = _postcode(data.get("billing_postcode"))
    return bool(name and postcode) and postcode == _postcode(obj.billing_postcode) \
        and name == identifiers.normalize_name(obj.legal_name)


def _similar_names(data: Mapping[str, Any], user: Any, exclude: set[int]
                   ) -> list[tuple[int, float, list[Any], bool]]:
    """Accounts whose name starts like the one being typed ("Dupont Conseil Lyon" while
    "Dupont Conseil" exists), read off the name index and scored by the same engine: the
    batch's blocking keys only find exact names, a person typing wants the near ones too."""
    from comptoir.quality.dedupe import SPECS, match_config, source_for
    from comptoir.quality.matching import explain_pair

    key = identifiers.normalize_name(str(data.get("legal_name") or "")[:200])
    if len(key) < 4:
        return []
    source, spec = source_for(ObjectType.ACCOUNT), SPECS[ObjectType.ACCOUNT]
    config = match_config(ObjectType.ACCOUNT)
    record = spec.features(data)
    rows = (policy.restrict(Account.objects.all(), user)
            .filter(normalized_name__startswith=key.split()[0][:4]).exclude(pk__in=exclude)
            .order_by("normalized_name").values(*dict.fromkeys(source.fields))[:NAME_POOL])
    out = []
    for row in rows:
        score, reasons = explain_pair(spec, config, record, spec.features(row))
        if score >= WARN_SCORE:
            out.append((int(row["id"]), score, reasons, score >= config.sure))
    return out


DEDUPED = {"account": ObjectType.ACCOUNT, "contact": ObjectType.CONTACT}
DEDUPE_PARAMS = {
    "account": ("legal_name", "siren", "siret", "email", "billing_postcode"),
    "contact": ("first_name", "last_name", "email"),
}


def candidate_rows(candidates: list[DuplicateCandidate]) -> list[dict[str, Any]]:
    """What the panel shows of each candidate."""
    rows = []
    for c in candidates:
        obj: Any = c.obj
        if isinstance(obj, Account):
            detail = " · ".join(x for x in (obj.billing_postcode, obj.billing_city, obj.siren)
                                if x)
            label = obj.legal_name
        else:
            detail = " · ".join(x for x in (obj.account.legal_name, obj.email) if x)
            label = str(obj)
        owner = obj.owner.get_full_name() or obj.owner.username if obj.owner else ""
        rows.append({"url": detail_url(obj), "label": label, "detail": detail, "owner": owner,
                     "score": c.score, "reasons": c.reasons, "strong": c.strong})
    return rows


# --- ERP-owned fields ----------------------------------------------------------------------

def erp_owned_fields(object_type: str, instance: Model) -> dict[str, str]:
    """Form field → connection label, for the fields another system masters on this record.

    The integration layer declares them and its write guard refuses edits; the form shows
    them read-only with the "from ERP" mark and never submits them.
    """
    from comptoir.integration.ownership import owners  # the web layer sits above it

    found = owners(object_type)
    if not found or instance.pk is None:
        return {}
    systems = set(ExternalRef.objects.filter(object_type=object_type, object_id=instance.pk,
                                             deleted_at__isnull=True)
                  .values_list("system", flat=True))
    out: dict[str, str] = {}
    for label, system, fields in found:
        if system in systems:
            for name in fields:
                out[name.removesuffix("_id")] = label
    return out


# --- Create and edit -----------------------------------------------------------------------

def _htmx(request: HttpRequest) -> bool:
    """Whether htmx sent the request (``django_htmx`` middleware)."""
    return bool(getattr(request, "htmx", False))


@dataclass(frozen=True)
class Kind:
    """One kind of record the forms create and edit."""

    key: str
    object_type: str
    model: type[Model]
    create: Callable[..., Any]
    update: Callable[..., Any]
    instance_arg: str  # keyword of the record in the update service
    new_title: Promise
    prefill: tuple[str, ...] = ()  # query-string links accepted on the create page
    catalogue: bool = False


KINDS: dict[str, Kind] = {k.key: k for k in (
    Kind("account", ObjectType.ACCOUNT, Account, crm.account_create, crm.account_update,
         "account", _l("New account")),
    Kind("contact", ObjectType.CONTACT, Contact, crm.contact_create, crm.contact_update,
         "contact", _l("New contact"), ("account",)),
    Kind("lead", ObjectType.LEAD, Lead, crm.lead_create, crm.lead_update, "lead",
         _l("New lead")),
    Kind("opportunity", ObjectType.OPPORTUNITY, Opportunity, crm.opportunity_create,
         crm.opportunity_update, "opportunity", _l("New deal"), ("account", "contact")),
    Kind("activity", ObjectType.ACTIVITY, Activity, activity_services.activity_create,
         activity_services.activity_update, "activity", _l("New activity"),
         ("account", "contact", "opportunity", "case")),
    Kind("case", ObjectType.CASE, Case, case_services.case_create, case_services.case_update,
         "case", _l("New case"), ("account", "contact")),
    Kind("product", ObjectType.PRODUCT, Product, sales_services.product_create,
         sales_services.product_update, "product", _l("New product"), catalogue=True),
)}


def _prefill(kind: Kind, request: HttpRequest) -> dict[str, Any]:
    """Initial values from the query string; links the user may not see are ignored."""
    initial: dict[str, Any] = {}
    for name in kind.prefill:
        value = request.GET.get(name, "")
        if not value.isdigit() or len(value) > 18:
            continue
        obj = PICKERS[name].model._default_manager.filter(pk=int(value)).first()
        if obj is None or not policy.can(request.user, "view", obj):
            continue
        initial[name] = obj
        if name != "account" and "account" in kind.prefill and "account" not in initial:
            account = getattr(obj, "account", None)
            if account is not None and policy.can(request.user, "view", account):
                initial["account"] = account
    account = initial.get("account")
    if kind.key == "opportunity" and isinstance(account, Account) \
            and not account.open_for_business:  # not offered for new deals
        initial.pop("account")
        initial.pop("contact", None)
    if kind.key == "activity":
        wanted = request.GET.get("kind", "")
        initial["kind"] = wanted if wanted in Activity.Kind.values else Activity.Kind.CALL
        if initial["kind"] in (Activity.Kind.CALL, Activity.Kind.NOTE, Activity.Kind.EMAIL):
            initial["done"] = True
    if kind.key == "case":
        initial.setdefault("priority", Case.Priority.NORMAL)
    return initial


def _check_catalogue(kind: Kind, user: Any) -> None:
    if kind.catalogue and not policy.can_manage_catalogue(user):
        raise PermissionDenied(_("Only data managers and administrators can change the "
                                 "catalogue."))


def _record(kind: Kind, request: HttpRequest, pk: int) -> Any:
    """The record if the user may see it (else 404) and change it (else 403)."""
    obj = get_object_or_404(policy.restrict(kind.model._default_manager.all(), request.user),
                            pk=pk)
    _check_catalogue(kind, request.user)
    if not kind.catalogue and not policy.can(request.user, "change", obj):
        raise PermissionDenied(_("You are not allowed to change this record."))
    return obj


# --- "Changed by someone since you opened it" ----------------------------------------------
# An edit form carries the record as it was when the form was opened (signed, so it cannot be
# forged): the service then writes only what the user changed since, and refuses, with both
# values, a field someone else changed meanwhile.

_BASE_SALT = "comptoir.web.form-base"


def _base_token(obj: Any) -> str:
    return signing.dumps({"pk": obj.pk, "values": snapshot(obj)}, salt=_BASE_SALT,
                         compress=True)


def _posted_base(request: HttpRequest, obj: Any) -> dict[str, Any] | None:
    if obj is None or request.method != "POST":
        return None
    try:
        data = signing.loads(request.POST.get("_base", ""), salt=_BASE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("pk") != obj.pk:
        return None
    values = data.get("values")
    return values if isinstance(values, dict) else None


def _same(a: Any, b: Any) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    return str(a) == str(b)


def _custom_changed(custom: dict[str, Any] | None, base: Mapping[str, Any] | None
                    ) -> dict[str, Any] | None:
    """The custom values the user changed since the form was opened (the form sends those
    that differ from the record as it is now, which includes values others changed since)."""
    if custom is None or base is None:
        return custom
    opened = base.get("custom") or {}
    kept = {k: v for k, v in custom.items() if not _same(v, opened.get(k))}
    return kept or None


def _apply_stale(form: RecordForm, exc: StaleRecord) -> None:
    form.add_error(None, exc.message)
    for key, (yours, current) in exc.conflicts.items():
        name = form.form_field_for(key)
        text = _("Now “%(current)s” (changed meanwhile); yours: “%(yours)s”. Save again to "
                 "keep yours.") % {"current": "" if current is None else current,
                                   "yours": "" if yours is None else yours}
        if name is not None:
            form.add_error(name, text)
        else:
            form.add_error(None, f"{key}: {text}")


def _render_form(request: HttpRequest, kind: Kind, form: RecordForm, *, obj: Any = None,
                 candidates: list[DuplicateCandidate] | None = None,
                 status: int = 200, base_token: str | None = None) -> HttpResponse:
    if obj is None:
        title = str(kind.new_title)
        cancel = reverse(f"web:{kind.key}_list")
        linked = form.initial.get("account")
        if isinstance(linked, Account):
            cancel = detail_url(linked)
    else:
        title = _("Edit %(name)s") % {"name": obj}
        cancel = detail_url(obj)
    context = {
        "kind": kind, "form": form, "obj": obj, "title": title, "cancel_url": cancel,
        "action": request.get_full_path(), "validate_url": request.path,
        "dedupe_url": (reverse("web:duplicate_check", args=[kind.key])
                       if obj is None and kind.key in DEDUPED else ""),
        "candidates": candidate_rows(candidates or []),
        "blocking": any(c.strong for c in candidates or []),
        "base_token": "",
    }
    if obj is not None:  # an edit keeps the state it was opened with across re-displays
        context["base_token"] = base_token or (
            request.POST.get("_base", "") if _posted_base(request, obj) is not None
            else _base_token(obj))
    return render(request, "web/forms/form.html", context, status=status)


def _validate_field(request: HttpRequest, form: RecordForm, name: str) -> HttpResponse:
    """The partial of one field with its errors, for the inline validation (htmx)."""
    if name not in form.fields or not form.validates_live(name):
        return HttpResponse(status=204)
    form.is_valid()
    errors = form.live_errors(name)
    only = ErrorDict()  # only this field's errors are shown
    if errors:
        only[name] = form.error_class(errors)
    form._errors = only  # type: ignore[attr-defined]
    return render(request, "web/forms/_field.html", {"form": form, "f": form[name],
                                                     "validate_url": request.path})


def _save(request: HttpRequest, kind: Kind, form: RecordForm, obj: Any) -> HttpResponse:
    data, custom = form.service_data()
    weak: list[DuplicateCandidate] = []
    if obj is None and kind.key in DEDUPED and not request.POST.get("create_anyway"):
        # Checked here, whatever the page's script did (or had time to do): a sure duplicate
        # is never created without an explicit "create anyway".
        candidates = duplicate_candidates(kind.object_type, data, request.user)
        if any(c.strong for c in candidates):
            form.add_error(None, _("This may already exist: open one of the records below, or "
                                   "confirm that this one is new."))
            return _render_form(request, kind, form, candidates=candidates)
        weak = candidates
    try:
        if obj is None:
            saved = kind.create(user=request.user, data=data, custom=custom)
        else:
            base = _posted_base(request, obj)
            if base is not None:
                obj._base_values = base
            saved = kind.update(**{kind.instance_arg: obj}, user=request.user, data=data,
                                custom=_custom_changed(custom, base))
    except StaleRecord as exc:
        _apply_stale(form, exc)
        # the user has now seen the other change: saving again keeps their values
        fresh = kind.model._default_manager.get(pk=obj.pk)
        return _render_form(request, kind, form, obj=obj, status=409,
                            base_token=_base_token(fresh))
    except DomainError as exc:
        form.apply_domain_error(exc)
        return _render_form(request, kind, form, obj=obj)
    if obj is None:
        messages.success(request, _("“%(name)s” was created.") % {"name": saved})
        if weak:  # not sure enough to stop the create, still worth a look
            messages.warning(request, _("Possible duplicates of “%(name)s”: %(others)s. Check "
                                        "that it is not one of them.") % {
                "name": saved, "others": ", ".join(row["label"] for row in
                                                    candidate_rows(weak))})
    else:
        messages.success(request, _("“%(name)s” was saved.") % {"name": saved})
    return HttpResponseRedirect(detail_url(saved))


def _form_view(request: HttpRequest, kind: Kind, obj: Any) -> HttpResponse:
    erp = erp_owned_fields(kind.object_type, obj) if obj is not None else {}
    form_class = FORMS[kind.key]
    if request.method == "POST":
        form = form_class(request.POST, instance=obj, user=request.user, erp_owned=erp,
                          initial=_prefill(kind, request) if obj is None else None)
        validate = request.GET.get("validate", "")
        if validate and _htmx(request):
            return _validate_field(request, form, validate)
        if validate or not form.is_valid():
            form.is_valid()
            return _render_form(request, kind, form, obj=obj)
        return _save(request, kind, form, obj)
    initial = _prefill(kind, request) if obj is None else None
    return _render_form(request, kind, form_class(instance=obj, user=request.user,
                                                  erp_owned=erp, initial=initial), obj=obj)


def _create_view(key: str) -> Callable[..., HttpResponse]:
    kind = KINDS[key]

    @login_required
    def view(request: HttpRequest) -> HttpResponse:
        _check_catalogue(kind, request.user)
        return _form_view(request, kind, None)

    view.__name__ = f"{key}_create"
    return view


def _edit_view(key: str) -> Callable[..., HttpResponse]:
    kind = KINDS[key]

    @login_required
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        obj = _record(kind, request, pk)
        if isinstance(obj, Lead) and obj.status == Lead.Status.CONVERTED:
            messages.info(request, _("This lead is converted; edit the account and contact it "
                                     "became."))
            return HttpResponseRedirect(reverse("web:lead_convert", args=[obj.pk]))
        return _form_view(request, kind, obj)

    view.__name__ = f"{key}_edit"
    return view


# --- Duplicate panel and pickers -----------------------------------------------------------

@login_required
def duplicate_check(request: HttpRequest, object_type: str) -> HttpResponse:
    """The candidates panel for what is being typed (htmx), or the same as a page."""
    if object_type not in DEDUPED:
        raise Http404
    data: dict[str, Any] = {name: request.GET.get(name, "")[:254]
                            for name in DEDUPE_PARAMS[object_type]}
    if object_type == "contact":
        data["account_id"] = request.GET.get("account", "")[:18]
    candidates = duplicate_candidates(DEDUPED[object_type], data, request.user)
    context = {"candidates": candidate_rows(candidates),
               "blocking": any(c.strong for c in candidates), "in_form": bool(_htmx(request)),
               "object_type": object_type}
    template = "web/forms/duplicates.html" if _htmx(request) else "web/forms/duplicates_page.html"
    return render(request, template, context)


@login_required
def suggest_view(request: HttpRequest, kind: str) -> HttpResponse:
    """At most ten records for a picker, among those the user may see (htmx), or a page."""
    if kind not in PICKERS:
        raise Http404
    name = request.GET.get("field", "")[:50]
    text = (request.GET.get(f"{name}_label") or request.GET.get("q") or "")[:200]
    action: policy.Action = "change" if request.GET.get("action") == "change" else "view"
    depends = request.GET.get("account") if kind != "account" else None
    scope = request.GET.get("scope", "")[:20]  # "open": accounts open for new business
    spec = PICKERS[kind]
    results = [{"pk": o.pk, "label": spec.label(o), "detail": spec.detail(o),
                "url": detail_url(o)}
               for o in suggest(kind, request.user, text, depends=depends, action=action,
                                scope=scope)]
    context = {"results": results, "text": text, "kind": kind}
    template = "web/forms/suggestions.html" if _htmx(request) else "web/forms/suggest_page.html"
    return render(request, template, context)


# --- Lead conversion -----------------------------------------------------------------------

def _account_data_from_lead(lead: Lead) -> dict[str, Any]:
    """The account a lead becomes, as ``crm.services.lead_convert`` builds it; used when the
    rep declines the matching account and asks for a new one, which the service does not
    offer on its own (it always reuses a match)."""
    legal_name = lead.company_name or f"{lead.first_name} {lead.last_name}".strip() \
        or lead.email or lead.phone
    return {"legal_name": legal_name, "siren": lead.siren, "website": lead.website,
            "billing_street": lead.street, "billing_postcode": lead.postcode,
            "billing_city": lead.city, "billing_country": lead.country or "FR",
            "owner_id": lead.owner_id}


def _converted_links(lead: Lead, user: Any) -> list[dict[str, Any]]:
    links = []
    for label, obj in ((_("Account"), lead.converted_account),
                       (_("Contact"), lead.converted_contact),
                       (_("Deal"), lead.converted_opportunity)):
        if obj is None:
            continue
        visible = policy.can(user, "view", obj)
        links.append({"label": label, "name": str(obj) if visible else "",
                      "url": detail_url(obj) if visible else ""})
    return links


@login_required
def lead_convert(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(policy.restrict(
        Lead.objects.select_related("owner", "converted_account", "converted_contact",
                                    "converted_opportunity"), request.user), pk=pk)
    context: dict[str, Any] = {"lead": lead, "cancel_url": detail_url(lead)}
    if lead.status == Lead.Status.CONVERTED:
        context["links"] = _converted_links(lead, request.user)
        return render(request, "web/forms/lead_converted.html", context)
    context["can_convert"] = policy.can(request.user, "change", lead)
    match, how = crm.find_matching_account(siren=lead.siren, email=lead.email,
                                           company_name=lead.company_name)
    # An account the user cannot work on is not offered (nor named): the service explains
    # the conflict if the conversion needs it.
    shown = match if match is not None and policy.can(request.user, "change", match) else None
    initial = {
        "create_opportunity": False,
        "opportunity_name": f"{lead.company_name or lead} — {lead.get_source_display()}"[:200],
        "expected_close_date": timezone.localdate() + dt.timedelta(days=30),
    }
    form = LeadConvertForm(request.POST or None, user=request.user, match=shown,
                           initial=initial)
    context.update({"form": form, "match": shown, "matched_by": how if shown else "",
                    "match_detail": candidate_rows([DuplicateCandidate(shown, 100)])[0]
                    if shown else None})
    if request.method == "POST" and form.is_valid():
        try:
            conversion = _convert(request, lead, form, shown)
        except DomainError as exc:
            form.apply_domain_error(exc)
        else:
            parts = {"account": conversion.account.legal_name,
                     "contact": str(conversion.contact)}
            if conversion.opportunity is not None:
                messages.success(request, _(
                    "Lead converted: account “%(account)s”, contact “%(contact)s”, deal "
                    "“%(deal)s”.") % {**parts, "deal": conversion.opportunity.name})
            else:
                messages.success(request, _("Lead converted: account “%(account)s”, contact "
                                            "“%(contact)s”.") % parts)
            return HttpResponseRedirect(detail_url(conversion.account))
    return render(request, "web/forms/lead_convert.html", context)


def _convert(request: HttpRequest, lead: Lead, form: LeadConvertForm,
             shown: Account | None) -> crm.Conversion:
    choice = form.cleaned_data["account_choice"]
    with transaction.atomic():
        if choice == form.ATTACH and shown is not None:
            account_id: int | None = shown.pk
        elif choice == form.OTHER:
            account_id = form.cleaned_data["other_account"].pk
        elif shown is not None:
            # a new account although one matches: the rep saw it and declined it
            account_id = crm.account_create(user=request.user, data=_account_data_from_lead(lead),
                                            source="lead-conversion").pk
        else:
            account_id = None  # the service creates the account, or explains a conflict
        return crm.lead_convert(
            lead=lead, user=request.user, account_id=account_id,
            create_opportunity=bool(form.cleaned_data.get("create_opportunity")),
            opportunity=form.opportunity_data())


# --- Routes --------------------------------------------------------------------------------

urlpatterns = [
    path("accounts/new/", _create_view("account"), name="account_create"),
    path("accounts/<int:pk>/edit/", _edit_view("account"), name="account_edit"),
    path("contacts/new/", _create_view("contact"), name="contact_create"),
    path("contacts/<int:pk>/edit/", _edit_view("contact"), name="contact_edit"),
    path("leads/new/", _create_view("lead"), name="lead_create"),
    path("leads/<int:pk>/edit/", _edit_view("lead"), name="lead_edit"),
    path("leads/<int:pk>/convert/", lead_convert, name="lead_convert"),
    path("deals/new/", _create_view("opportunity"), name="opportunity_create"),
    path("deals/<int:pk>/edit/", _edit_view("opportunity"), name="opportunity_edit"),
    path("activities/new/", _create_view("activity"), name="activity_create"),
    path("activities/<int:pk>/edit/", _edit_view("activity"), name="activity_edit"),
    path("cases/new/", _create_view("case"), name="case_create"),
    path("cases/<int:pk>/edit/", _edit_view("case"), name="case_edit"),
    path("catalogue/new/", _create_view("product"), name="product_create"),
    path("catalogue/<int:pk>/edit/", _edit_view("product"), name="product_edit"),
    path("duplicates/<str:object_type>/", duplicate_check, name="duplicate_check"),
    path("suggest/account/", suggest_view, {"kind": "account"}, name="account_suggest"),
    path("suggest/<str:kind>/", suggest_view, name="suggest"),
]
