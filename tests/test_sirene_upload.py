"""SIRENE stock files uploaded from the web: checked by header, stored privately, loaded by
the worker with progress, ending succeeded or failed with the reason, the file deleted."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.utils import timezone, translation

from comptoir.core.errors import Forbidden, ValidationFailed
from comptoir.sirene import loader, uploads
from comptoir.sirene.models import SireneEstablishment, SireneLoad, SireneUnit
from comptoir.sirene.uploads import execute_sirene_load, sirene_upload_create
from sirene import files as F  # tests/sirene/files.py: files in the official format

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(personas: Any) -> Iterator[None]:
    # the worker speaks the uploader's language: the messages asserted are English
    for user in (personas.data_manager, personas.admin):
        user.language = "en"
        user.save(update_fields=["language"])
    with translation.override("en"):
        yield


def _upload(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def _stored() -> set[Path]:
    """The files in the private storage (shared by the tests of one process)."""
    folder = settings.DATA_DIR / "sirene"
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def test_a_unit_file_is_stored_privately_queued_then_loaded(
        tmp_path: Path, data_manager: Any, django_capture_on_commit_callbacks: Any) -> None:
    units, _etabs = F.register_files(tmp_path, zipped=False)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        load = sirene_upload_create(data_manager, _upload(units))
    assert len(queued) == 1  # the task is enqueued once the upload is committed
    assert (load.status, load.kind, load.file_name) == ("pending", "units",
                                                         "StockUniteLegale_utf8.csv")
    assert load.created_by == data_manager
    assert load.bytes_total == units.stat().st_size
    stored = Path(load.file.path)
    assert stored.is_file()
    assert stored.is_relative_to(settings.DATA_DIR / "sirene")
    assert not stored.is_relative_to(Path(settings.MEDIA_ROOT))
    assert stored.stat().st_mode & 0o077 == 0  # private to the server's user

    assert execute_sirene_load.call(load.pk) == "succeeded"
    load.refresh_from_db()
    assert load.status == SireneLoad.Status.SUCCEEDED
    assert (load.rows, load.bad_rows, load.percent) == (5, 0, 100)
    assert load.bytes_done == load.bytes_total
    assert load.started_at is not None
    assert load.finished_at is not None
    assert load.message == ""
    assert SireneUnit.objects.count() == 5
    assert not stored.exists()  # the file is deleted, the record kept
    assert not load.file
    assert uploads.last_loaded()["units"] == load


def test_the_official_zip_of_establishments_is_loaded_with_its_uncompressed_size(
        tmp_path: Path, admin: Any) -> None:
    _units, etabs = F.register_files(tmp_path, zipped=True)
    load = sirene_upload_create(admin, _upload(etabs))
    assert load.kind == "establishments"
    csv_size = (tmp_path / "StockEtablissement_utf8.csv").stat().st_size
    assert load.bytes_total == csv_size  # the CSV's, which the archive states
    execute_sirene_load.call(load.pk)
    load.refresh_from_db()
    assert (load.status, load.rows, load.bytes_done, load.bytes_total) == (
        "succeeded", 6, csv_size, csv_size)
    assert SireneEstablishment.objects.count() == 6


def test_bad_rows_are_counted_with_examples(tmp_path: Path, data_manager: Any) -> None:
    path = F.write_csv(tmp_path / "StockUniteLegale_utf8.csv", F.UNIT_HEADER, [
        *F.units(), F.unit("12345", denominationUniteLegale="TROP COURT"),
        F.unit(F.siren(9), etatAdministratifUniteLegale="X")])
    load = sirene_upload_create(data_manager, _upload(path))
    execute_sirene_load.call(load.pk)
    load.refresh_from_db()
    assert (load.status, load.rows, load.bad_rows) == ("succeeded", 5, 2)
    assert len(load.bad_examples) == 2
    assert "line 7: SIREN '12345'" in load.bad_examples[0]


def test_progress_is_written_while_loading(tmp_path: Path, data_manager: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # big enough for the bytes read to move between batches (text is read by 8 KiB chunks)
    path = F.write_csv(tmp_path / "StockUniteLegale_utf8.csv", F.UNIT_HEADER, [
        F.unit(F.siren(n), denominationUniteLegale=f"SOCIETE NUMERO {n}")
        for n in range(10, 310)])
    load = sirene_upload_create(data_manager, _upload(path))
    monkeypatch.setattr(uploads, "BATCH_SIZE", 100)
    monkeypatch.setattr(uploads, "PROGRESS_EVERY", 0)
    seen: list[tuple[str, int, int, int]] = []
    write = loader._write_units

    def watched(rows: list[list[Any]]) -> None:  # the real write, the row looked at first
        row = SireneLoad.objects.get(pk=load.pk)
        seen.append((row.status, row.rows, row.bytes_done, row.percent))
        write(rows)

    monkeypatch.setattr(loader, "_write_units", watched)
    execute_sirene_load.call(load.pk)
    assert [s[:2] for s in seen] == [("running", 0), ("running", 100), ("running", 200)]
    assert 0 < seen[1][2] < seen[2][2] < path.stat().st_size
    assert 0 < seen[1][3] < seen[2][3] < 100
    load.refresh_from_db()
    assert (load.status, load.rows, load.percent) == ("succeeded", 300, 100)


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("sirene.txt", b"siren,nic\n", "(.zip) or its CSV (.csv)"),
    ("StockUniteLegale_utf8.csv", b"", "The file is empty."),
    ("StockUniteLegale_utf8.zip", b"siren,denominationUniteLegale\n", "not a zip archive"),
    ("clients.csv", b"Raison sociale;Code postal\nDupont;75008\n", "Not a SIRENE stock file"),
    ("StockUniteLegale.csv", "siren,dénomination\n".encode("cp1252"), "not UTF-8 text"),
    ("StockUniteLegale_utf8.csv", b"\n\n", "no header row"),
])
def test_a_file_that_is_not_a_stock_file_is_refused_saying_why(
        data_manager: Any, name: str, content: bytes, reason: str) -> None:
    before = _stored()
    with pytest.raises(ValidationFailed) as refused:
        sirene_upload_create(data_manager, SimpleUploadedFile(name, content))
    assert reason in refused.value.fields["file"][0]
    assert not SireneLoad.objects.exists()
    assert _stored() == before  # nothing kept of a refused file


def test_a_zip_without_csv_or_damaged_is_refused(tmp_path: Path, data_manager: Any) -> None:
    before = _stored()

    empty = tmp_path / "StockUniteLegale_utf8.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "nothing")
    with pytest.raises(ValidationFailed) as refused:
        sirene_upload_create(data_manager, _upload(empty))
    assert "holds no CSV file" in refused.value.fields["file"][0]
    units, _etabs = F.register_files(tmp_path, zipped=False)
    zipped = F.zip_csv(units)
    data = zipped.read_bytes()
    broken = data[:40] + bytes(b ^ 0xFF for b in data[40:200]) + data[200:]
    with pytest.raises(ValidationFailed) as refused:
        sirene_upload_create(data_manager, SimpleUploadedFile(zipped.name, broken))
    assert "cannot be read" in refused.value.fields["file"][0]
    assert _stored() == before


def test_only_data_managers_and_admins_upload(tmp_path: Path, personas: Any) -> None:
    units, _etabs = F.register_files(tmp_path, zipped=False)
    before = _stored()
    for user in (personas.owner, personas.manager):
        with pytest.raises(Forbidden):
            sirene_upload_create(user, _upload(units))
    assert not SireneLoad.objects.exists()
    assert _stored() == before


def test_a_crash_ends_as_failed_with_the_reason(tmp_path: Path, data_manager: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    units, _etabs = F.register_files(tmp_path, zipped=False)
    load = sirene_upload_create(data_manager, _upload(units))
    stored = Path(load.file.path)

    def locked(rows: list[list[Any]]) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(loader, "_write_units", locked)
    with translation.override("en"):
        assert execute_sirene_load.call(load.pk) == "failed"
    load.refresh_from_db()
    assert load.status == SireneLoad.Status.FAILED
    assert "database is locked" in load.message
    assert "load the file again" in load.message
    assert load.finished_at is not None
    assert not stored.exists()
    assert uploads.last_loaded()["units"] is None  # a failed load is not the copy's date


def test_a_file_gone_before_the_load_fails_it(tmp_path: Path, data_manager: Any) -> None:
    units, _etabs = F.register_files(tmp_path, zipped=False)
    load = sirene_upload_create(data_manager, _upload(units))
    Path(load.file.path).unlink()
    assert execute_sirene_load.call(load.pk) == "failed"
    load.refresh_from_db()
    assert "FileNotFoundError" in load.message


def test_a_stopped_worker_fails_the_load_then_stops(tmp_path: Path, data_manager: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    units, _etabs = F.register_files(tmp_path, zipped=False)
    load = sirene_upload_create(data_manager, _upload(units))

    def stopped(rows: list[list[Any]]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(loader, "_write_units", stopped)
    with pytest.raises(KeyboardInterrupt), translation.override("en"):
        execute_sirene_load.call(load.pk)
    load.refresh_from_db()
    assert load.status == "failed"
    assert "the worker was stopped" in load.message


def test_a_load_left_running_by_a_dead_worker_is_failed(tmp_path: Path,
                                                        data_manager: Any) -> None:
    units, _etabs = F.register_files(tmp_path, zipped=False)
    load = sirene_upload_create(data_manager, _upload(units))
    quiet = timezone.now() - uploads.STALE_AFTER - timedelta(minutes=1)
    SireneLoad.objects.filter(pk=load.pk).update(status="running", started_at=quiet,
                                                  progress_at=quiet)
    alive = sirene_upload_create(data_manager, _upload(units))
    SireneLoad.objects.filter(pk=alive.pk).update(status="running",
                                                   progress_at=timezone.now())
    loads = {x.pk: x for x in uploads.recent_loads()}
    assert loads[load.pk].status == "failed"
    assert "no sign of life" in loads[load.pk].message
    assert not Path(load.file.path).exists()
    assert loads[alive.pk].status == "running"
    # the worker picking it up late does not load it any more
    assert execute_sirene_load.call(load.pk) == "failed"
    assert not SireneUnit.objects.exists()


def test_a_load_queued_twice_runs_once(tmp_path: Path, data_manager: Any) -> None:
    units, _etabs = F.register_files(tmp_path, zipped=False)
    load = sirene_upload_create(data_manager, _upload(units))
    assert execute_sirene_load.call(load.pk) == "succeeded"
    SireneUnit.objects.all().delete()
    assert execute_sirene_load.call(load.pk) == "succeeded"
    assert not SireneUnit.objects.exists()


def test_the_command_line_still_records_its_loads_as_succeeded(tmp_path: Path) -> None:
    units, _etabs = F.register_files(tmp_path, zipped=False)
    loader.load_file(units)
    load = SireneLoad.objects.get()
    assert (load.status, load.created_by, load.rows) == ("succeeded", None, 5)
    assert load.finished_at is not None
    assert uploads.last_loaded()["units"] == load
