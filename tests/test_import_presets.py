"""Other CRMs' exports in the import wizard: the shipped mapping of the export a file looks
like is proposed, the import runs through it (parents included) and its undo removes
everything it wrote."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from comptoir.core.errors import ValidationFailed
from comptoir.crm.models import Account, Contact, Opportunity
from comptoir.integration import import_undo, imports
from comptoir.integration.models import SyncRun
from comptoir.integration.tasks import execute_run
from test_crm_export_mappings import HS_CONTACTS, PD_DEALS, PD_PERSONS, ventes  # noqa: F401

pytestmark = pytest.mark.django_db


def create(user: Any, name: str, text: str, object_type: str) -> Any:
    return imports.import_create(user=user, object_type=object_type, upload=SimpleUploadedFile(
        name, text.encode("utf-8"), content_type="text/csv"))


def check(job: Any, user: Any) -> SyncRun:
    dry = imports.import_dry_run_start(job, user=user)
    imports.execute_import_dry_run.call(dry.pk)
    job.refresh_from_db()
    return SyncRun.objects.get(pk=dry.pk)


def check_and_run(job: Any, user: Any) -> tuple[SyncRun, SyncRun]:
    dry = check(job, user)
    run = imports.import_run_start(job, user=user)
    execute_run.call(run.pk)
    return dry, SyncRun.objects.get(pk=run.pk)


def test_pipedrive_deals_with_the_shipped_mapping_then_undone(
        ventes: None, data_manager: Any) -> None:  # noqa: F811
    # the people first (their organisations become accounts), as Pipedrive exports them
    people = create(data_manager, "people-export.csv", PD_PERSONS, "contact")
    assert people.options["preset"] == "pipedrive_persons"
    _dry, run = check_and_run(people, data_manager)
    assert (run.created, run.quarantined) == (4, 1)  # 2 organisations, 2 people
    before = (Account.objects.count(), Opportunity.objects.count())
    job = create(data_manager, "deals-export.csv", PD_DEALS, "opportunity")
    with translation.override("en"):
        assert imports.presets_for(job) == [("pipedrive_deals", "Pipedrive: deals")]
    assert job.options["preset"] == "pipedrive_deals"  # proposed by itself
    assert 'system = "pipedrive"' in imports.mapping_toml(job)
    dry = check(job, data_manager)
    assert dry.status == SyncRun.Status.SUCCEEDED, dry.error_message
    assert (Account.objects.count(), Opportunity.objects.count()) == before  # dry: nothing
    assert {row["status"] for row in dry.details["rows"]} >= {"created", "refused"}
    run = imports.import_run_start(job, user=data_manager)
    execute_run.call(run.pk)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.quarantined == 2  # a stage of their own, a date in another format
    pont = Opportunity.objects.select_related("stage", "account").get(name="Pont élévateur")
    assert (pont.stage.name, pont.account.legal_name) == ("Proposition", "Garage Moreau")
    assert Opportunity.objects.get(name="Tondeuses").status == "lost"
    reasons = imports.refused_rows_csv(job)
    assert "Waiting for budget" in reasons
    assert "31/12/2025" in reasons

    job.refresh_from_db()
    import_undo.import_undo_start(job, user=data_manager)
    import_undo.execute_import_undo.call(job.pk)
    job.refresh_from_db()
    assert job.undo_status == "done", job.undo_report
    # the deals are gone, the organisations the people's import wrote are kept
    assert (Account.objects.count(), Opportunity.objects.count()) == before


def test_hubspot_contacts_with_the_shipped_mapping(ventes: None,  # noqa: F811
                                                   data_manager: Any) -> None:
    before = (Account.objects.count(), Contact.objects.count())
    job = create(data_manager, "hubspot-crm-exports-all-contacts.csv", HS_CONTACTS, "contact")
    assert job.options["preset"] == "hubspot_contacts"
    _dry, run = check_and_run(job, data_manager)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    sophie = Contact.objects.select_related("account").get(email="sophie@bernard.example")
    assert sophie.account.legal_name == "Boulangerie Bernard"
    assert run.quarantined == 1  # the contact with no company, with its reason
    assert "Company Name" in imports.refused_rows_csv(job)
    assert Account.objects.count() == before[0] + 2  # the companies the contacts named

    job.refresh_from_db()
    import_undo.import_undo_start(job, user=data_manager)
    import_undo.execute_import_undo.call(job.pk)
    job.refresh_from_db()
    assert job.undo_status == "done", job.undo_report
    assert job.undo_report["deleted"] == run.created
    # the contacts, then the accounts written for them: the base is as before
    assert (Account.objects.count(), Contact.objects.count()) == before


def test_the_person_may_read_the_columns_instead(ventes: None,  # noqa: F811
                                                 data_manager: Any) -> None:
    job = create(data_manager, "deals-export.csv", PD_DEALS, "opportunity")
    imports.import_set_mapping(job, user=data_manager, mapping={
        c: ("name" if c == "Deal - Title" else "") for c in job.columns})
    assert "preset" not in job.options
    assert 'system = "pipedrive"' not in imports.mapping_toml(job)
    with pytest.raises(ValidationFailed) as caught:  # a mapping for another kind of file
        imports.import_set_mapping(job, user=data_manager, mapping=job.mapping,
                                   preset="hubspot_contacts")
    assert "preset" in caught.value.fields


def test_no_ready_made_mapping_for_a_rep_nor_for_another_file(
        ventes: None, owner: Any, data_manager: Any) -> None:  # noqa: F811
    leads = create(owner, "deals-export.csv", PD_DEALS, "lead")
    assert imports.presets_for(leads) == []
    assert "preset" not in leads.options
    plain = create(data_manager, "affaires.csv", "Nom;Montant\nProjet;100\n", "opportunity")
    assert imports.presets_for(plain) == []
