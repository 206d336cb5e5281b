"""The import wizard's service: upload, automatic mapping, dry run row by row, run, refused
rows, and who may import what."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from comptoir.core.errors import Conflict, ValidationFailed
from comptoir.crm.models import Account
from comptoir.integration import imports
from comptoir.integration.loader import SPECS
from comptoir.integration.models import QuarantinedRecord, SyncRun
from comptoir.integration.tasks import execute_run
from comptoir.testing import factories as f

pytestmark = pytest.mark.django_db


def messy_csv(existing_siren: str) -> bytes:
    """French Excel's CSV: Latin-1, semicolons, French headers and numbers, a blank name, a
    bad amount, a row duplicating an existing account by its SIREN."""
    text = (
        "Raison sociale;N° SIREN;Code postal;Ville;Encours;Commentaire interne\r\n"
        "Boulangerie Pâtissière Éclair;;75011;Paris;1 234,50;à rappeler\r\n"
        ";;69002;Lyon;;sans nom\r\n"
        "Société Générale du Bâtiment;;13001;Marseille;abc;encours illisible\r\n"
        f"Déjà Là SARL;{existing_siren};33000;Bordeaux;;doublon\r\n"
    )
    return text.encode("latin-1")


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run_dry(job: Any, user: Any) -> SyncRun:
    run = imports.import_dry_run_start(job, user=user)
    return imports.execute_import_dry_run.call(run.pk) and SyncRun.objects.get(pk=run.pk)


def test_messy_csv_is_read_and_mapped_automatically(data_manager: Any) -> None:
    job = imports.import_create(user=data_manager, upload=upload("clients.csv",
                                                                 messy_csv("")),
                                object_type="account")
    assert job.info == {"format": "csv", "encoding": "cp1252", "delimiter": ";"} or \
        job.info["encoding"] in ("latin-1", "cp1252")
    assert job.info["delimiter"] == ";"
    assert job.rows == 4
    assert job.columns[0] == "Raison sociale"
    assert job.preview[0][0] == "Boulangerie Pâtissière Éclair"
    assert job.mapping == {
        "Raison sociale": "legal_name", "N° SIREN": "siren", "Code postal": "billing_postcode",
        "Ville": "billing_city", "Encours": "credit_limit", "Commentaire interne": ""}
    # the file is kept privately, not in the served media folder
    assert "/imports/" in job.file.path
    assert job.file.path.startswith(str(job.file.storage.location))


def test_dry_run_says_row_by_row_then_the_run_writes(data_manager: Any, owner: Any) -> None:
    siren = f.siren(4411)
    existing = f.account(by=owner, legal_name="Déjà Là", siren=siren,
                         billing_postcode="33000", billing_city="Bordeaux")
    job = imports.import_create(user=data_manager, upload=upload("clients.csv",
                                                                 messy_csv(siren)),
                                object_type="account")
    before = Account.objects.count()
    dry = run_dry(job, data_manager)
    assert dry.status == SyncRun.Status.SUCCEEDED, dry.error_message
    assert Account.objects.count() == before  # nothing written
    rows = {row["line"]: row for row in dry.details["rows"]}
    assert rows[2]["status"] == "created"
    assert rows[3]["status"] == "refused"
    assert rows[3]["field"] == "legal_name"
    assert rows[4]["status"] == "refused"
    assert "abc" in rows[4]["reason"]
    assert rows[5]["status"] == "matched"
    assert rows[5]["record_id"] == existing.pk
    assert (dry.created, dry.quarantined, dry.matched) == (1, 2, 1)
    assert job.audit["rows"] == 4  # the pre-import audit of the same file
    assert job.audit["duplicates_in_base"]["sure_rows"] == 1

    job.refresh_from_db()
    run = imports.import_run_start(job, user=data_manager)
    execute_run.call(run.pk)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert (run.created, run.quarantined, run.matched) == (1, 2, 1)
    created = Account.objects.get(legal_name="Boulangerie Pâtissière Éclair")
    assert str(created.credit_limit) == "1234.50"
    assert Account.objects.count() == before + 1
    with pytest.raises(Conflict):
        imports.import_set_mapping(job, user=data_manager, mapping=job.mapping)

    refused = list(csv.reader(io.StringIO(imports.refused_rows_csv(job)), delimiter=";"))
    assert refused[0][-2:] == ["reason", "line"]
    assert [r[0] for r in refused[1:]] == ["", "Société Générale du Bâtiment"]
    assert all(r[-2] for r in refused[1:])  # every refused row says why
    assert refused[2][-1] == "4"


def test_refused_rows_fixed_and_uploaded_again(data_manager: Any) -> None:
    job = imports.import_create(user=data_manager, upload=upload("c.csv", messy_csv("")),
                                object_type="account")
    run_dry(job, data_manager)
    job.refresh_from_db()
    execute_run.call(imports.import_run_start(job, user=data_manager).pk)
    fixed = imports.refused_rows_csv(job).replace(";abc;", ";12;").replace(
        "\r\n;;69002", "\r\nAtelier Sans Nom;;69002")
    again = imports.import_create(user=data_manager, upload=upload("c-fixed.csv",
                                                                   fixed.encode()),
                                  object_type="account")
    assert again.mapping["reason"] == ""
    assert again.mapping["line"] == ""
    dry = run_dry(again, data_manager)
    assert [r["status"] for r in dry.details["rows"]] == ["created", "created"]


def test_xlsx_is_read_and_a_field_is_filled_once(data_manager: Any) -> None:
    content = xlsx_bytes([["Code", "Désignation", "Taux de TVA", "Actif"],
                          ["P-1", "Vis inox", 20, "oui"], ["P-2", "Écrou", "5,5", "non"]])
    job = imports.import_create(
        user=data_manager, upload=SimpleUploadedFile("articles.xlsx", content),
        object_type="product")
    assert job.info["format"] == "xlsx"
    assert "encoding" not in job.info
    assert job.rows == 2
    assert job.preview[0] == ["P-1", "Vis inox", "20", "oui"]
    assert job.mapping == {"Code": "code", "Désignation": "name", "Taux de TVA": "tax_rate",
                           "Actif": "active"}
    with pytest.raises(ValidationFailed) as caught:
        imports.import_set_mapping(job, user=data_manager,
                                   mapping={**job.mapping, "Désignation": "tax_rate"})
    assert "Taux de TVA" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        imports.import_set_mapping(job, user=data_manager, mapping={"Code": "nonsense"})
    assert "Code" in caught.value.fields
    dry = run_dry(job, data_manager)
    assert dry.status == SyncRun.Status.SUCCEEDED, dry.error_message
    assert [r["status"] for r in dry.details["rows"]] == ["created", "created"]


def test_products_import_then_reimport_updates(data_manager: Any) -> None:
    from comptoir.sales.models import Product

    def do(rows: list[list[Any]]) -> SyncRun:
        content = xlsx_bytes([["Ref", "Code", "Désignation", "Actif"], *rows])
        job = imports.import_create(user=data_manager,
                                    upload=SimpleUploadedFile("p.xlsx", content),
                                    object_type="product")
        imports.import_set_mapping(job, user=data_manager, mapping={
            "Ref": imports.KEY, "Code": "code", "Désignation": "name", "Actif": "active"})
        dry = run_dry(job, data_manager)
        assert dry.status == SyncRun.Status.SUCCEEDED, dry.error_message
        job.refresh_from_db()
        run = imports.import_run_start(job, user=data_manager)
        execute_run.call(run.pk)
        run.refresh_from_db()
        return dry

    first = do([["A1", "IMP-1", "Vis inox", "oui"]])
    assert [r["status"] for r in first.details["rows"]] == ["created"]
    second = do([["A1", "IMP-1", "Vis inox A2", "non"]])
    assert [r["status"] for r in second.details["rows"]] == ["updated"]
    product = Product.objects.get(code="IMP-1")
    assert product.name == "Vis inox A2"
    assert product.active is False


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.csv", b"", "empty"),
    ("header-only.csv", b"Nom;Ville\r\n", "no data"),
    ("old.xls", b"\xd0\xcf\x11\xe0rest", ".xls"),
    ("fake.xlsx", b"Nom;Ville\r\nA;B\r\n", "not an Excel"),
    ("image.png", b"\x89PNG....", "CSV"),
    ("twice.csv", b"Nom;Nom\r\nA;B\r\n", "twice"),
])
def test_unreadable_files_are_refused_with_a_reason(data_manager: Any, name: str,
                                                    content: bytes, message: str) -> None:
    from django.utils import translation

    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        imports.import_create(user=data_manager, upload=upload(name, content),
                              object_type="account")
    assert message in caught.value.fields["file"][0]
    assert not imports.ImportJob.objects.exists()


def test_size_limit(data_manager: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(ValidationFailed) as caught:
        imports.import_create(user=data_manager, upload=upload("c.csv", b"Nom;Ville\r\nA;B\r\n"),
                              object_type="account")
    assert "file" in caught.value.fields


def test_access(data_manager: Any, admin: Any, owner: Any, outsider: Any) -> None:
    dm_job = imports.import_create(user=data_manager, upload=upload("c.csv", messy_csv("")),
                                   object_type="account")
    assert "account" in imports.importable_objects(admin)
    assert set(imports.importable_objects(data_manager)) >= {"account", "contact", "product"}
    # a rep imports leads (when leads can be bulk-loaded), nothing else
    assert imports.importable_objects(owner) == (["lead"] if "lead" in SPECS else [])
    with pytest.raises(ValidationFailed):
        imports.import_create(user=owner, upload=upload("c.csv", messy_csv("")),
                              object_type="account")
    assert list(imports.imports_visible(data_manager)) == [dm_job]
    assert list(imports.imports_visible(admin)) == [dm_job]
    assert list(imports.imports_visible(owner)) == []
    assert list(imports.imports_visible(outsider)) == []


def test_a_rep_imports_leads_they_own(owner: Any, outsider: Any) -> None:
    from comptoir.crm.models import Lead

    content = ("Société;Nom;Prénom;E-mail\r\nAtelier Rep;Martin;Lou;lou@atelier.example\r\n"
               ).encode()
    job = imports.import_create(user=owner, upload=upload("leads.csv", content),
                                object_type="lead")
    assert 'match = "off"' in imports.mapping_toml(job)
    with pytest.raises(ValidationFailed):  # no key column for a rep
        imports.import_set_mapping(job, user=owner, mapping={**job.mapping, "Nom": imports.KEY})
    dry = run_dry(job, owner)
    assert dry.status == SyncRun.Status.SUCCEEDED, dry.error_message
    job.refresh_from_db()
    execute_run.call(imports.import_run_start(job, user=owner).pk)
    lead = Lead.objects.get(email="lou@atelier.example")
    assert lead.owner_id == owner.pk
    assert list(imports.imports_visible(owner)) == [job]
    assert list(imports.imports_visible(outsider)) == []


def test_quarantine_rows_belong_to_the_import(data_manager: Any) -> None:
    job = imports.import_create(user=data_manager, upload=upload("c.csv", messy_csv("")),
                                object_type="account")
    run_dry(job, data_manager)
    assert not QuarantinedRecord.objects.exists()  # the dry run kept nothing
