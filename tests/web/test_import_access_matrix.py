"""Who reaches what of the import, connection, quarantine and SIRENE pages: every persona
against every page, for their own import and another's. A rep never sees nor uses another's
import, its refused rows, the connections or the quarantine of the sync."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from comptoir.integration import imports
from comptoir.integration.models import Connection, QuarantinedRecord

pytestmark = pytest.mark.django_db

PRIVILEGED = {"admin", "data_manager"}


def _imported(user: Any, name: str, text: str, object_type: str) -> Any:
    job = imports.import_create(user=user, object_type=object_type, upload=SimpleUploadedFile(
        name, text.encode(), content_type="text/csv"))
    dry = imports.import_dry_run_start(job, user=user)
    imports.execute_import_dry_run.call(dry.pk)
    job.refresh_from_db()
    run = imports.import_run_start(job, user=user)
    imports.execute_import_run.call(run.pk)
    job.refresh_from_db()
    return job


@pytest.fixture
def world(personas: Any) -> dict[str, Any]:
    own = _imported(personas.owner, "mes-pistes.csv",
                    "Nom;Entreprise;E-mail\nDurand;ACME;durand@acme.example\n"
                    ";;pas-de-nom\n", "lead")
    other = _imported(personas.data_manager, "comptes.csv",
                      "Raison sociale;Ville\nMenuiserie Matrice;Lyon\n;Paris\n", "account")
    sync = Connection.objects.create(name="erp", connector="files",
                                     parameters={"path": "/nonexistent"},
                                     mapping='system = "erp"\n')
    q_sync = QuarantinedRecord.objects.create(connection=sync, stream="rows", external_id="X1",
                                              payload={"Nom": ""}, reason="empty name")
    return {"own": own, "other": other, "sync": sync, "q_sync": q_sync,
            "q_own": QuarantinedRecord.objects.get(connection=own.connection),
            "q_other": QuarantinedRecord.objects.get(connection=other.connection)}


def _allowed(status: int) -> bool:
    assert status != 500
    return status in (200, 302)


def test_every_persona_against_every_page(client_for: Any, personas: Any,
                                          world: dict[str, Any]) -> None:
    own, other, sync = world["own"], world["other"], world["sync"]
    pages = {  # page → who may open it (beyond the privileged)
        f"/imports/{own.pk}/": {"owner"},
        f"/imports/{own.pk}/refused/": {"owner"},
        f"/imports/{own.pk}/refused.csv": {"owner"},
        f"/sync/quarantine/{world['q_own'].pk}/": {"owner"},
        f"/imports/{other.pk}/": set(),
        f"/imports/{other.pk}/refused/": set(),
        f"/imports/{other.pk}/refused.csv": set(),
        f"/imports/{other.pk}/undo/": set(),
        f"/sync/quarantine/{world['q_other'].pk}/": set(),
        f"/sync/quarantine/{world['q_sync'].pk}/": set(),
        "/sync/connections/": set(),
        f"/sync/connections/{sync.pk}/": set(),
        f"/sync/connections/{sync.pk}/edit/": set(),
        f"/sync/connections/{sync.pk}/preview/": set(),
        "/quality/sirene/": set(),
    }
    seen: dict[tuple[str, str], bool] = {}
    for name, user in personas.users().items():
        client = client_for(user)
        for url, also in pages.items():
            seen[(name, url)] = _allowed(client.get(url).status_code)
            assert seen[(name, url)] == (name in PRIVILEGED or name in also), (name, url)
        # what one may not see, one may not use either
        posts = {f"/imports/{other.pk}/run/": False,
                 f"/imports/{other.pk}/undo/": False,
                 f"/sync/quarantine/{world['q_other'].pk}/retry/": False,
                 f"/sync/connections/{sync.pk}/preview/draft/": False,
                 f"/sync/connections/{sync.pk}/toggle/": False}
        for url in posts:
            status = client.post(url, {"mapping": 'system = "x"\n'}).status_code
            assert status != 500, (name, url)
            if name not in PRIVILEGED:
                assert status in (403, 404), (name, url, status)
        listing = client.get("/imports/").content.decode()
        if name not in PRIVILEGED:
            assert "comptes.csv" not in listing, name  # another's import is not listed
    sync.refresh_from_db()
    assert sync.enabled  # no toggle got through for a rep (the privileged toggled twice)
    assert seen[("owner", f"/imports/{own.pk}/")]
    assert not seen[("teammate", f"/imports/{own.pk}/")]  # even a teammate
