"""The engine core and the connectors stay plain Python: no Django, no domain app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

INTEGRATION = Path(__file__).resolve().parents[1] / "src" / "comptoir" / "integration"
ALLOWED_PREFIX = ("comptoir.integration.engine", "comptoir.integration.connectors")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("folder", ["engine", "connectors"])
def test_no_django_below_the_engine(folder: str) -> None:
    files = sorted((INTEGRATION / folder).rglob("*.py"))
    assert files, folder
    bad = [f"{path.name}: {name}" for path in files for name in _imports(path)
           if name.split(".")[0] == "django"
           or (name.startswith("comptoir") and not name.startswith(ALLOWED_PREFIX))]
    assert not bad, bad
