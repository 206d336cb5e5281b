"""The data manager's data-quality area: duplicates review, merges, audits, enrichment, promotions.

Every page of the area renders through :func:`render_quality`, which adds the tabs and refuses
anyone who does not see the whole base (data managers and administrators): the review queue
and the merge history name records across owners. Decisions go through the quality services
(``dedupe.pair_dismiss``, ``merge.merge_records``, ``merge.merge_undo``…), which check the
permissions again and write the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Model, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_GET, require_POST

from comptoir.access import policy
from comptoir.core.errors import DomainError, NotFound
from comptoir.core.services import json_value
from comptoir.quality import dedupe, merge, profiles
from comptoir.quality.models import DuplicatePair, MatchIndexState, MergeRecord
from comptoir.quality.wording import reason_rows
from comptoir.web.objects import detail_url_for
from comptoir.web.templatetags.web import phone

TABS: tuple[tuple[str, Any], ...] = (
    ("duplicates", _l("Duplicates")),
    ("merges", _l("Merges")),
    ("audit", _l("File audit")),
    ("sirene", _l("SIRENE")),
    ("promotions", _l("Promotions")),
    ("field_issues", _l("Values left out")),
)
OBJECTS: tuple[tuple[str, Any], ...] = (
    ("account", _l("Accounts")), ("contact", _l("Contacts")), ("lead", _l("Leads")))
STATUSES: tuple[tuple[str, Any], ...] = tuple(DuplicatePair.Status.choices)
PAIRS_PER_PAGE = 50
MERGES_PER_PAGE = 30
PROFILE_LABELS = {"lead": _l("Lead"), "crm": _l("CRM record"), "erp": _l("ERP customer")}


def require_data_manager(request: HttpRequest) -> None:
    """The data-quality pages are for people who see every record (404 for the others)."""
    if not policy.sees_all(request.user):
        raise Http404


def render_quality(request: HttpRequest, template: str, context: dict[str, Any], *,
                   tab: str, status: int = 200) -> HttpResponse:
    """Render one page of the area with its tabs (``tab`` is the active one)."""
    require_data_manager(request)
    tabs = [{"url": reverse(f"web:quality_{name}"), "label": label, "active": name == tab}
            for name, label in TABS]
    return render(request, template, {"quality_tabs": tabs, "title": dict(TABS)[tab],
                                      **context}, status=status)


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    target = request.POST.get("next") or ""
    if not (target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                       require_https=request.is_secure())):
        target = fallback
    return HttpResponseRedirect(target)


def _object_type(request: HttpRequest) -> str:
    value = request.GET.get("object") or request.POST.get("object") or "account"
    return value if value in dict(OBJECTS) else "account"


# --- What a record looks like in a pair -----------------------------------------------------

@dataclass
class RecordSummary:
    """One side of a pair: enough to recognise the record without opening it."""

    pk: int
    label: str
    detail: list[str] = field(default_factory=list)
    url: str = ""
    exists: bool = True


def summarize(object_type: str, obj: Model | None, pk: int) -> RecordSummary:
    if obj is None:
        return RecordSummary(pk, _("Record #%(id)s (deleted)") % {"id": pk}, exists=False)
    o: Any = obj
    if object_type == "account":
        detail = [f"SIREN {o.siren}" if o.siren else "",
                  " ".join(x for x in (o.billing_postcode, o.billing_city) if x),
                  o.email, phone(o.phone)]
    elif object_type == "contact":
        detail = [str(o.account) if o.account_id else "", o.email, phone(o.phone or o.mobile)]
    else:
        detail = [o.company_name, o.email, phone(o.phone)]
    return RecordSummary(pk, str(obj), [d for d in detail if d],
                         detail_url_for(object_type, pk))


def _records(object_type: str, ids: set[int]) -> dict[int, Model]:
    model = dedupe.source_for(object_type).model
    related = ["account"] if object_type == "contact" else []
    return model._default_manager.select_related(*related).in_bulk(list(ids))


# --- The review queue -----------------------------------------------------------------------

@login_required
@require_GET
def duplicates(request: HttpRequest) -> HttpResponse:
    """Pairs that look alike, best first: compare, merge, or say they are different."""
    require_data_manager(request)
    object_type = _object_type(request)
    status = request.GET.get("status") or DuplicatePair.Status.OPEN
    if status not in dict(STATUSES):
        status = DuplicatePair.Status.OPEN
    qs = dedupe.pairs_visible(request.user, object_type, status=status)
    page = Paginator(qs, PAIRS_PER_PAGE).get_page(request.GET.get("page"))
    pairs = list(page.object_list)
    records = _records(object_type, {i for p in pairs for i in (p.left_id, p.right_id)})
    config = dedupe.match_config(object_type)
    rows = [{"pair": p, "sure": p.score >= config.sure,
             "left": summarize(object_type, records.get(p.left_id), p.left_id),
             "right": summarize(object_type, records.get(p.right_id), p.right_id),
             "reasons": reason_rows(p.reasons)} for p in pairs]
    return render_quality(request, "web/quality/duplicates.html", {
        "object_type": object_type, "objects": OBJECTS, "status": status,
        "statuses": STATUSES, "rows": rows, "page_obj": page, "config": config,
        "index": MatchIndexState.objects.filter(object_type=object_type).first(),
    }, tab="duplicates")


@login_required
@require_POST
def duplicates_run(request: HttpRequest) -> HttpResponse:
    """Queue the batch detection over the whole base; the worker fills the queue."""
    require_data_manager(request)
    object_type = _object_type(request)
    from comptoir.quality.tasks import run_dedupe

    run_dedupe.enqueue(object_type)
    messages.success(request, _("The detection over the whole base has started in the "
                                "background; new pairs appear here when it ends."))
    return _back(request, reverse("web:quality_duplicates") + f"?object={object_type}")


@login_required
@require_POST
def pair_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    """"Not duplicates" (dismiss) or back to the queue (reopen)."""
    require_data_manager(request)
    try:
        pair = dedupe.pair_get(request.user, pk)
        if decision == "dismiss":
            dedupe.pair_dismiss(pair=pair, user=request.user)
            messages.success(request, _("Marked as different records: this pair will not be "
                                        "proposed again."))
        else:
            dedupe.pair_reopen(pair=pair, user=request.user)
            messages.success(request, _("The pair is back in the queue."))
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        messages.error(request, str(exc.message))
    return _back(request, reverse("web:quality_duplicates"))


@login_required
@require_POST
def pairs_merge(request: HttpRequest) -> HttpResponse:
    """Merge the records of the selected pairs at once (set-based, undoable one by one)."""
    require_data_manager(request)
    ids = [int(v) for v in request.POST.getlist("pair") if v.isdigit()]
    fallback = reverse("web:quality_duplicates")
    if not ids:
        messages.error(request, _("Select the pairs to merge first."))
        return _back(request, fallback)
    try:
        for pk in ids:
            dedupe.pair_get(request.user, pk)
        with transaction.atomic():
            done = merge.merge_pairs(pair_ids=ids, user=request.user, source="app")
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return _back(request, fallback)
    merged = sum(len(r.loser_ids) for r in done)
    messages.success(request, _("%(n)d records merged into %(s)d. Each merge can be undone "
                                "from the Merges tab.") % {"n": merged, "s": len(done)})
    return _back(request, fallback)


# --- One pair: compare, choose, merge -------------------------------------------------------

def _field_label(model: type[Model], name: str) -> str:
    try:
        found: Any = model._meta.get_field(name)
    except Exception:  # custom fields and the like keep their name
        return name
    return str(getattr(found, "verbose_name", name))


def _display(value: Any) -> str:
    value = json_value(value)
    if value in (None, ""):
        return ""
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


# How the merge chose each value (``FieldPlan.rule``), in words.
RULE_LABELS: dict[str, Any] = {
    "recent": _l("most recent"), "oldest": _l("oldest"), "survivor": _l("record kept"),
    "chosen": _l("your choice"), "erp": _l("managed in the ERP"), "empty": _l("empty everywhere"),
    "precedence": _l("by precedence"), "outside the merge": _l("outside the merge"),
}


def _rule_label(model: type[Model], rule: str) -> str:
    """The survivorship rule in the user's language (``follow:FIELD`` names the field)."""
    if rule.startswith("follow:"):
        return _("as %(field)s") % {"field": _field_label(model, rule.split(":", 1)[1])}
    return str(RULE_LABELS.get(rule, rule))


PHONE_FIELDS = {"phone", "mobile", "fax"}


class ValueLabels:
    """Field values as people read them: a foreign key's record by its name, a choice by its
    label. The related records of each foreign key are read in one query, on first use."""

    def __init__(self, model: type[Model], values: dict[str, set[Any]]) -> None:
        self.fields = {f.attname: f for f in model._meta.concrete_fields}
        self.values = values
        self.named: dict[str, dict[Any, Model]] = {}

    def __call__(self, attname: str, value: Any) -> str:
        found: Any = self.fields.get(attname)
        if found is None or value in (None, ""):
            return _display(value)
        if found.is_relation and found.related_model is not None:
            if attname not in self.named:
                wanted = [v for v in self.values.get(attname, set()) if v not in (None, "")]
                self.named[attname] = found.related_model._default_manager.in_bulk(wanted)
            obj = self.named[attname].get(value)
            return str(obj) if obj is not None else f"#{value}"
        if found.choices:
            return str(dict(found.flatchoices).get(value, value))
        if attname in PHONE_FIELDS:
            return phone(value)
        return _display(value)


def related_labels(related: dict[str, int]) -> list[str]:
    """``activities.activity.account_id: 5`` as "5 activities" (the rows' model names)."""
    out = []
    for label, n in sorted(related.items()):
        try:
            meta = apps.get_model(label.rsplit(".", 1)[0])._meta
            what = str(meta.verbose_name if n == 1 else meta.verbose_name_plural)
        except (LookupError, ValueError):
            what = label
        out.append(_("%(n)d %(what)s") % {"n": n, "what": what})
    return out


@login_required
def pair_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Both records side by side with the merged result; choose values, then merge."""
    require_data_manager(request)
    try:
        pair = dedupe.pair_get(request.user, pk)
    except NotFound as exc:
        raise Http404 from exc
    object_type = pair.object_type
    model = dedupe.source_for(object_type).model
    ids = [pair.left_id, pair.right_id]
    params = request.POST if request.method == "POST" else request.GET
    try:
        survivor = int(params.get("survivor") or 0)
    except ValueError:
        survivor = 0
    chosen = survivor in ids
    if not chosen:
        survivor = merge.suggest_survivor(object_type, ids) if pair.status == "open" \
            else pair.left_id
    loser = ids[1] if survivor == ids[0] else ids[0]
    choices = {}
    for key in params:
        value = str(params.get(key) or "")
        if key.startswith("pick_") and value.isdigit() and int(value) in ids:
            choices[key[5:]] = int(value)
    records = _records(object_type, set(ids))
    plan = None
    error = ""
    if pair.status == DuplicatePair.Status.OPEN and len(records) == 2:
        try:
            if request.method == "POST" and not chosen:  # merge only what was chosen
                error = _("Choose the record to keep.")
            elif request.method == "POST":
                with transaction.atomic():
                    record = merge.merge_records(
                        object_type=object_type, survivor_id=survivor, loser_ids=[loser],
                        user=request.user, choices=choices, source="app")
                # named as it is now: the merge may have taken the other record's name
                kept = model._default_manager.filter(pk=survivor).first()
                messages.success(request, _("Merged into %(name)s. Undo it from the Merges tab "
                                            "if it was a mistake.") % {
                    "name": str(kept or records[survivor])})
                return HttpResponseRedirect(
                    reverse("web:quality_merges") + f"?object={object_type}#merge-{record.pk}")
            plan = merge.merge_preview(object_type=object_type, survivor_id=survivor,
                                       loser_ids=[loser], user=request.user, choices=choices)
        except DomainError as exc:
            error = str(exc.message)
    rows = []
    if plan is not None:
        shown = ValueLabels(model, {p.field: {p.value, *(v for _i, v in p.options)}
                                    for p in plan.fields.values()})
        for p in plan.fields.values():
            values = dict(p.options)
            rows.append({
                "field": p.field, "label": capfirst(_field_label(model, p.field)),
                "left": shown(p.field, getattr(records[ids[0]], p.field, values.get(ids[0]))),
                "right": shown(p.field, getattr(records[ids[1]], p.field, values.get(ids[1]))),
                "value": shown(p.field, p.value), "source": p.source_id,
                "rule": _rule_label(model, p.rule),
                "differs": p.differs,
                "options": [i for i in ids if i in values],
            })
        rows.sort(key=lambda r: (not r["differs"], r["label"]))
    config = dedupe.match_config(object_type)
    return render_quality(request, "web/quality/pair.html", {
        "pair": pair, "object_type": object_type, "survivor": survivor, "loser": loser,
        "left": summarize(object_type, records.get(ids[0]), ids[0]),
        "right": summarize(object_type, records.get(ids[1]), ids[1]),
        "reasons": reason_rows(pair.reasons), "sure": pair.score >= config.sure,
        "plan": plan, "rows": rows, "error": error,
        "related": related_labels(plan.related if plan else {}),
    }, tab="duplicates", status=422 if error and request.method == "POST" else 200)


# --- Merge history and undo -----------------------------------------------------------------

def _loser_label(object_type: str, values: dict[str, Any]) -> str:
    if object_type == "account":
        return str(values.get("legal_name") or "")
    if object_type == "lead" and not values.get("last_name"):
        return str(values.get("company_name") or "")
    return " ".join(str(values.get(k) or "") for k in ("first_name", "last_name")).strip()


@login_required
@require_GET
def merges(request: HttpRequest) -> HttpResponse:
    """Every merge, latest first, with what it changed and moved; undo from here."""
    require_data_manager(request)
    object_type = _object_type(request)
    qs = MergeRecord.objects.filter(object_type=object_type).select_related(
        "user", "undone_by").order_by("-id")
    page = Paginator(qs, MERGES_PER_PAGE).get_page(request.GET.get("page"))
    items = list(page.object_list)
    survivors = _records(object_type, {m.survivor_id for m in items})
    model = dedupe.source_for(object_type).model
    rows = []
    for m in items:
        moved = sum(len(pks) for _label, _attname, _loser, pks in m.moved)
        rows.append({
            "merge": m,
            "survivor": summarize(object_type, survivors.get(m.survivor_id), m.survivor_id),
            "losers": [f"{_loser_label(object_type, v) or '#' + str(k)} (#{k})"
                       for k, v in m.losers.items()],
            "changed": sorted(_field_label(model, n) for n in m.survivor_changes),
            "moved": moved,
        })
    return render_quality(request, "web/quality/merges.html", {
        "object_type": object_type, "objects": OBJECTS, "rows": rows, "page_obj": page,
    }, tab="merges")


@login_required
@require_POST
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo one merge: the merged records come back with their ids and related records."""
    require_data_manager(request)
    record = MergeRecord.objects.filter(pk=pk).first()
    if record is None:
        raise Http404
    fallback = reverse("web:quality_merges") + f"?object={record.object_type}"
    try:
        with transaction.atomic():
            outcome = merge.merge_undo(merge=record, user=request.user, source="app")
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return _back(request, fallback)
    text = _("Merge undone: %(n)d records restored, %(m)d related records moved back.") % {
        "n": len(outcome["restored"]), "m": outcome["moved_back"]}
    if outcome["kept_fields"]:
        text += " " + _("Changed since the merge, kept as they are: %(f)s.") % {
            "f": ", ".join(_field_label(merge.MERGEABLE[record.object_type], n)
                           for n in outcome["kept_fields"])}
    messages.success(request, text)
    return _back(request, fallback)


# --- The quality card of a record page ------------------------------------------------------

def record_quality(request: HttpRequest, object_type: str, obj: Model) -> dict[str, Any]:
    """What a record page shows about its quality: each profile met or its gaps, the open
    duplicate pairs involving it (for data managers), the last merge into it, and the values
    a sync left out of it (any record a sync loads).

    "No duplicate" is read from the review queue (an indexed lookup) rather than scored live
    on every page view; and only for data managers: telling a rep that a record exists would
    reveal records hidden from them.
    """
    from .quality_issues import record_issues  # that module builds on this one's frame

    pk = int(obj.pk)  # type: ignore[arg-type]
    # Any record a sync loads may have values left out, whoever may see it (see there).
    issues = record_issues(object_type, pk)
    if object_type not in ("account", "contact", "lead"):
        return {"quality_issues": issues} if issues else {}
    sees_all = policy.sees_all(request.user)
    pairs: list[tuple[int, float]] = []
    if sees_all:
        pairs = list(DuplicatePair.objects.filter(
            Q(left_id=pk) | Q(right_id=pk), object_type=object_type,
            status=DuplicatePair.Status.OPEN).order_by("-score", "id")
            .values_list("id", "score")[:5])
    sure = dedupe.match_config(object_type).sure
    # an account's contacts counted once for the three profiles
    contacts = obj.contacts.count() if object_type == "account" else None  # type: ignore[attr-defined]
    rows = []
    for name in profiles.PROFILE_NAMES:
        messages_ = [g.message for g in profiles.gaps(object_type, obj, name, contacts=contacts,
                                                      skip=frozenset({"no_duplicate"}))]
        if (sees_all and any(score >= sure for _id, score in pairs)
                and "no_duplicate" in profiles.profile_requirements(name, object_type)):
            messages_.append(_("This record very probably exists already: merge the "
                               "duplicates first."))
        rows.append({"name": name, "label": PROFILE_LABELS[name], "ok": not messages_,
                     "gaps": messages_})
    out: dict[str, Any] = {"quality_profiles": rows, "quality_issues": issues}
    if sees_all:
        out["quality_pairs"] = [reverse("web:quality_pair", args=[p]) for p, _s in pairs]
        out["quality_last_merge"] = MergeRecord.objects.filter(
            object_type=object_type, survivor_id=pk, undone_at__isnull=True
        ).order_by("-id").first()
    return out


urlpatterns = [
    path("quality/", duplicates, name="quality_duplicates"),
    path("quality/run/", duplicates_run, name="quality_run"),
    path("quality/pairs/merge/", pairs_merge, name="quality_pairs_merge"),
    path("quality/pairs/<int:pk>/", pair_detail, name="quality_pair"),
    path("quality/pairs/<int:pk>/dismiss/", pair_decide, {"decision": "dismiss"},
         name="quality_pair_dismiss"),
    path("quality/pairs/<int:pk>/reopen/", pair_decide, {"decision": "reopen"},
         name="quality_pair_reopen"),
    path("quality/merges/", merges, name="quality_merges"),
    path("quality/merges/<int:pk>/undo/", merge_undo, name="quality_merge_undo"),
]
