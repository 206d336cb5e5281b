"""Access gaps found by probes ("Never lose data", item 5), persona by persona, API and web.

The same world and tables as ``test_access_matrix`` (the owner's records in territory Rhône,
the outsider's in Provence; columns in ``PERSONAS`` order), for four holes:

a. **Ownership transfer.** Changing a record's owner needs the right to delete it: its owner,
   the owner's managers, data managers and administrators (an unowned record attached to an
   account: the account owner's side). A teammate who may edit a territory's account may not
   make it theirs, and so never gains its deletion. API, web form and bulk assign.
b. **Links to hidden records.** A parent account (and every record set by id) that the user
   cannot see is refused exactly as a missing one: the answer never tells whether an id exists.
c. **Territory.** Only data managers and administrators set ``territory_id``.
d. **Promotion requests.** Follow the policy: visible with their account through the scope
   (not through the marketing and service read extensions), and so their quotes' numbers.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from comptoir.access.policy import can
from comptoir.core.errors import Forbidden
from comptoir.crm.models import Account
from comptoir.crm.services import account_delete
from comptoir.quality.models import PromotionRequest
from comptoir.quality.promotion import promotions_process
from comptoir.testing import factories
from comptoir.testing.personas import PERSONAS

Y, N = True, False


@pytest.fixture
def world(shared_world: Any) -> Any:
    """Built once for this module; each test's changes are rolled back."""
    return shared_world


@pytest.fixture
def personas(shared_world: Any) -> Any:
    return shared_world.personas


PATHS = {
    "account": "accounts", "private_account": "accounts", "contact": "contacts",
    "lead": "leads", "opportunity": "opportunities", "activity": "activities", "case": "cases",
    "sales_document": "sales-documents", "attachment": "attachments",
}

# The persona PATCHes ``owner_id`` to themselves on the owner's record ("take it").
#                     owner teammate manager outsider admin data_mgr marketing service
TAKE: dict[str, tuple[int, ...]] = {
    "account":         (200,  403,     200,    404,     200,  200,     403,      403),
    "private_account": (200,  404,     200,    404,     200,  200,     403,      403),
    "contact":         (200,  403,     200,    404,     200,  200,     403,      403),
    "lead":            (200,  404,     200,    404,     200,  200,     403,      404),
    "opportunity":     (200,  403,     200,    404,     200,  200,     404,      404),
    "activity":        (200,  403,     200,    404,     200,  200,     404,      404),
    "case":            (200,  403,     200,    404,     200,  200,     404,      403),
    "sales_document":  (200,  403,     200,    404,     200,  200,     404,      404),
}

# Delete, unchanged by any attempt to take the record first (``test_access_matrix.DELETE``).
#                     owner teammate manager outsider admin data_mgr marketing service
DELETE: dict[str, tuple[int, ...]] = {
    "account":         (204,  403,     204,    404,     204,  204,     403,      403),
    "private_account": (204,  404,     204,    404,     204,  204,     403,      403),
    "contact":         (204,  403,     204,    404,     204,  204,     403,      403),
    "lead":            (204,  404,     204,    404,     204,  204,     403,      404),
    "opportunity":     (204,  403,     204,    404,     204,  204,     404,      404),
    "activity":        (204,  403,     204,    404,     204,  204,     404,      404),
    "case":            (204,  403,     204,    404,     204,  204,     404,      403),
    "sales_document":  (204,  403,     204,    404,     204,  204,     404,      404),
}

# PATCH ``territory_id`` of the owner's account to Provence.
#                     owner teammate manager outsider admin data_mgr marketing service
TERRITORY: dict[str, tuple[int, ...]] = {
    "account":         (403,  403,     403,    404,     200,  200,     403,      403),
}

# PATCH ``parent_id`` of the owner's account to the outsider's account (hidden from the owner's
# side): refused as a missing id would be (422), unless the persona sees it (admin, data mgr).
#                     owner teammate manager outsider admin data_mgr marketing service
PARENT: dict[str, tuple[int, ...]] = {
    "account":         (422,  422,     422,    404,     200,  200,     403,      403),
}

# Promotion requests of the owner's prospect (raised by an accepted quote).
#                     owner teammate manager outsider admin data_mgr marketing service
PROMOTION_VIEW: dict[str, tuple[bool, ...]] = {
    "account":         (Y,    Y,       Y,      N,       Y,    Y,       N,        N),
}
# Asking by hand for the owner's private account (a prospect without request).
#                     owner teammate manager outsider admin data_mgr marketing service
PROMOTION_ASK: dict[str, tuple[int, ...]] = {
    "private_account": (201,  404,     201,    404,     201,  201,     403,      403),
}


def expected(table: dict[str, tuple[Any, ...]], kind: str, persona: str) -> Any:
    return table[kind][PERSONAS.index(persona)]


def matrix(table: dict[str, tuple[Any, ...]]) -> list[Any]:
    return [pytest.param(kind, persona, expected(table, kind, persona),
                         id=f"{kind}-{persona}-{expected(table, kind, persona)}")
            for kind in table for persona in PERSONAS]


def test_tables_cover_every_persona() -> None:
    for table in (TAKE, DELETE, TERRITORY, PARENT, PROMOTION_VIEW, PROMOTION_ASK):
        assert all(len(row) == len(PERSONAS) for row in table.values())
    assert set(TAKE) == set(DELETE)


# --- a. Ownership: taking a record never grants its deletion ---------------------------------

@pytest.mark.parametrize(("kind", "persona", "status"), matrix(TAKE))
def test_take_ownership_then_delete(world: Any, api: Any, kind: str, persona: str,
                                    status: int) -> None:
    obj = world.mine.get(kind)
    user = world.personas[persona]
    client = api(user)
    body = client.patch(f"{PATHS[kind]}/{obj.pk}", {"owner_id": user.pk}).expect(status)
    obj.refresh_from_db()
    if status == 200:
        assert obj.owner_id == user.pk
    else:
        assert obj.owner_id == world.personas.owner.pk
        if status == 403:
            assert body["error"]["code"] == "forbidden"
    client.delete(f"{PATHS[kind]}/{obj.pk}").expect(expected(DELETE, kind, persona))


def test_teammate_may_edit_but_not_take_the_territory_account(world: Any, api: Any) -> None:
    p = world.personas
    account = world.mine.account
    teammate = api(p.teammate)
    teammate.patch(f"accounts/{account.pk}", {"trade_name": "Edited"}).expect(200)
    err = teammate.patch(f"accounts/{account.pk}",
                         {"owner_id": p.teammate.pk, "trade_name": "Mine now"}).error(403)
    assert "owner" in err["fields"]
    account.refresh_from_db()
    assert (account.owner_id, account.trade_name) == (p.owner.pk, "Edited")  # all or nothing
    teammate.delete(f"accounts/{account.pk}").error(403)
    assert Account.objects.filter(pk=account.pk).exists()


def test_managers_and_data_managers_transfer(world: Any, api: Any) -> None:
    p = world.personas
    account = world.mine.account
    api(p.manager).patch(f"accounts/{account.pk}", {"owner_id": p.lead_rep.pk}).expect(200)
    api(p.data_manager).patch(f"accounts/{account.pk}", {"owner_id": p.teammate.pk}).expect(200)
    account.refresh_from_db()
    assert account.owner_id == p.teammate.pk
    # now theirs: the teammate may delete it, the former owner may no longer transfer it
    api(p.owner).patch(f"accounts/{account.pk}", {"owner_id": p.owner.pk}).error(403)
    api(p.teammate).delete(f"accounts/{account.pk}").expect(204)


def test_an_unowned_account_is_given_an_owner_by_data_managers(world: Any, api: Any) -> None:
    p = world.personas
    account = factories.account(by=p.data_manager, legal_name="Nobody's Ltd",
                                billing_postcode="69001")
    assert (account.owner_id, account.territory_id) == (None, p.rhone.pk)
    for persona in ("owner", "teammate"):
        api(p[persona]).patch(f"accounts/{account.pk}", {"owner_id": p[persona].pk}).error(403)
    api(p.data_manager).patch(f"accounts/{account.pk}", {"owner_id": p.owner.pk}).expect(200)


def test_an_unowned_contact_is_claimed_by_the_accounts_side(world: Any, api: Any) -> None:
    p = world.personas
    contact = factories.contact(by=p.data_manager, account=world.mine.account,
                                last_name="Imported")
    contact.owner = None
    contact.save(update_fields=["owner"])
    api(p.teammate).patch(f"contacts/{contact.pk}", {"owner_id": p.teammate.pk}).error(403)
    api(p.owner).patch(f"contacts/{contact.pk}", {"owner_id": p.owner.pk}).expect(200)


def test_delete_follows_the_owner_in_the_database_not_the_instance(world: Any) -> None:
    """A stale instance (or one changed in memory) never decides: the row does."""
    p = world.personas
    stale = Account.objects.get(pk=world.mine.account.pk)
    stale.owner_id = p.teammate.pk  # as if the teammate had made it theirs in memory
    with pytest.raises(Forbidden):
        account_delete(account=stale, user=p.teammate)
    assert Account.objects.filter(pk=stale.pk).exists()
    # and the other way round: the row changed owner after the instance was read
    Account.objects.filter(pk=stale.pk).update(owner_id=p.teammate.pk)
    old = Account(pk=stale.pk, owner_id=p.owner.pk, legal_name=stale.legal_name)
    assert can(p.teammate, "delete", old)
    account_delete(account=old, user=p.teammate)
    assert not Account.objects.filter(pk=stale.pk).exists()


def _form_data(response: Any) -> dict[str, Any]:
    form = response.context["form"]
    data = {name: form[name].value() for name in form.fields}
    return {k: ("" if v is None else v) for k, v in data.items() if not isinstance(v, bool)}


def test_web_form_owner_change_is_refused_to_the_teammate(world: Any, client_for: Any) -> None:
    p = world.personas
    account = world.mine.account
    client = client_for(p.teammate)
    url = reverse("web:account_edit", args=[account.pk])
    page = client.get(url)
    assert page.context["form"].fields["owner"].disabled  # shown, not offered
    data = _form_data(page)
    data.update(parent="", owner=p.teammate.pk, trade_name="Via the form")
    response = client.post(url, data)
    assert response.status_code in (200, 302)
    account.refresh_from_db()
    assert account.owner_id == p.owner.pk
    # the manager's form offers the owner and saves the transfer
    manager = client_for(p.manager)
    page = manager.get(url)
    assert not page.context["form"].fields["owner"].disabled
    data = _form_data(page)
    data.update(parent="", owner=p.lead_rep.pk)
    assert manager.post(url, data).status_code == 302
    account.refresh_from_db()
    assert account.owner_id == p.lead_rep.pk


@pytest.mark.parametrize("key", ["account", "contact", "opportunity", "case", "document"])
def test_bulk_assign_cannot_take_the_teammates_records(world: Any, client_for: Any,
                                                       key: str) -> None:
    p = world.personas
    obj = world.mine.get({"document": "sales_document"}.get(key, key))
    client = client_for(p.teammate)
    client.post(reverse("web:list_bulk_assign", args=[key]),
                {"ids": [obj.pk], "assign_to": p.teammate.pk})
    obj.refresh_from_db()
    assert obj.owner_id == p.owner.pk
    # the owner's manager may
    client_for(p.manager).post(reverse("web:list_bulk_assign", args=[key]),
                               {"ids": [obj.pk], "assign_to": p.lead_rep.pk})
    obj.refresh_from_db()
    assert obj.owner_id == p.lead_rep.pk


# --- b. Links to records the user cannot see ------------------------------------------------

MISSING = 987654321


@pytest.mark.parametrize(("kind", "persona", "status"), matrix(PARENT))
def test_parent_hidden_or_missing_answers_the_same(world: Any, api: Any, kind: str,
                                                   persona: str, status: int) -> None:
    account = world.mine.get(kind)
    client = api(world.personas[persona])
    hidden = client.patch(f"accounts/{account.pk}", {"parent_id": world.theirs.account.pk})
    hidden.expect(status)
    account.refresh_from_db()
    assert account.parent_id == (world.theirs.account.pk if status == 200 else None)
    missing = client.patch(f"accounts/{account.pk}", {"parent_id": MISSING})
    if status == 422:
        assert missing.error(422) == hidden.error(422)
        assert set(hidden.error(422)["fields"]) == {"parent"}
    elif status == 200:
        assert set(missing.error(422)["fields"]) == {"parent"}
    else:
        missing.expect(status)


def test_create_with_a_hidden_parent_answers_as_a_missing_one(world: Any, api: Any) -> None:
    owner = api(world.personas.owner)
    hidden = owner.post("accounts", {"legal_name": "Child SARL",
                                     "parent_id": world.theirs.account.pk}).error(422)
    missing = owner.post("accounts", {"legal_name": "Child SARL", "parent_id": MISSING}).error(422)
    assert hidden == missing
    assert set(hidden["fields"]) == {"parent"}
    assert not Account.objects.filter(legal_name="Child SARL").exists()
    child = owner.post("accounts", {"legal_name": "Child SARL",
                                    "parent_id": world.mine.private_account.pk}).expect(201)
    assert child["parent_id"] == world.mine.private_account.pk


def _fk_probes(world: Any) -> list[tuple[str, dict[str, Any], str, Any]]:
    """(path, payload, field set by id, the outsider's record for it)."""
    mine, theirs = world.mine, world.theirs
    return [
        ("contacts", {"last_name": "Probe"}, "account_id", theirs.account),
        ("opportunities", {"name": "Probe"}, "account_id", theirs.account),
        ("opportunities", {"name": "Probe", "account_id": mine.account.pk}, "contact_id",
         theirs.contact),
        ("cases", {"subject": "Probe"}, "account_id", theirs.account),
        ("cases", {"subject": "Probe", "account_id": mine.account.pk}, "contact_id",
         theirs.contact),
        ("activities", {"kind": "note", "subject": "Probe"}, "account_id", theirs.account),
        ("activities", {"kind": "note", "subject": "Probe"}, "contact_id", theirs.contact),
        ("activities", {"kind": "note", "subject": "Probe"}, "opportunity_id",
         theirs.opportunity),
        ("activities", {"kind": "note", "subject": "Probe"}, "case_id", theirs.case),
        ("sales-documents", {"kind": "quote"}, "account_id", theirs.account),
        ("sales-documents", {"kind": "quote", "account_id": mine.account.pk}, "contact_id",
         theirs.contact),
        ("sales-documents", {"kind": "quote", "account_id": mine.account.pk},
         "opportunity_id", theirs.opportunity),
    ]


def test_no_foreign_key_tells_whether_a_hidden_id_exists(world: Any, api: Any) -> None:
    owner = api(world.personas.owner)
    for path, base, field, hidden_obj in _fk_probes(world):
        hidden = owner.post(path, {**base, field: hidden_obj.pk})
        missing = owner.post(path, {**base, field: MISSING})
        assert hidden.status == missing.status, (path, field, hidden.status, missing.status)
        assert hidden.status in (400, 404, 422), (path, field, hidden.status)
        assert hidden.json() == missing.json(), (path, field)


def test_web_parent_picker_hidden_or_missing_answers_the_same(world: Any,
                                                             client_for: Any) -> None:
    account = world.mine.account
    client = client_for(world.personas.owner)
    url = reverse("web:account_edit", args=[account.pk])
    data = _form_data(client.get(url))
    errors = []
    for parent in (world.theirs.account.pk, MISSING):
        response = client.post(url, {**data, "parent": parent})
        assert response.status_code == 200
        errors.append(response.context["form"].errors.get("parent"))
    assert errors[0]
    assert errors[0] == errors[1]
    account.refresh_from_db()
    assert account.parent_id is None


# --- c. Territory: data managers and administrators only ------------------------------------

@pytest.mark.parametrize(("kind", "persona", "status"), matrix(TERRITORY))
def test_territory_is_set_by_data_managers_only(world: Any, api: Any, kind: str, persona: str,
                                               status: int) -> None:
    account = world.mine.get(kind)
    provence = world.personas.provence
    body = api(world.personas[persona]).patch(f"accounts/{account.pk}",
                                              {"territory_id": provence.pk}).expect(status)
    account.refresh_from_db()
    if status == 200:
        assert account.territory_id == provence.pk
    else:
        assert account.territory_id == world.personas.rhone.pk
        if status == 403 and can(world.personas[persona], "change", account):
            assert set(body["error"]["fields"]) == {"territory"}


def test_territory_unchanged_is_accepted_and_creation_is_refused(world: Any, api: Any) -> None:
    p = world.personas
    account = world.mine.account
    owner = api(p.owner)
    owner.patch(f"accounts/{account.pk}",
                {"territory_id": p.rhone.pk, "trade_name": "Same place"}).expect(200)
    err = owner.post("accounts", {"legal_name": "Placed SARL",
                                  "territory_id": p.provence.pk}).error(403)
    assert "territory" in err["fields"]
    assert not Account.objects.filter(legal_name="Placed SARL").exists()
    body = api(p.data_manager).post("accounts", {"legal_name": "Placed SARL",
                                                 "territory_id": p.provence.pk}).expect(201)
    assert body["territory_id"] == p.provence.pk


def test_web_form_does_not_set_the_territory(world: Any, client_for: Any) -> None:
    account = world.mine.account
    client = client_for(world.personas.owner)
    url = reverse("web:account_edit", args=[account.pk])
    data = _form_data(client.get(url))
    data.update(parent="", territory=world.personas.provence.pk, trade_name="Moved?")
    assert client.post(url, data).status_code == 302
    account.refresh_from_db()
    assert (account.trade_name, account.territory_id) == ("Moved?", world.personas.rhone.pk)


# --- d. Promotion requests follow the policy ------------------------------------------------

@pytest.fixture
def requests(world: Any) -> dict[str, PromotionRequest]:
    """A pending request on each side's account, raised by an accepted quote."""
    p = world.personas
    factories.sales_document(by=p.owner, account=world.mine.account, status="accepted")
    factories.sales_document(by=p.outsider, account=world.theirs.account, status="accepted")
    promotions_process()
    return {side: PromotionRequest.objects.get(account=getattr(world, side).account)
            for side in ("mine", "theirs")}


def sees_theirs(persona: str) -> bool:
    return persona in ("outsider", "admin", "data_manager")


@pytest.mark.parametrize(("kind", "persona", "sees"), matrix(PROMOTION_VIEW))
def test_promotion_list_and_detail(world: Any, api: Any, requests: Any, kind: str,
                                   persona: str, sees: bool) -> None:
    client = api(world.personas[persona])
    wanted = ({requests["mine"].pk} if sees else set()) | \
        ({requests["theirs"].pk} if sees_theirs(persona) else set())
    items = client.get("promotions", {"limit": 100}).expect(200)["items"]
    assert {i["id"] for i in items} == wanted
    for item in items:
        assert item["document_number"]
        assert item["document_id"]
    detail = client.get(f"promotions/{requests['mine'].pk}")
    if sees:
        body = detail.expect(200)
        assert body["document_id"] == requests["mine"].document_id
    else:
        detail.error(404)


@pytest.mark.parametrize(("kind", "persona", "status"), matrix(PROMOTION_ASK))
def test_promotion_ask_by_hand(world: Any, api: Any, kind: str, persona: str,
                               status: int) -> None:
    account = world.mine.get(kind)
    response = api(world.personas[persona]).post(f"accounts/{account.pk}/promotion-request")
    response.expect(status)
    assert PromotionRequest.objects.filter(account=account).exists() is (status == 201)


@pytest.mark.parametrize("persona", PERSONAS)
def test_promotion_on_the_account_page(world: Any, client_for: Any, requests: Any,
                                       persona: str) -> None:
    user = world.personas[persona]
    client = client_for(user)
    account = world.mine.account
    page = client.get(reverse("web:account_detail", args=[account.pk]))
    if not can(user, "view", account):
        assert page.status_code == 404
        return
    html = page.content.decode()
    shows = expected(PROMOTION_VIEW, "account", persona)
    assert ("ERP customer: requested" in html) is shows
    assert requests["mine"].document.number not in html or shows
    queue = client.get(reverse("web:quality_promotions"))
    assert queue.status_code == (200 if persona in ("admin", "data_manager") else 404)


@pytest.mark.parametrize("persona", ["marketing", "service"])
def test_promotion_not_asked_from_the_page_by_roles_without_sales_rights(
        world: Any, client_for: Any, persona: str) -> None:
    account = world.mine.private_account
    client = client_for(world.personas[persona])
    html = client.get(reverse("web:account_detail", args=[account.pk])).content.decode()
    assert reverse("web:account_promotion_request", args=[account.pk]) not in html
    client.post(reverse("web:account_promotion_request", args=[account.pk]))
    assert not PromotionRequest.objects.filter(account=account).exists()
