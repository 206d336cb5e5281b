"""Related records by natural keys in the import wizard: a contact file names its account by
SIREN, by its id in the source or by name; a deal file names its account and its contact by
e-mail. Unknown or ambiguous → the row is refused with the reason."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from comptoir.crm.models import Contact, Opportunity
from comptoir.integration import imports
from comptoir.integration.models import QuarantinedRecord, SyncRun
from comptoir.testing import factories as f

pytestmark = pytest.mark.django_db


def prepare(user: Any, content: bytes, object_type: str, mapping: dict[str, str],
            name: str = "contacts.csv") -> tuple[Any, SyncRun]:
    job = imports.import_create(user=user, upload=SimpleUploadedFile(name, content),
                                object_type=object_type)
    imports.import_set_mapping(job, user=user, mapping=mapping)
    dry = imports.import_dry_run_start(job, user=user)
    imports.execute_import_dry_run.call(dry.pk)
    dry.refresh_from_db()
    assert dry.status == SyncRun.Status.SUCCEEDED, dry.error_message
    job.refresh_from_db()
    return job, dry


def run(job: Any, user: Any) -> SyncRun:
    started = imports.import_run_start(job, user=user)
    imports.execute_import_run.call(started.pk)
    started.refresh_from_db()
    assert started.status == SyncRun.Status.SUCCEEDED, started.error_message
    return started


def test_the_mapping_offers_accounts_by_natural_key(data_manager: Any) -> None:
    with translation.override("en"):
        fields = dict(imports.fields_for("contact"))
        assert fields["account_by_siren"] == "Account (by its SIREN)"
        assert fields["account_by_name"] == "Account (by its name)"
        assert "account_external_id" in fields
        assert "contact_by_email" in dict(imports.fields_for("opportunity"))
        assert "account_by_name" not in dict(imports.fields_for("product"))


def test_contacts_linked_by_siren_name_and_id(data_manager: Any, owner: Any,
                                              outsider: Any) -> None:
    by_siren = f.account(by=owner, legal_name="Boulangerie Dupont", siren=f.siren(8801))
    by_name = f.account(by=owner, legal_name="Menuiserie Éclair SARL")
    f.account(by=owner, legal_name="Dupont Frères")
    f.account(by=owner, legal_name="DUPONT FRERES SAS")  # same normalised name: ambiguous
    by_id = f.account(by=owner, legal_name="Garage du Port")
    from comptoir.core.models import ExternalRef

    ExternalRef.objects.create(system="oldcrm", object_type="account", external_id="ACC-9",
                               object_id=by_id.pk)
    content = ("Nom;Prénom;SIREN société;Société;Id société\r\n"
               f"Martin;Lou;{by_siren.siren[:3]} {by_siren.siren[3:]};Mauvais Nom;\r\n"
               "Durand;Léa;;menuiserie eclair;\r\n"
               "Petit;Jo;;Dupont Frères;\r\n"
               "Moreau;Ana;;Inconnue SA;\r\n"
               "Roux;Max;;;ACC-9\r\n").encode()
    mapping = {"Nom": "last_name", "Prénom": "first_name", "SIREN société": "account_by_siren",
               "Société": "account_by_name", "Id société": "account_external_id"}
    with translation.override("en"):
        job, dry = prepare(data_manager, content, "contact", mapping)
    rows = {row["line"]: row for row in dry.details["rows"]}
    assert [rows[n]["status"] for n in range(2, 7)] == [
        "created", "created", "refused", "refused", "created"]
    assert rows[4]["reason"] == "2 accounts are named “Dupont Frères”: give the SIREN."
    assert "Inconnue SA" in rows[5]["reason"]
    assert (dry.created, dry.quarantined) == (3, 2)
    assert not Contact.objects.filter(last_name="Martin").exists()  # a dry run writes nothing

    with translation.override("en"):
        done = run(job, data_manager)
    assert (done.created, done.quarantined) == (3, 2)
    assert Contact.objects.get(last_name="Martin").account_id == by_siren.pk
    assert Contact.objects.get(last_name="Durand").account_id == by_name.pk
    assert Contact.objects.get(last_name="Roux").account_id == by_id.pk
    assert not Contact.objects.filter(last_name__in=["Petit", "Moreau"]).exists()
    refused = list(csv.reader(io.StringIO(imports.refused_rows_csv(job)), delimiter=";"))
    assert refused[0] == [*job.columns, "reason", "line"]
    assert [(r[0], r[-1]) for r in refused[1:]] == [("Petit", "4"), ("Moreau", "5")]
    assert "give the SIREN" in refused[1][-2]
    assert QuarantinedRecord.objects.filter(run=done).count() == 2


def test_only_accounts_the_importer_may_see(owner: Any, outsider: Any, data_manager: Any
                                            ) -> None:
    """The name is looked up among the accounts the person may see (a data manager sees all;
    the access rule is the policy's ``restrict``)."""
    from comptoir.integration import import_keys

    hidden = f.account(by=outsider, legal_name="Société Cachée")
    job = imports.import_create(user=data_manager, upload=SimpleUploadedFile(
        "c.csv", "Nom;Société\r\nA;Société Cachée\r\n".encode()), object_type="contact")
    imports.import_set_mapping(job, user=data_manager,
                               mapping={"Nom": "last_name", "Société": "account_by_name"})
    resolver = import_keys._Resolver(job, owner)
    assert resolver.chunk([{"Nom": "A", "Société": "Société Cachée"}])[0][0] == ""
    resolver = import_keys._Resolver(job, data_manager)
    assert resolver.chunk([{"Nom": "A", "Société": "Société Cachée"}])[0][0] == str(hidden.pk)


def test_deals_name_their_account_and_contact(data_manager: Any, owner: Any) -> None:
    f.default_pipeline()
    account = f.account(by=owner, legal_name="Transports Leroy", siren=f.siren(8802))
    contact = f.contact(by=owner, account=account, last_name="Leroy",
                        email="Paul.Leroy@transports.example")
    content = xlsx([["Affaire", "Montant", "Client", "Contact"],
                    ["Renouvellement flotte", 12000, "Transports Leroy",
                     "paul.leroy@transports.example"],
                    ["Sans client", 100, "Nulle Part", ""]])
    mapping = {"Affaire": "name", "Montant": "amount", "Client": "account_by_name",
               "Contact": "contact_by_email"}
    job, dry = prepare(data_manager, content, "opportunity", mapping, name="deals.xlsx")
    statuses = [row["status"] for row in dry.details["rows"]]
    assert statuses == ["created", "refused"], dry.details["rows"]
    run(job, data_manager)
    deal = Opportunity.objects.get(name="Renouvellement flotte")
    assert (deal.account_id, deal.contact_id) == (account.pk, contact.pk)


def xlsx(rows: list[list[Any]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
