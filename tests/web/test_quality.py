"""The data-quality area of the web app: review queue, compare and merge, history and undo,
and the quality card of record pages."""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.crm.models import Account, Contact
from comptoir.quality import dedupe
from comptoir.quality.models import DuplicatePair, MergeRecord
from comptoir.testing import factories as f

DATA = {"legal_name": "Dupont Conseil SARL", "email": "contact@dupont-conseil.fr",
        "phone": "04 72 00 00 01", "billing_street": "12 rue de la République",
        "billing_postcode": "69002", "billing_city": "Lyon"}


@pytest.fixture
def pair(personas: Any) -> DuplicatePair:
    a = f.account(by=personas.owner, siren=f.siren(9001), **DATA)
    b = f.account(by=personas.owner, **{**DATA, "legal_name": "Dupont Conseil",
                                        "website": "https://dupont-conseil.fr"})
    f.contact(by=personas.owner, account=b, last_name="Durand")
    dedupe.dedupe_run("account")
    found = DuplicatePair.objects.get(left_id=a.pk, right_id=b.pk)
    return found


PAGES = ["/quality/", "/quality/merges/", "/quality/audit/", "/quality/sirene/",
         "/quality/promotions/"]


@pytest.mark.parametrize("path", PAGES)
def test_only_people_who_see_everything_get_the_area(client_for, personas, path):
    assert client_for(personas.owner).get(path).status_code == 404
    assert client_for(personas.manager).get(path).status_code == 404
    assert client_for(personas.data_manager).get(path).status_code == 200
    assert client_for(personas.admin).get(path).status_code == 200


def test_nav_shows_data_quality_to_data_managers_only(client_for, personas):
    assert b'href="/quality/"' in client_for(personas.data_manager).get("/").content
    assert b'href="/quality/"' not in client_for(personas.owner).get("/").content


def test_queue_lists_the_pair_with_its_reasons(client_for, personas, pair):
    page = client_for(personas.data_manager).get("/quality/?object=account")
    html = page.content.decode()
    assert f'id="pair-{pair.pk}"' in html
    assert "Dupont Conseil SARL" in html
    assert "Same e-mail" in html
    assert f"/quality/pairs/{pair.pk}/" in html


def test_queue_refuses_actions_to_reps(client_for, personas, pair):
    rep = client_for(personas.owner)
    assert rep.get(f"/quality/pairs/{pair.pk}/").status_code == 404
    assert rep.post(f"/quality/pairs/{pair.pk}/dismiss/").status_code == 404
    assert rep.post("/quality/pairs/merge/", {"pair": [pair.pk]}).status_code == 404
    pair.refresh_from_db()
    assert pair.status == "open"
    assert Account.objects.count() == 2


def test_dismiss_then_reopen(client_for, personas, pair):
    client = client_for(personas.data_manager)
    response = client.post(f"/quality/pairs/{pair.pk}/dismiss/",
                           {"next": "/quality/?object=account"})
    assert response.status_code == 302
    assert response["Location"] == "/quality/?object=account"
    pair.refresh_from_db()
    assert pair.status == "dismissed"
    assert f'id="pair-{pair.pk}"' not in client.get("/quality/").content.decode()
    assert f'id="pair-{pair.pk}"' in client.get("/quality/?status=dismissed").content.decode()
    client.post(f"/quality/pairs/{pair.pk}/reopen/")
    pair.refresh_from_db()
    assert pair.status == "open"


def test_compare_previews_then_merges_with_the_chosen_value_and_undo(client_for, personas,
                                                                     pair):
    client = client_for(personas.data_manager)
    keep, other = pair.left_id, pair.right_id
    preview = client.get(f"/quality/pairs/{pair.pk}/",
                         {"survivor": keep, "pick_legal_name": other})
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "Merge preview" in html
    assert f'name="pick_legal_name" value="{other}" checked' in html
    response = client.post(f"/quality/pairs/{pair.pk}/",
                           {"survivor": keep, "pick_legal_name": other})
    assert response.status_code == 302
    assert not Account.objects.filter(pk=other).exists()
    survivor = Account.objects.get(pk=keep)
    assert survivor.legal_name == "Dupont Conseil"
    assert survivor.website == "https://dupont-conseil.fr"
    assert Contact.objects.get(last_name="Durand").account_id == keep
    pair.refresh_from_db()
    assert pair.status == "merged"
    record = MergeRecord.objects.get()
    history = client.get("/quality/merges/?object=account").content.decode()
    assert f'id="merge-{record.pk}"' in history
    assert "Dupont Conseil" in history
    # the account page offers the undo too
    assert f"/quality/merges/{record.pk}/undo/" in client.get(
        f"/accounts/{keep}/").content.decode()
    client.post(f"/quality/merges/{record.pk}/undo/")
    assert Account.objects.filter(pk=other).exists()
    assert Account.objects.get(pk=keep).legal_name == "Dupont Conseil SARL"
    assert Contact.objects.get(last_name="Durand").account_id == other
    record.refresh_from_db()
    assert record.undone_at is not None
    # undoing twice says why instead of failing
    again = client.post(f"/quality/merges/{record.pk}/undo/", follow=True)
    assert "already undone" in again.content.decode()


def test_merge_selected_pairs_at_once(client_for, personas, pair):
    c = f.account(by=personas.owner, legal_name="Martin Transports SAS", siren=f.siren(9002),
                  email="info@martin-transports.fr")
    d = f.account(by=personas.owner, legal_name="Martin Transports",
                  email="info@martin-transports.fr")
    dedupe.dedupe_run("account")
    second = DuplicatePair.objects.get(left_id=c.pk, right_id=d.pk)
    client = client_for(personas.data_manager)
    response = client.post("/quality/pairs/merge/", {"pair": [pair.pk, second.pk]},
                           follow=True)
    assert "2 records merged into 2" in response.content.decode()
    assert Account.objects.count() == 2
    assert MergeRecord.objects.count() == 2


def test_merge_without_selection_says_so(client_for, personas, pair):
    response = client_for(personas.data_manager).post("/quality/pairs/merge/", follow=True)
    assert "Select the pairs to merge first" in response.content.decode()


def test_record_page_shows_profile_gaps(client_for, personas):
    account = f.account(by=personas.owner, legal_name="Sans Contact SARL")
    html = client_for(personas.owner).get(f"/accounts/{account.pk}/").content.decode()
    assert 'id="quality"' in html
    assert "Add a contact person to this account." in html
    assert "The SIRET is missing." in html
    f.contact(by=personas.owner, account=account, last_name="Durand",
              email="durand@example.fr")
    html = client_for(personas.owner).get(f"/accounts/{account.pk}/").content.decode()
    assert "✓ CRM record" in html
    assert "Add a contact person to this account." not in html


def test_record_page_tells_data_managers_about_open_pairs(client_for, personas, pair):
    url = f"/accounts/{pair.left_id}/"
    assert f"/quality/pairs/{pair.pk}/" in client_for(personas.data_manager).get(
        url).content.decode()
    assert f"/quality/pairs/{pair.pk}/" not in client_for(personas.owner).get(
        url).content.decode()


def test_unknown_pair_and_merge_are_404(client_for, personas):
    client = client_for(personas.data_manager)
    assert client.get("/quality/pairs/999999/").status_code == 404
    assert client.post("/quality/merges/999999/undo/").status_code == 404


def test_erp_profile_says_duplicate_from_the_queue_for_data_managers_only(client_for, personas,
                                                                          pair):
    url = f"/accounts/{pair.left_id}/"
    message = "This record very probably exists already"
    assert message in client_for(personas.data_manager).get(url).content.decode()
    assert message not in client_for(personas.owner).get(url).content.decode()


def test_a_rep_asks_from_the_account_page_to_make_a_prospect_an_erp_customer(client_for,
                                                                            personas):
    from comptoir.quality.models import PromotionRequest

    prospect = f.account(by=personas.owner, legal_name="Prospect SARL")
    customer = f.account(by=personas.owner, legal_name="Client SA", status="customer")
    rep = client_for(personas.owner)
    assert "Ask to make it an ERP customer" in rep.get(f"/accounts/{prospect.pk}/").content.decode()
    assert "Ask to make it an ERP customer" not in rep.get(
        f"/accounts/{customer.pk}/").content.decode()
    response = rep.post(f"/accounts/{prospect.pk}/promotion-request/")
    assert response.status_code == 302
    request = PromotionRequest.objects.get(account=prospect)
    assert request.status == "pending"
    html = rep.get(f"/accounts/{prospect.pk}/").content.decode()
    assert "ERP customer: requested" in html
    assert "Ask to make it an ERP customer" not in html
    # the data manager gets a link to the request
    dm = client_for(personas.data_manager).get(f"/accounts/{prospect.pk}/").content.decode()
    assert f"/quality/promotions/{request.pk}/" in dm


GARBAGE_GETS = [
    "/quality/?object=zzz&status=%00&page=abc",
    "/quality/?object=contact&status=merged&page=-3",
    "/quality/merges/?object=<script>&page=999999",
    "/quality/promotions/?status=nope&page=x",
    "/quality/sirene/?q=%00%00&postcode=ab%27c",
    "/quality/sirene/?q=" + "a" * 5000 + "&postcode=7500000000",
    "/quality/audit/report.json",
    "/quality/audit/report.exe",
]


@pytest.mark.parametrize("path", GARBAGE_GETS)
def test_garbage_queries_never_fail(client_for, personas, path):
    status = client_for(personas.data_manager).get(path).status_code
    assert status in (200, 302, 404), (path, status)


def test_garbage_posts_never_fail(client_for, personas, pair):
    client = client_for(personas.data_manager)
    account = f.account(by=personas.owner, legal_name="Cible SARL")
    posts = [
        ("/quality/pairs/merge/", {"pair": ["abc", "-1", "99999999"]}),
        (f"/quality/pairs/{pair.pk}/", {"survivor": "x", "pick_legal_name": "nope",
                                        "pick_zz": "1"}),
        ("/quality/run/", {"object": "nothing"}),
        ("/quality/promotions/999999/approve/", {}),
        ("/quality/promotions/999999/merge/", {"customer_id": "abc"}),
        (f"/accounts/{account.pk}/enrich/", {"field": ["legal_name", "not_a_field"]}),
        (f"/accounts/{account.pk}/promotion-request/", {"x": "y"}),
        ("/quality/audit/", {"object": "spaceship", "mapping": "=\n==\nA=b=c"}),
        ("/quality/audit/", {"object": "account", "file": "not a file"}),
    ]
    for path, data in posts:
        status = client.post(path, data).status_code
        assert status in (200, 302, 404, 409, 422), (path, status)
    assert Account.objects.filter(pk=pair.right_id).exists()


def test_a_merge_needs_the_record_to_keep(client_for, personas, pair):
    response = client_for(personas.data_manager).post(f"/quality/pairs/{pair.pk}/", {})
    assert response.status_code == 422
    assert "Choose the record to keep." in response.content.decode()
    assert Account.objects.count() == 2
