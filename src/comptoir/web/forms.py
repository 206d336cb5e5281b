"""The create and edit forms of the web application.

They only parse and present: types, lengths and choices are checked here so garbage never
reaches a service, but every business rule (identifiers, owners, links, duplicates, ERP-owned
fields) stays in the domain services, whose ``ValidationFailed.fields`` come back as inline
errors through :meth:`RecordForm.apply_domain_error`.

Records are chosen with a *picker* (a text box with suggestions and a hidden id) instead of a
``<select>``: there may be a million accounts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Q, QuerySet
from django.forms.models import ModelChoiceField
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.formats import get_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from comptoir.access import policy
from comptoir.access.models import User
from comptoir.activities.models import Activity
from comptoir.core.errors import DomainError
from comptoir.core.models import CustomField, ObjectType
from comptoir.core.services import NON_FIELD, custom_field_definitions
from comptoir.crm.models import (
    Account,
    Contact,
    Lead,
    Opportunity,
    Pipeline,
    Stage,
    open_for_business,
)
from comptoir.crm.services import clean_account_data, clean_person_data, default_pipeline
from comptoir.quality import identifiers
from comptoir.sales.models import Product
from comptoir.service.models import Case

CUSTOM_PREFIX = "cf_"
SUGGESTIONS = 10


# --- Pickers -------------------------------------------------------------------------------

def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _search_accounts(qs: QuerySet[Any], text: str, depends: Any = None) -> QuerySet[Any]:
    """Indexed look-ups only: SIREN, or the start of the normalised name (``normalized_name``
    carries a ``LIKE 'x%'``-able index on PostgreSQL)."""
    digits = _digits(text)
    if len(digits) == 9 and len(digits) >= len(text.replace(" ", "")) - 1:
        return qs.filter(siren=digits).order_by("id")
    key = identifiers.normalize_name(text)
    if not key:
        return qs.none()
    return qs.filter(normalized_name__startswith=key).order_by("normalized_name", "id")


def _search_contacts(qs: QuerySet[Any], text: str, depends: Any = None) -> QuerySet[Any]:
    text = text.strip()
    if depends:
        qs = qs.filter(account_id=depends)
    if not text:
        return qs.order_by("last_name", "id") if depends else qs.none()
    words = text.split()
    q = Q(last_name__istartswith=text) | Q(first_name__istartswith=text) \
        | Q(email__istartswith=text)
    if len(words) > 1:
        q |= Q(first_name__istartswith=words[0], last_name__istartswith=" ".join(words[1:]))
    return qs.filter(q).order_by("last_name", "id")


def _search_opportunities(qs: QuerySet[Any], text: str, depends: Any = None) -> QuerySet[Any]:
    text = text.strip()
    if depends:
        qs = qs.filter(account_id=depends)
    if not text:
        return qs.order_by("-updated_at") if depends else qs.none()
    return qs.filter(name__icontains=text).order_by("-updated_at", "id")


def _search_cases(qs: QuerySet[Any], text: str, depends: Any = None) -> QuerySet[Any]:
    text = text.strip()
    if depends:
        qs = qs.filter(account_id=depends)
    if not text:
        return qs.order_by("-updated_at") if depends else qs.none()
    return qs.filter(Q(number__istartswith=text) | Q(subject__icontains=text)) \
        .order_by("-updated_at", "id")


def _account_detail(a: Any) -> str:
    closed = "" if a.open_for_business else (
        _("deleted in the ERP") if a.erp_deleted_at else _("inactive"))
    return " · ".join(x for x in (a.billing_postcode, a.billing_city, a.siren, closed) if x)


@dataclass(frozen=True)
class PickerScope:
    """A narrower choice for one use of a picker (accounts open for new business), and what
    is said of a record outside it."""

    narrow: Callable[[QuerySet[Any]], QuerySet[Any]]
    refusal: Any


def _contact_detail(c: Any) -> str:
    return " · ".join(x for x in (c.account.legal_name, c.email) if x)


@dataclass(frozen=True)
class PickerKind:
    """How one kind of record is searched and shown in a picker."""

    model: type[Model]
    search: Callable[[QuerySet[Any], str, Any], QuerySet[Any]]
    label: Callable[[Any], str]
    detail: Callable[[Any], str]
    related: tuple[str, ...] = ()
    unknown: Any = ""  # the message for an id or a text that finds nothing
    scopes: Mapping[str, PickerScope] = dataclass_field(default_factory=dict)


# New quotes, orders and deals are for accounts still active in the ERP.
OPEN_ACCOUNTS = PickerScope(lambda qs: qs.filter(open_for_business()),
                            _l("Inactive or deleted in the ERP: choose an active account."))

PICKERS: dict[str, PickerKind] = {
    "account": PickerKind(Account, _search_accounts, lambda a: a.legal_name, _account_detail,
                          unknown=_l("Unknown or not accessible account."),
                          scopes={"open": OPEN_ACCOUNTS}),
    "contact": PickerKind(Contact, _search_contacts, str, _contact_detail, ("account",),
                          unknown=_l("Unknown or not accessible contact.")),
    "opportunity": PickerKind(Opportunity, _search_opportunities, lambda o: o.name,
                              lambda o: f"{o.account.legal_name} · {o.stage.name}",
                              ("account", "stage"),
                              unknown=_l("Unknown or not accessible deal.")),
    "case": PickerKind(Case, _search_cases, str, lambda c: c.account.legal_name, ("account",),
                       unknown=_l("Unknown or not accessible case.")),
}


def picker_queryset(kind: str, user: Any, action: policy.Action = "view",
                    scope: str = "") -> QuerySet[Any]:
    """The records of ``kind`` the user may reach, narrowed by ``scope`` when the kind has it
    (an unknown scope narrows nothing: it only ever comes from a URL)."""
    spec = PICKERS[kind]
    qs = spec.model._default_manager.all()
    if spec.related:
        qs = qs.select_related(*spec.related)
    if scope in spec.scopes:
        qs = spec.scopes[scope].narrow(qs)
    return policy.restrict(qs, user, action)


def suggest(kind: str, user: Any, text: str, *, depends: Any = None,
            action: policy.Action = "view", scope: str = "") -> list[Any]:
    """At most ``SUGGESTIONS`` records of ``kind`` the user may see, matching ``text``."""
    spec = PICKERS[kind]
    if depends is not None and not str(depends).isdigit():
        depends = None
    return list(spec.search(picker_queryset(kind, user, action, scope), text[:200], depends)
                [:SUGGESTIONS])


class PickerWidget(forms.Widget):
    """A text box with htmx suggestions and a hidden input holding the chosen id.

    Posts ``<name>`` (the id) and ``<name>_label`` (the text typed); the field resolves the
    text alone when there is no id (no JavaScript, or the text changed after a choice).
    """

    template_name = "web/forms/widgets/picker.html"

    def __init__(self, kind: str, *, depends_on: str = "", action: str = "view",
                 attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.kind = kind
        self.depends_on = depends_on
        self.action = action
        self.scope = ""
        self.labeller: Callable[[Any], str] | None = None

    def value_from_datadict(self, data: Any, files: Any, name: str) -> dict[str, str]:
        return {"id": str(data.get(name) or "")[:40],
                "text": str(data.get(f"{name}_label") or "")[:200]}

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data and f"{name}_label" not in data

    def id_for_label(self, id_: str) -> str:
        return id_

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        pk: Any = ""
        text = ""
        if isinstance(value, dict):
            pk, text = value.get("id") or "", value.get("text") or ""
        elif isinstance(value, Model):
            pk, text = value.pk, PICKERS[self.kind].label(value)
        elif value not in (None, ""):
            pk = value
            text = self.labeller(value) if self.labeller else ""
        final = self.build_attrs(self.attrs, attrs)
        url = reverse("web:suggest", args=[self.kind])
        scope = f"&scope={self.scope}" if self.scope else ""
        return {"widget": {
            "name": name, "kind": self.kind, "attrs": final, "id": final.get("id", ""),
            "pk": pk, "text": text, "required": self.is_required,
            "url": f"{url}?field={name}&action={self.action}{scope}",
            "depends_on": self.depends_on,
        }}


class PickerField(forms.Field):
    """A record chosen by id (or by unambiguous text) among those the user may reach."""

    widget = PickerWidget
    default_error_messages = {
        "ambiguous": _l("Several records match “%(text)s”: choose one of the suggestions."),
    }

    def __init__(self, kind: str, *, depends_on: str = "", action: policy.Action = "view",
                 **kwargs: Any) -> None:
        kwargs.setdefault("widget", PickerWidget(kind, depends_on=depends_on, action=action))
        super().__init__(**kwargs)
        self.kind = kind
        self.action = action
        self.depends_on = depends_on
        self.scope = ""
        self.queryset: QuerySet[Any] | None = None
        self.reachable: QuerySet[Any] | None = None  # the same without the scope
        self.depends_value: Any = None

    def narrow(self, scope: str, user: Any) -> None:
        """Offer only the records of ``scope`` (accounts open for new business)."""
        assert scope in PICKERS[self.kind].scopes, scope
        self.scope = scope
        assert isinstance(self.widget, PickerWidget)
        self.widget.scope = scope
        self.bind_user(user)

    def bind_user(self, user: Any) -> None:
        self.queryset = picker_queryset(self.kind, user, self.action, self.scope)
        self.reachable = (picker_queryset(self.kind, user, self.action) if self.scope
                          else self.queryset)
        qs = self.queryset
        label = PICKERS[self.kind].label

        def labeller(pk: Any) -> str:
            obj = qs.filter(pk=pk).first() if str(pk).isdigit() else None
            return label(obj) if obj is not None else ""

        assert isinstance(self.widget, PickerWidget)
        self.widget.labeller = labeller

    def _lookup(self, pk: Any) -> Any:
        assert self.queryset is not None, "bind_user() first"
        if not str(pk).isdigit() or len(str(pk)) > 18:
            return None
        return self.queryset.filter(pk=int(pk)).first()

    def to_python(self, value: Any) -> Any:
        if isinstance(value, Model):
            return value
        if not isinstance(value, dict):
            value = {"id": "" if value is None else str(value), "text": ""}
        pk, text = value.get("id", "").strip(), value.get("text", "").strip()
        spec = PICKERS[self.kind]
        if pk:
            obj = self._lookup(pk)
            if obj is None:
                raise forms.ValidationError(self._unknown_message(pk), code="invalid")
            if not text or text == spec.label(obj):
                return obj
        if not text:
            return None
        assert self.queryset is not None
        found = list(spec.search(self.queryset, text, self.depends_value)[:SUGGESTIONS])
        exact = [o for o in found if spec.label(o).casefold() == text.casefold()]
        if len(exact) == 1:
            return exact[0]
        if len(found) == 1:
            return found[0]
        if not found:
            raise forms.ValidationError(str(spec.unknown), code="invalid")
        raise forms.ValidationError(self.error_messages["ambiguous"], code="ambiguous",
                                    params={"text": text})

    def _unknown_message(self, pk: Any) -> str:
        """Why an id is refused: out of the scope (an inactive account), or not reachable."""
        spec = PICKERS[self.kind]
        if self.scope and self.reachable is not None and str(pk).isdigit() \
                and len(str(pk)) <= 18 and self.reachable.filter(pk=int(pk)).exists():
            return str(spec.scopes[self.scope].refusal)
        return str(spec.unknown)

    def has_changed(self, initial: Any, data: Any) -> bool:
        before = initial.pk if isinstance(initial, Model) else initial
        try:
            after = self.to_python(data)
        except forms.ValidationError:
            return True
        return str(before or "") != str(after.pk if after is not None else "")


# --- Value fields ------------------------------------------------------------------------

class LocalDecimalField(forms.DecimalField):
    """Amounts as people type them: ``1 234,56`` in French, ``1,234.56`` in English, ``€``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("localize", True)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if isinstance(value, str):
            text = re.sub(r"[\s\u00a0\u202f€$£%]", "", value)
            comma_decimal = get_format("DECIMAL_SEPARATOR") == ","
            if "," in text and "." in text:
                last = max(text.rfind(","), text.rfind("."))
                text = re.sub(r"[.,]", "", text[:last]) + "." + text[last + 1:]
            elif "," in text:
                thousands = not comma_decimal and (text.count(",") > 1
                                                   or len(text.split(",")[1]) == 3)
                text = text.replace(",", "" if thousands else ".")
            value = text[:40]
        return super().to_python(value)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class TelInput(forms.TextInput):
    input_type = "tel"


class IdentifierField(forms.CharField):
    """A SIREN, SIRET, VAT number or NAF code as people paste it (``528 960 354``,
    ``528.960.354``, with no-break spaces): the model's ``max_length`` (9 for a SIREN) would
    make the browser cut such a spelling, so the input is wider and the value is compacted
    here. A valid value comes out in its stored form; an invalid one goes on compacted, for
    the domain service to refuse with its message."""

    INPUT_LENGTH: ClassVar[int] = 40
    separators: ClassVar[str] = r"[\s\u00a0\u202f.\-/]"

    def __init__(self, **kwargs: Any) -> None:
        kwargs["max_length"] = self.INPUT_LENGTH  # not the model's: it counts stored digits
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        text = re.sub(self.separators, "", str(super().to_python(value))).upper()
        if not text:
            return text
        try:
            return self.check(text)
        except ValueError:
            return text

    def check(self, value: str) -> str:
        """The stored form of a valid value; ``ValueError`` otherwise."""
        raise NotImplementedError


class SirenField(IdentifierField):
    def check(self, value: str) -> str:
        return identifiers.check_siren(value)


class SiretField(IdentifierField):
    def check(self, value: str) -> str:
        return identifiers.check_siret(value)


class VatField(IdentifierField):
    def check(self, value: str) -> str:
        return identifiers.check_vat(value)


class NafField(IdentifierField):
    separators = r"[\s\u00a0\u202f]"  # the dot of ``62.01Z`` is part of the code

    def check(self, value: str) -> str:
        return identifiers.check_naf(value)


class OwnerField(ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.username


def custom_form_field(cf: CustomField) -> forms.Field:
    """The form field of one custom field definition (``core.CustomField``)."""
    common: dict[str, Any] = {"label": cf.label, "required": cf.required}
    if cf.type == CustomField.Type.NUMBER:
        return LocalDecimalField(max_digits=30, decimal_places=10, **common)
    if cf.type == CustomField.Type.DATE:
        return forms.DateField(widget=DateInput(), **common)
    if cf.type == CustomField.Type.BOOLEAN:
        return forms.BooleanField(label=cf.label, required=False)
    if cf.type == CustomField.Type.CHOICE:
        choices = [("", "—")] + [(str(c), str(c)) for c in cf.choices or []]
        return forms.ChoiceField(choices=choices, **common)
    return forms.CharField(max_length=cf.max_length, **common)


# --- Base form -----------------------------------------------------------------------------

TEXTUAL_WIDGETS = ("text", "email", "tel", "url", "number", "date", "datetime-local", "search")


class RecordForm(forms.ModelForm):  # type: ignore[type-arg]
    """A model's fields as a form; saving is the caller's (through the domain service)."""

    object_type: ClassVar[str]
    main: ClassVar[tuple[str, ...]]
    more: ClassVar[tuple[str, ...]] = ()
    dedupe: ClassVar[tuple[str, ...]] = ()  # fields whose typing refreshes the duplicate panel
    # API / service field names that are form fields under another name
    aliases: ClassVar[dict[str, str]] = {}

    def __init__(self, *args: Any, user: Any, erp_owned: Mapping[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.creating = self.instance.pk is None
        self.erp_owned: dict[str, str] = {}
        for field in self.fields.values():
            if isinstance(field, PickerField):
                field.bind_user(user)
        if "owner" in self.fields:
            self._limit_owner()
        self._add_custom_fields()
        for name, source in (erp_owned or {}).items():
            if name in self.fields:
                self.fields[name].disabled = True
                self.erp_owned[name] = source
        for field in self.fields.values():
            if isinstance(field, PickerField) and field.depends_on:
                field.depends_value = self._raw_id(field.depends_on)
        if self.creating and self.dedupe:
            self._wire_dedupe()
        self.live_fields = {n for n in self.fields if self.validates_live(n)}

    def _wire_dedupe(self) -> None:
        """Mark the fields whose typing refreshes the duplicate panel.

        The request itself belongs to the panel (``form.html``, fired by ``forms.js``), not to
        the inputs: a field re-checked on change is swapped out, and a request pending on the
        old input would be lost with it — letting a duplicate through unwarned.
        """
        for name in self.dedupe:
            if name in self.fields:
                self.fields[name].widget.attrs["data-dedupe"] = ""

    def _raw_id(self, name: str) -> Any:
        if self.is_bound:
            value = self.data.get(name)
            return value if value and str(value).isdigit() else None
        initial = self.initial.get(name)
        return initial.pk if isinstance(initial, Model) else initial

    def _limit_owner(self) -> None:
        allowed = policy.assignable_owner_ids(self.user)
        users = User.objects.filter(is_active=True).order_by("first_name", "last_name",
                                                               "username")
        current = getattr(self.instance, "owner_id", None)
        if allowed is not None:
            # the current owner stays listed so an edit does not silently change it
            users = users.filter(pk__in=set(allowed) | ({current} if current else set()))
        field = self.fields["owner"]
        assert isinstance(field, ModelChoiceField)
        field.queryset = users
        field.required = False
        field.empty_label = _("— nobody —") if allowed is None else None
        if not self.creating and not policy.may_transfer(self.user, self.instance):
            # shown, not offered: only the owner's side may give the record away
            field.disabled = True
        if self.creating and "owner" not in self.initial and (
                allowed is None or self.user.pk in allowed):
            self.initial["owner"] = self.user.pk

    def _add_custom_fields(self) -> None:
        self.custom_names: list[str] = []
        current = getattr(self.instance, "custom", None) or {}
        for name, cf in custom_field_definitions(self.object_type).items():
            key = CUSTOM_PREFIX + name
            self.fields[key] = custom_form_field(cf)
            self.custom_names.append(key)
            if name in current and key not in self.initial:
                self.initial[key] = current[name]

    def _post_clean(self) -> None:
        """The domain service validates the model; the form only parses the input."""

    # --- groups for the template ---
    def group(self, names: Iterable[str]) -> list[forms.BoundField]:
        return [self[n] for n in names if n in self.fields]

    @property
    def main_fields(self) -> list[forms.BoundField]:
        return self.group(self.main)

    @property
    def more_fields(self) -> list[forms.BoundField]:
        return self.group(self.more)

    @property
    def custom_fields(self) -> list[forms.BoundField]:
        return self.group(self.custom_names)

    @property
    def more_open(self) -> bool:
        return any(n in self.errors for n in self.more)

    def validates_live(self, name: str) -> bool:
        """Only text-like inputs are checked on change: replacing a select or a checkbox
        while it has the focus would lose it."""
        field = self.fields[name]
        return (not field.disabled and not isinstance(field, PickerField)
                and getattr(field.widget, "input_type", "") in TEXTUAL_WIDGETS)

    # --- to the service ---
    def service_value(self, name: str, value: Any) -> dict[str, Any]:
        """One form value as service data (``owner`` → ``owner_id``…)."""
        if isinstance(self.fields[name], PickerField | ModelChoiceField):
            return {f"{name}_id": value.pk if value is not None else None}
        try:
            model_field = self._meta.model._meta.get_field(name)
        except FieldDoesNotExist:  # a form-only field
            return {name: value}
        if value in (None, "") and model_field.has_default() and not model_field.null:
            # an emptied field with a default (amount, VAT rate, country…) takes the default
            # rather than being refused as blank
            return {name: model_field.get_default()}
        return {name: value}

    def service_data(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(data, custom) for the create/update service: on update only what changed, so
        fields nobody touched (or another system masters) are never rewritten."""
        names = [n for n in self.fields if n not in self.custom_names
                 and not self.fields[n].disabled and n in (self._meta.fields or ())]
        if not self.creating:
            names = [n for n in names if n in self.changed_data]
        data: dict[str, Any] = {}
        for name in names:
            data.update(self.service_value(name, self.cleaned_data.get(name)))
        custom: dict[str, Any] = {}
        for key in self.custom_names:
            if self.fields[key].disabled or (not self.creating and key not in self.changed_data):
                continue
            value = self.cleaned_data.get(key)
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            if self.creating and value in (None, ""):
                continue
            custom[key.removeprefix(CUSTOM_PREFIX)] = value
        return data, custom or None

    # --- from the service ---
    def form_field_for(self, key: str) -> str | None:
        if key.startswith("custom."):
            key = CUSTOM_PREFIX + key.removeprefix("custom.")
        key = self.aliases.get(key, key)
        key = self.aliases.get(key.removesuffix("_id"), key.removesuffix("_id"))
        if key in self.fields and not self.fields[key].disabled:
            return key
        return None

    def apply_domain_error(self, exc: DomainError) -> None:
        """A service's refusal as inline errors; what has no field becomes a form error."""
        placed = False
        for key, messages in exc.fields.items():
            name = self.form_field_for(key) if key != NON_FIELD else None
            for message in messages:
                if name is not None:
                    self.add_error(name, message)
                    placed = True
                elif key in (NON_FIELD, ""):
                    self.add_error(None, message)
                else:
                    label = key.removeprefix("custom.").replace("_", " ")
                    self.add_error(None, f"{label}: {message}")
        if not placed or not exc.fields:
            self.add_error(None, exc.message)

    def field_checks(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        """Errors the service would give for these values (identifiers, phone, e-mail)."""
        return {}

    def live_errors(self, name: str) -> list[str]:
        """Errors of one field for the inline (on change) validation."""
        if name not in self.fields:
            return []
        field_errors = [str(e) for e in self.errors.get(name, [])]
        if field_errors or self.fields[name].disabled:
            return field_errors
        value = self.cleaned_data.get(name)
        if value in (None, ""):
            return []
        data = {k: v for k, v in self.cleaned_data.items() if isinstance(v, str) and v}
        return self.field_checks(data).get(name, [])


# --- The forms -----------------------------------------------------------------------------

ACCOUNT_FIELDS = (
    "legal_name", "siren", "billing_postcode", "billing_city", "phone", "email", "website",
    "status", "owner", "trade_name", "siret", "vat_number", "naf_code", "billing_street",
    "billing_country", "shipping_street", "shipping_postcode", "shipping_city",
    "shipping_country", "mobile", "fax", "headcount_band", "parent", "payment_terms",
    "credit_limit",
)


class AccountForm(RecordForm):
    object_type = ObjectType.ACCOUNT
    main = ("legal_name", "siren", "billing_postcode", "billing_city", "phone", "email",
            "website", "status", "owner")
    more = ("trade_name", "siret", "vat_number", "naf_code", "billing_street",
            "billing_country", "shipping_street", "shipping_postcode", "shipping_city",
            "shipping_country", "mobile", "fax", "headcount_band", "parent", "payment_terms",
            "credit_limit")
    dedupe = ("legal_name", "siren", "email", "billing_postcode")

    owner = OwnerField(queryset=User.objects.none(), label=_l("Owner"), required=False)
    parent = PickerField("account", label=_l("Parent account"), required=False)
    credit_limit = LocalDecimalField(label=_l("Credit limit"), max_digits=14, decimal_places=2,
                                     required=False)

    class Meta:
        model = Account
        fields = ACCOUNT_FIELDS
        widgets = {"email": forms.EmailInput(), "phone": TelInput(), "mobile": TelInput(),
                   "fax": TelInput(),
                   "siren": forms.TextInput(attrs={"inputmode": "numeric"}),
                   "siret": forms.TextInput(attrs={"inputmode": "numeric"})}
        field_classes = {"siren": SirenField, "siret": SiretField, "vat_number": VatField,
                         "naf_code": NafField}
        help_texts = {"siren": _l("9 digits; checked against its check digit."),
                      "billing_country": _l("Two-letter code: FR, BE, CH…")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["billing_country"].required = False
        for name in ("legal_name",):
            self.fields[name].widget.attrs["autocomplete"] = "organization"

    def field_checks(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        country = data.get("billing_country") or getattr(self.instance, "billing_country", "FR")
        _cleaned, errors = clean_account_data({**data, "billing_country": country})
        return errors


class ContactForm(RecordForm):
    object_type = ObjectType.CONTACT
    main = ("account", "first_name", "last_name", "job_title", "email", "phone", "mobile",
            "owner")
    more = ("civility", "email_secondary", "mailing_street", "mailing_postcode", "mailing_city",
            "mailing_country", "marketing_consent", "consent_source")
    dedupe = ("account", "first_name", "last_name", "email")

    account = PickerField("account", label=_l("Account"), action="change")
    owner = OwnerField(queryset=User.objects.none(), label=_l("Owner"), required=False)

    class Meta:
        model = Contact
        fields = ("account", "civility", "first_name", "last_name", "job_title", "email",
                  "email_secondary", "phone", "mobile", "mailing_street", "mailing_postcode",
                  "mailing_city", "mailing_country", "marketing_consent", "consent_source",
                  "owner")
        widgets = {"email": forms.EmailInput(), "email_secondary": forms.EmailInput(),
                   "phone": TelInput(),
                   "mobile": TelInput()}
        help_texts = {"mailing_country": _l("Two-letter code: FR, BE, CH…")}

    def field_checks(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        account = self.cleaned_data.get("account") or (
            self.instance.account if self.instance.pk else None)
        country = getattr(account, "billing_country", "") or "FR"
        _cleaned, errors = clean_person_data(data, country=country)
        return errors


class LeadForm(RecordForm):
    object_type = ObjectType.LEAD
    main = ("first_name", "last_name", "company_name", "email", "phone", "job_title", "source",
            "status", "owner")
    more = ("civility", "siren", "website", "street", "postcode", "city", "country", "score",
            "description")

    owner = OwnerField(queryset=User.objects.none(), label=_l("Owner"), required=False)

    class Meta:
        model = Lead
        fields = ("company_name", "siren", "civility", "first_name", "last_name", "job_title",
                  "email", "phone", "website", "street", "postcode", "city", "country",
                  "source", "status", "score", "description", "owner")
        widgets = {"email": forms.EmailInput(), "phone": TelInput(),
                   "description": forms.Textarea(attrs={"rows": 4}),
                   "siren": forms.TextInput(attrs={"inputmode": "numeric"})}
        help_texts = {"email": _l("An e-mail or a phone number is needed.")}
        field_classes = {"siren": SirenField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = [c for c in Lead.Status.choices if c[0] != Lead.Status.CONVERTED]
        self.fields["score"].required = False

    def field_checks(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        _cleaned, errors = clean_person_data(data, country=str(data.get("country") or "FR"))
        if data.get("siren"):
            try:
                identifiers.check_siren(str(data["siren"]))
            except ValueError as exc:
                errors.setdefault("siren", []).append(str(exc))
        return errors


def stage_choices() -> tuple[list[Any], dict[int, int]]:
    """Stages grouped by pipeline (default pipeline first) and stage → pipeline."""
    stages = list(Stage.objects.select_related("pipeline").order_by("pipeline__name", "order"))
    pipeline_of = {s.pk: s.pipeline_id for s in stages}
    pipelines: dict[int, tuple[Pipeline, list[tuple[str, str]]]] = {}
    for s in stages:
        pipelines.setdefault(s.pipeline_id, (s.pipeline, []))[1].append((str(s.pk), s.name))
    groups = sorted(pipelines.values(), key=lambda p: (not p[0].is_default, p[0].name))
    if len(groups) == 1:
        return groups[0][1], pipeline_of
    return [(p.name, options) for p, options in groups], pipeline_of


class OpportunityForm(RecordForm):
    object_type = ObjectType.OPPORTUNITY
    main = ("name", "account", "amount", "expected_close_date", "stage", "owner")
    more = ("contact", "probability", "currency", "lost_reason", "description")
    aliases = {"pipeline": "stage"}

    account = PickerField("account", label=_l("Account"), action="change")
    contact = PickerField("contact", label=_l("Contact"), required=False, depends_on="account")
    owner = OwnerField(queryset=User.objects.none(), label=_l("Owner"), required=False)
    amount = LocalDecimalField(label=_l("Amount"), max_digits=14, decimal_places=2,
                               required=False)
    stage = forms.ChoiceField(label=_l("Stage"))

    class Meta:
        model = Opportunity
        fields = ("name", "account", "contact", "stage", "amount", "currency", "probability",
                  "expected_close_date", "owner", "lost_reason", "description")
        widgets = {"expected_close_date": DateInput(),
                   "description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices, self.pipeline_of = stage_choices()
        stage = self.fields["stage"]
        assert isinstance(stage, forms.ChoiceField)
        stage.choices = choices
        if self.creating and not self.initial.get("stage"):
            try:
                first = Stage.objects.filter(pipeline=default_pipeline()).order_by("order").first()
            except DomainError:
                first = None
            if first is not None:
                self.initial["stage"] = first.pk
        for name in ("probability", "currency"):
            self.fields[name].required = False
        if self.creating:  # a new deal is for an account still active in the ERP
            account = self.fields["account"]
            assert isinstance(account, PickerField)
            account.narrow("open", self.user)
            self.initial["probability"] = None
            self.fields["probability"].help_text = _("Empty: the stage's probability.")
        else:
            self.fields["probability"].help_text = _("Leave as is to take the new stage's.")

    def service_value(self, name: str, value: Any) -> dict[str, Any]:
        if name == "stage":
            stage_id = int(value) if value else None
            return {"stage_id": stage_id, "pipeline_id": self.pipeline_of.get(stage_id or 0)}
        if name == "probability" and (value is None or "probability" not in self.changed_data):
            return {}  # the stage's probability applies
        return super().service_value(name, value)


REMIND_NONE = "none"
REMIND_KEEP = "keep"


def reminder_choices() -> list[tuple[str, Any]]:
    """When to be reminded of an activity, as offsets before its time (minutes)."""
    return [(REMIND_NONE, _l("No reminder")), ("0", _l("At the time")),
            ("15", _l("15 minutes before")), ("60", _l("1 hour before")),
            ("1440", _l("1 day before"))]


class ActivityForm(RecordForm):
    object_type = ObjectType.ACTIVITY
    main = ("kind", "subject", "due_at", "reminder", "done", "account", "contact",
            "opportunity", "case", "owner")
    more = ("start_at", "end_at", "body")
    aliases: ClassVar[dict[str, str]] = {"remind_at": "reminder", "remind_before": "reminder"}

    reminder = forms.ChoiceField(
        label=_l("Reminder"), required=False,
        help_text=_l("In the app, to the owner. A date at 00:00 counts from 9:00."))

    account = PickerField("account", label=_l("Account"), required=False)
    contact = PickerField("contact", label=_l("Contact"), required=False, depends_on="account")
    opportunity = PickerField("opportunity", label=_l("Deal"), required=False,
                              depends_on="account")
    case = PickerField("case", label=_l("Case"), required=False, depends_on="account")
    owner = OwnerField(queryset=User.objects.none(), label=_l("Owner"), required=False)

    class Meta:
        model = Activity
        fields = ("kind", "subject", "body", "due_at", "start_at", "end_at", "done", "account",
                  "contact", "opportunity", "case", "owner")
        widgets = {"due_at": DateTimeInput(), "start_at": DateTimeInput(),
                   "end_at": DateTimeInput(), "body": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].required = False
        for name in ("due_at", "start_at", "end_at"):
            field = self.fields[name]
            assert isinstance(field, forms.DateTimeField)
            field.input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                                   *get_format("DATETIME_INPUT_FORMATS")]
        self._init_reminder()

    def _init_reminder(self) -> None:
        """The reminder as an offset; an edit shows the current one (a moment set through
        the API that is no offset on offer is kept as it is unless changed)."""
        from comptoir.activities.services import DEFAULT_REMIND_BEFORE, remind_before_of

        field = self.fields["reminder"]
        assert isinstance(field, forms.ChoiceField)
        choices = reminder_choices()
        if self.creating:
            self.initial.setdefault("reminder", str(DEFAULT_REMIND_BEFORE))
        else:
            minutes = remind_before_of(self.instance)
            current = REMIND_NONE if minutes is None else str(minutes)
            if current not in {value for value, _label in choices}:
                at = self.instance.remind_at
                label = _("As set: %(when)s") % {"when": formats.date_format(
                    timezone.localtime(at), "SHORT_DATETIME_FORMAT")} if at else _("As set")
                choices.append((REMIND_KEEP, label))
                current = REMIND_KEEP
            self.initial["reminder"] = current
        field.choices = choices

    def service_data(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The reminder goes to the service as ``remind_before`` (minutes or None), which
        counts it from the activity's time; untouched on an edit, it follows the time."""
        data, custom = super().service_data()
        choice = self.cleaned_data.get("reminder") or ""
        if self.creating and choice in ("", str(self._default_reminder())):
            return data, custom  # the service's default (9:00 for a date without a time)
        if choice == REMIND_KEEP or (not self.creating and "reminder" not in self.changed_data):
            return data, custom
        data["remind_before"] = None if choice == REMIND_NONE else int(choice)
        return data, custom

    @staticmethod
    def _default_reminder() -> int:
        from comptoir.activities.services import DEFAULT_REMIND_BEFORE

        return DEFAULT_REMIND_BEFORE


class CaseForm(RecordForm):
    object_type = ObjectType.CASE
    main = ("subject", "account", "contact", "kind", "priority", "status", "owner")
    more = ("description",)

    account = PickerField("account", label=_l("Account"))
    contact = PickerField("contact", label=_l("Contact"), required=False, depends_on="account")
    owner = OwnerField(queryset=User.objects.none(), label=_l("Owner"), required=False)

    class Meta:
        model = Case
        fields = ("subject", "account", "contact", "kind", "priority", "status", "description",
                  "owner")
        widgets = {"description": forms.Textarea(attrs={"rows": 5})}


class ProductForm(RecordForm):
    object_type = ObjectType.PRODUCT
    main = ("code", "name", "unit", "tax_rate", "active")
    more = ("description",)

    tax_rate = LocalDecimalField(label=_l("VAT rate (%)"), max_digits=5, decimal_places=2,
                                 required=False)

    class Meta:
        model = Product
        fields = ("code", "name", "description", "unit", "tax_rate", "active")
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}


FORMS: dict[str, type[RecordForm]] = {
    "account": AccountForm, "contact": ContactForm, "lead": LeadForm,
    "opportunity": OpportunityForm, "activity": ActivityForm, "case": CaseForm,
    "product": ProductForm,
}


# --- Lead conversion -----------------------------------------------------------------------

class LeadConvertForm(forms.Form):
    """What the rep decides when converting a lead (R2)."""

    ATTACH, NEW, OTHER = "attach", "new", "other"

    account_choice = forms.ChoiceField(label=_l("Account"), widget=forms.RadioSelect)
    other_account = PickerField("account", label=_l("Another account"), required=False,
                                action="change")
    create_opportunity = forms.BooleanField(label=_l("Create a deal"), required=False)
    opportunity_name = forms.CharField(label=_l("Deal name"), max_length=200, required=False)
    amount = LocalDecimalField(label=_l("Amount"), max_digits=14, decimal_places=2,
                               required=False)
    expected_close_date = forms.DateField(label=_l("Expected close date"), required=False,
                                          widget=DateInput())

    def __init__(self, *args: Any, user: Any, match: Account | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        choices: list[tuple[str, str]] = []
        if match is not None:
            choices.append((self.ATTACH, _("Attach to %(name)s") % {"name": match.legal_name}))
        choices += [(self.NEW, _("Create a new account")),
                    (self.OTHER, _("Attach to another account"))]
        field = self.fields["account_choice"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices
        self.initial.setdefault("account_choice", choices[0][0])
        other = self.fields["other_account"]
        assert isinstance(other, PickerField)
        other.bind_user(user)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("account_choice") == self.OTHER and not data.get("other_account") \
                and "other_account" not in self.errors:
            self.add_error("other_account", _("Choose the account."))
        if data.get("create_opportunity") and data.get("amount") is not None \
                and data["amount"] < 0:
            self.add_error("amount", _("Enter a positive amount."))
        return data

    def opportunity_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.cleaned_data.get("opportunity_name"):
            data["name"] = self.cleaned_data["opportunity_name"]
        if self.cleaned_data.get("amount") is not None:
            data["amount"] = self.cleaned_data["amount"]
        if self.cleaned_data.get("expected_close_date"):
            data["expected_close_date"] = self.cleaned_data["expected_close_date"]
        return data

    def apply_domain_error(self, exc: DomainError) -> None:
        mapping = {"name": "opportunity_name", "amount": "amount",
                   "expected_close_date": "expected_close_date", "account": "other_account"}
        for key, messages in exc.fields.items():
            name = mapping.get(key.removesuffix("_id"))
            for message in messages:
                self.add_error(name, message)
        self.add_error(None, exc.message)
