"""Ready-made mapping files for migrations from other CRMs (Salesforce, HubSpot, Pipedrive,
Odoo, vCards) and for the Tryton ERP.

Each is a starting point: copy its text into a connection's mapping and adapt it (custom
fields, value lists). They are plain TOML, validated like any mapping by ``load_mapping``.
"""

from __future__ import annotations

from importlib import resources

from comptoir.integration.engine.errors import ConfigError


def builtin_mappings() -> list[str]:
    """The names of the ready-made mappings, to offer them in a list."""
    return sorted(entry.name.removesuffix(".toml") for entry in
                  resources.files(__package__).iterdir() if entry.name.endswith(".toml"))


def builtin_mapping(name: str) -> str:
    """The text of a ready-made mapping, read from the installed package (works from a wheel,
    not only from a source tree)."""
    if name not in builtin_mappings():
        raise ConfigError(f"No ready-made mapping {name!r} "
                          f"(known: {', '.join(builtin_mappings())}).")
    return resources.files(__package__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
