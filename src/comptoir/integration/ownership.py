"""Fields another system masters: read-only in Comptoir, overwritten by that system's sync.

A connection declares them (``owned_fields = {"account": ["legal_name", "siren"]}``); they
apply to the records that system sent (those with a live ExternalRef of the mapping's system).
An edit through the API or the UI is refused with the name of the system to change it in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from comptoir.core.errors import Conflict
from comptoir.core.models import ExternalRef

from .engine.errors import SyncError
from .models import Connection

_systems: dict[tuple[int, Any], str | None] = {}


def system_of(connection: Connection) -> str | None:
    """The mapping's ExternalRef system, cached until the connection changes."""
    key = (connection.pk, connection.updated_at)
    if key not in _systems:
        from .services import connection_mapping

        try:
            _systems[key] = connection_mapping(connection).system
        except SyncError:
            _systems[key] = None
    return _systems[key]


def owners(object_type: str) -> list[tuple[str, str, set[str]]]:
    """(connection name, system, owned field names) of every enabled connection owning some
    fields of ``object_type``."""
    out = []
    for connection in Connection.objects.filter(enabled=True).exclude(owned_fields={}):
        fields = set((connection.owned_fields or {}).get(object_type) or ())
        system = system_of(connection) if fields else None
        if fields and system:
            out.append((connection.label or connection.name, system, fields))
    return out


def refuse_owned_field_edits(object_type: str, instance: models.Model,
                             changes: Mapping[str, list[Any]], user: Any, source: str) -> None:
    """A write guard (see ``core.services.register_write_guard``)."""
    if source.startswith("sync:"):
        return
    found = owners(object_type)
    if not found:
        return
    systems = set(ExternalRef.objects.filter(object_type=object_type, object_id=instance.pk,
                                             deleted_at__isnull=True)
                  .values_list("system", flat=True))
    errors: dict[str, list[str]] = {}
    for label, system, fields in found:
        if system not in systems:
            continue
        for name in changes:
            if name in fields or name.removesuffix("_id") in fields:
                errors[name.removesuffix("_id")] = [
                    _("Managed in %(system)s (connection %(name)s): change it there; the next "
                      "sync brings it here.") % {"system": system, "name": label}]
    if errors:
        raise Conflict(_("Some fields are managed by another system and read-only here."),
                       fields=errors)
