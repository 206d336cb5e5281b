"""Pydantic schemas derived from Django models, so one field definition serves DB and API.

Choices become enums, lengths and decimal precision become constraints, foreign keys become
``<name>_id`` integers: pydantic rejects bad input with field-level messages before any service
runs.
"""

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from ninja import Schema
from pydantic import Field, create_model

_REGISTRY: dict[str, type[Schema]] = {}

# Identifiers and phones are stored compact ("732829320", "+33142685300") but typed with spaces
# or dots; the services normalise them, so the schema only bounds their raw length loosely.
NORMALISED = frozenset({"siren", "siret", "vat_number", "naf_code", "phone", "mobile",
                        "fax"})


def _bounds(field: models.Field) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for v in field.validators:
        if isinstance(v, MinValueValidator):
            extra["ge"] = v.limit_value
        elif isinstance(v, MaxValueValidator):
            extra["le"] = v.limit_value
    return extra


def python_type(field: models.Field, *, for_input: bool) -> tuple[Any, dict[str, Any]]:
    """(annotation, Field kwargs) for one model field."""
    constraints: dict[str, Any] = {}
    if isinstance(field, models.ForeignKey):
        return int, constraints
    if field.choices and for_input:
        values = tuple(str(c[0]) for c in field.flatchoices)
        return Literal[values], constraints  # type: ignore[valid-type]
    if isinstance(field, models.BooleanField):
        return bool, constraints
    if isinstance(field, models.DateTimeField):
        return dt.datetime, constraints
    if isinstance(field, models.DateField):
        return dt.date, constraints
    if isinstance(field, models.DecimalField):
        constraints.update(max_digits=field.max_digits, decimal_places=field.decimal_places)
        constraints.update(_bounds(field))
        return Decimal, constraints
    if isinstance(field, models.IntegerField | models.BigAutoField | models.AutoField):
        constraints.update(_bounds(field))
        return int, constraints
    if isinstance(field, models.JSONField):
        return dict[str, Any], constraints
    if isinstance(field, models.FileField):
        return str, constraints
    if isinstance(field, models.CharField | models.TextField):
        if for_input and field.max_length:
            loose = 3 if field.name in NORMALISED else 1
            constraints["max_length"] = field.max_length * loose
        return str, constraints
    return Any, constraints


def field_name(field: models.Field) -> str:
    return field.attname if isinstance(field, models.ForeignKey) else field.name


def model_schema(
    model: type[models.Model],
    fields: list[str],
    *,
    name: str,
    mode: Literal["out", "create", "patch"],
    extra: dict[str, tuple[Any, Any]] | None = None,
) -> type[Schema]:
    """Build (once) the schema ``name`` for ``model``'s ``fields``."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    definitions: dict[str, Any] = {}
    for fname in fields:
        field = model._meta.get_field(fname)
        assert isinstance(field, models.Field)
        annotation, constraints = python_type(field, for_input=mode != "out")
        key = field_name(field)
        label = str(field.verbose_name) if field.verbose_name else key
        if mode == "out":
            definitions[key] = (annotation | None, Field(None, title=label))
            continue
        required = (
            mode == "create"
            and not field.null
            and not field.blank
            and not field.has_default()
            and not getattr(field, "auto_now_add", False)
        )
        if required:
            definitions[key] = (annotation, Field(..., title=label, **constraints))
        elif field.null or mode == "patch":
            definitions[key] = (annotation | None, Field(None, title=label, **constraints))
        else:
            default = field.get_default()
            if isinstance(default, Enum):
                default = default.value
            definitions[key] = (annotation, Field(default, title=label, **constraints))
    definitions.update(extra or {})
    schema = create_model(name, __base__=Schema, **definitions)  # type: ignore[call-overload]
    _REGISTRY[name] = schema
    return schema
