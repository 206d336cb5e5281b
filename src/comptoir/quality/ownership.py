"""Which fields of which records another system (the ERP) masters, as merge needs to know.

The integration app declares owned fields per connection and refuses edits to them (its write
guard). This app must not import it (a layer rule), so it asks through a hook: a provider
registered with :func:`register_owned_fields_provider` answers ``{record id: {field, …}}``.
Until one is registered, the answer is read from the data the integration layer stores: each
enabled connection's ``owned_fields`` and the ``system`` line of its mapping, matched with the
records' live external references.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence

from django.apps import apps

from comptoir.core.models import ExternalRef

OwnedFieldsProvider = Callable[[str, Sequence[int]], dict[int, set[str]]]
_PROVIDERS: list[OwnedFieldsProvider] = []


def register_owned_fields_provider(provider: OwnedFieldsProvider) -> None:
    """Let the integration layer (or a plugin) say which fields another system masters."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def owned_fields(object_type: str, ids: Sequence[int]) -> dict[int, set[str]]:
    """``{id: field names}`` for the records of ``ids`` another system masters fields of.

    Field names are those of the connection's declaration (``owner`` or ``owner_id`` both
    name the foreign key; callers compare both spellings).
    """
    if not ids:
        return {}
    providers = _PROVIDERS or [_from_stored_declarations]
    out: dict[int, set[str]] = {}
    for provider in providers:
        for object_id, names in provider(object_type, ids).items():
            out.setdefault(object_id, set()).update(names)
    return out


def _system_of(mapping: str) -> str | None:
    try:
        system = tomllib.loads(mapping or "").get("system")
    except tomllib.TOMLDecodeError:
        return None
    return system if isinstance(system, str) and system else None


def _from_stored_declarations(object_type: str, ids: Sequence[int]) -> dict[int, set[str]]:
    try:
        connection_model = apps.get_model("integration", "Connection")
    except LookupError:
        return {}
    by_system: dict[str, set[str]] = {}
    for mapping, declared in connection_model.objects.filter(enabled=True).exclude(
            owned_fields={}).values_list("mapping", "owned_fields"):
        fields = set((declared or {}).get(object_type) or ())
        system = _system_of(mapping) if fields else None
        if system:
            by_system.setdefault(system, set()).update(fields)
    if not by_system:
        return {}
    out: dict[int, set[str]] = {}
    refs = ExternalRef.objects.filter(object_type=object_type, object_id__in=list(ids),
                                      deleted_at__isnull=True, system__in=list(by_system))
    for object_id, system in refs.values_list("object_id", "system"):
        out.setdefault(int(object_id), set()).update(by_system[system])
    return out


def erp_linked(object_type: str, ids: Sequence[int]) -> set[int]:
    """Records carrying a live reference from another system (synced from it)."""
    return set(ExternalRef.objects.filter(object_type=object_type, object_id__in=list(ids),
                                          deleted_at__isnull=True)
               .values_list("object_id", flat=True))
