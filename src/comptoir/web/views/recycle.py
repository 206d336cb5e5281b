"""Deleting a record from its page, and the recycle bin where it stays 30 days.

The delete goes through the record's domain service (access, audit), whose ``delete_record``
keeps everything in the bin (``core.recycle``). Who sees which entry of the bin is decided
here with the access policy: administrators and data managers see every entry; anyone else
the entries they deleted themselves and would still be allowed to see, judged on the owner,
account owner and territory the record had (``policy.index_visibility_q``, made for such
copies of rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model, ProtectedError, Q, QuerySet, RestrictedError
from django.db.models.deletion import Collector
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from comptoir.access import policy
from comptoir.activities.services import activity_delete
from comptoir.core import recycle
from comptoir.core.errors import DomainError
from comptoir.core.models import DeletedRecord, ObjectType
from comptoir.crm import services as crm
from comptoir.sales.services import product_delete, salesdocument_delete
from comptoir.service.services import case_delete
from comptoir.web.objects import OBJECTS, detail_url_for, object_type_of

BIN_PAGE = 25
LIST_OF: dict[str, str] = {  # object type -> its list (``web:<key>_list``)
    ObjectType.ACCOUNT: "account", ObjectType.CONTACT: "contact", ObjectType.LEAD: "lead",
    ObjectType.OPPORTUNITY: "opportunity", ObjectType.ACTIVITY: "activity",
    ObjectType.CASE: "case", ObjectType.PRODUCT: "product",
    ObjectType.SALES_DOCUMENT: "document"}


@dataclass(frozen=True)
class Deleter:
    service: Callable[..., None]
    keyword: str


DELETERS: dict[str, Deleter] = {
    ObjectType.ACCOUNT: Deleter(crm.account_delete, "account"),
    ObjectType.CONTACT: Deleter(crm.contact_delete, "contact"),
    ObjectType.LEAD: Deleter(crm.lead_delete, "lead"),
    ObjectType.OPPORTUNITY: Deleter(crm.opportunity_delete, "opportunity"),
    ObjectType.ACTIVITY: Deleter(activity_delete, "activity"),
    ObjectType.CASE: Deleter(case_delete, "case"),
    ObjectType.PRODUCT: Deleter(product_delete, "product"),
    ObjectType.SALES_DOCUMENT: Deleter(salesdocument_delete, "document"),
}


def may_delete(user: Any, obj: Model) -> bool:
    """The delete right of the policy (the catalogue: its managers)."""
    if object_type_of(obj) == ObjectType.PRODUCT:
        return policy.can_manage_catalogue(user)
    return policy.can(user, "delete", obj)


def delete_url(obj: Model) -> str:
    """The delete page of ``obj`` ("" for a kind that has none); ask :func:`may_delete`."""
    object_type = object_type_of(obj)
    if object_type not in DELETERS:
        return ""
    return reverse("web:record_delete", args=[object_type, obj.pk])


# --- Deleting ------------------------------------------------------------------------------

def _plural(label: str, n: int) -> str:
    model = apps.get_model(label)
    name = model._meta.verbose_name if n == 1 else model._meta.verbose_name_plural
    return f"{n} {name}"


def going_with(obj: Model) -> list[str]:
    """What the deletion takes along ("3 contacts", "12 activities"), for the confirmation."""
    collector = Collector(using="default", origin=obj)
    try:
        collector.collect([obj])
    except (ProtectedError, RestrictedError):
        return []  # the service will say it is in use
    counts: dict[str, int] = {}
    for model, instances in collector.data.items():
        if model is type(obj) or model._meta.auto_created:
            continue
        counts[model._meta.label_lower] = counts.get(model._meta.label_lower, 0) + len(instances)
    for qs in collector.fast_deletes:
        if qs.model._meta.auto_created:
            continue
        counts[qs.model._meta.label_lower] = counts.get(qs.model._meta.label_lower, 0) \
            + qs.count()
    return [_plural(label, n) for label, n in sorted(counts.items()) if n]


@login_required
@require_http_methods(["GET", "POST"])
def record_delete(request: HttpRequest, object_type: str, pk: int) -> HttpResponse:
    """Ask, then delete: the record goes to the recycle bin, with what goes along."""
    if object_type not in DELETERS:
        raise Http404
    model, _prefix = OBJECTS[object_type]
    obj = get_object_or_404(policy.restrict(model._default_manager.all(), request.user), pk=pk)
    if not may_delete(request.user, obj):
        raise PermissionDenied(_("You are not allowed to delete this record."))
    label = str(obj)
    error = ""
    if request.method == "POST":
        deleter = DELETERS[object_type]
        try:
            deleter.service(**{deleter.keyword: obj}, user=request.user)
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("“%(name)s” was deleted. It stays in the recycle bin "
                                        "for 30 days, from where it can be restored.")
                             % {"name": label})
            return HttpResponseRedirect(reverse(f"web:{LIST_OF[object_type]}_list"))
    return render(request, "web/recycle/confirm_delete.html", {
        "object": obj, "label": label, "kind": capfirst(str(model._meta.verbose_name)),
        "going_with": [] if error else going_with(obj), "error": error,
        "cancel_url": detail_url_for(object_type, obj.pk),
        "title": _("Delete %(name)s") % {"name": label},
    }, status=409 if error else 200)


# --- The bin -------------------------------------------------------------------------------

def visible_entries(user: Any) -> QuerySet[DeletedRecord]:
    """The entries ``user`` may see and restore."""
    qs = DeletedRecord.objects.select_related("deleted_by").defer("payload")
    if policy.sees_all(user):
        return qs
    condition = Q(pk__in=[])
    for object_type, (model, _prefix) in OBJECTS.items():
        q = policy.index_visibility_q(model, user, owner="record_owner",
                                      account_owner="account_owner",
                                      account_territory="account_territory")
        condition |= Q(object_type=object_type) & (q if q is not None else Q())
    return qs.filter(condition, deleted_by=user)


@dataclass
class BinRow:
    entry: DeletedRecord
    kind: str
    going_with: list[str]
    expires: Any


def _row(entry: DeletedRecord) -> BinRow:
    model = OBJECTS.get(entry.object_type, (None, ""))[0]
    kind = capfirst(str(model._meta.verbose_name)) if model is not None \
        else entry.get_object_type_display()
    root = model._meta.label_lower if model is not None else ""
    with_ = []
    for label, n in sorted((entry.counts or {}).items()):
        if label == root:
            n -= 1
        if n > 0:
            try:
                with_.append(_plural(label, n))
            except LookupError:
                continue
    return BinRow(entry, kind, with_, entry.deleted_at + recycle.RETENTION)


@login_required
def recycle_bin(request: HttpRequest) -> HttpResponse:
    """What the user deleted (everything, for administrators), newest first."""
    page = Paginator(visible_entries(request.user), BIN_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/recycle/bin.html", {
        "page_obj": page, "rows": [_row(e) for e in page.object_list],
        "sees_all": policy.sees_all(request.user), "days": recycle.RETENTION.days,
        "title": _("Recycle bin"),
    })


@login_required
@require_POST
def recycle_restore(request: HttpRequest, pk: int) -> HttpResponse:
    entry = visible_entries(request.user).filter(pk=pk).first()
    if entry is None:
        messages.error(request, _("This record is no longer in the recycle bin."))
        return HttpResponseRedirect(reverse("web:recycle_bin"))
    try:
        restored = recycle.restore(entry.pk, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("web:recycle_bin"))
    text = _("“%(name)s” was restored.") % {"name": restored.label}
    if restored.missing_files:
        text += " " + _("Some of its files could not be recovered.")
    messages.success(request, text)
    if restored.object_type in OBJECTS:
        return HttpResponseRedirect(detail_url_for(restored.object_type, restored.object_id))
    return HttpResponseRedirect(reverse("web:recycle_bin"))


urlpatterns = [
    path("records/<str:object_type>/<int:pk>/delete/", record_delete, name="record_delete"),
    path("recycle-bin/", recycle_bin, name="recycle_bin"),
    path("recycle-bin/<int:pk>/restore/", recycle_restore, name="recycle_restore"),
]
