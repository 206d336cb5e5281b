"""Fixtures of the SIRENE tests: the register loaded from files made here, signed-in clients."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import translation

from comptoir.core.models import ExternalRef
from comptoir.crm.models import Account
from comptoir.testing import factories as f

from . import files as F
from .files import register_files


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are checked in English (French is the default language)."""
    with translation.override("en"):
        yield


@pytest.fixture
def register(db: None, tmp_path: Path) -> str:
    """The test register loaded through the command (establishments first, zipped); returns
    the command's output."""
    units_path, etabs_path = register_files(tmp_path)
    out = StringIO()
    call_command("sirene", "load", str(etabs_path), str(units_path), stdout=out)
    return out.getvalue()


@pytest.fixture
def erp_account(register: str, personas: Any) -> Account:
    """An account the ERP sent, which masters its name and NAF code."""
    from comptoir.integration.models import Connection

    account = f.account(by=personas.owner, legal_name="Dupont Conseil Paris", siren=F.DUPONT)
    Connection.objects.create(name="erp", connector="files", mapping='system = "erp"\n',
                              owned_fields={"account": ["legal_name", "naf_code"]})
    ExternalRef.objects.create(system="erp", object_type="account", external_id="C042",
                               object_id=account.pk)
    return account
