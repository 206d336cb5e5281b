"""What an ERP party carries beyond an account's columns: addresses, identifiers, channels, its
lifecycle (active, deleted in the ERP), written by the bulk path, read by the API, searched."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone, translation

from comptoir.core.bulk import bulk_upsert
from comptoir.core.errors import ValidationFailed
from comptoir.core.models import AuditEntry
from comptoir.crm.bulk import ACCOUNT_BULK
from comptoir.crm.models import (
    Account,
    AccountAddress,
    AccountChannel,
    AccountIdentifier,
    Contact,
)
from comptoir.crm.services import account_update, opportunity_create
from comptoir.sales.services import salesdocument_create, salesdocument_update
from comptoir.search.services import search
from comptoir.testing import factories
from comptoir.testing.personas import OWNER_POSTCODE


def _party(**extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "external_id": "P1", "legal_name": "Helvetia Outils SA", "status": "customer",
        "addresses": [
            {"kind": "billing", "street": "12 rue de la République\nBâtiment B",
             "postcode": "69002", "city": "Lyon", "country": "fr"},
            {"kind": "delivery", "name": "Entrepôt", "street": "Bahnhofstrasse 1",
             "postcode": "8001", "city": "Zürich", "country": "CH"},
            {"name": "Ancien siège", "city": "Bâle"},
        ],
        "identifiers": [{"type": "ch_uid", "value": "CHE-123.456.789"},
                        {"type": "eu_vat", "value": "FR 40 303 265 045"},
                        {"value": "ABC/77"}],
        "channels": [{"kind": "email", "value": "compta@helvetia.example"},
                     {"kind": "phone", "value": "+41 44 123 45 67", "name": "Standard"},
                     {"kind": "email", "value": "not an e-mail"}],
    }
    record.update(extra)
    return record


def _post(api: Any, user: Any, records: list[dict[str, Any]]) -> Any:
    return api(user).post("accounts/bulk", {"system": "erp", "records": records})


def _rows(model: Any, account_id: int, *names: str) -> list[tuple[Any, ...]]:
    return list(model.objects.filter(account_id=account_id).order_by("position", "id")
                .values_list(*names))


def test_three_lists_created_resent_replaced_and_left(personas: Any, api: Any) -> None:
    dm = personas.data_manager
    body = _post(api, dm, [_party()]).expect(200)
    assert body["counts"]["created"] == 1, body["results"]
    pk = body["results"][0]["id"]
    assert _rows(AccountAddress, pk, "kind", "name", "street", "city", "country", "position") == [
        ("billing", "", "12 rue de la République\nBâtiment B", "Lyon", "FR", 1),
        ("delivery", "Entrepôt", "Bahnhofstrasse 1", "Zürich", "CH", 2),
        ("other", "Ancien siège", "", "Bâle", "", 3)]
    assert _rows(AccountIdentifier, pk, "type", "value", "compact") == [
        ("ch_uid", "CHE-123.456.789", "CHE123456789"),
        ("eu_vat", "FR 40 303 265 045", "FR40303265045"),
        ("", "ABC/77", "ABC77")]
    # stored as the ERP has it: a malformed e-mail in a channel is data, not an error
    assert _rows(AccountChannel, pk, "kind", "value", "name") == [
        ("email", "compta@helvetia.example", ""), ("phone", "+41 44 123 45 67", "Standard"),
        ("email", "not an e-mail", "")]
    account = Account.objects.get(pk=pk)
    # the first billing and the first delivery address are the first-class ones
    assert (account.billing_street, account.billing_postcode, account.billing_city) == (
        "12 rue de la République, Bâtiment B", "69002", "Lyon")
    assert (account.shipping_street, account.shipping_postcode, account.shipping_city,
            account.shipping_country) == ("Bahnhofstrasse 1", "8001", "Zürich", "CH")
    created = AuditEntry.objects.get(object_type="account", object_id=pk, action="create")
    assert {"addresses", "identifiers", "channels"} <= set(created.changes)

    address_ids = set(AccountAddress.objects.filter(account_id=pk).values_list("id", flat=True))
    again = _post(api, dm, [_party()]).expect(200)
    assert again["counts"]["unchanged"] == 1

    # one list changed: only it is replaced, and only it is in the audit diff
    changed = _party(identifiers=[{"type": "ch_uid", "value": "CHE-999.888.777"}])
    assert _post(api, dm, [changed]).expect(200)["counts"]["updated"] == 1
    assert _rows(AccountIdentifier, pk, "compact") == [("CHE999888777",)]
    assert set(AccountAddress.objects.filter(account_id=pk).values_list("id", flat=True)) \
        == address_ids
    entry = AuditEntry.objects.filter(object_type="account", object_id=pk,
                                      action="update").latest("id")
    assert set(entry.changes) == {"identifiers"}
    before, after = entry.changes["identifiers"]
    assert [r["value"] for r in before] == ["CHE-123.456.789", "FR 40 303 265 045", "ABC/77"]
    assert [r["value"] for r in after] == ["CHE-999.888.777"]

    # a record without the lists leaves the rows as they are
    header_only = {"external_id": "P1", "legal_name": "Helvetia Outils SA",
                   "status": "customer", "fax": "04 72 00 00 01"}
    assert _post(api, dm, [header_only]).expect(200)["counts"]["updated"] == 1
    assert AccountAddress.objects.filter(account_id=pk).count() == 3
    assert AccountIdentifier.objects.filter(account_id=pk).count() == 1
    assert AccountChannel.objects.filter(account_id=pk).count() == 3
    assert Account.objects.get(pk=pk).fax == "+33472000001"  # first-class: validated

    # an empty list empties it
    emptied = {**header_only, "channels": []}
    assert _post(api, dm, [emptied]).expect(200)["counts"]["updated"] == 1
    assert not AccountChannel.objects.filter(account_id=pk).exists()


def test_row_errors_are_keyed_by_list_row_and_field(personas: Any, api: Any) -> None:
    dm = personas.data_manager
    bad = _party(addresses=[{"kind": "billing", "city": "Lyon"},
                            {"kind": "invoice", "city": "Lyon"}],
                 identifiers=[{"type": "x" * 41, "value": "1"}, {"value": ""}],
                 channels=[{"kind": "email", "value": "a" * 255}])
    # the domain's own rules (what a sync goes through)
    [result] = bulk_upsert(ACCOUNT_BULK, system="erp", records=[bad], user=dm)
    assert result.status == "error"
    assert set(result.errors) == {"addresses.1.kind", "identifiers.0.type",
                                  "identifiers.1.value", "channels.0.value"}, result.errors
    assert "invoice" in result.errors["addresses.1.kind"][0]  # Django's own message
    assert "40" in result.errors["identifiers.0.type"][0]
    assert not Account.objects.filter(legal_name="Helvetia Outils SA").exists()

    # the computed compact form is never sent; an unknown field is said so
    [sent] = bulk_upsert(ACCOUNT_BULK, system="erp", records=[_party(
        identifiers=[{"value": "X1", "compact": "X1"}], channels=[{"value": "a", "colour": 1}])],
        user=dm)
    assert set(sent.errors) == {"identifiers.0.compact", "channels.0.colour"}
    [shape] = bulk_upsert(ACCOUNT_BULK, system="erp", records=[_party(addresses="Lyon")],
                          user=dm)
    assert set(shape.errors) == {"addresses"}

    # through the API, the schema's checks keyed the same way
    body = _post(api, dm, [bad]).expect(200)
    errors = body["results"][0]["errors"]
    assert {"addresses.1.kind", "channels.0.value"} <= set(errors), errors
    assert not Account.objects.filter(legal_name="Helvetia Outils SA").exists()


def test_lifecycle_written_by_sync_and_read_by_the_api(personas: Any, api: Any) -> None:
    dm = personas.data_manager
    deleted_on = timezone.now().replace(microsecond=0) - dt.timedelta(days=3)
    body = _post(api, dm, [_party(active=False, erp_deleted_at=deleted_on.isoformat(),
                                  mobile="06 12 34 56 78")]).expect(200)
    pk = body["results"][0]["id"]
    account = Account.objects.get(pk=pk)
    assert (account.active, account.erp_deleted_at) == (False, deleted_on)
    assert not account.open_for_business

    out = api(dm).get(f"accounts/{pk}").expect(200)
    assert out["active"] is False
    assert dt.datetime.fromisoformat(out["erp_deleted_at"]) == deleted_on
    assert (out["mobile"], out["fax"]) == ("+33612345678", "")
    assert [a["kind"] for a in out["addresses"]] == ["billing", "delivery", "other"]
    assert out["identifiers"][0] == {"id": out["identifiers"][0]["id"], "type": "ch_uid",
                                     "value": "CHE-123.456.789", "compact": "CHE123456789",
                                     "position": 1}
    assert [c["value"] for c in out["channels"]][1] == "+41 44 123 45 67"
    listed = api(dm).get("accounts", params={"active": "false"}).expect(200)
    assert [a["id"] for a in listed["items"]] == [pk]

    # ``active`` is writable through the API; a new account is active
    api(dm).patch(f"accounts/{pk}", {"active": True}).expect(200)
    assert Account.objects.get(pk=pk).active is True
    fresh = api(dm).post("accounts", {"legal_name": "Nouvelle SARL"}).expect(201)
    assert (fresh["active"], fresh["erp_deleted_at"]) == (True, None)
    # a null is no answer to "is it active?"
    [nulled] = bulk_upsert(ACCOUNT_BULK, system="erp", records=[
        {"external_id": "P2", "legal_name": "X", "active": None}], user=dm)
    assert set(nulled.errors) == {"active"}


def test_contact_mailing_address(world: Any, api: Any) -> None:
    owner, dm = world.personas.owner, world.personas.data_manager
    contact = world.mine.contact
    out = api(owner).patch(f"contacts/{contact.pk}", {
        "mailing_street": "3 place Bellecour", "mailing_postcode": "69002",
        "mailing_city": "Lyon", "mailing_country": "fr"}).expect(200)
    assert (out["mailing_street"], out["mailing_city"], out["mailing_country"]) == (
        "3 place Bellecour", "Lyon", "FR")
    assert api(owner).get(f"contacts/{contact.pk}").expect(200)["mailing_postcode"] == "69002"
    body = api(dm).post("contacts/bulk", {"system": "erp", "records": [{
        "external_id": "K1", "account_id": contact.account_id, "last_name": "Martin",
        "mailing_street": "Postfach 9", "mailing_city": "Bern", "mailing_country": "CH"}]}
    ).expect(200)
    created = Contact.objects.get(pk=body["results"][0]["id"])
    assert (created.mailing_street, created.mailing_country) == ("Postfach 9", "CH")


# --- Not offered for new business -------------------------------------------------------------

@pytest.mark.parametrize("how", ["inactive", "deleted"])
def test_no_new_quote_or_deal_for_a_closed_account(world: Any, api: Any, how: str) -> None:
    owner = world.personas.owner
    account = world.mine.account
    existing = world.mine.sales_document
    closed = {"active": False} if how == "inactive" else {"erp_deleted_at": timezone.now()}
    Account.objects.filter(pk=account.pk).update(**closed)

    with pytest.raises(ValidationFailed) as refused, translation.override("en"):
        salesdocument_create(user=owner, data={"kind": "quote", "account_id": account.pk})
    assert "account" in refused.value.fields
    word = "Inactive" if how == "inactive" else "Deleted in the ERP"
    assert word in refused.value.fields["account"][0]
    with pytest.raises(ValidationFailed) as deal:
        opportunity_create(user=owner, data={"name": "Nouveau", "account_id": account.pk})
    assert "account" in deal.value.fields

    body = api(owner).post("sales-documents", {"kind": "order", "account_id": account.pk}
                           ).expect(422)
    assert "account" in body["error"]["fields"], body
    api(owner).post("opportunities", {"name": "Nouveau", "account_id": account.pk}).expect(422)

    # what it already has stays viewable and editable
    api(owner).get(f"sales-documents/{existing.pk}").expect(200)
    salesdocument_update(document=existing, user=owner, data={"notes": "Relance"})
    api(owner).patch(f"opportunities/{world.mine.opportunity.pk}",
                     {"description": "Suite"}).expect(200)
    # nor can an existing document move to it
    other = factories.account(by=owner, legal_name="Autre SAS", billing_postcode=OWNER_POSTCODE)
    moved = factories.sales_document(by=owner, account=other)
    with pytest.raises(ValidationFailed):
        salesdocument_update(document=moved, user=owner, data={"account_id": account.pk})

    # active again: offered again
    account_update(account=Account.objects.get(pk=account.pk), user=owner,
                   data={"active": True})
    Account.objects.filter(pk=account.pk).update(erp_deleted_at=None)
    salesdocument_create(user=owner, data={"kind": "quote", "account_id": account.pk})


# --- Search -----------------------------------------------------------------------------------

def test_search_by_identifier_however_typed_and_only_where_visible(world: Any, api: Any) -> None:
    p = world.personas
    body = _post(api, p.data_manager, [_party(owner_id=p.owner.pk, mobile="06 12 34 56 78",
                                              fax="04 78 11 22 33")]).expect(200)
    pk = body["results"][0]["id"]
    assert Account.objects.get(pk=pk).territory == p.rhone

    def finds(user: Any, q: str) -> bool:
        return pk in {h.object_id for h in search(user, q, types=["account"])}

    for q in ("CHE-123.456.789", "CHE123456789", "che 123 456 789", "123.456.789",
              "123456789", "FR40303265045", "FR 40 303 265 045", "40303265045", "ABC/77",
              "0612345678", "06 12 34 56 78", "04 78 11 22 33", "+41 44 123 45 67"):
        assert finds(p.owner, q), q
    assert finds(p.teammate, "CHE123456789")  # the team covers the territory
    assert not finds(p.outsider, "CHE123456789")  # the policy still decides
    assert not finds(p.outsider, "123.456.789")

    # a changed identifier is found by its new value, no longer by the old one
    changed = _party(owner_id=p.owner.pk, identifiers=[{"type": "ch_uid",
                                                        "value": "CHE-999.888.777"}])
    _post(api, p.data_manager, [changed]).expect(200)
    assert finds(p.owner, "CHE999888777")
    assert not finds(p.owner, "CHE123456789")
