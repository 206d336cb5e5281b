"""Mass edit and delete of the rows selected in a list: one field, one value, each record
through its own service (access, checks, version, audit); refusals skipped and said."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import translation

from comptoir.core.config_services import custom_field_create
from comptoir.core.models import AuditEntry
from comptoir.crm.models import Account, Lead
from comptoir.testing import factories
from comptoir.testing.personas import OWNER_POSTCODE
from comptoir.web.views.lists import BULK_MAX

pytestmark = pytest.mark.django_db


def _messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _edit(client: Any, key: str, ids: list[int], field: str, value: Any, **extra: Any) -> Any:
    with translation.override("en"):
        return client.post(f"/bulk/{key}/edit/", {
            "ids": ids, "field": field, "mass-value": value, "apply": "1",
            "query": "status=new", **extra}, follow=True)


def test_mass_edit_goes_through_the_services_and_audits(owner: Any,
                                                        client_for: Any) -> None:
    leads = [factories.lead(by=owner, company_name=f"Prospect {n}") for n in range(3)]
    versions = {lead.pk: lead.version for lead in leads}
    response = _edit(client_for(owner), "lead", [lead.pk for lead in leads], "status",
                     "working")
    assert response.redirect_chain[-1][0] == "/leads/?status=new"  # back to the same list
    assert "3 records updated: Status changed." in _messages(response)
    for lead in leads:
        lead.refresh_from_db()
        assert lead.status == "working"
        assert lead.version == versions[lead.pk] + 1  # a real write, version counted
        entry = AuditEntry.objects.filter(object_type="lead", object_id=lead.pk,
                                          action="update").get()
        assert entry.source == "ui"
        assert entry.user_id == owner.pk
        assert entry.changes == {"status": ["new", "working"]}


def test_mass_edit_of_a_custom_field(owner: Any, admin: Any, client_for: Any) -> None:
    custom_field_create(user=admin, data={"object_type": "account", "name": "tier",
                                          "label": "Tier", "type": "choice",
                                          "choices": ["Gold", "Silver"]})
    custom_field_create(user=admin, data={"object_type": "account", "name": "vip",
                                          "label": "VIP", "type": "boolean"})
    a = factories.account(by=owner, legal_name="Alpha", custom={"vip": True})
    b = factories.account(by=owner, legal_name="Bravo")
    client = client_for(owner)
    response = _edit(client, "account", [a.pk, b.pk], "cf_tier", "Gold")
    assert "2 records updated: Tier changed." in _messages(response)
    response = _edit(client, "account", [a.pk, b.pk], "cf_vip", "0")  # a yes/no, set to no
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.custom == {"tier": "Gold", "vip": False}
    assert b.custom == {"tier": "Gold", "vip": False}
    assert AuditEntry.objects.filter(object_id=a.pk, object_type="account",
                                     action="update").count() == 2


def test_the_edit_page_offers_owner_and_custom_fields(owner: Any, admin: Any,
                                                      client_for: Any) -> None:
    custom_field_create(user=admin, data={"object_type": "account", "name": "vip",
                                          "label": "VIP", "type": "boolean"})
    account = factories.account(by=owner, legal_name="Alpha")
    client = client_for(owner)
    assert client.get("/bulk/account/edit/").status_code == 405
    with translation.override("en"):
        html = client.post("/bulk/account/edit/", {"ids": [account.pk]}).content.decode()
    options = dict(re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]*)</option>', html))
    assert options["owner"] == "Owner"
    assert options["cf_vip"] == "VIP"
    assert "status" in options
    assert "billing_city" in options
    assert "legal_name" not in options
    assert "siren" not in options
    assert "parent" not in options  # pickers are the record form's
    # a yes/no field is set with an explicit choice, not a box that cannot say "no"
    html = client.post("/bulk/account/edit/", {"ids": [account.pk], "field": "cf_vip"}
                       ).content.decode()
    assert re.search(r'<select name="mass-value"[^>]*>\s*<option value="1"', html)


def test_a_bad_value_is_a_field_error_and_nothing_is_written(owner: Any,
                                                             client_for: Any) -> None:
    leads = [factories.lead(by=owner, company_name=f"Prospect {n}") for n in range(2)]
    before = AuditEntry.objects.count()
    client = client_for(owner)
    for field, value, message in (
            ("email", "not an e-mail", None),
            ("score", "lots", "Enter a whole number."),
            ("status", "converted", None),  # the conversion's, not a bulk value
            ("country", "France", None)):
        response = _edit(client, "lead", [lead.pk for lead in leads], field, value)
        assert response.status_code == 422, field
        html = response.content.decode()
        assert 'aria-invalid="true"' in html, field
        assert 'class="field-error"' in html, field
        if message:
            assert message in html
        # the selection and the choice are kept for a second try
        assert all(f'name="ids" value="{lead.pk}"' in html for lead in leads)
    assert AuditEntry.objects.count() == before
    for lead in leads:
        lead.refresh_from_db()
        assert lead.email.endswith(".example.org")
        assert lead.version == 1


def test_records_one_may_not_change_are_skipped_and_counted(personas: Any,
                                                            client_for: Any) -> None:
    p = personas
    mine = factories.account(by=p.owner, legal_name="Mine", billing_postcode=OWNER_POSTCODE)
    # the teammate's account: the owner sees it through the team's territory and may edit
    # it, but only its owner's side may give it away
    theirs = factories.account(by=p.teammate, legal_name="Théo's",
                               billing_postcode=OWNER_POSTCODE)
    response = _edit(client_for(p.owner), "account", [mine.pk, theirs.pk], "owner",
                     str(p.owner.pk))
    assert response.status_code == 200
    messages = _messages(response)
    assert "1 record updated: Owner changed." in messages
    assert "1 record skipped: you may not change it." in messages
    theirs.refresh_from_db()
    assert theirs.owner_id == p.teammate.pk
    # marketing reads every account but changes none of them
    response = _edit(client_for(p.marketing), "account", [mine.pk, theirs.pk], "billing_city",
                     "Lyon")
    assert "2 records skipped: you may not change them." in _messages(response)
    assert not Account.objects.filter(billing_city="Lyon").exists()


def test_rows_outside_access_are_never_touched_nor_named(world: Any, client_for: Any) -> None:
    p = world.personas
    mine, hidden = world.mine.lead, world.theirs.lead
    response = _edit(client_for(p.owner), "lead", [mine.pk, hidden.pk], "status", "working")
    hidden.refresh_from_db()
    assert hidden.status == "new"
    messages = _messages(response)
    assert "1 record updated: Status changed." in messages
    assert "1 record skipped: it no longer exists or you cannot see it." in messages
    assert not any(hidden.company_name in m or str(hidden) in m for m in messages)
    # nor on the confirmation pages
    with translation.override("en"):
        html = client_for(p.owner).post("/bulk/lead/delete/", {
            "ids": [mine.pk, hidden.pk]}).content.decode()
    assert str(hidden) not in html
    assert hidden.company_name not in html


def test_one_record_refused_by_its_service_leaves_the_others_done(owner: Any,
                                                                  client_for: Any) -> None:
    by_mail = factories.lead(by=owner, company_name="Mail only", email="a@example.org")
    by_phone = factories.lead(by=owner, company_name="Phone too", email="b@example.org",
                              phone="+33134380162")
    response = _edit(client_for(owner), "lead", [by_mail.pk, by_phone.pk], "email", "")
    messages = _messages(response)
    assert "1 record updated: E-mail changed." in messages
    refused = [m for m in messages if m.startswith("Not changed:")]
    assert len(refused) == 1
    assert str(by_mail) in refused[0]
    by_mail.refresh_from_db()
    by_phone.refresh_from_db()
    assert by_mail.email == "a@example.org"  # all or nothing for each record
    assert by_phone.email == ""


def test_a_record_changed_meanwhile_is_not_overwritten_blindly(owner: Any, teammate: Any,
                                                              client_for: Any,
                                                              monkeypatch: Any) -> None:
    """Each write carries the version read for it: a concurrent change makes it fail (412)
    instead of silently passing over the other person's write."""
    from comptoir.crm import services

    lead = factories.lead(by=owner, company_name="Raced")
    real = services.lead_update

    def racing(**kwargs: Any) -> Any:
        Lead.objects.filter(pk=lead.pk).update(version=lead.version + 5)
        return real(**kwargs)

    monkeypatch.setattr(services, "lead_update", racing)
    response = _edit(client_for(owner), "lead", [lead.pk], "status", "working")
    assert any(m.startswith("Not changed:") for m in _messages(response))
    lead.refresh_from_db()
    assert lead.status == "new"


def test_too_many_rows_are_refused_with_a_clear_message(owner: Any, client_for: Any) -> None:
    lead = factories.lead(by=owner)
    ids = [lead.pk, *range(10**6, 10**6 + BULK_MAX)]
    response = _edit(client_for(owner), "lead", ids, "status", "working")
    assert any(f"at most {BULK_MAX} can be changed at once" in m
               for m in _messages(response))
    lead.refresh_from_db()
    assert lead.status == "new"
    with translation.override("en"):
        response = client_for(owner).post("/bulk/lead/delete/", {"ids": ids, "confirm": "1"},
                                          follow=True)
    assert any("at most" in m for m in _messages(response))
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_a_field_not_offered_is_refused_not_replaced(owner: Any, client_for: Any) -> None:
    lead = factories.lead(by=owner, company_name="Kept")
    response = _edit(client_for(owner), "lead", [lead.pk], "last_name", "Smith")
    assert "This field cannot be changed in bulk." in _messages(response)
    lead.refresh_from_db()
    assert lead.last_name != "Smith"
    assert lead.version == 1


def test_mass_delete_confirms_then_deletes_through_the_services(personas: Any,
                                                                client_for: Any) -> None:
    p = personas
    mine = factories.account(by=p.owner, legal_name="Mine to delete",
                             billing_postcode=OWNER_POSTCODE)
    theirs = factories.account(by=p.teammate, legal_name="Théo keeps it",
                               billing_postcode=OWNER_POSTCODE)
    client = client_for(p.owner)
    with translation.override("en"):
        page = client.post("/bulk/account/delete/", {"ids": [mine.pk, theirs.pk],
                                                     "query": "q=x"})
    html = page.content.decode()
    assert "Mine to delete" in html
    assert "Théo keeps it" not in html
    assert "1 selected record will be skipped: you may not delete it." in html
    assert Account.objects.filter(pk=mine.pk).exists()  # nothing happens before confirming
    with translation.override("en"):
        response = client.post("/bulk/account/delete/", {
            "ids": [mine.pk, theirs.pk], "confirm": "1", "query": "q=x"}, follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/?q=x"
    messages = _messages(response)
    assert "1 record deleted." in messages
    assert "1 record skipped: you may not change it." in messages
    listed = client.get("/accounts/").content.decode()
    assert "Mine to delete" not in listed
    assert "Théo keeps it" in listed
    assert AuditEntry.objects.filter(object_type="account", object_id=mine.pk,
                                     action="delete", source="ui").exists()


def test_the_list_shows_the_selection_bar(owner: Any, client_for: Any) -> None:
    factories.lead(by=owner)
    with translation.override("en"):
        html = client_for(owner).get("/leads/").content.decode()
    assert 'formaction="/bulk/lead/edit/"' in html
    assert 'formaction="/bulk/lead/delete/"' in html
    assert 'aria-label="Select all rows on this page"' in html
    assert "data-selected-count" in html
    # the catalogue is the data managers': no bulk change offered to a rep
    html = client_for(owner).get("/catalogue/").content.decode()
    assert "/bulk/product/edit/" not in html


@pytest.mark.parametrize("key", ["account", "contact", "lead", "opportunity", "activity",
                                 "case", "product", "document"])
def test_every_list_has_an_edit_page(key: str, world: Any, client_for: Any) -> None:
    record = world.product if key == "product" else world.mine.get(
        "sales_document" if key == "document" else key)
    client = client_for(world.personas.admin)
    response = client.post(f"/bulk/{key}/edit/", {"ids": [record.pk]})
    assert response.status_code == 200
    assert 'name="field"' in response.content.decode()
    response = client.post(f"/bulk/{key}/delete/", {"ids": [record.pk]})
    assert response.status_code == 200


def test_deal_stage_and_activity_done_in_bulk(world: Any, client_for: Any) -> None:
    from comptoir.crm.models import Stage

    p = world.personas
    deal, activity = world.mine.opportunity, world.mine.activity
    target = Stage.objects.filter(pipeline_id=deal.pipeline_id, is_won=False,
                                  is_lost=False).exclude(pk=deal.stage_id).first()
    assert target is not None
    client = client_for(p.owner)
    response = _edit(client, "opportunity", [deal.pk], "stage", str(target.pk))
    assert "1 record updated: Stage changed." in _messages(response)
    deal.refresh_from_db()
    assert deal.stage_id == target.pk
    response = _edit(client, "activity", [activity.pk], "done", "1")
    assert "1 record updated: Done changed." in _messages(response)
    activity.refresh_from_db()
    assert activity.done is True
