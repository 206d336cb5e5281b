"""The import wizard's picklist values and owner column: a file's values the CRM's lists do
not know are shown with a proposed choice, the person decides, the load applies it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from comptoir.core.errors import ValidationFailed
from comptoir.crm.models import Contact, Opportunity
from comptoir.integration import import_values, imports
from comptoir.integration.models import SyncRun
from comptoir.integration.tasks import execute_run
from comptoir.testing import factories as f

pytestmark = pytest.mark.django_db


def upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def dry(job: Any, user: Any) -> SyncRun:
    run = imports.import_dry_run_start(job, user=user)
    imports.execute_import_dry_run.call(run.pk)
    return SyncRun.objects.get(pk=run.pk)


def run(job: Any, user: Any) -> SyncRun:
    job.refresh_from_db()
    started = imports.import_run_start(job, user=user)
    execute_run.call(started.pk)
    return SyncRun.objects.get(pk=started.pk)


CONTACTS = (
    "Prénom;Nom;E-mail;Civilité;Propriétaire;Société\n"
    "Anne;Durand;anne@example.fr;Madame;{owner};Valeurs SA\n"
    "Paul;Martin;paul@example.fr;M.;{owner_email};Valeurs SA\n"
    "Lise;Petit;lise@example.fr;Mlle;Inconnu Dupont;Valeurs SA\n"
    "Marc;Roux;marc@example.fr;Dr;;Valeurs SA\n"
    "Éva;Noël;eva@example.fr;mme;{owner};Valeurs SA\n"
)


def contacts_file(owner: Any) -> str:
    f.account(by=owner, legal_name="Valeurs SA")
    return CONTACTS.format(owner=owner.get_full_name() or owner.username,
                           owner_email=owner.email or owner.username)


def test_unknown_values_are_listed_with_a_proposal(data_manager: Any, owner: Any) -> None:
    job = imports.import_create(user=data_manager, upload=upload("c.csv", contacts_file(owner)),
                                object_type="contact")
    assert job.mapping["Civilité"] == "civility"
    assert job.mapping["Propriétaire"] == import_values.OWNER  # a data manager may
    with translation.override("en"):
        found = {item["column"]: item for item in import_values.unknown_values(job)}
    civility = {v["value"]: v for v in found["Civilité"]["values"]}
    # "M.", "mme" and "Madame" are the list's own spellings or the same; the rest are not
    assert set(civility) == {"Mlle", "Dr"}
    assert civility["Mlle"]["rows"] == 1
    assert civility["Mlle"]["choice"] == "Mme"  # a close one is proposed
    assert civility["Dr"]["choice"] == ""  # nothing close: refused unless chosen
    owners = {v["value"] for v in found["Propriétaire"]["values"]}
    assert owners == {"Inconnu Dupont"}  # the owner is found by name and by e-mail


def test_decisions_are_applied_and_refused_values_say_why(data_manager: Any,
                                                          owner: Any) -> None:
    job = imports.import_create(user=data_manager, upload=upload("c.csv", contacts_file(owner)),
                                object_type="contact")
    imports.import_set_mapping(job, user=data_manager, mapping=job.mapping, values={
        "Civilité": {"Mlle": "Mme", "Dr": import_values.EMPTY},
        "Propriétaire": {"Inconnu Dupont": str(data_manager.pk)}})
    checked = dry(job, data_manager)
    assert checked.status == SyncRun.Status.SUCCEEDED, checked.error_message
    assert checked.created == 5, [(r["field"], r["reason"]) for r in checked.details["rows"]]
    done = run(job, data_manager)
    assert (done.created, done.quarantined) == (5, 0)
    by_email = {c.email: c for c in Contact.objects.filter(email__endswith="@example.fr")}
    assert by_email["anne@example.fr"].civility == "Mme"
    assert by_email["lise@example.fr"].civility == "Mme"
    assert by_email["marc@example.fr"].civility == ""
    assert by_email["anne@example.fr"].owner_id == owner.pk
    assert by_email["paul@example.fr"].owner_id == owner.pk  # by e-mail
    assert by_email["lise@example.fr"].owner_id == data_manager.pk  # as chosen

    # without a decision, the value is refused with its reason; the other rows land
    again = imports.import_create(
        user=data_manager, upload=upload("d.csv", "Prénom;Nom;E-mail;Civilité;Société\n"
                                         "Jo;Blanc;jo@example.org;Dr;Valeurs SA\n"
                                         "Al;Vert;al@example.org;M.;Valeurs SA\n"),
        object_type="contact")
    checked = dry(again, data_manager)
    statuses = {row["line"]: row for row in checked.details["rows"]}
    assert statuses[2]["status"] == "refused"
    assert "Dr" in statuses[2]["reason"]
    assert statuses[3]["status"] == "created"


def test_a_bad_decision_is_refused_by_column(data_manager: Any, owner: Any) -> None:
    job = imports.import_create(user=data_manager, upload=upload("c.csv", contacts_file(owner)),
                                object_type="contact")
    with pytest.raises(ValidationFailed) as caught:
        imports.import_set_mapping(job, user=data_manager, mapping=job.mapping,
                                   values={"Civilité": {"Dr": "Professor"}})
    assert "Civilité" in caught.value.fields
    # the owner column and "me" contradict each other
    with pytest.raises(ValidationFailed) as caught:
        imports.import_set_mapping(job, user=data_manager, mapping=job.mapping, owner="me")
    assert "__all__" in caught.value.fields


def test_a_rep_never_gets_the_owner_column(owner: Any) -> None:
    job = imports.import_create(
        user=owner, upload=upload("l.csv", "Nom;Entreprise;Propriétaire\nBon;ACME;Quelqu'un\n"),
        object_type="lead")
    assert job.mapping["Propriétaire"] == ""
    with pytest.raises(ValidationFailed):
        imports.import_set_mapping(job, user=owner, mapping={
            **job.mapping, "Propriétaire": import_values.OWNER})


def test_deal_stages_by_name_from_another_crm(data_manager: Any, owner: Any) -> None:
    account = f.account(by=owner, legal_name="Stagiaire SA")
    pipeline = f.pipeline() if hasattr(f, "pipeline") else None
    stages = list(Opportunity._meta.get_field("stage").related_model.objects
                  .filter(**({"pipeline": pipeline} if pipeline else {}))
                  .order_by("order").values_list("name", flat=True))
    assert stages, "the test needs a pipeline with stages"
    text = ("Deal Name;Stage;Amount;Account\n"
            f"Grand projet;Proposal Made;1000;{account.legal_name}\n"
            f"Petit projet;{stages[0].upper()};200;{account.legal_name}\n")
    job = imports.import_create(user=data_manager, upload=upload("deals.csv", text),
                                object_type="opportunity")
    job.mapping.update({"Deal Name": "name", "Stage": "stage", "Amount": "amount",
                        "Account": "account_by_name"})
    with translation.override("en"):
        labels = dict(imports.fields_for("opportunity"))
    assert "by its name" in labels["stage"]
    items = import_values.unknown_values(job)
    assert [v["value"] for v in items[0]["values"]] == ["Proposal Made"]
    imports.import_set_mapping(job, user=data_manager, mapping=job.mapping,
                               values={"Stage": {"Proposal Made": stages[1]}})
    checked = dry(job, data_manager)
    assert checked.created == 2, checked.details["rows"]
    run(job, data_manager)
    made = {o.name: o.stage.name for o in Opportunity.objects.filter(account=account)}
    assert made == {"Grand projet": stages[1], "Petit projet": stages[0]}


def test_too_many_values_are_not_listed(data_manager: Any) -> None:
    rows = "".join(f"P{i};Nom{i};s{i}@example.net;Val{i}\n" for i in range(80))
    job = imports.import_create(
        user=data_manager, upload=upload("many.csv", "Prénom;Nom;E-mail;Civilité\n" + rows),
        object_type="contact")
    assert job.info["distinct"]["E-mail"] is None
    items = import_values.unknown_values(job)
    assert items
    assert items[0]["too_many"]
    assert items[0]["values"] == []
