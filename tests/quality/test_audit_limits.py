"""The file audit stays bounded in memory and time: zip bombs are refused before parsing, long
files are audited up to ``COMPTOIR_AUDIT_MAX_ROWS`` rows and the report says so; the sync's
file reader refuses the same bombs."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation

from comptoir.integration.engine.errors import ConfigError
from comptoir.integration.engine.files import file_headers, read_file
from comptoir.quality import audit

from .test_audit import csv_bytes, xlsx_bytes

_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
        '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
        '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.'
        'org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships"><sheets><sheet name="Clients" sheetId="1" '
        'r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>'),
}
_ROW = b'<row><c t="inlineStr"><is><t>Acme SARL</t></is></c></row>'


def bomb(rows: int) -> bytes:
    """A workbook of ``rows`` identical rows written straight as XML: a few hundred KB packed,
    tens of MB unpacked (the sheet is streamed into the zip, never held whole)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        for name, text in _PARTS.items():
            book.writestr(name, text)
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://'
                        b'schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                        b'<row><c t="inlineStr"><is><t>Raison sociale</t></is></c></row>')
            chunk = _ROW * 10_000
            for _n in range(rows // 10_000):
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


@pytest.fixture(scope="module")
def million() -> bytes:
    return bomb(1_000_000)


def _audit(content: bytes, name: str = "clients.xlsx", **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("sheet", "Clients")  # xlsx_bytes puts a notes sheet first; CSV: unused
    with translation.override("en"):
        return audit.audit_file(content, filename=name, object_type="account",
                                check_base=False, **kwargs).as_dict()


def test_the_bomb_is_small_packed(million: bytes) -> None:
    assert len(million) < 400_000
    with zipfile.ZipFile(io.BytesIO(million)) as book:
        assert book.getinfo("xl/worksheets/sheet1.xml").file_size > 50_000_000


@pytest.mark.django_db
def test_a_zip_bomb_is_refused_quickly_in_bounded_memory(million: bytes) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(audit.AuditError) as refused:
            _audit(million)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # refused from the zip's directory, before a row is read: memory says so (1.4 GB before)
    assert peak < 20 * 1024 * 1024
    message = refused.value.message
    assert "compressed" in message
    assert "CSV" in message


@pytest.mark.django_db
def test_a_workbook_unpacking_beyond_the_setting_is_refused(settings: Any) -> None:
    content = xlsx_bytes(["Raison sociale", "Ville"],
                         [[f"Société {n} SAS", f"Ville {n % 97}"] for n in range(5_000)])
    assert _audit(content)["rows"] == 5_000
    settings.COMPTOIR_IMPORT_MAX_UNCOMPRESSED_BYTES = 100_000
    with pytest.raises(audit.AuditError) as refused:
        _audit(content)
    assert "0.1 MB" in refused.value.message


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_rows_beyond_the_cap_are_not_audited_and_the_report_says_so(settings: Any,
                                                                    kind: str) -> None:
    settings.COMPTOIR_AUDIT_MAX_ROWS = 5
    rows = [[f"Société {n} SAS", "Lyon"] for n in range(8)]
    header = ["Raison sociale", "Ville"]
    content = csv_bytes(header, rows) if kind == "csv" else xlsx_bytes(header, rows)
    report = _audit(content, f"clients.{kind}")
    assert report["rows"] == 5
    assert report["truncated"] is True
    assert report["row_limit"] == 5
    assert report["warnings"] == ["The file has more than 5 rows; only the first 5 were "
                                  "audited."]
    exact = _audit(csv_bytes(header, rows[:5]), "clients.csv")
    assert (exact["rows"], exact["truncated"], exact["warnings"]) == (5, False, [])


@pytest.mark.django_db
def test_the_cap_is_stated_in_both_reports(settings: Any) -> None:
    settings.COMPTOIR_AUDIT_MAX_ROWS = 2
    report = _audit(csv_bytes(["Raison sociale"], [["A SAS"], ["B SAS"], ["C SAS"]]),
                    "clients.csv")
    with translation.override("en"):
        assert "only the first 2 were audited" in audit.render_html(report)


@pytest.mark.django_db
def test_the_upload_page_refuses_the_bomb_with_a_message(personas: Any, client_for: Any,
                                                         settings: Any, tmp_path: Path,
                                                         million: bytes) -> None:
    settings.DATA_DIR = tmp_path / "data"
    client: Client = client_for(personas.data_manager)
    response = client.post("/quality/audit/", {
        "file": SimpleUploadedFile("clients.xlsx", million), "object_type": "account"})
    assert response.status_code == 422
    assert "compressed" in response.content.decode()


@pytest.mark.django_db
def test_the_command_refuses_the_bomb(tmp_path: Path, million: bytes) -> None:
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(million)
    with pytest.raises(CommandError, match="compressed"):
        call_command("audit", str(path), "--object", "account", "--language", "en")


def test_the_sync_file_reader_refuses_the_bomb(tmp_path: Path, million: bytes) -> None:
    path = tmp_path / "clients.xlsx"
    path.write_bytes(million)
    with pytest.raises(ConfigError, match="compress"):
        list(read_file(path))
    with pytest.raises(ConfigError, match="compress"):
        file_headers(path)
