"""The duplicates API: check on create, review queue, merge preview / merge / undo."""

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
def accounts(personas: Any) -> tuple[Account, Account]:
    a = f.account(by=personas.owner, siren=f.siren(9001), **DATA)
    b = f.account(by=personas.owner, **{**DATA, "legal_name": "Dupont Conseil"})
    f.contact(by=personas.owner, account=b, last_name="Durand")
    return a, b


def test_check_answers_candidates_with_score_and_reasons(api, accounts, personas):
    a, b = accounts
    body = api(personas.owner).post("/duplicates/check", {
        "object": "account", "data": {**DATA, "legal_name": "Dupont Conseil S.A.R.L."},
    }).expect(200)
    assert body["review_threshold"] == 60
    assert body["sure_threshold"] == 85
    assert [c["id"] for c in body["candidates"]] == [a.pk, b.pk]
    best = body["candidates"][0]
    assert best["sure"]
    assert best["score"] >= 85
    assert {"email", "phone"} <= set(best["keys"])
    assert {r["field"] for r in best["reasons"]} >= {"email", "phone", "name"}
    assert best["record"]["legal_name"] == "Dupont Conseil SARL"


def test_check_never_shows_records_the_user_may_not_see(api, accounts, personas):
    body = api(personas.outsider).post("/duplicates/check",
                                       {"object": "account", "data": DATA}).expect(200)
    assert body["candidates"] == []


def test_check_refuses_other_objects(api, personas):
    error = api(personas.owner).post("/duplicates/check", {
        "object": "opportunity", "data": {}}).error(422)
    assert "object" in error["fields"]


def test_review_queue_lists_dismisses_and_reopens(api, accounts, personas):
    a, b = accounts
    dedupe.dedupe_run("account")
    client = api(personas.owner)
    page = client.get("/duplicates/pairs", params={"object": "account"}).expect(200)
    assert [(p["left_id"], p["right_id"]) for p in page["items"]] == [(a.pk, b.pk)]
    assert page["next_cursor"] is None
    pk = page["items"][0]["id"]
    assert api(personas.outsider).get("/duplicates/pairs").expect(200)["items"] == []
    api(personas.outsider).get(f"/duplicates/pairs/{pk}").error(404)
    api(personas.outsider).post(f"/duplicates/pairs/{pk}/dismiss").error(404)
    done = client.post(f"/duplicates/pairs/{pk}/dismiss").expect(200)
    assert done["status"] == "dismissed"
    assert done["decided_by_id"] == personas.owner.pk
    assert client.get("/duplicates/pairs").expect(200)["items"] == []
    dismissed = client.get("/duplicates/pairs", params={"status": "dismissed"}).expect(200)
    assert [p["id"] for p in dismissed["items"]] == [pk]
    assert client.post(f"/duplicates/pairs/{pk}/reopen").expect(200)["status"] == "open"


def test_review_queue_pages_with_a_cursor(api, personas):
    for n in range(5):
        f.account(by=personas.owner, legal_name=f"Maison {n}", email=f"contact@maison{n}.fr")
        f.account(by=personas.owner, legal_name=f"Maison {n} SAS", email=f"contact@maison{n}.fr")
    dedupe.dedupe_run("account")
    client = api(personas.data_manager)
    first = client.get("/duplicates/pairs", params={"limit": 3}).expect(200)
    second = client.get("/duplicates/pairs", params={"limit": 3,
                                                     "cursor": first["next_cursor"]}).expect(200)
    ids = [p["id"] for p in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 5
    assert second["next_cursor"] is None


def test_preview_merge_and_undo(api, accounts, personas):
    a, b = accounts
    client = api(personas.owner)
    payload = {"object": "account", "survivor_id": a.pk, "loser_ids": [b.pk]}
    preview = client.post("/duplicates/merge/preview", payload).expect(200)
    fields = {p["field"]: p for p in preview["fields"]}
    assert fields["siren"]["source_id"] == a.pk
    assert preview["related"]["crm.contact.account_id"] == 1
    assert Account.objects.filter(pk=b.pk).exists()
    done = client.post("/duplicates/merge", payload).expect(201)
    assert done["survivor_id"] == a.pk
    assert done["loser_ids"] == [b.pk]
    assert done["moved"]["crm.contact.account_id"] == 1
    assert not Account.objects.filter(pk=b.pk).exists()
    assert Contact.objects.get().account_id == a.pk
    listed = client.get("/duplicates/merges", params={"survivor_id": a.pk}).expect(200)
    assert [m["id"] for m in listed] == [done["id"]]
    assert api(personas.outsider).get("/duplicates/merges").expect(200) == []
    api(personas.outsider).post(f"/duplicates/merges/{done['id']}/undo").error(404)
    undone = client.post(f"/duplicates/merges/{done['id']}/undo").expect(200)
    assert undone["restored"] == [b.pk]
    assert undone["merge"]["undone_at"]
    assert Contact.objects.get().account_id == b.pk
    client.post(f"/duplicates/merges/{done['id']}/undo").error(409)


def test_merge_errors_have_the_uniform_shape(api, accounts, personas, world):
    a, b = accounts
    client = api(personas.owner)
    client.post("/duplicates/merge", {"object": "account", "survivor_id": a.pk,
                                      "loser_ids": [world.theirs.account.pk]}).error(404)
    client.post("/duplicates/merge", {"object": "account", "survivor_id": a.pk,
                                      "loser_ids": []}).error(422)
    error = client.post("/duplicates/merge/preview", {
        "object": "account", "survivor_id": a.pk, "loser_ids": [b.pk],
        "choices": {"siren": 999999}}).error(422)
    assert "siren" in error["fields"]


def test_pairs_are_merged_in_bulk(api, accounts, personas):
    a, b = accounts
    c = f.account(by=personas.owner, **{**DATA, "legal_name": "DUPONT CONSEIL"})
    dedupe.dedupe_run("account")
    ids = list(DuplicatePair.objects.values_list("pk", flat=True))
    assert len(ids) == 3
    done = api(personas.owner).post("/duplicates/pairs/merge", {"pair_ids": ids}).expect(201)
    assert len(done) == 1  # the three records form one group
    assert done[0]["survivor_id"] == a.pk  # the customer-to-be with the SIREN is oldest
    assert sorted(done[0]["loser_ids"]) == sorted([b.pk, c.pk])
    assert Account.objects.count() == 1
    assert MergeRecord.objects.count() == 1


def test_the_batch_is_queued_by_data_managers_only(api, personas):
    api(personas.owner).post("/duplicates/runs", {"object": "account"}).error(403)
    queued = api(personas.data_manager).post("/duplicates/runs",
                                            {"object": "contact"}).expect(202)
    assert queued["object"] == "contact"
    assert queued["task_id"]


# --- Create through the API: candidates in the answer, or a refusal on demand --------------

def test_create_answers_with_the_duplicates_it_may_be(api, accounts, personas):
    a, _b = accounts
    body = api(personas.owner).post("/accounts", {
        **DATA, "legal_name": "Dupont Conseil S.A.R.L."}).expect(201)
    assert body["id"] not in {a.pk}
    assert body["duplicates"][0]["id"] == a.pk
    assert body["duplicates"][0]["sure"]
    assert {r["field"] for r in body["duplicates"][0]["reasons"]} >= {"email", "phone"}
    assert Account.objects.count() == 3


def test_create_lists_no_duplicates_the_user_may_not_see(api, accounts, personas):
    body = api(personas.outsider).post("/accounts", DATA).expect(201)
    assert body["duplicates"] == []


def test_create_refuses_a_sure_duplicate_when_asked_and_creates_nothing(api, accounts,
                                                                        personas):
    a, _b = accounts
    client = api(personas.owner)
    error = client.post("/accounts?on_duplicate=refuse", DATA).error(409)
    assert error["code"] == "duplicate"
    assert a.pk in [c["id"] for c in error["details"]["candidates"]]
    assert Account.objects.count() == 2
    # a different company goes through, with nothing listed
    body = client.post("/accounts?on_duplicate=refuse", {
        "legal_name": "Martin Transports SAS", "billing_postcode": "13001",
        "billing_city": "Marseille"}).expect(201)
    assert body["duplicates"] == []


def test_create_contact_and_lead_check_duplicates_too(api, accounts, personas):
    _a, b = accounts
    client = api(personas.owner)
    f.contact(by=personas.owner, account=b, first_name="Paul", last_name="Martin",
              email="paul.martin@dupont-conseil.fr")
    body = client.post("/contacts", {"account_id": b.pk, "first_name": "Paul",
                                     "last_name": "Martin",
                                     "email": "paul.martin@dupont-conseil.fr"}).expect(201)
    assert body["duplicates"]
    assert body["duplicates"][0]["sure"]
    lead = client.post("/leads", {"last_name": "Durand", "email": "j.durand@exemple.fr",
                                  "company_name": "Durand SA"}).expect(201)
    assert lead["duplicates"] == []
    again = client.post("/leads?on_duplicate=refuse", {
        "last_name": "Durand", "email": "j.durand@exemple.fr",
        "company_name": "Durand SA"}).error(409)
    assert again["details"]["candidates"][0]["id"] == lead["id"]
