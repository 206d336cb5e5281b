"""The recycle bin: every delete keeps the record and what went with it for 30 days; a restore
brings all of it back in one transaction, or explains why it cannot and changes nothing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from comptoir.activities.models import Activity
from comptoir.core import recycle
from comptoir.core.models import AuditEntry, DeletedRecord, ExternalRef
from comptoir.crm import services as crm
from comptoir.crm.models import Account, Contact, Lead, Opportunity
from comptoir.documents.models import Attachment
from comptoir.sales import services as sales
from comptoir.sales.models import Product, SalesDocument, SalesDocumentLine
from comptoir.search.services import search
from comptoir.service.models import Case
from comptoir.testing import factories

pytestmark = pytest.mark.django_db


def _account_with_children(owner: Any) -> dict[str, Any]:
    account = factories.account(by=owner, legal_name="Brasserie Tournesol",
                                billing_postcode="69002", billing_city="Lyon")
    contact = factories.contact(by=owner, account=account, first_name="Aline",
                                last_name="Verdier")
    deal = factories.opportunity(by=owner, account=account, name="Tireuses 2027",
                                 contact_id=contact.pk)
    call = factories.activity(by=owner, account=account, contact=contact, done=True,
                              subject="Appel de suivi")
    case = factories.case(by=owner, account=account, subject="Fuite tireuse")
    document = factories.sales_document(by=owner, account=account, number="DEV-0042")
    file = factories.attachment(by=owner, on=account, name="plan.txt", content=b"le plan\n")
    return {"account": account, "contact": contact, "deal": deal, "call": call, "case": case,
            "document": document, "file": file}


def test_deleting_an_account_keeps_it_and_its_children_in_the_bin(owner: Any,
                                                                   media_root: Any) -> None:
    rows = _account_with_children(owner)
    account = rows["account"]
    lead = factories.lead(by=owner, company_name="Tournesol")
    Lead.objects.filter(pk=lead.pk).update(converted_account_id=account.pk)  # a SET_NULL link
    stored = rows["file"].file.name
    ExternalRef.objects.create(system="erp", object_type="account", external_id="C-1",
                               object_id=account.pk)
    account_id = account.pk

    crm.account_delete(account=account, user=owner)

    assert not Account.objects.filter(pk=account_id).exists()
    assert not Contact.objects.filter(pk=rows["contact"].pk).exists()
    assert not ExternalRef.objects.filter(object_id=account_id, object_type="account").exists()
    entry = DeletedRecord.objects.get(object_type="account", object_id=account_id)
    assert entry.label == "Brasserie Tournesol"
    assert entry.deleted_by == owner
    assert entry.counts["crm.contact"] == 1
    assert entry.counts["activities.activity"] == 1
    assert entry.counts["sales.salesdocumentline"] == 1
    assert entry.record_owner == owner.pk
    assert entry.account_owner == owner.pk

    restored = recycle.restore(entry.pk, user=owner)

    assert restored.object_id == account_id
    account = Account.objects.get(pk=account_id)
    assert account.legal_name == "Brasserie Tournesol"
    assert Contact.objects.get(pk=rows["contact"].pk).account_id == account_id
    deal = Opportunity.objects.get(pk=rows["deal"].pk)
    assert deal.contact_id == rows["contact"].pk
    assert Activity.objects.filter(pk=rows["call"].pk).exists()
    assert Case.objects.filter(pk=rows["case"].pk).exists()
    assert SalesDocument.objects.get(pk=rows["document"].pk).number == "DEV-0042"
    assert SalesDocumentLine.objects.filter(document_id=rows["document"].pk).count() == 1
    assert Lead.objects.get(pk=lead.pk).converted_account_id == account_id  # relinked
    assert ExternalRef.objects.filter(object_id=account_id, external_id="C-1").exists()
    file = Attachment.objects.get(pk=rows["file"].pk)
    # the original is removed on commit, which this test never reaches: a free name next to it
    assert file.file.name.rsplit("/", 1)[0] == stored.rsplit("/", 1)[0]
    with file.file.open("rb") as handle:
        assert handle.read() == b"le plan\n"
    assert not DeletedRecord.objects.filter(pk=entry.pk).exists()
    assert AuditEntry.objects.filter(object_type="account", object_id=account_id,
                                     action="restore", user=owner).exists()
    assert AuditEntry.objects.filter(object_type="contact", object_id=rows["contact"].pk,
                                     action="restore").exists()


def test_the_search_index_forgets_a_deleted_record_and_finds_it_restored(owner: Any) -> None:
    account = factories.account(by=owner, legal_name="Quincaillerie Zephyrine",
                                billing_postcode="69002")
    contact = factories.contact(by=owner, account=account, first_name="Octave",
                                last_name="Brindille")
    def found(text: str) -> set[tuple[str, int]]:
        return {(h.object_type, h.object_id) for h in search(owner, text)}

    assert ("account", account.pk) in found("Zephyrine")
    assert ("contact", contact.pk) in found("Brindille")

    crm.account_delete(account=account, user=owner)
    assert found("Zephyrine") == set()
    assert found("Brindille") == set()

    recycle.restore(DeletedRecord.objects.get(object_id=account.pk).pk, user=owner)
    assert ("account", account.pk) in found("Zephyrine")
    assert ("contact", contact.pk) in found("Brindille")


def test_a_contact_whose_account_is_gone_cannot_come_back(owner: Any) -> None:
    account = factories.account(by=owner, legal_name="Menuiserie Aubier")
    contact = factories.contact(by=owner, account=account, last_name="Charme")
    crm.contact_delete(contact=contact, user=owner)
    crm.account_delete(account=account, user=owner)
    entry = DeletedRecord.objects.get(object_type="contact", object_id=contact.pk)

    with override("en"), pytest.raises(recycle.RestoreImpossible) as caught:
        recycle.restore(entry.pk, user=owner)

    assert "the record it belongs to (account) is in the recycle bin too" in caught.value.message
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert DeletedRecord.objects.filter(pk=entry.pk).exists()  # still restorable later

    recycle.restore(DeletedRecord.objects.get(object_type="account").pk, user=owner)
    recycle.restore(entry.pk, user=owner)
    assert Contact.objects.get(pk=contact.pk).account_id == account.pk


def test_a_unique_value_taken_since_makes_the_restore_impossible_and_changes_nothing(
        data_manager: Any) -> None:
    product = factories.product(by=data_manager, code="TIR-01", name="Tireuse")
    sales.product_delete(product=product, user=data_manager)
    factories.product(by=data_manager, code="TIR-01", name="Tireuse neuve")
    entry = DeletedRecord.objects.get(object_type="product")

    with override("en"), pytest.raises(recycle.RestoreImpossible) as caught:
        recycle.restore(entry.pk, user=data_manager)

    assert "“TIR-01 Tireuse” cannot be restored" in caught.value.message
    assert "Code already exists" in caught.value.message
    assert list(Product.objects.values_list("name", flat=True)) == ["Tireuse neuve"]
    assert DeletedRecord.objects.filter(pk=entry.pk).exists()


def test_a_link_to_a_record_gone_meanwhile_is_emptied_not_refused(owner: Any) -> None:
    account = factories.account(by=owner)
    contact = factories.contact(by=owner, account=account)
    deal = factories.opportunity(by=owner, account=account, contact_id=contact.pk)
    crm.opportunity_delete(opportunity=deal, user=owner)
    crm.contact_delete(contact=contact, user=owner)

    recycle.restore(DeletedRecord.objects.get(object_type="opportunity").pk, user=owner)

    back = Opportunity.objects.get(pk=deal.pk)
    assert back.contact_id is None  # as the database would have done (SET_NULL)


def test_entries_are_purged_after_30_days(owner: Any, media_root: Any) -> None:
    old = factories.account(by=owner)
    file = factories.attachment(by=owner, on=old, name="vieux.txt")
    recent = factories.account(by=owner)
    crm.account_delete(account=old, user=owner)
    crm.account_delete(account=recent, user=owner)
    kept = DeletedRecord.objects.get(object_id=old.pk).payload["files"][0]["kept"]
    assert kept
    assert (media_root / kept).exists()
    assert file.pk
    DeletedRecord.objects.filter(object_id=old.pk).update(
        deleted_at=timezone.now() - dt.timedelta(days=30, minutes=1))
    DeletedRecord.objects.filter(object_id=recent.pk).update(
        deleted_at=timezone.now() - dt.timedelta(days=29, hours=23))

    assert recycle.purge_expired() == 1
    assert list(DeletedRecord.objects.values_list("object_id", flat=True)) == [recent.pk]
    assert recycle.purge_due() is None  # nothing left to purge


@pytest.mark.django_db(transaction=True)
def test_purge_removes_the_kept_files_once_committed(owner: Any, media_root: Any) -> None:
    old = factories.account(by=owner)
    factories.attachment(by=owner, on=old, name="vieux.txt")
    crm.account_delete(account=old, user=owner)
    kept = DeletedRecord.objects.get().payload["files"][0]["kept"]
    assert (media_root / kept).exists()
    DeletedRecord.objects.update(deleted_at=timezone.now() - dt.timedelta(days=31))
    assert recycle.purge_due() == "recycle bin: 1 purged"
    assert not (media_root / kept).exists()


def test_the_api_delete_lands_in_the_bin(owner: Any, api: Any) -> None:
    account = factories.account(by=owner, legal_name="Cave Sarment")
    factories.contact(by=owner, account=account)
    response = api(owner).delete(f"accounts/{account.pk}")
    assert response.status in (200, 204), response.content
    entry = DeletedRecord.objects.get(object_type="account", object_id=account.pk)
    assert entry.source == "api"
    assert entry.counts["crm.contact"] == 1
    recycle.restore(entry.pk, user=owner)
    assert Account.objects.filter(pk=account.pk, legal_name="Cave Sarment").exists()


def test_a_record_in_use_is_neither_deleted_nor_binned(owner: Any, monkeypatch: Any) -> None:
    from django.db import models

    from comptoir.core.errors import Conflict

    account = factories.account(by=owner)

    def in_use(self: Any, objs: Any, *args: Any, **kwargs: Any) -> None:
        raise models.ProtectedError("in use", set())

    monkeypatch.setattr(recycle.Collector, "collect", in_use)
    with pytest.raises(Conflict):
        crm.account_delete(account=account, user=owner)
    assert not DeletedRecord.objects.exists()
    assert Account.objects.filter(pk=account.pk).exists()


# --- From the web: delete from a record page, the bin, restore --------------------------------

def test_delete_from_the_record_page_asks_then_bins(world: Any, client_for: Any) -> None:
    owner, account = world.personas.owner, world.mine.account
    client = client_for(owner)
    delete = reverse("web:record_delete", args=["account", account.pk])
    page = client.get(reverse("web:account_detail", args=[account.pk])).content.decode()
    assert f'href="{delete}"' in page
    confirm = client.get(delete).content.decode()
    assert "Deleted with it:" in confirm
    assert "contact" in confirm
    assert Account.objects.filter(pk=account.pk).exists()  # asking deletes nothing

    response = client.post(delete)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:account_list")
    assert not Account.objects.filter(pk=account.pk).exists()
    assert DeletedRecord.objects.filter(object_type="account", object_id=account.pk,
                                        deleted_by=owner).exists()


def test_only_those_allowed_may_delete(world: Any, client_for: Any) -> None:
    account = world.mine.account
    delete = reverse("web:record_delete", args=["account", account.pk])
    teammate = client_for(world.personas.teammate)  # sees and changes it, may not delete it
    page = teammate.get(reverse("web:account_detail", args=[account.pk])).content.decode()
    assert delete not in page
    assert teammate.post(delete).status_code == 403
    assert client_for(world.personas.outsider).post(delete).status_code == 404
    assert Account.objects.filter(pk=account.pk).exists()
    product = reverse("web:record_delete", args=["product", world.product.pk])
    assert client_for(world.personas.owner).post(product).status_code == 403


def test_who_sees_which_entries_of_the_bin(world: Any, client_for: Any) -> None:
    personas = world.personas
    mine, theirs = world.mine, world.theirs
    crm.contact_delete(contact=mine.contact, user=personas.owner)
    crm.lead_delete(lead=theirs.lead, user=personas.outsider)
    crm.opportunity_delete(opportunity=mine.opportunity, user=personas.manager)
    bin_url = reverse("web:recycle_bin")

    def labels(user: Any) -> set[str]:
        html = client_for(user).get(bin_url).content.decode()
        return {label for label in (str(mine.contact), str(theirs.lead),
                                    str(mine.opportunity)) if label in html}

    assert labels(personas.owner) == {str(mine.contact)}  # what they deleted, nothing else
    assert labels(personas.outsider) == {str(theirs.lead)}
    assert labels(personas.manager) == {str(mine.opportunity)}
    assert labels(personas.admin) == {str(mine.contact), str(theirs.lead),
                                      str(mine.opportunity)}
    assert labels(personas.data_manager) == labels(personas.admin)
    assert labels(personas.teammate) == set()
    assert "The recycle bin is empty" in client_for(personas.teammate).get(bin_url) \
        .content.decode()

    # what a user deleted but may no longer see (the record was given away meanwhile) is
    # neither listed nor restorable by them
    entry = DeletedRecord.objects.get(object_type="contact")
    DeletedRecord.objects.filter(pk=entry.pk).update(
        record_owner=personas.outsider.pk, account_owner=personas.outsider.pk,
        account_territory=None)
    assert labels(personas.owner) == set()
    client_for(personas.owner).post(reverse("web:recycle_restore", args=[entry.pk]))
    assert DeletedRecord.objects.filter(pk=entry.pk).exists()


def test_restore_from_the_bin_and_a_clear_refusal(world: Any, client_for: Any) -> None:
    owner = world.personas.owner
    contact, account = world.mine.contact, world.mine.account
    client = client_for(owner)
    crm.contact_delete(contact=contact, user=owner)
    entry = DeletedRecord.objects.get(object_type="contact")
    html = client.get(reverse("web:recycle_bin")).content.decode()
    assert str(contact) in html
    assert "Restore" in html

    response = client.post(reverse("web:recycle_restore", args=[entry.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("web:contact_detail", args=[contact.pk])
    assert Contact.objects.filter(pk=contact.pk).exists()

    crm.contact_delete(contact=Contact.objects.get(pk=contact.pk), user=owner)
    crm.account_delete(account=Account.objects.get(pk=account.pk), user=owner)
    entry = DeletedRecord.objects.get(object_type="contact")
    response = client.post(reverse("web:recycle_restore", args=[entry.pk]), follow=True)
    assert response.status_code == 200
    assert "(account) is in the recycle bin too. Restore that one first." in \
        response.content.decode()
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_the_bin_pages_by_25(owner: Any, client_for: Any) -> None:
    for n in range(27):
        crm.lead_delete(lead=factories.lead(by=owner, last_name=f"Perdu{n:02d}"), user=owner)
    client = client_for(owner)
    first = client.get(reverse("web:recycle_bin")).content.decode()
    assert first.count("Restore <") == 0  # every button names its record for screen readers
    assert len(re.findall(r"<strong>[^<]*Perdu", first)) == 25
    assert "Page 1 of 2" in first
    second = client.get(reverse("web:recycle_bin") + "?page=2").content.decode()
    assert len(re.findall(r"<strong>[^<]*Perdu", second)) == 2
