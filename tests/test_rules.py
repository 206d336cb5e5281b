"""Cross-record rules and rights found in review: each test names the rule it guards."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from comptoir.crm.models import Contact
from comptoir.testing import factories


def test_identifiers_typed_with_spaces_are_accepted_and_stored_compact(world: Any,
                                                                      api: Any) -> None:
    siren = factories.siren()
    spaced = f"{siren[:3]} {siren[3:6]} {siren[6:]}"
    body = api(world.personas.owner).post("accounts", {
        "legal_name": "Espaces SARL", "siren": spaced, "phone": "01 42 68 53 00"}).expect(201)
    assert body["siren"] == siren
    assert body["phone"] == "+33142685300"


def test_a_deal_contact_must_belong_to_the_deal_account(world: Any, api: Any) -> None:
    other = factories.account(by=world.personas.owner, legal_name="Autre Compte")
    error = api(world.personas.owner).post("opportunities", {
        "name": "Mixed", "account_id": other.pk,
        "contact_id": world.mine.contact.pk}).error(422)
    assert list(error["fields"]) == ["contact"]


def test_a_document_deal_must_belong_to_the_document_account(world: Any, api: Any) -> None:
    other = factories.account(by=world.personas.owner, legal_name="Autre Compte")
    error = api(world.personas.owner).post("sales-documents", {
        "kind": "quote", "account_id": other.pk,
        "opportunity_id": world.mine.opportunity.pk}).error(422)
    assert list(error["fields"]) == ["opportunity"]


def test_marketing_cannot_convert_a_reps_lead_and_is_told_who_can(world: Any,
                                                                  api: Any) -> None:
    error = api(world.personas.marketing).post(
        f"leads/{world.mine.lead.pk}/convert", {}).error(403)
    assert "owner" in error["message"] or "responsable" in error["message"]
    world.mine.lead.refresh_from_db()
    assert world.mine.lead.status != "converted"


def test_reading_an_account_does_not_allow_attaching_files_to_it(world: Any, api: Any) -> None:
    service = world.personas.service
    api(service).get(f"accounts/{world.mine.account.pk}").expect(200)
    api(service).upload("attachments", {
        "target": "account", "target_id": world.mine.account.pk,
        "file": SimpleUploadedFile("plan.pdf", b"%PDF-1.4 plan")}).error(403)


def test_deleting_an_account_removes_its_files(world: Any, api: Any,
                                               django_capture_on_commit_callbacks: Any) -> None:
    stored = world.mine.attachment.file.name
    assert default_storage.exists(stored)
    with django_capture_on_commit_callbacks(execute=True):
        api(world.personas.owner).delete(f"accounts/{world.mine.account.pk}").expect(204)
    assert not default_storage.exists(stored)


def test_an_unowned_contact_is_the_account_owners_to_delete(world: Any, api: Any) -> None:
    Contact.objects.filter(pk=world.mine.contact.pk).update(owner=None)  # e.g. an import
    api(world.personas.teammate).delete(f"contacts/{world.mine.contact.pk}").error(403)
    api(world.personas.owner).delete(f"contacts/{world.mine.contact.pk}").expect(204)
