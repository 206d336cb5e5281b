"""Undo of a whole import: created records deleted (to the recycle bin), changed fields put
back unless changed since, records used since kept, 7 days, who may undo."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

from comptoir.core.errors import Conflict, Forbidden
from comptoir.core.models import AuditEntry, DeletedRecord, ExternalRef
from comptoir.crm.models import Account, Contact, Lead, Opportunity
from comptoir.integration import import_undo, imports
from comptoir.integration.models import SyncRun
from comptoir.integration.tasks import execute_run
from comptoir.testing import factories as f

pytestmark = pytest.mark.django_db


def do_import(user: Any, content: bytes, object_type: str = "account",
              mapping: dict[str, str] | None = None, name: str = "f.csv") -> Any:
    job = imports.import_create(user=user, upload=SimpleUploadedFile(name, content),
                                object_type=object_type)
    if mapping is not None:
        imports.import_set_mapping(job, user=user, mapping=mapping)
    dry = imports.import_dry_run_start(job, user=user)
    imports.execute_import_dry_run.call(dry.pk)
    job.refresh_from_db()
    run = imports.import_run_start(job, user=user)
    execute_run.call(run.pk)
    job.refresh_from_db()
    assert job.run.status == SyncRun.Status.SUCCEEDED, job.run.error_message
    return job


def undo(job: Any, user: Any) -> Any:
    import_undo.import_undo_start(job, user=user)
    import_undo.execute_import_undo.call(job.pk)
    job.refresh_from_db()
    return job


def snapshot() -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in Account.objects.values(
        "id", "legal_name", "siren", "billing_postcode", "billing_city", "credit_limit",
        "normalized_name", "owner_id", "phone")}


ACCOUNTS = ("Raison sociale;SIREN;Code postal;Ville;Téléphone\r\n"
            "Nouvelle Menuiserie;;75011;Paris;\r\n"
            "Autre Atelier;;69002;Lyon;\r\n"
            "{name};{siren};33000;Bordeaux;01 45 67 89 10\r\n")


def test_undo_puts_the_base_back_exactly(data_manager: Any, owner: Any) -> None:
    siren = f.siren(7301)
    existing = f.account(by=owner, legal_name="Déjà Là", siren=siren,
                         billing_postcode="33000", billing_city="Mérignac")
    before = snapshot()
    refs_before = ExternalRef.objects.count()
    job = do_import(data_manager, ACCOUNTS.format(name="Déjà Là", siren=siren).encode())
    assert Account.objects.count() == len(before) + 2
    existing.refresh_from_db()
    assert existing.billing_city == "Bordeaux"  # matched by SIREN and updated
    assert existing.phone

    assert import_undo.undo_refusal(job, data_manager) == ""
    job = undo(job, data_manager)
    assert job.undo_status == "done", job.undo_report
    assert imports.import_state(job) == "undone"
    assert job.undone_by == data_manager
    assert job.undone_at is not None
    assert snapshot() == before  # counts and every value
    assert ExternalRef.objects.count() == refs_before  # the link to the duplicate too
    report = job.undo_report
    assert (report["deleted"], report["restored"], report["kept_changed"],
            report["kept_used"]) == (2, 1, 0, 0)
    # deleted ones are in the recycle bin, and the undo is in the audit trail
    assert DeletedRecord.objects.filter(object_type="account",
                                        source=f"undo:import-{job.pk}").count() == 2
    assert AuditEntry.objects.filter(source=f"undo:import-{job.pk}", action="update",
                                     object_id=existing.pk).exists()
    with pytest.raises(Conflict):  # once only
        import_undo.import_undo_start(job, user=data_manager)


def test_a_field_changed_since_is_kept_and_reported(data_manager: Any, owner: Any) -> None:
    from comptoir.crm.services import account_update

    siren = f.siren(7302)
    existing = f.account(by=owner, legal_name="Déjà Là", siren=siren,
                         billing_postcode="33000", billing_city="Mérignac")
    job = do_import(data_manager, ACCOUNTS.format(name="Déjà Là", siren=siren).encode())
    existing.refresh_from_db()
    account_update(account=existing, user=owner, data={"billing_city": "Pessac"})
    job = undo(job, data_manager)
    existing.refresh_from_db()
    assert existing.billing_city == "Pessac"  # the newer value stays
    assert existing.phone == ""  # the field nobody touched since is put back
    report = job.undo_report
    assert report["kept_changed"] == 1
    assert report["restored"] == 1
    kept = report["kept"][0]
    assert kept["id"] == existing.pk
    assert kept["fields"] == ["billing_city"]
    name = owner.get_full_name() or owner.get_username()
    assert name in kept["reason"]


def test_a_created_record_used_since_is_kept(data_manager: Any, owner: Any) -> None:
    job = do_import(data_manager, ACCOUNTS.format(name="Troisième", siren="").encode())
    used = Account.objects.get(legal_name="Nouvelle Menuiserie")
    deal = f.opportunity(by=data_manager, account=used, name="Affaire après import")
    job = undo(job, data_manager)
    assert Account.objects.filter(pk=used.pk).exists()
    assert Opportunity.objects.filter(pk=deal.pk).exists()
    assert not Account.objects.filter(legal_name__in=["Autre Atelier", "Troisième"]).exists()
    report = job.undo_report
    assert (report["deleted"], report["kept_used"]) == (2, 1)
    assert report["kept"][0]["id"] == used.pk
    assert "Affaire après import" in report["kept"][0]["reason"]


def test_contacts_of_another_import_keep_their_account(data_manager: Any) -> None:
    accounts = do_import(data_manager, b"Id;Raison sociale\r\nA1;Compte Lie\r\n",
                         mapping={"Id": imports.KEY, "Raison sociale": "legal_name"})
    do_import(data_manager, b"Ref;Nom;Compte\r\nC1;Martin;A1\r\n", object_type="contact",
              mapping={"Ref": imports.KEY, "Nom": "last_name",
                       "Compte": "account_external_id"})
    contact = Contact.objects.get(last_name="Martin")
    undo(accounts, data_manager)
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert Account.objects.filter(pk=contact.account_id).exists()
    assert accounts.undo_report["kept_used"] == 1


def test_seven_days(data_manager: Any) -> None:
    job = do_import(data_manager, ACCOUNTS.format(name="X", siren="").encode())
    SyncRun.objects.filter(pk=job.run_id).update(
        finished_at=timezone.now() - dt.timedelta(days=7, minutes=1))
    job.refresh_from_db()
    with translation.override("en"):
        reason = import_undo.undo_refusal(job, data_manager)
        assert "7 days" in reason
        with pytest.raises(Conflict):
            import_undo.import_undo_start(job, user=data_manager)
    assert Account.objects.filter(legal_name="X").exists()


def test_who_may_undo(data_manager: Any, admin: Any, owner: Any, teammate: Any) -> None:
    content = "Société;Nom;E-mail\r\nAtelier Rep;Martin;lou@atelier.example\r\n".encode()
    job = do_import(owner, content, object_type="lead")
    assert not import_undo.may_undo(job, teammate)
    with pytest.raises(Forbidden):
        import_undo.import_undo_start(job, user=teammate)
    assert list(imports.imports_visible(teammate)) == []
    assert import_undo.may_undo(job, admin)
    assert import_undo.may_undo(job, data_manager)
    job = undo(job, owner)  # the author undoes their own import
    assert job.undo_status == "done", job.undo_report
    assert not Lead.objects.filter(email="lou@atelier.example").exists()


def test_not_before_it_ran(data_manager: Any) -> None:
    job = imports.import_create(user=data_manager,
                                upload=SimpleUploadedFile("f.csv", b"Raison sociale\r\nA\r\n"),
                                object_type="account")
    assert import_undo.undo_refusal(job, data_manager)
    with pytest.raises(Conflict):
        import_undo.import_undo_start(job, user=data_manager)
