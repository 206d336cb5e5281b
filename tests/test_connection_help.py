"""``comptoir connection --help`` and the README describe every connector and mapping.

Both are checked against the registry and the mapping files, so adding a connector parameter
or a ready-made mapping without documenting it fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import load_command_class

from comptoir.integration.engine.core import Connector, connectors
from comptoir.integration.mappings import builtin_mappings
from comptoir.integration.services import load_connectors

README = Path(__file__).resolve().parents[1] / "README.md"


def _registered() -> dict[str, type[Connector]]:
    """The connectors Comptoir ships (tests register their own in-memory ones)."""
    load_connectors()
    found = {name: cls for name, cls in connectors().items()
             if cls.__module__.startswith("comptoir.integration.connectors.")}
    assert {"files", "tryton", "tryton-sql", "sql", "push"} <= set(found)
    return found


def _help(capsys: Any) -> str:
    command = load_command_class("comptoir.integration", "connection")
    with pytest.raises(SystemExit) as stopped:
        command.run_from_argv(["comptoir", "connection", "--help"])
    assert stopped.value.code == 0
    return str(capsys.readouterr().out)


def test_help_names_every_connector_parameter_and_mapping(capsys: Any) -> None:
    text = _help(capsys)
    assert "env:NAME" in text
    for name, cls in _registered().items():
        assert f"  {name}: {cls.label}" in text
        for param, spec in cls.parameters.items():
            line = next((ln for ln in text.splitlines()
                         if ln.startswith(f"    {param} ({spec.label}): ")), None)
            assert line is not None, (name, param)
            assert ("required" if spec.required else "optional") in line
            assert f"kind {spec.kind}" in line
            if spec.default not in (None, ""):
                assert repr(spec.default) in line
            if param in cls.sensitive_parameters:
                assert f"--secret {param}=env:NAME" in text
    for mapping in builtin_mappings():
        assert re.search(rf"^  {mapping} +\S", text, re.MULTILINE), mapping


def _readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Connectors and mappings\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_readme_lists_every_connector_parameter_and_mapping() -> None:
    section = _readme_section()
    assert "env:NAME" in section
    for name, cls in _registered().items():
        assert f"\n**`{name}`**" in section, name
        table = section.split(f"\n**`{name}`**", 1)[1].split("\n**", 1)[0]
        for param in cls.parameters:
            assert f"| `{param}` |" in table, (name, param)
        for secret in cls.sensitive_parameters:
            assert f"Secret: `{secret}`" in section, (name, secret)
    for mapping in builtin_mappings():
        assert f"- `{mapping}` — " in section, mapping


def test_readme_still_opens_with_the_two_setup_commands() -> None:
    assert README.read_text(encoding="utf-8").startswith("```sh\nmake run\nmake test\n```\n")
