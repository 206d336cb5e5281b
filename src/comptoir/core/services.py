"""Write-path primitives shared by every domain service.

A domain service validates, saves, and in the same transaction writes its audit entry and its
outbox event through :func:`record_change`. Domain apps keep their own ``<entity>_<action>``
functions and call these helpers for the common mechanics.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from . import recycle
from .errors import Conflict, NotFound, StaleRecord, ValidationFailed
from .models import AuditEntry, CustomField, ExternalRef, OutboxEvent

M = TypeVar("M", bound=models.Model)

NON_FIELD = "__all__"


def json_value(value: Any) -> Any:
    """A JSON-safe form of a field value, for audit and event payloads."""
    if value is None or type(value) in (str, int, bool, float):  # the hot path of bulk loads
        return value
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "name") and hasattr(value, "storage"):  # FieldFile
        return value.name or ""
    return value


def tracked_fields(model: type[models.Model]) -> list[str]:
    """Concrete editable fields, by attname (``owner_id``), as audited."""
    skip = {"created_at", "updated_at", "id", "version"}
    return [
        f.attname
        for f in model._meta.concrete_fields
        if f.name not in skip and not f.primary_key
    ]


def snapshot(instance: models.Model) -> dict[str, Any]:
    return {name: json_value(getattr(instance, name)) for name in tracked_fields(type(instance))}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def record_change(
    *,
    object_type: str,
    instance: models.Model,
    action: str,
    user: Any,
    changes: Mapping[str, list[Any]],
    source: str = "app",
) -> None:
    """Audit entry + outbox event for one change. Call inside the service's transaction."""
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    pk = int(instance.pk)  # type: ignore[arg-type]
    AuditEntry.objects.create(
        object_type=object_type, object_id=pk, action=action, user_id=user_id,
        source=source, changes=dict(changes),
    )
    OutboxEvent.objects.create(
        topic=f"{object_type}.{action}d", object_type=object_type, object_id=pk,
        payload={"changes": dict(changes), "user_id": user_id, "source": source},
    )


def validation_error_fields(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            field: [str(m) for e in errors for m in e.messages]
            for field, errors in exc.error_dict.items()
        }
    return {NON_FIELD: [str(m) for m in exc.messages]}


UNIQUENESS_CODES = frozenset({"unique", "unique_together", "unique_for_date"})


def full_clean(instance: models.Model, *, exclude: Iterable[str] = ()) -> None:
    """``Model.full_clean`` with Django's messages turned into a ``ValidationFailed``.

    When the only problem is a duplicate (unique field or constraint), it is a ``Conflict``
    (409), the same answer :func:`save` gives when two writers race for the same value.
    """
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        fields = validation_error_fields(exc)
        errors = ([e for errs in exc.error_dict.values() for e in errs]
                  if hasattr(exc, "error_dict") else exc.error_list)
        if errors and all(e.code in UNIQUENESS_CODES for e in errors):
            raise Conflict(_("This record conflicts with an existing one."),
                           fields=fields) from exc
        raise ValidationFailed(_("Some fields are not valid."), fields=fields) from exc


def save(instance: models.Model) -> None:
    """Save, turning a uniqueness race into a 409 rather than a 500."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise Conflict(_("This record conflicts with an existing one: %(e)s") % {"e": exc}) from exc


# --- Custom fields -------------------------------------------------------------------------

def custom_field_definitions(object_type: str) -> dict[str, CustomField]:
    return {cf.name: cf for cf in CustomField.objects.filter(object_type=object_type, active=True)}


def coerce_custom_value(cf: CustomField, value: Any) -> Any:
    """Check and convert one custom value; raises ``ValueError`` with a user message."""
    if value is None or value == "":
        return None
    if cf.type == CustomField.Type.TEXT:
        text = str(value)
        if len(text) > cf.max_length:
            raise ValueError(_("At most %(n)d characters.") % {"n": cf.max_length})
        return text
    if cf.type == CustomField.Type.NUMBER:
        if isinstance(value, bool):
            raise ValueError(_("Enter a number."))
        try:
            number = Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(_("Enter a number.")) from exc
        if not number.is_finite():
            raise ValueError(_("Enter a number."))
        return int(number) if number == number.to_integral_value() else float(number)
    if cf.type == CustomField.Type.DATE:
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError as exc:
            raise ValueError(_("Enter a date as YYYY-MM-DD.")) from exc
    if cf.type == CustomField.Type.BOOLEAN:
        if isinstance(value, bool):
            return value
        raise ValueError(_("Enter true or false."))
    if cf.type == CustomField.Type.CHOICE:
        if str(value) not in [str(c) for c in cf.choices]:
            raise ValueError(
                _("Choose one of: %(choices)s.") % {"choices": ", ".join(map(str, cf.choices))}
            )
        return str(value)
    raise ValueError(_("Unknown field type."))


def clean_custom_fields(
    object_type: str,
    incoming: Mapping[str, Any] | None,
    *,
    current: Mapping[str, Any] | None = None,
    creating: bool,
    definitions: Mapping[str, CustomField] | None = None,
) -> dict[str, Any]:
    """Merge ``incoming`` custom values into ``current``, validated against the definitions."""
    defs = custom_field_definitions(object_type) if definitions is None else definitions
    result = dict(current or {})
    errors: dict[str, list[str]] = {}
    for key, value in (incoming or {}).items():
        cf = defs.get(key)
        if cf is None:
            errors[f"custom.{key}"] = [_("Unknown custom field.")]
            continue
        try:
            coerced = coerce_custom_value(cf, value)
        except ValueError as exc:
            errors[f"custom.{key}"] = [str(exc)]
            continue
        if coerced is None:
            result.pop(key, None)
        else:
            result[key] = coerced
    for name, cf in defs.items():
        touched = creating or name in (incoming or {})
        if cf.required and result.get(name) in (None, "") and touched:
            errors[f"custom.{name}"] = [_("This field is required.")]
    if errors:
        raise ValidationFailed(_("Some custom fields are not valid."), fields=errors)
    return result


# --- Generic create / update / delete ------------------------------------------------------

def apply_fields(instance: models.Model, data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        setattr(instance, key, value)


def create_record(
    instance: M, *, object_type: str, user: Any, source: str = "app",
    custom: Mapping[str, Any] | None = None,
) -> M:
    """Validate and save a new record with its audit entry and event (caller holds atomic)."""
    if hasattr(instance, "custom"):
        instance.custom = clean_custom_fields(object_type, custom, creating=True)
    full_clean(instance)
    save(instance)
    after = snapshot(instance)
    record_change(object_type=object_type, instance=instance, action="create", user=user,
                  changes={k: [None, v] for k, v in after.items() if v not in (None, "", {})},
                  source=source)
    return instance


WriteGuard = Callable[[str, models.Model, Mapping[str, list[Any]], Any, str], None]
_WRITE_GUARDS: list[WriteGuard] = []


def register_write_guard(guard: WriteGuard) -> None:
    """Let an upper layer refuse an update (fields another system masters…) without the
    domain apps importing it: ``guard(object_type, instance, changes, user, source)`` raises a
    DomainError to refuse."""
    if guard not in _WRITE_GUARDS:
        _WRITE_GUARDS.append(guard)


def update_record(
    instance: M, data: Mapping[str, Any], *, object_type: str, user: Any, source: str = "app",
    custom: Mapping[str, Any] | None = None, before: Mapping[str, Any] | None = None,
) -> M:
    """Apply ``data``, validate, save, audit only what changed; no change writes nothing.

    ``before`` is the snapshot taken before the caller changed the instance itself. The caller's
    copy may be stale (read before the transaction, or when a form was opened): only the fields
    the caller changed are written, onto the row read again under the write lock, and custom
    values key by key — so two people editing different fields never undo each other.

    Optimistic checks, set on the instance by the caller: ``_expected_version`` (the API's
    ``If-Match``) refuses any write when the record changed since; ``_base_values`` (a form's
    values when it was opened) refuses only when a field the user changed was changed by
    someone else meanwhile. Both raise :class:`StaleRecord` (412).
    """
    before = snapshot(instance) if before is None else before
    base = getattr(instance, "_base_values", None)
    expected = getattr(instance, "_expected_version", None)
    apply_fields(instance, data)
    _coerce(instance)  # typed values to compare; the whole record is validated once, below
    # a form says what the user changed since opening it, not since this request read the row
    intended = diff(before if base is None else base, snapshot(instance))
    current = _locked(instance)
    _check_fresh(current, object_type, expected, base, intended)
    was = snapshot(current)
    for name in intended:
        setattr(current, name, getattr(instance, name))
    if custom is not None and hasattr(current, "custom"):
        current.custom = clean_custom_fields(object_type, custom, current=current.custom,
                                             creating=False)
    full_clean(current)
    changes = diff(was, snapshot(current))
    if changes:
        for guard in _WRITE_GUARDS:
            guard(object_type, current, changes, user, source)
        _save_fields(current, changes)
        record_change(object_type=object_type, instance=current, action="update", user=user,
                      changes=changes, source=source)
    for f in instance._meta.concrete_fields:  # the caller's copy now shows the stored record
        setattr(instance, f.attname, getattr(current, f.attname))
    return instance


def _coerce(instance: models.Model) -> None:
    """Each field's value converted and checked (``clean_fields``), without the uniqueness
    and constraint queries that :func:`full_clean` of the stored row runs afterwards."""
    try:
        instance.clean_fields()
    except ValidationError as exc:
        raise ValidationFailed(_("Some fields are not valid."),
                               fields=validation_error_fields(exc)) from exc


def _locked(instance: M) -> M:
    """The row as stored, locked until the transaction ends (``SELECT … FOR UPDATE`` on
    PostgreSQL; SQLite's immediate transactions hold the write lock from their start)."""
    manager = instance._meta.model._default_manager
    try:
        return manager.select_for_update().get(pk=instance.pk)  # type: ignore[return-value]
    except ObjectDoesNotExist as exc:
        raise NotFound(_("This record no longer exists: someone deleted it.")) from exc


def _check_fresh(current: models.Model, object_type: str, expected: int | None,
                 base: Mapping[str, Any] | None, intended: Mapping[str, list[Any]]) -> None:
    version = getattr(current, "version", None)
    stored = snapshot(current)
    if expected is not None and version is not None and int(expected) != version:
        conflicts = {k: [v[1], stored.get(k)] for k, v in intended.items()}
        who, when = _last_writer(current, object_type)
        raise StaleRecord(_("This record was changed by %(who)s since you read it "
                            "(version %(v)s, you sent %(e)s): read it again and retry.")
                          % {"who": who or _("someone else"), "v": version, "e": expected},
                          version=version, conflicts=conflicts, changed_by=who, changed_at=when)
    if base is not None:
        conflicts = {k: [v[1], stored.get(k)] for k, v in intended.items()
                     if stored.get(k) != base.get(k) and stored.get(k) != v[1]}
        if conflicts:
            who, when = _last_writer(current, object_type)
            raise StaleRecord(_("%(who)s changed this record since you opened it.")
                              % {"who": who or _("Someone else")},
                              version=version or 0, conflicts=conflicts, changed_by=who,
                              changed_at=when)


def _last_writer(instance: models.Model, object_type: str) -> tuple[str | None, str | None]:
    """Who made the record's last change and when (from the audit trail)."""
    from django.contrib.auth import get_user_model

    entry = (AuditEntry.objects.filter(object_id=instance.pk, object_type=object_type)
             .order_by("-at", "-id").values("user_id", "at", "source").first())
    found: tuple[str | None, str | None] = (None, None)
    if entry is not None:
        name = None
        if entry["user_id"]:
            user = get_user_model().objects.filter(pk=entry["user_id"]).first()
            name = (user.get_full_name() or user.get_username()) if user else None
        found = (name or str(entry["source"]), entry["at"].isoformat())
    return found


def _save_fields(instance: models.Model, changes: Mapping[str, Any]) -> None:
    """Write only the changed columns (and the version and update time): a full-row save
    would put back values read before someone else's write."""
    names = {instance._meta.get_field(k).name for k in changes if "." not in k}
    fields = {f.name for f in instance._meta.concrete_fields}
    if "version" in fields:
        instance.version = (instance.version or 0) + 1  # type: ignore[attr-defined]
        names.add("version")
    if "updated_at" in fields:
        names.add("updated_at")
    try:
        with transaction.atomic():
            instance.save(update_fields=sorted(names))
    except IntegrityError as exc:
        raise Conflict(_("This record conflicts with an existing one: %(e)s") % {"e": exc}) from exc


def delete_record(instance: models.Model, *, object_type: str, user: Any,
                  source: str = "app") -> None:
    """Delete a record (caller holds atomic): it goes to the recycle bin with every row its
    deletion takes along, restorable for 30 days (``core.recycle``)."""
    before = snapshot(instance)
    pk = instance.pk
    try:
        recycle.discard(instance, object_type=object_type, user=user, source=source)
    except (models.ProtectedError, models.RestrictedError) as exc:
        raise Conflict(_("This record is still in use and cannot be deleted.")) from exc
    instance.pk = pk
    record_change(object_type=object_type, instance=instance, action="delete", user=user,
                  changes={k: [v, None] for k, v in before.items() if v not in (None, "", {})},
                  source=source)
    ExternalRef.objects.filter(object_type=object_type, object_id=pk).delete()
