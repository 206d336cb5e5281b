"""Inline edit of a record's key facts: the pencil next to a value opens the field in place.

The edit form of the record (``web.forms.FORMS``) decides which fields exist, which the user
may change (disabled: owned by the ERP, an owner they may not give away…), their widget and
how input is parsed; only the fields of the fact being edited are kept. The save goes through
the record's update service (``views.forms.KINDS``), which checks access, validates, audits and
refuses to overwrite a value someone else changed since the field was opened.

htmx swaps the whole key-facts list (``#facts``) each time, so values computed from others (a
deal's weighted amount) follow. Without JavaScript the pencil is a link to the full edit form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.forms import BoundField
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from comptoir.access import policy
from comptoir.core.errors import DomainError, StaleRecord
from comptoir.core.services import snapshot
from comptoir.crm.models import Lead
from comptoir.web.forms import CUSTOM_PREFIX, FORMS, PickerField, RecordForm
from comptoir.web.views.forms import KINDS, Kind, erp_owned_fields

# A fact showing several fields (an address) is edited as one group.
GROUPS: dict[str, tuple[str, ...]] = {
    "billing_address": ("billing_street", "billing_postcode", "billing_city", "billing_country"),
    "shipping_address": ("shipping_street", "shipping_postcode", "shipping_city",
                         "shipping_country"),
    "mailing_address": ("mailing_street", "mailing_postcode", "mailing_city",
                        "mailing_country"),
    "address": ("street", "postcode", "city", "country"),
}
INLINE_KINDS = frozenset({"account", "contact", "lead", "opportunity", "activity", "case",
                          "product"})
_SALT = "comptoir.web.inline-edit"
__all__ = ["CUSTOM_PREFIX", "editable_keys", "record_field"]


def field_names(key: str) -> tuple[str, ...]:
    return GROUPS.get(key, (key,))


def may_edit(kind: Kind, obj: Model, user: Any, *, can_change: bool | None = None) -> bool:
    """The record's change right, as the full edit form has it."""
    if kind.catalogue:
        return policy.can_manage_catalogue(user)
    if isinstance(obj, Lead) and obj.status == Lead.Status.CONVERTED:
        return False  # edited through the account and contact it became
    return policy.can(user, "change", obj) if can_change is None else can_change


def _form(kind: Kind, obj: Model, user: Any, data: Any = None) -> RecordForm:
    return FORMS[kind.key](data, instance=obj, user=user,
                           erp_owned=erp_owned_fields(kind.object_type, obj))


def _open(form: RecordForm) -> set[str]:
    return {name for name, f in form.fields.items() if not f.disabled}


def editable_keys(kind_key: str, obj: Model, user: Any, *, can_change: bool,
                  can_transfer: bool, owned: Mapping[str, str]) -> set[str]:
    """The fact keys (field names, address groups) ``user`` may edit in place on ``obj``,
    from the page's answers of the policy and the fields the ERP masters: the form's fields
    as declared, no query. The edit itself builds the real form, which has the last word."""
    if kind_key not in INLINE_KINDS or not can_change:
        return set()
    kind = KINDS[kind_key]
    if not may_edit(kind, obj, user, can_change=can_change):
        return set()
    fields = set(FORMS[kind_key].base_fields) - set(owned)
    if not can_transfer:
        fields.discard("owner")  # shown, not offered: only the owner's side gives it away
    return fields | {k for k, names in GROUPS.items() if set(names) <= fields}


def _only(form: RecordForm, names: Sequence[str]) -> RecordForm:
    """The form reduced to the fields being edited: the others are neither shown, validated
    nor sent to the service."""
    form.fields = {n: form.fields[n] for n in names}
    form.custom_names = [n for n in form.custom_names if n in names]
    form.live_fields = set()
    return form


def _token(obj: Model) -> str:
    """The record's values when the field was opened (signed: it cannot be forged)."""
    return signing.dumps({"pk": obj.pk, "values": snapshot(obj)}, salt=_SALT, compress=True)


def _opened(request: HttpRequest, obj: Model) -> dict[str, Any] | None:
    try:
        data = signing.loads(request.POST.get("_base", ""), salt=_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("pk") != obj.pk:
        return None
    values = data.get("values")
    return values if isinstance(values, dict) else None


def _record(request: HttpRequest, kind: Kind, pk: int) -> Any:
    from comptoir.web.views.records import FACTS

    related = FACTS[kind.key][0]
    qs = kind.model._default_manager.select_related(*related) if related \
        else kind.model._default_manager.all()
    obj = policy.restrict(qs, request.user).filter(pk=pk).first()
    if obj is None:
        raise Http404
    if not may_edit(kind, obj, request.user):
        raise PermissionDenied(_("You are not allowed to change this record."))
    return obj


def _facts(request: HttpRequest, kind: Kind, obj: Model) -> list[Any]:
    from comptoir.web.views.records import erp_of, with_inline_edit
    from comptoir.web.views.recycle import may_delete

    owned = erp_of(kind.object_type, int(obj.pk), with_runs=False).owned  # type: ignore[arg-type]
    return with_inline_edit(request, kind.key, obj, owned, can_change=True,
                            can_transfer=may_delete(request.user, obj))


def _render(request: HttpRequest, kind: Kind, obj: Model, *, key: str = "",
            form: RecordForm | None = None, base: str = "", saved: str = "") -> HttpResponse:
    facts = _facts(request, kind, obj)
    fields: list[BoundField] = []
    hidden: dict[str, Any] = {}
    if form is not None:
        fields = [form[n] for n in form.fields]
        for bound in fields:  # a picker that depends on another field gets its value along
            field = bound.field
            if isinstance(field, PickerField) and field.depends_on \
                    and field.depends_on not in form.fields:
                hidden[field.depends_on] = getattr(obj, f"{field.depends_on}_id", "") or ""
    return render(request, "web/records/_facts.html", {
        "facts": facts, "editing": key, "edit_form": form, "edit_fields": fields,
        "edit_base": base, "edit_hidden": hidden, "edit_saved": saved, "focus_key": key,
        "full_edit_url": reverse(f"web:{kind.key}_edit", args=[obj.pk]),
        "inline_swap": True,
    })


def _current_text(request: HttpRequest, kind: Kind, obj: Model, key: str) -> str:
    for f in _facts(request, kind, obj):
        if f.key == key:
            return str(f.text)
    return ""


@login_required
@require_http_methods(["GET", "POST"])
def record_field(request: HttpRequest, kind: str, pk: int, key: str) -> HttpResponse:
    """One fact of a record in edit mode (GET), saved (POST), or back to display (``cancel``).
    Answers the key-facts list for htmx; a plain request goes to the full edit form."""
    if kind not in INLINE_KINDS:
        raise Http404
    spec = KINDS[kind]
    obj = _record(request, spec, pk)
    full_form = reverse(f"web:{kind}_edit", args=[obj.pk])
    if not getattr(request, "htmx", False):
        return HttpResponseRedirect(full_form)
    if request.method == "GET" and request.GET.get("cancel"):
        return _render(request, spec, obj, key=key)
    names = field_names(key)
    form = _form(spec, obj, request.user, request.POST if request.method == "POST" else None)
    if not set(names) <= _open(form):
        raise PermissionDenied(_("This field cannot be changed here."))
    form = _only(form, names)
    if request.method == "GET":
        return _render(request, spec, obj, key=key, form=form, base=_token(obj))
    opened = _opened(request, obj)
    if not form.is_valid():
        return _render(request, spec, obj, key=key, form=form,
                       base=request.POST.get("_base", "") if opened is not None else _token(obj))
    data, custom = form.service_data()
    if not data and not custom:
        return _render(request, spec, obj, key=key)
    if opened is not None:
        # only the fields written here are compared with their value when the field was
        # opened: a change to another field since does not stop this one
        base = snapshot(obj)
        base.update({name: opened[name] for name in data if name in opened})
        obj._base_values = base  # type: ignore[attr-defined]
    try:
        spec.update(**{spec.instance_arg: obj}, user=request.user, data=data, custom=custom)
    except StaleRecord as exc:
        fresh = spec.model._default_manager.get(pk=obj.pk)
        form.add_error(None, exc.message)
        form.add_error(names[0], _("Now “%(current)s”, changed meanwhile. Save again to keep "
                                   "yours.") % {"current": _current_text(request, spec, fresh,
                                                                         key) or "—"})
        return _render(request, spec, fresh, key=key, form=form, base=_token(fresh))
    except DomainError as exc:
        form.apply_domain_error(exc)
        return _render(request, spec, obj, key=key, form=form,
                       base=request.POST.get("_base", "") or _token(obj))
    fresh = _record(request, spec, pk)
    return _render(request, spec, fresh, key=key, saved=_("Saved."))


urlpatterns = [
    path("records/<str:kind>/<int:pk>/field/<str:key>/", record_field, name="record_field"),
]
