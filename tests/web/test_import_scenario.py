"""The import wizard end to end in chromium, on files as people really have them.

A data manager imports a messy XLSX of 2,000 contacts naming their accounts, fixes a picklist,
reads the dry run, runs it with its progress, downloads the refused rows, fixes and imports
them again, then undoes both imports: the base is as before. Then other CRMs' exports
(Pipedrive deals, HubSpot contacts) go through their shipped mappings.
"""

from __future__ import annotations

import csv
import io
import random
import re
from pathlib import Path
from typing import Any

import pytest

from comptoir.crm.models import Account, Contact, Opportunity
from comptoir.integration import import_undo, imports
from comptoir.integration.import_models import ImportJob
from comptoir.testing import factories as f

ACCOUNTS = ["Société Œuvre & Fils", "Ça Va Bien SARL", "Ünïcode GmbH", "東京商事株式会社",
            "L'Atelier d'Élodie", "Boulangerie  Pâtissière", "O'Brien & Co", "Café-Théâtre 2000"]
CIVILITIES = ["M.", "Mme", "Madame", "Monsieur", "mme", "Mlle", "Docteur", ""]
FIRST = ["Zoë", "Anaïs", "Jean\u00a0Pierre", "Ludovic\u200b", "Ελένη", "Ørjan", "Noël", "José"]
UNKNOWN_ACCOUNT = "Entreprise Inconnue SA"
ROWS = 2000


def messy_contacts(seed: int = 15) -> tuple[bytes, int]:
    """2,000 contacts as a spreadsheet gives them: accounts named with other spacing and
    case, odd Unicode, bad e-mails and phones (they land without them), civilities from other
    files, rows without a last name and rows naming an unknown company (refused). Returns the
    workbook and the number of rows that must be refused."""
    import openpyxl

    rng = random.Random(seed)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Civilité", "Prénom", "Nom", "E-mail", "Téléphone", "Société", "Fonction"])
    refused = 0
    for i in range(ROWS):
        account = ACCOUNTS[i % len(ACCOUNTS)]
        spelled = rng.choice([account, account.upper(), f"  {account} ", account.lower()])
        last = f"Durand-{i}" if i % 67 else ""
        if i % 53 == 7:
            spelled = UNKNOWN_ACCOUNT
        if not last or spelled == UNKNOWN_ACCOUNT:
            refused += 1
        email = rng.choice([f"contact{i}@exemple.fr", f"Contact{i}@Exemple.FR ",
                            "pas-un-email", ""])
        phone = rng.choice(["01 23 45 67 89", "+33 6 12 34 56 78", "0612", "", 612345678])
        sheet.append([rng.choice(CIVILITIES), rng.choice(FIRST), last, email, phone,
                      spelled, rng.choice(["Gérant", "DAF", "", "Acheteuse 🛒"])])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), refused


def _check(page: Any) -> ImportJob:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Check: audit and dry run").click()
    expect(page.locator("#import-status")).to_have_attribute("data-state", "checking")
    job = ImportJob.objects.order_by("-pk").first()
    assert job is not None
    imports.execute_import_dry_run.call(job.dry_run_id)  # what the worker does
    expect(page.locator("#import-status")).to_have_attribute("data-state", "checked",
                                                             timeout=60_000)
    return job


def _run(page: Any, job: ImportJob) -> None:
    from playwright.sync_api import expect

    page.locator("#import-run").click()
    expect(page.locator("#import-progress")).to_be_visible()
    page.reload()  # the progress survives a reload
    expect(page.locator("#import-progress")).to_be_visible()
    job.refresh_from_db()
    imports.execute_import_run.call(job.run_id)
    expect(page.locator("#import-status")).to_have_attribute("data-state", "done",
                                                             timeout=60_000)


def _undo(page: Any, job: ImportJob) -> None:
    from playwright.sync_api import expect

    page.goto(page.url.split("/imports/")[0] + f"/imports/{job.pk}/")
    page.locator("#import-undo").click()
    page.locator("#import-undo-confirm").click()
    import_undo.execute_import_undo.call(job.pk)
    expect(page.locator("#import-undone")).to_be_visible(timeout=60_000)


@pytest.mark.django_db(transaction=True)
def test_two_thousand_messy_contacts_imported_fixed_and_undone(open_as: Any, personas: Any,
                                                               tmp_path: Path) -> None:
    from playwright.sync_api import expect

    for name in ACCOUNTS:
        f.account(by=personas.owner, legal_name=name.replace("  ", " "))
    before = (Contact.objects.count(), Account.objects.count())
    content, must_refuse = messy_contacts()
    file = tmp_path / "contacts à importer.xlsx"
    file.write_bytes(content)

    page = open_as(personas.data_manager, "/imports/")
    page.locator("#id_file").set_input_files(str(file))
    page.locator("#id_object_type").select_option("contact")
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page.get_by_role("heading", name="2. Map the columns")).to_be_visible()
    expect(page.get_by_label("Société", exact=True)).to_have_value("account_by_name")
    expect(page.get_by_label("Civilité", exact=True)).to_have_value("civility")
    # the civilities the list does not know, each with a proposal; "Docteur" has none
    values = page.locator("#import-values")
    expect(values).to_contain_text("Mlle")
    expect(page.get_by_label("Mlle", exact=True)).to_have_value("Mme")
    expect(page.get_by_label("Docteur", exact=True)).to_have_value("")
    page.get_by_label("Docteur", exact=True).select_option("__empty__")  # fix the picklist
    job = _check(page)
    expect(page.locator("[data-figure=dry-refused]")).to_have_text(str(must_refuse))
    expect(page.locator("[data-figure=dry-created]")).to_have_text(
        re.compile(r"^1[ ,.\u202f\u00a0]?" + str(ROWS - must_refuse)[1:] + "$"))
    assert Contact.objects.count() == before[0]  # a dry run writes nothing

    _run(page, job)
    assert Contact.objects.count() == before[0] + ROWS - must_refuse
    assert Account.objects.count() == before[1]  # accounts found by name, none created
    job.refresh_from_db()
    assert job.run is not None
    assert job.run.quarantined == must_refuse
    # the picklist choice held: no contact has a civility outside the list
    assert set(Contact.objects.values_list("civility", flat=True)) <= {"M.", "Mme", ""}
    assert not Contact.objects.filter(email="pas-un-email").exists()

    with page.expect_download() as caught:
        page.locator("#import-refused").click()
    text = Path(caught.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert len(rows) == must_refuse
    assert all(row["reason"] for row in rows)  # each says why
    for row in rows:  # fixed by the person
        row["Nom"] = row["Nom"] or "Corrigé"
        if row["Société"] == UNKNOWN_ACCOUNT:
            row["Société"] = ACCOUNTS[0]
    fixed = tmp_path / "refusés corrigés.csv"
    with fixed.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)

    page.goto(page.url.split("/imports/")[0] + "/imports/")
    page.locator("#id_file").set_input_files(str(fixed))
    page.locator("#id_object_type").select_option("contact")
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page.get_by_label("reason", exact=True)).to_have_value("")  # not imported
    if page.get_by_label("Docteur", exact=True).count():
        page.get_by_label("Docteur", exact=True).select_option("__empty__")
    again = _check(page)
    expect(page.locator("[data-figure=dry-refused]")).to_have_text("0")
    _run(page, again)
    assert Contact.objects.count() == before[0] + ROWS

    _undo(page, again)
    _undo(page, job)
    assert (Contact.objects.count(), Account.objects.count()) == before  # as before


@pytest.mark.django_db(transaction=True)
def test_other_crms_exports_with_their_shipped_mappings(open_as: Any, personas: Any,
                                                        tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from test_crm_export_mappings import HS_CONTACTS, PD_DEALS, PD_PERSONS, STAGES

    f.pipeline(name="Ventes", stages=STAGES)
    page = open_as(personas.data_manager, "/imports/")
    for name, text, kind, preset in (
            ("people-export.csv", PD_PERSONS, "contact", "pipedrive_persons"),
            ("deals-export.csv", PD_DEALS, "opportunity", "pipedrive_deals"),
            ("hubspot-crm-exports-all-contacts.csv", HS_CONTACTS, "contact",
             "hubspot_contacts")):
        file = tmp_path / name
        file.write_text(text, encoding="utf-8")
        page.goto(page.url.split("/imports/")[0] + "/imports/")
        page.locator("#id_file").set_input_files(str(file))
        page.locator("#id_object_type").select_option(kind)
        page.get_by_role("button", name="Upload and map the columns").click()
        # recognised: its ready-made mapping is chosen
        expect(page.get_by_label("How the columns are read")).to_have_value(preset)
        job = _check(page)
        _run(page, job)
        expect(page.locator("[data-figure=created]")).not_to_have_text("0")
    pont = Opportunity.objects.select_related("stage", "account", "contact").get(
        name="Pont élévateur")
    assert (pont.stage.name, pont.account.legal_name) == ("Proposition", "Garage Moreau")
    assert pont.contact is not None
    assert pont.contact.last_name == "Moreau"
    assert Contact.objects.filter(email="sophie@bernard.example").exists()
