"""The import wizard's pages: upload, mapping, dry run, run, refused rows; who sees what; and
the whole path in a real browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from comptoir.crm.models import Account
from comptoir.integration import imports
from comptoir.integration.import_models import ImportJob
from comptoir.integration.loader import SPECS
from comptoir.integration.tasks import execute_run

CSV = ("Raison sociale;Code postal;Ville;Encours\r\n"
       "Menuiserie Import Web;75011;Paris;1 200,00\r\n"
       ";69002;Lyon;\r\n"
       "Atelier Encours Faux;13001;Marseille;beaucoup\r\n").encode("cp1252")


def _upload(client: Any, name: str = "clients.csv", content: bytes = CSV,
            object_type: str = "account") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(reverse("web:imports"), {
        "file": SimpleUploadedFile(name, content), "object_type": object_type})


@pytest.mark.django_db
def test_upload_map_dry_run_run_and_refused_rows(client_for: Any, data_manager: Any) -> None:
    client = client_for(data_manager)
    answer = _upload(client)
    assert answer.status_code == 302
    job = ImportJob.objects.get()
    page = client.get(answer["Location"]).content.decode()
    assert 'name="col-0"' in page
    assert '<option value="legal_name" selected>' in page
    assert "Menuiserie Import Web" in page  # the first rows are shown
    # the user leaves out the city column and checks the file
    answer = client.post(reverse("web:import_detail", args=[job.pk]), {
        "col-0": "legal_name", "col-1": "billing_postcode", "col-2": "", "col-3": "credit_limit"})
    assert answer.status_code == 302
    job.refresh_from_db()
    assert job.mapping["Ville"] == ""
    partial = client.get(reverse("web:import_detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 2s"' in partial.content.decode()  # polls while the dry run lives
    imports.execute_import_dry_run.call(job.dry_run_id)
    page = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert "Would be created" in page
    assert "Refused" in page
    assert "beaucoup" in page  # the reason names the bad value
    assert 'id="import-run"' in page
    refused_only = client.get(reverse("web:import_detail", args=[job.pk]) + "?show=refused")
    assert "Menuiserie Import Web" not in refused_only.content.decode().split("import-dry-rows")[1]
    assert Account.objects.filter(legal_name="Menuiserie Import Web").count() == 0

    answer = client.post(reverse("web:import_run", args=[job.pk]))
    assert answer.status_code == 302
    job.refresh_from_db()
    page = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert "<progress" in page
    execute_run.call(job.run_id)
    page = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert 'id="import-refused"' in page
    assert "<progress" not in page
    assert 'name="col-0"' not in page  # an import that ran is no longer mapped
    assert Account.objects.filter(legal_name="Menuiserie Import Web").count() == 1
    download = client.get(reverse("web:import_refused", args=[job.pk]))
    assert download["Content-Type"].startswith("text/csv")
    text = download.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "Raison sociale;Code postal;Ville;Encours;reason;line"
    assert "Atelier Encours Faux" in text
    assert "beaucoup" in text


@pytest.mark.django_db
def test_bad_files_and_bad_mappings_are_said_not_500(client_for: Any,
                                                     data_manager: Any) -> None:
    client = client_for(data_manager)
    answer = _upload(client, "old.xls", b"\xd0\xcf\x11\xe0....")
    assert answer.status_code == 422
    assert ".xls" in answer.content.decode()
    assert _upload(client, "empty.csv", b"").status_code == 422
    assert not ImportJob.objects.exists()
    _upload(client)
    job = ImportJob.objects.get()
    answer = client.post(reverse("web:import_detail", args=[job.pk]), {
        "col-0": "legal_name", "col-1": "legal_name"})
    assert answer.status_code == 422
    html = answer.content.decode()
    assert "already fills this field" in html
    assert 'aria-invalid="true"' in html
    answer = client.post(reverse("web:import_run", args=[job.pk]), follow=True)
    assert "dry run first" in answer.content.decode()


@pytest.mark.django_db
def test_who_sees_imports(client_for: Any, data_manager: Any, admin: Any, owner: Any,
                          outsider: Any) -> None:
    _upload(client_for(data_manager))
    job = ImportJob.objects.get()
    assert client_for(admin).get(reverse("web:import_detail", args=[job.pk])).status_code == 200
    assert "clients.csv" in client_for(admin).get(reverse("web:imports")).content.decode()
    for user in (owner, outsider):
        client = client_for(user)
        assert client.get(reverse("web:import_detail", args=[job.pk])).status_code == 404
        assert client.get(reverse("web:import_refused", args=[job.pk])).status_code == 404
        assert client.post(reverse("web:import_run", args=[job.pk])).status_code == 404
        listing = client.get(reverse("web:imports"))
        if "lead" in SPECS:  # a rep imports leads, and sees only their own imports
            assert listing.status_code == 200
            assert "clients.csv" not in listing.content.decode()
            assert _upload(client, object_type="account").status_code == 422
        else:
            assert listing.status_code == 404


@pytest.mark.django_db
def test_pages_in_french(client_for: Any, data_manager: Any) -> None:
    client = client_for(data_manager, language="fr")
    _upload(client)
    job = ImportJob.objects.get()
    page = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert "Raison sociale" in page
    assert 'lang="fr"' in page


# --- In a real browser ------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_browser_upload_map_dry_run_run_result(open_as: Any, personas: Any,
                                               tmp_path: Path) -> None:
    from playwright.sync_api import expect

    file = tmp_path / "clients.csv"
    file.write_bytes(CSV)
    page = open_as(personas.data_manager, "/imports/")
    page.locator("#id_file").set_input_files(str(file))
    page.locator("#id_object_type").select_option("account")
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page.get_by_role("heading", name="2. Map the columns")).to_be_visible()
    expect(page.get_by_label("Raison sociale", exact=True)).to_have_value("legal_name")
    expect(page.get_by_label("Encours", exact=True)).to_have_value("credit_limit")
    page.get_by_label("Ville", exact=True).select_option("")  # leave the city out
    page.get_by_role("button", name="Check: audit and dry run").click()
    expect(page.locator("#import-status")).to_have_attribute("data-state", "checking")
    job = ImportJob.objects.get()
    imports.execute_import_dry_run.call(job.dry_run_id)  # what the worker does
    # the page polls and shows the outcome of each row, without a reload
    expect(page.locator("#import-dry-rows tr[data-status=refused]")).to_have_count(2)
    expect(page.locator("[data-figure=dry-created]")).to_have_text("1")
    page.get_by_role("button", name="Import 3 rows").click()
    expect(page.locator("#import-progress")).to_be_visible()
    page.reload()  # the progress survives a reload
    expect(page.locator("#import-progress")).to_be_visible()
    job.refresh_from_db()
    execute_run.call(job.run_id)
    expect(page.locator("[data-figure=created]")).to_have_text("1")
    expect(page.locator("[data-figure=refused]")).to_have_text("2")
    with page.expect_download() as caught:
        page.locator("#import-refused").click()
    content = Path(caught.value.path()).read_text(encoding="utf-8-sig")
    assert "reason" in content.splitlines()[0]
    assert "Atelier Encours Faux" in content
    assert Account.objects.filter(legal_name="Menuiserie Import Web").exists()


# --- Undo ---------------------------------------------------------------------------------------

def _imported(client: Any) -> ImportJob:
    _upload(client)
    job = ImportJob.objects.get()
    client.post(reverse("web:import_detail", args=[job.pk]), {
        "col-0": "legal_name", "col-1": "billing_postcode", "col-2": "billing_city",
        "col-3": "credit_limit"})
    job.refresh_from_db()
    imports.execute_import_dry_run.call(job.dry_run_id)
    client.post(reverse("web:import_run", args=[job.pk]))
    job.refresh_from_db()
    execute_run.call(job.run_id)
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_undo_from_the_result_page(client_for: Any, data_manager: Any) -> None:
    from comptoir.integration import import_undo

    client = client_for(data_manager)
    before = Account.objects.count()
    job = _imported(client)
    assert Account.objects.count() == before + 1
    page = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert 'id="import-undo"' in page
    confirm = client.get(reverse("web:import_undo", args=[job.pk])).content.decode()
    assert "recycle bin" in confirm
    assert 'id="import-undo-confirm"' in confirm
    answer = client.post(reverse("web:import_undo", args=[job.pk]))
    assert answer.status_code == 302
    partial = client.get(reverse("web:import_detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert 'id="import-undo-progress"' in partial.content.decode()
    assert 'hx-trigger="every 2s"' in partial.content.decode()
    import_undo.execute_import_undo.call(job.pk)
    page = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert 'id="import-undone"' in page
    assert "Undone on" in page
    assert 'data-figure="undo-deleted">1<' in page
    assert 'id="import-undo"' not in page
    assert Account.objects.count() == before
    listing = client.get(reverse("web:imports")).content.decode()
    assert "Undone" in listing
    again = client.post(reverse("web:import_undo", args=[job.pk]))  # twice: said, not 500
    assert again.status_code == 409
    assert "already been undone" in again.content.decode()


@pytest.mark.django_db
def test_undo_after_seven_days_and_by_others(client_for: Any, data_manager: Any, admin: Any,
                                             owner: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from comptoir.integration.models import SyncRun

    job = _imported(client_for(data_manager))
    for user in (owner,):  # a rep does not even see another's import
        assert client_for(user).get(reverse("web:import_undo", args=[job.pk])).status_code == 404
        assert client_for(user).post(reverse("web:import_undo", args=[job.pk])
                                     ).status_code == 404
    SyncRun.objects.filter(pk=job.run_id).update(
        finished_at=timezone.now() - dt.timedelta(days=8))
    page = client_for(admin).get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert 'id="import-undo"' not in page
    assert "7 days" in page  # the explanation instead of the button
    answer = client_for(admin).post(reverse("web:import_undo", args=[job.pk]))
    assert answer.status_code == 409
    assert Account.objects.filter(legal_name="Menuiserie Import Web").exists()


@pytest.mark.django_db
def test_contacts_name_their_account_in_the_mapping(client_for: Any, data_manager: Any,
                                                    owner: Any) -> None:
    from comptoir.crm.models import Contact
    from comptoir.testing import factories as f

    account = f.account(by=owner, legal_name="Quincaillerie Centrale")
    client = client_for(data_manager)
    _upload(client, "contacts.csv", "Nom;Société\r\nMartin;quincaillerie centrale\r\n"
            .encode(), object_type="contact")
    job = ImportJob.objects.get()
    page = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert '<option value="account_by_name"' in page
    assert "Account (by its name)" in page
    assert '<option value="account_by_siren"' in page
    client.post(reverse("web:import_detail", args=[job.pk]),
                {"col-0": "last_name", "col-1": "account_by_name"})
    job.refresh_from_db()
    imports.execute_import_dry_run.call(job.dry_run_id)
    client.post(reverse("web:import_run", args=[job.pk]))
    job.refresh_from_db()
    imports.execute_import_run.call(job.run_id)
    assert Contact.objects.get(last_name="Martin").account_id == account.pk


@pytest.mark.django_db
def test_picklist_values_chosen_on_the_page(client_for: Any, data_manager: Any,
                                            owner: Any) -> None:
    from comptoir.crm.models import Contact
    from comptoir.testing import factories as f

    f.account(by=owner, legal_name="Listes SARL")
    content = ("Prénom;Nom;E-mail;Civilité;Société;Type\n"
               "Ana;Lune;ana@example.com;Mlle;Listes SARL;x\n"
               "Bob;Soleil;bob@example.com;Docteur;Listes SARL;y\n").encode()
    client = client_for(data_manager)
    answer = _upload(client, "contacts.csv", content, "contact")
    job = ImportJob.objects.get()
    page = client.get(answer["Location"]).content.decode()
    assert 'id="import-values"' in page
    assert 'name="valname-3-0" value="Mlle"' in page
    assert '<option value="Mme" selected>' in page  # proposed
    form = {f"col-{i}": job.mapping[c] for i, c in enumerate(job.columns)}
    # a newly mapped list column is shown before any check: its values first
    answer = client.post(reverse("web:import_detail", args=[job.pk]), {
        **form, "col-3": "", "col-5": "civility"})
    assert answer.status_code == 302
    assert answer["Location"].endswith("#import-values-title")
    job.refresh_from_db()
    assert job.dry_run_id is None
    page = client.get(answer["Location"]).content.decode()
    assert 'name="values-shown" value="5"' in page
    # a choice that is not in the list is said by column, not a 500
    answer = client.post(reverse("web:import_detail", args=[job.pk]), {
        **form, "values-shown": "3", "valname-3-0": "Mlle", "val-3-0": "Majesté"})
    assert answer.status_code == 422
    assert "Majesté" in answer.content.decode()
    answer = client.post(reverse("web:import_detail", args=[job.pk]), {
        **form, "values-shown": "3", "valname-3-0": "Mlle", "val-3-0": "Mme",
        "valname-3-1": "Docteur", "val-3-1": "__empty__"})
    assert answer.status_code == 302
    job.refresh_from_db()
    assert job.options["values"] == {"Civilité": {"Mlle": "Mme", "Docteur": "__empty__"}}
    imports.execute_import_dry_run.call(job.dry_run_id)
    client.post(reverse("web:import_run", args=[job.pk]))
    job.refresh_from_db()
    execute_run.call(job.run_id)
    made = dict(Contact.objects.filter(email__in=["ana@example.com", "bob@example.com"])
                .values_list("email", "civility"))
    assert made == {"ana@example.com": "Mme", "bob@example.com": ""}
