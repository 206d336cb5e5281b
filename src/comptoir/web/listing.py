"""Lists of records (R13): one declarative spec per list, one engine for every list.

A list's query string is its whole state (``q``, filters, ``sort``, ``cols``, ``page``): a
saved view stores it, an export replays it, the back button restores it. Rows always come
through ``policy.restrict``, so a list, its count and its export show exactly what the user
may see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import CharField, Model, OrderBy, Q, QuerySet, Value
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Concat
from django.http import QueryDict
from django.utils import timezone
from django.utils.formats import date_format, localize
from django.utils.functional import Promise, cached_property
from django.utils.translation import gettext_lazy as _

from comptoir.access import policy
from comptoir.access.models import User
from comptoir.core.formatting import format_number
from comptoir.core.models import CustomField

from .templatetags.web import STATUS_TONES, money, phone

PAGE_SIZE = 50
SEARCH_LIMIT = 500  # best matches of a list's search box, then filtered and sorted
COUNT_CAP = 1_000  # past this a list says "more than 1,000" instead of counting a million
Label = str | Promise
Choices = Iterable[tuple[Any, Label]]


@dataclass(frozen=True)
class Column:
    key: str
    label: Label
    sort: str | None = None  # ORM field ordered by, None when the column is not sortable
    # text | money | date | datetime | badge | number | bool | percent | phone
    kind: str = "text"
    attr: str | None = None  # dotted path on the record (default: key)
    default: bool = True  # shown unless the user picks columns
    link: bool = False  # the cell links to the record's page
    custom: str = ""  # key of an admin-defined field in the record's ``custom`` JSON

    def raw(self, obj: Any) -> Any:
        if self.custom:
            return custom_value(self.kind, (getattr(obj, "custom", None) or {}).get(self.custom))
        value = obj
        for part in (self.attr or self.key).split("."):
            value = getattr(value, part, None) if value is not None else None
            if callable(value):
                value = value()
        return value


@dataclass(frozen=True)
class Filter:
    key: str
    label: Label
    kind: str = "choice"  # choice | user | text | prefix | bool | period | min | max
    lookup: str = ""  # ORM field (default: key)
    choices: Choices | Callable[[Any], Choices] | None = None
    custom: str = ""  # key of an admin-defined field (its values live in ``custom``)
    value_type: str = "number"  # of a min / max bound: number | date

    @property
    def field(self) -> str:
        return self.lookup or self.key

    def options(self, user: Any) -> list[tuple[str, Label]]:
        if self.kind == "user":
            return [(str(u.pk), str(u)) for u in _users_for(user)]
        if self.kind == "bool":
            return [("1", _("Yes")), ("0", _("No"))]
        if self.kind == "period":
            return list(PERIODS.items())
        src = self.choices(user) if callable(self.choices) else (self.choices or [])
        return [(str(k), v) for k, v in src]


PERIODS: dict[str, Label] = {
    "overdue": _("Overdue"),
    "today": _("Today"),
    "week": _("This week"),
    "month": _("This month"),
    "quarter": _("This quarter"),
    "past": _("In the past"),
    "future": _("In the future"),
}


def _users_for(user: Any) -> QuerySet[User]:
    qs = User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    ids = policy.assignable_owner_ids(user)
    return qs if ids is None else qs.filter(pk__in=ids)


def period_range(name: str, today: dt.date | None = None) -> tuple[dt.date | None, dt.date | None]:
    """[start, end) dates of a named period; ``None`` for an open end."""
    today = today or timezone.localdate()
    if name == "today":
        return today, today + dt.timedelta(days=1)
    if name == "week":
        start = today - dt.timedelta(days=today.weekday())
        return start, start + dt.timedelta(days=7)
    if name == "month":
        start = today.replace(day=1)
        return start, (start + dt.timedelta(days=32)).replace(day=1)
    if name == "quarter":
        start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
        return start, (start + dt.timedelta(days=95)).replace(day=1)
    if name in ("overdue", "past"):
        return None, today
    if name == "future":
        return today, None
    return None, None


@dataclass(frozen=True)
class Preset:
    """A built-in view: a name and the query string it stands for."""

    key: str
    label: Label
    query: str


@dataclass
class ListSpec:
    key: str  # url prefix of the record pages: account, contact…
    model: type[Model]
    title: Label
    columns: list[Column]
    filters: list[Filter]
    default_sort: str
    search_fields: list[str] = field(default_factory=list)
    select_related: list[str] = field(default_factory=list)
    presets: list[Preset] = field(default_factory=list)
    create_url: str = ""  # url name of the creation form
    empty_text: Label = ""
    extra_filter: Callable[[QuerySet[Any], str, Any], QuerySet[Any]] | None = None
    # (label, tone) badges shown after a row's name: an inactive account stays listed, marked
    badges: Callable[[Any], list[tuple[str, str]]] | None = None

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)

    def base_queryset(self, user: Any) -> QuerySet[Any]:
        qs = self.model._default_manager.all()
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        return policy.restrict(qs, user)


# --- Custom fields (R14) as columns and filters ---------------------------------------------
# An admin-defined field ``name`` of the list's object is the column and the filter
# ``cf_<name>`` (its bounds ``cf_<name>_min`` / ``_max``): the prefix keeps them apart from the
# built-in keys, so a saved view's query string means the same thing tomorrow.

CUSTOM_PREFIX = "cf_"
CUSTOM_KINDS: dict[str, str] = {CustomField.Type.NUMBER: "number", CustomField.Type.DATE: "date",
                CustomField.Type.BOOLEAN: "bool"}


def custom_value(kind: str, value: Any) -> Any:
    """A stored custom value typed for display and exports: dates are kept as ISO text in
    JSON, numbers as JSON numbers; anything unexpected is shown as stored."""
    if value is None or value == "":
        return None
    if kind == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    if kind == "number" and isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value


def custom_definitions(object_type: str) -> list[CustomField]:
    return list(CustomField.objects.filter(object_type=object_type, active=True)
                .order_by("label", "name"))


def custom_columns(defs: Iterable[CustomField]) -> list[Column]:
    return [Column(CUSTOM_PREFIX + cf.name, cf.label, sort=CUSTOM_PREFIX + cf.name,
                   kind=CUSTOM_KINDS.get(cf.type, "text"), default=False, custom=cf.name)
            for cf in defs]


def custom_filters(defs: Iterable[CustomField]) -> list[Filter]:
    """Text contains; numbers and dates between two bounds (equal: both the same); a
    picklist for choices; yes / no for booleans."""
    out: list[Filter] = []
    for cf in defs:
        key, lookup = CUSTOM_PREFIX + cf.name, f"custom__{cf.name}"
        if cf.type in (CustomField.Type.NUMBER, CustomField.Type.DATE):
            vtype = "date" if cf.type == CustomField.Type.DATE else "number"
            out.append(Filter(f"{key}_min", _("%(field)s from") % {"field": cf.label},
                              kind="min", lookup=lookup, custom=cf.name, value_type=vtype))
            out.append(Filter(f"{key}_max", _("%(field)s to") % {"field": cf.label},
                              kind="max", lookup=lookup, custom=cf.name, value_type=vtype))
        elif cf.type == CustomField.Type.CHOICE:
            out.append(Filter(key, cf.label, kind="choice", lookup=lookup, custom=cf.name,
                              choices=[(str(c), str(c)) for c in cf.choices or []]))
        elif cf.type == CustomField.Type.BOOLEAN:
            out.append(Filter(key, cf.label, kind="bool", lookup=lookup, custom=cf.name))
        else:
            out.append(Filter(key, cf.label, kind="text", lookup=lookup, custom=cf.name))
    return out


def custom_order(name: str, desc: bool) -> OrderBy:
    """Order by a custom value as the database types it, empty ones last: JSON numbers sort
    as numbers on both databases (``jsonb`` on PostgreSQL, ``JSON_EXTRACT``'s SQL value on
    SQLite), ISO dates as text, which is their order. No cast: a stray value of another type
    must not turn the list into an error."""
    key = KeyTransform(name, "custom")
    return key.desc(nulls_last=True) if desc else key.asc(nulls_last=True)


def parse_number(value: str) -> int | float | None:
    """A bound typed by people (``1 234,5``) as a JSON-comparable number; ``None`` when it
    is not a number."""
    text = value.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace(",", ".")
    try:
        number = Decimal(text)
    except ArithmeticError:
        return None
    if not number.is_finite():
        return None
    return int(number) if number == number.to_integral_value() else float(number)


class CappedPaginator(Paginator):
    """Counting stops at ``COUNT_CAP``: a filtered page of a million rows stays fast."""

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        # unordered: the count reads the filters' index and stops at the cap, no sort
        return self.object_list.order_by()[: COUNT_CAP + 1].count()  # type: ignore[attr-defined]

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP


@dataclass
class ListState:
    """A parsed query string: what the user asked the list to show."""

    spec: ListSpec
    params: QueryDict
    user: Any
    errors: list[str] = field(default_factory=list)

    @cached_property
    def custom_defs(self) -> list[CustomField]:
        from .objects import object_type_of

        return custom_definitions(object_type_of(self.spec.model))

    @cached_property
    def all_columns(self) -> list[Column]:
        """The list's own columns, then one per active custom field."""
        return [*self.spec.columns, *custom_columns(self.custom_defs)]

    @cached_property
    def filters(self) -> list[Filter]:
        return [*self.spec.filters, *custom_filters(self.custom_defs)]

    def column(self, key: str) -> Column | None:
        return next((c for c in self.all_columns if c.key == key), None)

    @cached_property
    def q(self) -> str:
        return self.params.get("q", "").strip()[:200]

    @cached_property
    def filter_values(self) -> dict[str, list[str]]:
        values = {}
        for f in self.filters:
            got = [v.strip() for v in self.params.getlist(f.key) if v.strip() != ""]
            if got:
                values[f.key] = got
        return values

    @cached_property
    def sort(self) -> str:
        wanted = self.params.get("sort", "")
        col = self.column(wanted.lstrip("-"))
        if col is None or col.sort is None:
            return self.spec.default_sort
        return wanted

    @cached_property
    def columns(self) -> list[Column]:
        keys = [k for v in self.params.getlist("cols") for k in v.split(",") if k]
        chosen = [c for k in keys if (c := self.column(k)) is not None]
        return chosen or [c for c in self.spec.columns if c.default]

    def order_by(self) -> list[Any]:
        desc = self.sort.startswith("-")
        col = self.column(self.sort.lstrip("-"))
        prefix = "-" if desc else ""
        if col is not None and col.custom:
            return [custom_order(col.custom, desc), f"{prefix}pk"]
        sort_field = col.sort if col and col.sort else self.sort.lstrip("-")
        return [f"{prefix}{sort_field}", f"{prefix}pk"]

    def queryset(self, *, common_prefixes: bool = False) -> QuerySet[Any]:
        """The rows, filtered and sorted. ``common_prefixes`` says the prefix filters match
        many rows: they are then checked row by row while the sort's index is read in order
        (the first page is found at once) instead of gathering and sorting every match."""
        self._common_prefixes = common_prefixes
        qs = self.spec.base_queryset(self.user)
        if self.q:
            qs = self._search(qs)
        for f in self.filters:
            values = self.filter_values.get(f.key)
            if values:
                qs = self._apply(qs, f, values)
        return qs.order_by(*self.order_by())

    def _search(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        """The list's own search box asks the search index (typo-tolerant, indexed) for the
        best matches of this object type; a word too short for it falls back to a prefix."""
        from comptoir.search.services import search

        from .objects import object_type_of

        if len(self.q) < 2:
            cond = Q()
            for name in self.spec.search_fields:
                cond |= Q(**{f"{name}__istartswith": self.q})
            return qs.filter(cond)
        hits = search(self.user, self.q, types=[object_type_of(self.spec.model)],
                      limit=SEARCH_LIMIT)
        return qs.filter(pk__in=[h.object_id for h in hits])

    def _error(self, f: Filter, message: str) -> None:
        self.errors.append(f"{f.label}: {message}")

    def _apply(self, qs: QuerySet[Any], f: Filter, values: list[str]) -> QuerySet[Any]:
        if f.kind in ("choice", "user"):
            allowed = {k for k, _label in f.options(self.user)}
            if f.kind == "user" and "me" in values:
                values = [str(self.user.pk) if v == "me" else v for v in values]
                allowed.add(str(self.user.pk))
            picked = [v for v in values if v in allowed or v == "none"]
            cond = Q()
            for v in picked:
                cond |= Q(**{f"{f.field}__isnull": True}) if v == "none" else Q(**{f.field: v})
            return qs.filter(cond) if picked else qs
        value = values[0]
        if f.kind == "text":
            return qs.filter(**{f"{f.field}__icontains": value[:200]})
        if f.kind == "prefix":
            return prefix_filter(qs, f.field, value,
                                 indexed=not getattr(self, "_common_prefixes", False))
        if f.kind == "bool":
            if self.spec.extra_filter is not None and f.lookup.startswith("@"):
                return self.spec.extra_filter(qs, f.key, value == "1")
            if f.custom:  # "no" is also a record where the field was never set
                if value == "1":
                    return qs.filter(**{f.field: True})
                return qs.filter(Q(**{f.field: False}) | ~Q(custom__has_key=f.custom))
            return qs.filter(**{f.field: value == "1"})
        if f.kind in ("min", "max"):
            return self._bound(qs, f, value)
        if f.kind == "period":
            if self.spec.extra_filter is not None and f.lookup.startswith("@"):
                return self.spec.extra_filter(qs, f.key, value)
            start, end = period_range(value)
            if start is not None:
                qs = qs.filter(**{f"{f.field}__gte": start})
            if end is not None:
                qs = qs.filter(**{f"{f.field}__lt": end})
            return qs
        return qs

    def _bound(self, qs: QuerySet[Any], f: Filter, value: str) -> QuerySet[Any]:
        """A lower (``min``) or upper (``max``) bound, both included."""
        op = "gte" if f.kind == "min" else "lte"
        bound: Any
        if f.value_type == "date":
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                self._error(f, str(_("“%(v)s” is not a date.") % {"v": value[:40]}))
                return qs
            bound = day.isoformat() if f.custom else day  # custom dates are ISO text in JSON
        elif f.custom:
            bound = parse_number(value)
            if bound is None:
                self._error(f, str(_("“%(v)s” is not a number.") % {"v": value[:40]}))
                return qs
        else:
            try:
                bound = Decimal(value.replace(",", "."))
            except ArithmeticError:
                self.errors.append(str(_("“%(v)s” is not a number.") % {"v": value}))
                return qs
        return qs.filter(**{f"{f.field}__{op}": bound})

    def page(self, number: Any) -> Page[Any]:
        paginator = CappedPaginator(self.queryset(), PAGE_SIZE)
        has_prefix = any(f.kind == "prefix" and f.key in self.filter_values
                         for f in self.filters)
        if has_prefix and paginator.capped:  # counted through the prefix's own index
            rows = self.queryset(common_prefixes=True)
            paginator.object_list = rows
        return paginator.get_page(number)

    def active_chips(self) -> list[dict[str, Any]]:
        """One removable chip per active filter value, labelled for people."""
        chips = []
        for f in self.filters:
            values = self.filter_values.get(f.key, [])
            if not values:
                continue
            labels = dict(f.options(self.user)) if f.kind in ("choice", "user", "bool",
                                                              "period") else {}
            for v in values:
                rest = self.params.copy()
                rest.setlist(f.key, [x for x in values if x != v])
                rest.pop("page", None)
                label = _("me") if v == "me" else labels.get(v, v)
                if f.value_type == "date" and f.kind in ("min", "max"):
                    label = _localised_day(v)
                chips.append({"label": f"{f.label}: {label}", "remove": "?" + rest.urlencode()})
        return chips


def _localised_day(value: str) -> str:
    try:
        return date_format(dt.date.fromisoformat(value), "SHORT_DATE_FORMAT")
    except ValueError:
        return value


def prefix_filter(qs: QuerySet[Any], field_name: str, prefix: str, *, indexed: bool = True
                  ) -> QuerySet[Any]:
    """``field`` starts with ``prefix``, as a range an index can answer on every database
    (``LIKE 'x%'`` is case-insensitive on SQLite and cannot use a plain index).

    ``indexed=False`` words the same range so that no index can serve it (the column wrapped
    in an expression): for a prefix most rows share, reading the sort order's index and
    checking each row beats gathering 200,000 matches to sort them.
    """
    if not prefix:
        return qs
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    if not indexed:
        alias = f"_unindexed_{field_name}"
        qs = qs.alias(**{alias: Concat(field_name, Value(""), output_field=CharField())})
        field_name = alias
    return qs.filter(**{f"{field_name}__gte": prefix, f"{field_name}__lt": upper})


def display(col: Column, obj: Any) -> tuple[str, str]:
    """(text, tone) of one cell; tone is set for badges only."""
    value = col.raw(obj)
    if col.kind in ("badge", "choice"):
        getter = getattr(obj, f"get_{(col.attr or col.key).split('.')[-1]}_display", None)
        text = getter() if callable(getter) and "." not in (col.attr or col.key) else value
        tone = STATUS_TONES.get(str(value), "neutral") if col.kind == "badge" else ""
        return ("" if text is None else str(text)), tone
    if value is None or value == "":
        return "", ""
    if col.kind == "money":
        return money(value, getattr(obj, "currency", "EUR")), ""
    if col.custom and col.kind in ("date", "number") and isinstance(value, str):
        return value, ""  # a stored value that is not of the field's type, shown as is
    if col.kind == "date":
        return date_format(value, "SHORT_DATE_FORMAT"), ""
    if col.kind == "datetime":
        return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT"), ""
    if col.kind == "bool":
        return (str(_("Yes")) if value else str(_("No"))), ""
    if col.kind == "percent":
        return f"{localize(value)} %", ""
    if col.kind == "number":
        if col.custom and not isinstance(value, bool):
            return format_number(str(value)), ""
        return str(localize(value)), ""
    if col.kind == "phone":
        return phone(value), ""
    return str(value), ""


def export_value(col: Column, obj: Any) -> Any:
    """Cell values for files: numbers stay numbers, dates stay dates, choices are labelled."""
    value = col.raw(obj)
    if col.kind in ("badge", "choice"):
        text, _tone = display(col, obj)
        return text
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None)
    if isinstance(value, Model):
        return str(value)
    return value


def iter_rows(qs: QuerySet[Any], columns: list[Column]) -> Iterator[list[Any]]:
    """Stream export rows in chunks (flat memory on large lists)."""
    for obj in qs.iterator(chunk_size=2000):
        yield [export_value(c, obj) for c in columns]
