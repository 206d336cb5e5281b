"""Search finds only what each persona may see: the access matrix, through ``search()``.

The table restates the policy by hand (as ``tests/test_access_matrix.py`` does); a second test
checks the same answers against ``policy.restrict`` on the records' own models, so the index's
denormalised filter cannot drift from the policy unnoticed. The world: ``comptoir.testing
.personas`` (the owner's records are named "Olivia…", the outsider's "Oscar…").
"""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.access.policy import restrict
from comptoir.crm.services import account_update
from comptoir.search.models import SearchEntry
from comptoir.search.services import search
from comptoir.search.sources import SOURCES
from comptoir.testing import factories as f
from comptoir.testing.personas import PERSONAS

Y, N = True, False

#                     owner teammate manager outsider admin data_mgr marketing service
FINDS: dict[str, tuple[bool, ...]] = {
    "account":         (Y,    Y,       Y,      N,       Y,    Y,       Y,        Y),
    "private_account": (Y,    N,       Y,      N,       Y,    Y,       Y,        Y),
    "contact":         (Y,    Y,       Y,      N,       Y,    Y,       Y,        Y),
    "lead":            (Y,    N,       Y,      N,       Y,    Y,       Y,        N),
    "opportunity":     (Y,    Y,       Y,      N,       Y,    Y,       N,        N),
    "case":            (Y,    Y,       Y,      N,       Y,    Y,       N,        Y),
    "sales_document":  (Y,    Y,       Y,      N,       Y,    Y,       N,        N),
}
OBJECT_TYPE = {"account": "account", "private_account": "account", "contact": "contact",
               "lead": "lead", "opportunity": "opportunity", "case": "case",
               "sales_document": "salesdocument"}


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


def ids(hits: list[Any], object_type: str) -> set[int]:
    return {h.object_id for h in hits if h.object_type == object_type}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("kind", list(FINDS))
def test_who_finds_the_owners_records(world: Any, kind: str, persona: str) -> None:
    user = world.personas[persona]
    record = world.mine.get(kind)
    object_type = OBJECT_TYPE[kind]
    hits = search(user, "olivia", types=[object_type], limit=50)
    assert (record.pk in ids(hits, object_type)) is FINDS[kind][PERSONAS.index(persona)]


@pytest.mark.parametrize("persona", PERSONAS)
def test_search_agrees_with_the_policy(world: Any, persona: str) -> None:
    user = world.personas[persona]
    for name in ("olivia", "oscar"):
        hits = search(user, name, limit=100)
        for source in SOURCES.values():
            allowed = set(restrict(source.model._default_manager.all(), user)
                          .values_list("pk", flat=True))
            got = ids(hits, source.object_type)
            assert got <= allowed, (persona, name, source.object_type)
            records = world.mine if name == "olivia" else world.theirs
            mine = {records.get(k).pk for k, t in OBJECT_TYPE.items()
                    if t == source.object_type}
            assert mine & allowed <= got, (persona, name, source.object_type)


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_catalogue_is_found_by_everyone(world: Any, persona: str) -> None:
    hits = search(world.personas[persona], "widget", types=["product"])
    assert ids(hits, "product") == {world.product.pk}


@pytest.mark.parametrize("q", ["olivia", "Olivai", "oliv", "OliviaContact", "Olivia Industries",
                               "camille@olivia", "renewal"])
def test_an_outsider_never_finds_the_owners_records(world: Any, q: str) -> None:
    hits = search(world.personas.outsider, q, limit=100)
    mine = {(OBJECT_TYPE[k], world.mine.get(k).pk) for k in OBJECT_TYPE}
    assert not {(h.object_type, h.object_id) for h in hits} & mine
    assert search(world.personas.owner, q, limit=100)  # the owner does find them


def test_a_rep_finds_their_record_among_many_they_cannot_see(world: Any) -> None:
    """Visibility is filtered in the query, not after it: 60 newer namesakes owned by someone
    else do not push the owner's one record out of the answer."""
    p = world.personas
    mine = f.account(by=p.owner, legal_name="Zephyrin Logistique", billing_postcode="33000")
    for n in range(60):
        f.account(by=p.outsider, legal_name=f"Zephyrin Logistique {n}",
                  billing_postcode="13001")
    assert [h.object_id for h in search(p.owner, "zephyrin", limit=5)] == [mine.pk]
    assert [h.object_id for h in search(p.owner, "zephyr", limit=5)] == [mine.pk]
    assert [h.object_id for h in search(p.owner, "zepyrin", limit=5)] == [mine.pk]
    assert len(search(p.admin, "zephyrin", limit=5)) == 5


def test_a_stale_index_row_is_checked_against_the_policy(world: Any) -> None:
    """Defence in depth: if the index wrongly said the outsider owns the owner's account, the
    final check on the account itself still hides it."""
    account = world.mine.account
    search(world.personas.owner, "olivia")  # index the world's events first
    SearchEntry.objects.filter(object_type="account", object_id=account.pk).update(
        owner_id=world.personas.outsider.pk, account_owner_id=world.personas.outsider.pk)
    hits = search(world.personas.outsider, "olivia industries", types=["account"])
    assert account.pk not in ids(hits, "account")


def test_the_accounts_children_follow_its_owner_and_territory(world: Any) -> None:
    """Children's rows repeat their account's owner and territory: changing the account's
    updates who finds its contact (owned by the owner throughout)."""
    p = world.personas
    account, contact = world.mine.account, world.mine.contact
    assert contact.pk in ids(search(p.teammate, "oliviacontact"), "contact")  # Rhône
    assert contact.pk not in ids(search(p.outsider, "oliviacontact"), "contact")
    account_update(account=account, user=p.admin, data={"territory_id": p.provence.pk})
    assert contact.pk not in ids(search(p.teammate, "oliviacontact"), "contact")
    assert contact.pk in ids(search(p.outsider, "oliviacontact"), "contact")  # Provence
    assert contact.pk in ids(search(p.owner, "oliviacontact"), "contact")  # its owner
    account_update(account=account, user=p.admin,
                   data={"territory_id": None, "owner_id": p.outsider.pk})
    assert contact.pk in ids(search(p.outsider, "oliviacontact"), "contact")
    assert contact.pk not in ids(search(p.teammate, "oliviacontact"), "contact")
    entry = SearchEntry.objects.get(object_type="contact", object_id=contact.pk)
    assert (entry.account_owner_id, entry.account_territory_id) == (p.outsider.pk, None)
