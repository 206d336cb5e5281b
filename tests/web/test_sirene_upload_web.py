"""The SIRENE page's upload: a stock file sent, refused with the reason or loaded in the
background with a progress bar that polls itself; who may; and the whole path in a browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from comptoir.sirene import loader, uploads
from comptoir.sirene.models import SireneLoad, SireneUnit
from comptoir.sirene.uploads import execute_sirene_load
from sirene import files as F  # tests/sirene/files.py: files in the official format

PAGE = "/quality/sirene/"


def _post(client: Any, name: str, content: bytes) -> Any:
    return client.post(reverse("web:quality_sirene_loads"),
                       {"file": SimpleUploadedFile(name, content)})


@pytest.mark.django_db
def test_upload_shows_the_load_polling_then_its_result(client_for: Any, data_manager: Any,
                                                      tmp_path: Path) -> None:
    client = client_for(data_manager)
    form = client.get(PAGE).content.decode()
    assert '<label for="id_file">SIRENE stock file' in form
    assert 'aria-describedby="id_file_helptext"' in form
    assert "Load the legal units first" in form
    assert "Base Sirene des entreprises et de leurs établissements (SIREN, SIRET)" in form
    assert "comptoir sirene load" in form  # the command line stays, second
    assert 'hx-trigger="every 2s"' not in form  # nothing to follow yet

    units, _etabs = F.register_files(tmp_path, zipped=False)
    answer = _post(client, units.name, units.read_bytes())
    assert answer.status_code == 303
    assert answer["Location"] == PAGE + "#sirene-loads"
    load = SireneLoad.objects.get()
    page = client.get(PAGE).content.decode()
    assert "is uploaded: it is loaded in the background" in page
    assert 'data-status="pending"' in page
    assert f'<progress id="sirene-progress-{load.pk}"' in page
    assert 'hx-trigger="every 2s"' in page  # a reload keeps following it
    partial = client.get(reverse("web:quality_sirene_loads"), HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert 'id="sirene-status"' in partial.content.decode()
    assert 'hx-trigger="every 2s"' in partial.content.decode()

    execute_sirene_load.call(load.pk)  # what the worker does
    partial = client.get(reverse("web:quality_sirene_loads"), HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert 'hx-trigger="every 2s"' not in html  # finished: the polling stops
    assert 'data-status="succeeded"' in html
    assert "<progress" not in html
    assert "5 rows, 0 skipped" in html
    assert '<dd data-figure="units">5</dd>' in html
    assert "StockUniteLegale_utf8.csv" in html


@pytest.mark.django_db
def test_a_failed_load_shows_its_reason(client_for: Any, data_manager: Any, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(data_manager)
    units, _etabs = F.register_files(tmp_path, zipped=False)
    _post(client, units.name, units.read_bytes())

    def full(rows: list[list[Any]]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(loader, "_write_units", full)
    execute_sirene_load.call(SireneLoad.objects.get().pk)
    html = client.get(PAGE).content.decode()
    assert 'data-status="failed"' in html
    assert "No space left on device" in html
    assert "Never loaded" in html  # a failed load is not the copy's date


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("clients.csv", b"Raison sociale;Code postal\nDupont;75008\n", "Not a SIRENE stock file"),
    ("sirene.xlsx", b"PK\x03\x04", "(.zip) or its CSV (.csv)"),
    ("StockEtablissement_utf8.zip", b"siren,nic,siret\n", "not a zip archive"),
])
@pytest.mark.django_db
def test_a_bad_file_is_refused_with_the_reason_on_the_field(
        client_for: Any, data_manager: Any, name: str, content: bytes, reason: str) -> None:
    answer = _post(client_for(data_manager), name, content)
    assert answer.status_code == 422
    html = answer.content.decode()
    assert re.search(r'<p class="field-error" id="id_file_error">[^<]*'
                     + re.escape(reason), html)
    assert 'aria-invalid="true"' in html
    assert not SireneLoad.objects.exists()


@pytest.mark.django_db
def test_no_file_is_a_field_error(client_for: Any, admin: Any) -> None:
    answer = client_for(admin).post(reverse("web:quality_sirene_loads"), {})
    assert answer.status_code == 422
    assert 'id="id_file_error"' in answer.content.decode()


@pytest.mark.django_db
def test_reps_and_sales_managers_cannot_upload_nor_follow(client_for: Any, personas: Any,
                                                         tmp_path: Path) -> None:
    units, _etabs = F.register_files(tmp_path, zipped=False)
    for user in (personas.owner, personas.manager):
        client = client_for(user)
        assert _post(client, units.name, units.read_bytes()).status_code == 404
        assert client.get(reverse("web:quality_sirene_loads"),
                          HTTP_HX_REQUEST="true").status_code == 404
        assert client.get(PAGE).status_code == 404
    assert not SireneLoad.objects.exists()


@pytest.mark.django_db
def test_the_status_url_outside_htmx_goes_to_the_page(client_for: Any,
                                                      data_manager: Any) -> None:
    answer = client_for(data_manager).get(reverse("web:quality_sirene_loads"))
    assert answer.status_code == 302
    assert answer["Location"] == PAGE


# --- In a real browser ------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_browser_upload_see_the_progress_then_loaded(open_as: Any, personas: Any,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.sync_api import expect

    # big enough for three batches whose bytes read differ (text is read by 8 KiB chunks)
    path = F.write_csv(tmp_path / "StockUniteLegale_utf8.csv", F.UNIT_HEADER, [
        F.unit(F.siren(n), denominationUniteLegale=f"SOCIETE NUMERO {n}")
        for n in range(10, 310)])
    page = open_as(personas.data_manager, PAGE)
    page.get_by_label("SIRENE stock file").set_input_files(str(path))
    page.get_by_role("button", name="Load this file").click()
    pending = page.locator('#sirene-load-list tr[data-status="pending"]')
    expect(pending).to_contain_text("StockUniteLegale_utf8.csv")
    expect(pending.locator("progress")).to_be_visible()
    page.reload()  # still followed after a reload
    expect(pending.locator("progress")).to_be_visible()
    load = SireneLoad.objects.get()

    # the worker's load, seen by the page while it runs: halfway, the page shows it
    monkeypatch.setattr(uploads, "BATCH_SIZE", 100)
    monkeypatch.setattr(uploads, "PROGRESS_EVERY", 0)
    write = loader._write_units
    calls = {"n": 0}

    def watched(rows: list[list[Any]]) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # 200 rows written and their progress recorded
            running = page.locator('#sirene-load-list tr[data-status="running"]')
            expect(running).to_contain_text("200 rows loaded")
            expect(running.locator("progress")).to_have_attribute("value",
                                                                  re.compile(r"^[1-9]\d?$"))
        write(rows)

    monkeypatch.setattr(loader, "_write_units", watched)
    execute_sirene_load.call(load.pk)
    assert calls["n"] == 3
    done = page.locator('#sirene-load-list tr[data-status="succeeded"]')
    expect(done).to_contain_text("Loaded")
    expect(done).to_contain_text("300 rows, 0 skipped")
    expect(page.locator("#sirene-load-list progress")).to_have_count(0)
    expect(page.locator("[data-figure=units]")).to_have_text("300")
    expect(page.locator("#sirene-status")).to_have_attribute("data-alive", "0")
    assert SireneUnit.objects.count() == 300
