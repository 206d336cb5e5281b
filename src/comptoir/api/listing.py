"""Filters, ordering and cursor pagination for every list endpoint.

Cursor (keyset) pagination keeps page N as fast as page 1 on millions of rows, and stays stable
while records are inserted; it orders by the chosen field, then ``id``.
"""

import base64
import datetime as dt
import json
import re
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Schema
from ninja.params.functions import Query as QueryParam
from pydantic import AfterValidator, BeforeValidator, Field, create_model

from comptoir.core.errors import DomainError, ValidationFailed
from comptoir.core.models import CustomField

RESERVED = {"cursor", "limit", "ordering"}
MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 4096  # a value (a 200-character name, escaped) and an id, in base64

LIMIT_HELP = (f"Items per page, 1 to {MAX_LIMIT}. A value out of range is refused (422), "
              "not clamped.")
CURSOR_HELP = ("Opaque: the `next_cursor` of the previous page, as given; omit it for the "
               "first page. A cursor this API did not write is refused (422).")
ORDERING_HELP = "A field to sort on, `-field` for descending; then by id."
DATETIME_HELP = ("ISO 8601 date-time, e.g. 2025-01-31T12:00:00+01:00; without an offset, in "
                 "the server's time zone; a date alone is midnight")
DATE_HELP = "ISO 8601 date, e.g. 2025-01-31"

_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?)?", re.IGNORECASE)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso(pattern: re.Pattern[str], example: str) -> Any:
    """Only ISO 8601 text: pydantic alone also reads ``0.5`` or ``12`` as Unix times."""
    def check(value: Any) -> Any:
        if isinstance(value, str) and not pattern.fullmatch(value.strip()):
            raise ValueError(_("Enter an ISO 8601 date, e.g. %(example)s.")
                             % {"example": example})
        return value.strip() if isinstance(value, str) else value
    return BeforeValidator(check)


def _aware(value: dt.datetime) -> dt.datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value


IsoDateTime = Annotated[dt.datetime, _iso(_ISO_DATETIME, "2025-01-31T12:00:00+01:00"),
                        AfterValidator(_aware)]
IsoDate = Annotated[dt.date, _iso(_ISO_DATE, "2025-01-31")]


def limit_field(default: int = 50) -> Any:
    """``limit`` in a query schema: its bounds in the OpenAPI document, enforced (422)."""
    return Field(default, ge=1, le=MAX_LIMIT, description=LIMIT_HELP)


def cursor_field() -> Any:
    return Field(None, max_length=MAX_CURSOR_LENGTH, description=CURSOR_HELP)


def limit_query(default: int = 50) -> Any:
    """``limit`` as an endpoint's own parameter (see :func:`limit_field`)."""
    return QueryParam(default, ge=1, le=MAX_LIMIT, description=LIMIT_HELP)


def cursor_query() -> Any:
    return QueryParam(None, max_length=MAX_CURSOR_LENGTH, description=CURSOR_HELP)


def ordering_query(allowed: list[str]) -> Any:
    return QueryParam(None, description=f"{ORDERING_HELP} One of: {', '.join(allowed)}.")


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


def filter_schema(model: type[models.Model], fields: list[str], *, name: str,
                  search: bool) -> tuple[type[Schema], dict[str, str]]:
    """A schema of optional query parameters and the ORM lookup each maps to."""
    definitions: dict[str, Any] = {}
    lookups: dict[str, str] = {}
    for fname in fields:
        field = model._meta.get_field(fname)
        assert isinstance(field, models.Field)
        label = str(field.verbose_name)
        if isinstance(field, models.ForeignKey):
            key = field.attname
            definitions[key] = (str | None, Field(None, description=f"{label}: ids, a,b,c"))
            lookups[key] = f"{key}__in:int"
        elif field.choices:
            definitions[fname] = (str | None, Field(None, description=f"{label}: values, a,b,c"))
            lookups[fname] = f"{fname}__in:str"
        elif isinstance(field, models.BooleanField):
            definitions[fname] = (bool | None, Field(None, description=label))
            lookups[fname] = fname
        elif isinstance(field, models.DateTimeField | models.DateField | models.DecimalField
                        | models.IntegerField):
            typ: Any = (IsoDateTime if isinstance(field, models.DateTimeField) else
                        IsoDate if isinstance(field, models.DateField) else
                        Decimal if isinstance(field, models.DecimalField) else int)
            kind = (f": {DATETIME_HELP}" if isinstance(field, models.DateTimeField) else
                    f": {DATE_HELP}" if isinstance(field, models.DateField) else "")
            for op, word in (("gte", "from"), ("lte", "up to")):
                key = f"{fname}__{op}"
                definitions[key] = (typ | None, Field(None, description=f"{label} {word}, "
                                                                         f"inclusive{kind}"))
                lookups[key] = key
        elif isinstance(field, models.CharField | models.TextField):
            definitions[fname] = (str | None, Field(None, description=f"{label} (exact)"))
            lookups[fname] = fname
            key = f"{fname}__startswith"
            definitions[key] = (str | None, Field(None, description=f"{label} starts with"))
            lookups[key] = key
    if search:
        definitions["q"] = (str | None, Field(None, description=_("Text search")))
    schema = create_model(name, __base__=Schema, **definitions)  # type: ignore[call-overload]
    return schema, lookups


def _split(value: str, kind: str, param: str) -> list[Any]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if kind == "int":
        try:
            ids = [int(v) for v in items]
            if any(not -(2**63) <= i < 2**63 for i in ids):  # SQLite overflows: a 500
                raise ValueError(value)
            return ids
        except ValueError as exc:
            raise ValidationFailed(_("Some filters are not valid."),
                                   fields={param: [_("Give ids (integers), comma-separated.")]}
                                   ) from exc
    return items


def apply_filters(qs: QuerySet[Any], values: dict[str, Any], lookups: dict[str, str],
                  search_fields: list[str]) -> QuerySet[Any]:
    for key, value in values.items():
        if value is None or value == "":
            continue
        if key == "q":
            q = Q()
            for f in search_fields:
                q |= Q(**{f"{f}__icontains": value})
            qs = qs.filter(q)
            continue
        lookup = lookups[key]
        if lookup.endswith("__startswith"):
            qs = _prefix_filter(qs, lookup.removesuffix("__startswith"), str(value))
        elif ":" in lookup:
            path, kind = lookup.split(":")
            qs = qs.filter(**{path: _split(str(value), kind, key)})
        else:
            qs = qs.filter(**{lookup: value})
    return qs


PREFIX_PROBE = 2000  # matches under which a prefix filter drives the query through its index


def _prefix_filter(qs: QuerySet[Any], field: str, prefix: str) -> QuerySet[Any]:
    """``field__startswith``, planned by selectivity on SQLite.

    SQLite plans ``LIKE 'x%'`` without statistics on the prefix: it scans the ordering index
    and filters, which takes seconds when the prefix is rare (no match in a million rows), while
    driving a common prefix through the field's index sorts a hundred thousand rows. A bounded
    probe of the index tells which case this is; a rare prefix then gets the equivalent range
    condition, which SQLite serves from the index. (PostgreSQL's statistics choose well alone.)
    Only for prefixes without letters (postcodes, SIREN, NAF…): SQLite's ``LIKE`` ignores case
    and a range does not, so both must mean the same.
    """
    qs = qs.filter(**{f"{field}__startswith": prefix})
    if connections[qs.db].vendor != "sqlite" or not prefix or prefix.lower() != prefix.upper():
        return qs
    bounds = {f"{field}__gte": prefix, f"{field}__lt": prefix + "\U0010ffff"}
    matches = qs.model._default_manager.using(qs.db).filter(**bounds)[:PREFIX_PROBE].count()
    return qs.filter(**bounds) if matches < PREFIX_PROBE else qs


def apply_custom_filters(qs: QuerySet[Any], request: HttpRequest, object_type: str
                         ) -> QuerySet[Any]:
    """``?cf_<name>=value`` filters on custom fields, typed by their definition."""
    wanted: dict[str, str] = {k[3:]: str(v) for k, v in request.GET.items()
                              if k.startswith("cf_")}
    if not wanted:
        return qs
    defs = {cf.name: cf for cf in CustomField.objects.filter(object_type=object_type,
                                                             active=True, name__in=wanted)}
    errors: dict[str, list[str]] = {}
    for name, raw in wanted.items():
        cf = defs.get(name)
        if cf is None:
            errors[f"cf_{name}"] = [_("Unknown custom field.")]
            continue
        value: Any = raw
        if cf.type == CustomField.Type.NUMBER:
            try:
                number = Decimal(raw)
            except Exception:
                errors[f"cf_{name}"] = [_("Enter a number.")]
                continue
            value = int(number) if number == number.to_integral_value() else float(number)
        elif cf.type == CustomField.Type.BOOLEAN:
            if raw.lower() not in ("true", "false"):
                errors[f"cf_{name}"] = [_("Enter true or false.")]
                continue
            value = raw.lower() == "true"
        qs = qs.filter(**{f"custom__{name}": value})
    if errors:
        raise ValidationFailed(_("Some filters are not valid."), fields=errors)
    return qs


def check_params(request: HttpRequest, lookups: dict[str, str]) -> None:
    unknown = [k for k in request.GET if k not in lookups and k not in RESERVED
               and k != "q" and not k.startswith("cf_")]
    if unknown:
        raise ValidationFailed(
            _("Unknown query parameters: %(names)s.") % {"names": ", ".join(sorted(unknown))},
            fields={k: [_("Unknown parameter.")] for k in unknown},
        )


def _encode(values: list[Any]) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != 2:
            raise ValueError
        return values
    except Exception as exc:
        raise _bad_cursor() from exc


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed(_("The cursor is not valid; start again from the first page."),
                            fields={"cursor": [_("Not a cursor from this API.")]})


def paginate(qs: QuerySet[Any], *, ordering: str, allowed: list[str], cursor: str | None,
             limit: int) -> tuple[list[Any], str | None]:
    """One page of ``qs`` and the cursor of the next page (``None`` on the last page)."""
    descending = ordering.startswith("-")
    name = ordering.lstrip("-")
    if name not in allowed:
        raise ValidationFailed(
            _("Cannot order by %(name)s; choose one of: %(allowed)s.")
            % {"name": name, "allowed": ", ".join(allowed)},
            fields={"ordering": [_("Not an ordering field.")]},
        )
    if not 1 <= limit <= MAX_LIMIT:
        message = _("The limit must be between 1 and %(max)d.") % {"max": MAX_LIMIT}
        raise ValidationFailed(message, fields={"limit": [message]})
    field = qs.model._meta.get_field(name) if name != "id" else None
    nullable = bool(field is not None and getattr(field, "null", False))
    attname = getattr(field, "attname", name) if field is not None else "id"
    order: list[Any]
    if name == "id":
        order = ["-id" if descending else "id"]
    elif nullable:
        expr = F(attname).desc(nulls_last=True) if descending else F(attname).asc(nulls_last=True)
        order = [expr, "-id" if descending else "id"]
    else:
        order = [f"-{attname}" if descending else attname, "-id" if descending else "id"]
    qs = qs.order_by(*order)
    if cursor:
        last_value, last_id = _decode(cursor)
        cmp, id_cmp = ("lt", "lt") if descending else ("gt", "gt")
        try:  # a decodable cursor may still hold values of the wrong type: 400, not 500
            if isinstance(last_id, bool) or not isinstance(last_id, int):
                raise TypeError(last_id)
            if name == "id":
                qs = qs.filter(**{f"id__{id_cmp}": last_id})
            elif last_value is None:
                qs = qs.filter(**{f"{attname}__isnull": True, f"id__{id_cmp}": last_id})
            else:
                after = Q(**{f"{attname}__{cmp}": last_value}) | Q(
                    **{attname: last_value, f"id__{id_cmp}": last_id})
                if nullable:
                    after |= Q(**{f"{attname}__isnull": True})
                qs = qs.filter(after)
        except (TypeError, ValueError, ValidationError) as exc:
            raise _bad_cursor() from exc
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        value = last.pk if name == "id" else getattr(last, attname)
        next_cursor = _encode([value, last.pk])
    return rows, next_cursor
