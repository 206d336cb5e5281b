"""The file audit page of the data-quality area: upload, report, downloads, access."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from comptoir.testing import factories as f
from comptoir.web.views import quality_audit

from .test_audit import FR_HEADER, FR_ROWS, SIREN_BASE, csv_bytes, xlsx_bytes

URL = "/quality/audit/"


def upload(client: Client, content: bytes, name: str = "clients.csv", **data: Any) -> Any:
    data.setdefault("object_type", "account")
    return client.post(URL, {"file": SimpleUploadedFile(name, content), **data})


@pytest.fixture(autouse=True)
def _own_data_dir(settings: Any, tmp_path: Path) -> None:
    """Stored reports go to this test's folder (parallel workers share the session's)."""
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def dm(personas: Any, client_for: Callable[..., Client]) -> Client:
    return client_for(personas.data_manager)


def test_url_is_wired() -> None:
    assert reverse("web:quality_audit") == URL
    assert reverse("web:quality_audit_download", args=["json"]) == URL + "report.json"


@pytest.mark.django_db
def test_upload_shows_the_report_and_downloads(personas: Any, dm: Client) -> None:
    existing = f.account(by=personas.owner, legal_name="Dupont Conseil SARL", siren=SIREN_BASE,
                         billing_postcode="69002", billing_city="Lyon")
    rows = [*FR_ROWS, ["Dupont Conseil", SIREN_BASE, "", "", "69002", "Lyon", "", "", "", ""]]
    page = dm.get(URL)
    assert page.status_code == 200
    assert b'enctype="multipart/form-data"' in page.content
    response = upload(dm, csv_bytes(FR_HEADER, rows), mapping="Remarque=trade_name")
    assert response.status_code == 302
    page = dm.get(URL)
    html = page.content.decode()
    assert "Audit of clients.csv" in html
    assert "<dd>10</dd>" in html  # rows
    assert "Rows 2 and 3" in html  # a pair inside the file
    assert "pas-un-mail" in html
    assert "Row 7" in html
    assert reverse("web:account_detail", args=[existing.pk]) in html
    assert "your mapping" in html
    assert 'viewBox="0 0 100 10"' in html  # fill-rate bars
    data = json.loads(dm.get(URL + "report.json").content)
    assert data["rows"] == 10
    assert data["user"] == "data_manager"
    assert [2, 3] in [p["rows"] for p in data["duplicates_in_file"]["items"]]
    assert data["duplicates_in_base"]["items"][0]["candidates"][0]["id"] == existing.pk
    download = dm.get(URL + "report.html")
    assert download["Content-Disposition"] == 'attachment; filename="audit-clients.html"'
    assert b"<!DOCTYPE html>" in download.content
    assert b"<style>" in download.content
    assert dm.get(URL + "report.xml").status_code == 404
    # the report is kept outside any web-served folder
    stored = list((Path(settings.DATA_DIR) / "audit-reports").glob("*.json"))
    assert len(stored) == 1
    assert not stored[0].resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve())


@pytest.mark.django_db
def test_pairs_are_paginated(dm: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quality_audit, "PAIRS_PER_PAGE", 1)
    upload(dm, csv_bytes(FR_HEADER, FR_ROWS))
    first = dm.get(URL).content.decode()
    assert "Rows 2 and 3" in first
    assert "Rows 2 and 4" not in first
    second = dm.get(URL + "?page=2").content.decode()
    assert "Rows 2 and 4" in second


@pytest.mark.django_db
def test_xlsx_upload_with_sheet(dm: Client) -> None:
    content = xlsx_bytes(["Raison sociale", "SIREN"], [["Alpha", "123"]], sheet="Clients")
    response = upload(dm, content, "clients.xlsx", sheet="Clients")
    assert response.status_code == 302
    data = json.loads(dm.get(URL + "report.json").content)
    assert data["sheet"] == "Clients"
    assert data["invalid"][0]["count"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("content", "name", "extra", "message"), [
    (bytes(range(256)) * 4, "garbage.csv", {}, "not a text file"),
    (b"PK\x03\x04broken", "broken.xlsx", {}, "cannot be read"),
    (b"foo;bar\n1;2\n", "x.csv", {}, "No column is recognised"),
    (b"Raison sociale\nAlpha\n", "x.csv", {"mapping": "Raison sociale=nope"},
     "is not a field of account"),
    (b"Raison sociale\nAlpha\n", "x.csv", {"mapping": "just text"}, "Column=field"),
    (b"", "empty.csv", {}, "empty"),
])
def test_bad_uploads_give_a_message(dm: Client, content: bytes, name: str,
                                    extra: dict[str, str], message: str) -> None:
    response = upload(dm, content, name, **extra)
    assert response.status_code in (200, 422)
    assert message in response.content.decode()
    assert "Audit of" not in response.content.decode()


@pytest.mark.django_db
def test_file_size_limit(dm: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quality_audit, "MAX_UPLOAD_BYTES", 1024 * 1024)
    response = upload(dm, b"Raison sociale\n" + b"x" * (1024 * 1024 + 10))
    assert response.status_code == 422
    assert "the limit is 1 MB" in response.content.decode()


@pytest.mark.django_db
def test_reps_get_404(personas: Any, dm: Client, client_for: Callable[..., Client]) -> None:
    upload(dm, csv_bytes(FR_HEADER, FR_ROWS))
    rep = client_for(personas.owner)
    assert rep.get(URL).status_code == 404
    assert upload(rep, csv_bytes(FR_HEADER, FR_ROWS)).status_code == 404
    assert rep.get(URL + "report.json").status_code == 404
    # another data manager does not get the first one's report
    other = client_for(personas.admin)
    assert other.get(URL + "report.json").status_code == 404
    assert "Audit of" not in other.get(URL).content.decode()
