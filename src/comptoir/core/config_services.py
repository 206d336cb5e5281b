"""Configuration writes: custom fields and their picklists (R14), for administrators.

A custom field's values live in each record's ``custom`` JSON column, keyed by the field's
``name``. So the ``name``, ``type`` and object of a field are fixed once created (changing them
would orphan or invalidate stored values); its label, whether it is required, its maximum length
and whether it is active can change. A field is deactivated, never deleted: its values stay on
the records, hidden, and come back if it is reactivated.

Picklist options are the ``choices`` of a field of type choice. Renaming an option rewrites the
records holding it; removing one either moves those records to another option or clears their
value — each rewritten record gets an audit entry and an ``<object>.updated`` event, like any
other change of the record. Definitions themselves have no object type of their own, so their
changes are plain saves in one transaction, logged to ``comptoir.admin`` with who made them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.db.models.fields.json import KeyTransform
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.access.admin_services import require_administrator

from .errors import Conflict, ValidationFailed
from .models import AuditEntry, CustomField, OutboxEvent
from .records import RECORD_MODELS
from .services import full_clean, save

log = logging.getLogger("comptoir.admin")

# Objects whose records carry a ``custom`` column (``CustomFieldsModel``).
CUSTOMIZABLE = RECORD_MODELS  # every kind of record carries custom fields
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_OPTIONS = 200
OPTION_MAX_LENGTH = 100
FIXED_AFTER_CREATION = ("object_type", "name", "type")
EDITABLE = ("label", "required", "max_length", "active")
REWRITE_BATCH = 1000


def customizable_model(object_type: str) -> type[models.Model]:
    try:
        return apps.get_model(CUSTOMIZABLE[object_type])
    except KeyError as exc:
        raise ValidationFailed(_("This object has no custom fields."),
                               fields={"object_type": [_("Choose an object.")]}) from exc


def _clean_option(value: Any, field: str = "option") -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise ValidationFailed(_("Enter an option."), fields={field: [_("Enter an option.")]})
    if len(text) > OPTION_MAX_LENGTH:
        message = _("At most %(n)d characters.") % {"n": OPTION_MAX_LENGTH}
        raise ValidationFailed(message, fields={field: [message]})
    return text


def clean_options(values: Iterable[Any]) -> list[str]:
    """Options as stored: trimmed, non-empty, unique (ignoring case), in the order given."""
    out: list[str] = []
    seen: set[str] = set()
    errors: list[str] = []
    for raw in values:
        if not str(raw or "").strip():
            continue
        try:
            option = _clean_option(raw, "choices")
        except ValidationFailed as exc:
            errors += exc.fields["choices"]
            continue
        if option.casefold() in seen:
            errors.append(_("“%(o)s” is given twice.") % {"o": option})
            continue
        seen.add(option.casefold())
        out.append(option)
    if len(out) > MAX_OPTIONS:
        errors.append(_("At most %(n)d options.") % {"n": MAX_OPTIONS})
    if errors:
        raise ValidationFailed(_("Some options are not valid."), fields={"choices": errors})
    return out


def _check_definition(cf: CustomField) -> None:
    errors: dict[str, list[str]] = {}
    if cf.type == CustomField.Type.CHOICE and not cf.choices:
        errors["choices"] = [_("Give at least one option.")]
    if cf.type == CustomField.Type.TEXT and not 1 <= int(cf.max_length or 0) <= 10000:
        errors["max_length"] = [_("Between 1 and 10,000 characters.")]
    if errors:
        raise ValidationFailed(_("Some fields are not valid."), fields=errors)


@transaction.atomic
def custom_field_create(*, user: Any, data: Mapping[str, Any]) -> CustomField:
    """Define a typed extra field on an object; it appears on its forms and in the API."""
    require_administrator(user)
    object_type = str(data.get("object_type") or "")
    model = customizable_model(object_type)
    name = str(data.get("name") or "").strip().lower()
    if not NAME_RE.match(name):
        raise ValidationFailed(_("Not a valid key."), fields={"name": [
            _("Lower-case letters, digits and _, starting with a letter (e.g. fleet_size).")]})
    taken = {f.name for f in model._meta.get_fields()} | {
        getattr(f, "attname", f.name) for f in model._meta.get_fields()}
    if name in taken:
        raise ValidationFailed(_("Not a valid key."), fields={"name": [
            _("A standard field already has this name.")]})
    if CustomField.objects.filter(object_type=object_type, name=name).exists():
        raise Conflict(_("This key is taken."), fields={"name": [
            _("This object already has a custom field with this key (maybe inactive).")]})
    cf = CustomField(
        object_type=object_type, name=name, label=str(data.get("label") or "").strip(),
        type=data.get("type") or CustomField.Type.TEXT,
        choices=clean_options(data.get("choices") or ())
        if data.get("type") == CustomField.Type.CHOICE else [],
        required=bool(data.get("required", False)),
        max_length=data.get("max_length") or 255,
        active=bool(data.get("active", True)),
    )
    full_clean(cf)
    _check_definition(cf)
    save(cf)
    log.info("%s created custom field %s", getattr(user, "username", "?"), cf)
    return cf


@transaction.atomic
def custom_field_update(*, user: Any, field: CustomField, data: Mapping[str, Any]
                        ) -> CustomField:
    """Change the label, required flag, maximum length or active flag of a field."""
    require_administrator(user)
    fixed = [k for k in FIXED_AFTER_CREATION if k in data and data[k] != getattr(field, k)]
    if fixed:
        raise ValidationFailed(
            _("The object, key and type of a field cannot change once it exists."),
            fields={k: [_("Fixed once the field exists: create a new field instead.")]
                    for k in fixed})
    for key in EDITABLE:
        if key in data:
            value = data[key]
            setattr(field, key, value.strip() if isinstance(value, str) else value)
    full_clean(field)
    _check_definition(field)
    save(field)
    log.info("%s updated custom field %s", getattr(user, "username", "?"), field)
    return field


# --- Picklist options ----------------------------------------------------------------------

def _require_choice(field: CustomField) -> None:
    if field.type != CustomField.Type.CHOICE:
        raise ValidationFailed(_("Only a field of type choice has options."))


def _index(field: CustomField, option: str) -> int:
    for i, existing in enumerate(field.choices):
        if str(existing) == option:
            return i
    raise ValidationFailed(_("No such option."), fields={"option": [_("No such option.")]})


def _check_free(field: CustomField, option: str, *, other_than: str | None = None) -> None:
    for existing in field.choices:
        if str(existing).casefold() == option.casefold() and str(existing) != other_than:
            raise Conflict(_("This option exists already."),
                           fields={"option": [_("This option exists already.")]})


def holding(field: CustomField, option: str) -> models.QuerySet[Any]:
    """The records whose value for ``field`` is ``option``."""
    model = customizable_model(field.object_type)
    return (model._default_manager.alias(_picked=KeyTransform(field.name, "custom"))
            .filter(_picked=option))


def option_usage(field: CustomField, option: str) -> int:
    """How many records hold ``option`` (one scan of the object's table: ask it on demand)."""
    return holding(field, option).count()


def _rewrite(field: CustomField, option: str, new: str | None, user: Any) -> int:
    """Give every record holding ``option`` the value ``new`` (``None`` clears it), audited."""
    model = customizable_model(field.object_type)
    ids = list(holding(field, option).values_list("pk", flat=True))
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    now = timezone.now()
    for start in range(0, len(ids), REWRITE_BATCH):
        rows = list(model._default_manager.filter(pk__in=ids[start:start + REWRITE_BATCH])
                    .values_list("pk", "custom"))
        changed = []
        audit, events = [], []
        for pk, before in rows:
            after = dict(before or {})
            if new is None:
                after.pop(field.name, None)
            else:
                after[field.name] = new
            changed.append(model(pk=pk, custom=after, updated_at=now))
            changes = {"custom": [before, after]}
            audit.append(AuditEntry(object_type=field.object_type, object_id=pk,
                                    action=AuditEntry.Action.UPDATE, user_id=user_id,
                                    source="settings", changes=changes))
            events.append(OutboxEvent(topic=f"{field.object_type}.updated",
                                      object_type=field.object_type, object_id=pk,
                                      payload={"changes": changes, "user_id": user_id,
                                               "source": "settings"}))
        model._default_manager.bulk_update(changed, ["custom", "updated_at"])
        AuditEntry.objects.bulk_create(audit)
        OutboxEvent.objects.bulk_create(events)
    return len(ids)


@transaction.atomic
def picklist_option_add(*, user: Any, field: CustomField, option: str) -> CustomField:
    require_administrator(user)
    _require_choice(field)
    text = _clean_option(option)
    _check_free(field, text)
    if len(field.choices) >= MAX_OPTIONS:
        raise ValidationFailed(_("At most %(n)d options.") % {"n": MAX_OPTIONS},
                               fields={"option": [_("Remove an option first.")]})
    field.choices = [*field.choices, text]
    save(field)
    return field


@transaction.atomic
def picklist_option_rename(*, user: Any, field: CustomField, option: str, new: str) -> int:
    """Rename an option everywhere: the records holding it take the new name. Returns how many
    records changed."""
    require_administrator(user)
    _require_choice(field)
    i = _index(field, option)
    text = _clean_option(new, "new")
    if text == option:
        return 0
    try:
        _check_free(field, text, other_than=option)
    except Conflict as exc:
        raise Conflict(exc.message, fields={"new": exc.fields["option"]}) from exc
    choices = list(field.choices)
    choices[i] = text
    field.choices = choices
    save(field)
    moved = _rewrite(field, option, text, user)
    log.info("%s renamed option %r to %r of %s (%d records)", getattr(user, "username", "?"),
             option, text, field, moved)
    return moved


@transaction.atomic
def picklist_option_move(*, user: Any, field: CustomField, option: str, offset: int
                         ) -> CustomField:
    """Move an option up (``offset=-1``) or down (``+1``) in the list people choose from."""
    require_administrator(user)
    _require_choice(field)
    i = _index(field, option)
    j = max(0, min(len(field.choices) - 1, i + offset))
    if i != j:
        choices = list(field.choices)
        choices.insert(j, choices.pop(i))
        field.choices = choices
        save(field)
    return field


@transaction.atomic
def picklist_option_remove(*, user: Any, field: CustomField, option: str,
                           replacement: str | None = None) -> int:
    """Remove an option. Records holding it get ``replacement`` (another option) or, without
    one, lose the value. Returns how many records changed."""
    require_administrator(user)
    _require_choice(field)
    i = _index(field, option)
    if len(field.choices) == 1:
        raise ValidationFailed(
            _("A choice field keeps at least one option: deactivate the field instead."),
            fields={"option": [_("This is the last option.")]})
    if replacement and (replacement == option or replacement not in map(str, field.choices)):
        raise ValidationFailed(_("Choose another option of this field."),
                               fields={"replacement": [_("Choose another option.")]})
    choices = list(field.choices)
    del choices[i]
    field.choices = choices
    save(field)
    moved = _rewrite(field, option, replacement or None, user)
    log.info("%s removed option %r of %s (%d records %s)", getattr(user, "username", "?"),
             option, field, moved, f"moved to {replacement!r}" if replacement else "cleared")
    return moved
