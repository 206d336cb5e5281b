"""Correcting a quarantined record and replaying it (issue 15), and who may see which: a rep
sees and corrects only the refused rows of their own imports."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from comptoir.core.errors import Conflict, NotFound, ValidationFailed
from comptoir.integration import imports
from comptoir.integration.import_models import ImportJob
from comptoir.integration.models import Connection, QuarantinedRecord, SyncRun
from comptoir.integration.quarantine import (
    quarantine_correct,
    quarantine_retry,
    quarantine_visible,
)
from comptoir.integration.tasks import execute_run

pytestmark = pytest.mark.django_db

LEADS = ("Société;Nom;Prénom;E-mail\r\n"
         "Atelier Bon;Martin;Lou;lou@atelier.example\r\n"
         "Atelier Faux;Durand;Max;max@@faux\r\n").encode()


def imported(user: Any, content: bytes = LEADS, name: str = "leads.csv") -> ImportJob:
    """A lead import by ``user``, checked and run as the worker would."""
    job = imports.import_create(user=user, upload=SimpleUploadedFile(name, content),
                                object_type="lead")
    dry = imports.import_dry_run_start(job, user=user)
    imports.execute_import_dry_run.call(dry.pk)
    job.refresh_from_db()
    execute_run.call(imports.import_run_start(job, user=user).pk)
    job.refresh_from_db()
    assert job.run is not None
    assert job.run.status == SyncRun.Status.SUCCEEDED
    return job


def refused(job: ImportJob) -> QuarantinedRecord:
    return QuarantinedRecord.objects.get(connection=job.connection)


def test_a_corrected_email_is_replayed_into_the_crm(owner: Any) -> None:
    from comptoir.crm.models import Lead

    job = imported(owner)
    record = refused(job)
    assert record.status == QuarantinedRecord.Status.OPEN
    assert record.field == "email"
    assert record.payload["E-mail"] == "max@@faux"

    done = quarantine_correct(record, user=owner, values={"E-mail": "max@atelier-faux.example"})

    assert done.status == QuarantinedRecord.Status.REPLAYED
    assert done.resolved_at is not None
    lead = Lead.objects.get(email="max@atelier-faux.example")
    assert lead.owner_id == owner.pk  # the import's rule holds on the replay too
    assert lead.last_name == "Durand"
    assert done.payload["E-mail"] == "max@atelier-faux.example"
    assert done.original_payload is not None
    assert done.original_payload["E-mail"] == "max@@faux"  # what the file said is kept
    assert done.corrected_by_id == owner.pk
    assert done.corrected_at is not None
    # done: neither corrected nor replayed twice
    with pytest.raises(Conflict):
        quarantine_correct(done, user=owner, values={"E-mail": "x@example.com"})
    with pytest.raises(Conflict):
        quarantine_retry(done, user=owner)


def test_a_value_still_wrong_keeps_it_open_with_the_new_reason(owner: Any) -> None:
    job = imported(owner)
    record = refused(job)
    with translation.override("en"):
        again = quarantine_correct(record, user=owner, values={"E-mail": "still@@wrong"})
    assert again.status == QuarantinedRecord.Status.OPEN
    assert again.field == "email"
    assert again.reason
    assert again.payload["E-mail"] == "still@@wrong"
    assert QuarantinedRecord.objects.filter(connection=job.connection).count() == 1
    # a second correction keeps the payload first received, not the first correction
    fixed = quarantine_correct(again, user=owner, values={"E-mail": "max@example.com"})
    assert fixed.status == QuarantinedRecord.Status.REPLAYED
    assert (fixed.original_payload or {})["E-mail"] == "max@@faux"


def test_unknown_fields_and_too_long_values_are_refused(owner: Any) -> None:
    job = imported(owner)
    record = refused(job)
    with pytest.raises(ValidationFailed) as caught:
        quarantine_correct(record, user=owner, values={"Salaire": "1", "__refused": "x"})
    assert set(caught.value.fields) == {"Salaire", "__refused"}
    with pytest.raises(ValidationFailed) as caught:
        quarantine_correct(record, user=owner, values={"Nom": "x" * 5000})
    assert "Nom" in caught.value.fields
    record.refresh_from_db()
    assert record.payload["E-mail"] == "max@@faux"  # nothing changed
    assert record.original_payload is None
    assert record.corrected_by_id is None


def test_who_sees_which_quarantine(owner: Any, teammate: Any, outsider: Any,
                                   data_manager: Any, admin: Any, manager: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    mine = refused(imported(owner))
    theirs = refused(imported(outsider, name="others.csv"))
    sync = Connection.objects.create(name="erp", connector="files", mapping="")
    from_sync = QuarantinedRecord.objects.create(connection=sync, stream="accounts",
                                                 external_id="A1", reason="bad", payload={})
    everything = {mine.pk, theirs.pk, from_sync.pk}

    def seen(user: Any) -> set[int]:
        return set(quarantine_visible(user).values_list("pk", flat=True))

    assert seen(data_manager) == everything
    assert seen(admin) == everything
    assert seen(owner) == {mine.pk}
    assert seen(outsider) == {theirs.pk}
    assert seen(teammate) == set()  # another rep: nothing
    assert seen(manager) == set()  # imports are their author's, not the team's
    assert seen(AnonymousUser()) == set()
    # acting on a record one may not see is "not found"
    with pytest.raises(NotFound):
        quarantine_correct(mine, user=teammate, values={"E-mail": "a@example.com"})
    with pytest.raises(NotFound):
        quarantine_retry(from_sync, user=owner)
    with pytest.raises(NotFound):
        quarantine_correct(theirs, user=owner, values={"E-mail": "a@example.com"})
    theirs.refresh_from_db()
    assert theirs.status == QuarantinedRecord.Status.OPEN
    # the data manager corrects anyone's import
    done = quarantine_correct(theirs, user=data_manager, values={"E-mail": "m@example.com"})
    assert done.status == QuarantinedRecord.Status.REPLAYED
    assert done.corrected_by_id == data_manager.pk


def test_an_undone_import_is_not_replayed(owner: Any) -> None:
    job = imported(owner)
    ImportJob.objects.filter(pk=job.pk).update(undo_status="done")
    with pytest.raises(Conflict):
        quarantine_correct(refused(job), user=owner, values={"E-mail": "max@example.com"})
