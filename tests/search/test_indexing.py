"""The index follows the data: service writes, bulk loads, the periodic job, ``reindex``."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from comptoir.core.bulk import bulk_upsert
from comptoir.core.models import OutboxEvent
from comptoir.crm.bulk import ACCOUNT_BULK, CONTACT_BULK
from comptoir.crm.models import Account
from comptoir.crm.services import (
    account_delete,
    account_update,
    accounts_assign_territories,
    contact_delete,
    contact_update,
    lead_update,
    opportunity_update,
)
from comptoir.sales.services import product_delete, product_update
from comptoir.search import indexing
from comptoir.search.models import SearchCursor, SearchEntry
from comptoir.search.services import index_outbox, search
from comptoir.search.sources import SOURCES
from comptoir.service.services import case_update
from comptoir.testing import factories as f


def keys(hits: list[Any]) -> set[tuple[str, int]]:
    return {(h.object_type, h.object_id) for h in hits}


def entry(object_type: str, object_id: int) -> SearchEntry | None:
    return SearchEntry.objects.filter(object_type=object_type, object_id=object_id).first()


def test_a_record_is_found_right_after_it_is_created(personas: Any) -> None:
    account = f.account(by=personas.owner, legal_name="Quincaillerie Besnard")
    assert ("account", account.pk) in keys(search(personas.owner, "besnard"))


def test_updates_through_the_services_reach_the_index(personas: Any) -> None:
    admin, owner = personas.admin, personas.owner
    account = f.account(by=owner, legal_name="Ancien Nom SARL")
    contact = f.contact(by=owner, account=account, first_name="Zoé", last_name="Avril")
    lead = f.lead(by=owner, company_name="Prospect Alpha", last_name="Caron")
    opportunity = f.opportunity(by=owner, account=account, name="Projet Hiver")
    case = f.case(by=owner, account=account, subject="Fuite toiture")
    product = f.product(by=admin, code="TUI-01", name="Tuile romane")
    search(owner, "avril")
    account_update(account=account, user=owner, data={"legal_name": "Nouveau Nom SARL"})
    contact_update(contact=contact, user=owner, data={"last_name": "Septembre"})
    lead_update(lead=lead, user=owner, data={"company_name": "Prospect Beta"})
    opportunity_update(opportunity=opportunity, user=owner, data={"name": "Projet Printemps"})
    case_update(case=case, user=owner, data={"subject": "Fuite gouttière"})
    product_update(product=product, user=admin, data={"name": "Tuile canal"})
    assert search(owner, "ancien ") == []
    assert keys(search(owner, "nouveau nom", types=["account"])) == {("account", account.pk)}
    assert search(owner, "avril ") == []
    assert keys(search(owner, "septembre")) == {("contact", contact.pk)}
    assert keys(search(owner, "prospect beta")) == {("lead", lead.pk)}
    assert keys(search(owner, "printemps")) == {("opportunity", opportunity.pk)}
    assert keys(search(owner, "gouttiere")) == {("case", case.pk)}
    assert keys(search(owner, "tuile canal")) == {("product", product.pk)}
    assert search(owner, "romane ") == []


def test_a_renamed_account_renames_its_childrens_rows(personas: Any) -> None:
    owner = personas.owner
    account = f.account(by=owner, legal_name="Menuiserie Durand")
    contact = f.contact(by=owner, account=account, last_name="Perret")
    opportunity = f.opportunity(by=owner, account=account, name="Escalier")
    document = f.sales_document(by=owner, account=account)
    search(owner, "durand")
    account_update(account=account, user=owner, data={"legal_name": "Ébénisterie Rolland"})
    found = keys(search(owner, "rolland", limit=50))
    assert {("contact", contact.pk), ("opportunity", opportunity.pk),
            ("salesdocument", document.pk)} <= found
    assert search(owner, "durand ") == []
    row = entry("contact", contact.pk)
    assert row is not None
    assert row.subtitle.startswith("Ébénisterie Rolland")


def test_deletions_remove_rows_and_an_accounts_children_go_with_it(personas: Any) -> None:
    owner, admin = personas.owner, personas.admin
    account = f.account(by=owner, legal_name="Scierie Lemoine")
    contact = f.contact(by=owner, account=account, last_name="Lemoine")
    other = f.contact(by=owner, account=account, last_name="Girard")
    case = f.case(by=owner, account=account, subject="Lemoine planches")
    product = f.product(by=admin, code="PLA-02", name="Planche chêne")
    search(owner, "lemoine")
    assert entry("contact", other.pk) is not None
    contact_delete(contact=contact, user=owner)
    assert keys(search(owner, "lemoine", limit=50)) == {
        ("account", account.pk), ("contact", other.pk), ("case", case.pk)}
    assert entry("contact", contact.pk) is None
    account_delete(account=account, user=owner)  # cascades: no event for its children
    product_delete(product=product, user=admin)
    assert search(admin, "lemoine") == []
    assert search(admin, "planche chene") == []
    assert SearchEntry.objects.filter(account_id=account.pk).count() == 0
    assert entry("product", product.pk) is None


def test_territory_reassignment_in_bulk_reaches_the_children(personas: Any) -> None:
    admin = personas.admin
    account = f.account(by=admin, legal_name="Verrerie Bonnet", owner=personas.owner,
                        billing_postcode="13005")  # Provence
    contact = f.contact(by=admin, account=account, last_name="Bonnet", owner=personas.owner)
    search(admin, "bonnet")
    Account.objects.filter(pk=account.pk).update(territory=None)  # as before the rules
    accounts_assign_territories(user=admin)  # writes account.updated events only
    search(admin, "bonnet")
    row = entry("contact", contact.pk)
    assert row is not None
    assert row.account_territory_id == personas.provence.pk


def test_a_bulk_load_is_searchable(personas: Any) -> None:
    admin = personas.admin
    results = bulk_upsert(ACCOUNT_BULK, system="erp", user=admin, records=[
        {"external_id": "A1", "legal_name": "Fonderie Marchal", "billing_postcode": "69003"},
        {"external_id": "A2", "legal_name": "Tannerie Colin", "billing_postcode": "13002"},
    ])
    assert {r.status for r in results} == {"created"}
    bulk_upsert(CONTACT_BULK, system="erp", user=admin, records=[
        {"external_id": "C1", "account_external_id": "A1", "last_name": "Vasseur"},
    ])
    assert {h.title for h in search(admin, "fonderie marchal")} >= {"Fonderie Marchal"}
    contact_hits = search(admin, "vasseur")
    assert [h.subtitle for h in contact_hits] == ["Fonderie Marchal"]
    bulk_upsert(ACCOUNT_BULK, system="erp", user=admin, records=[
        {"external_id": "A1", "legal_name": "Fonderie Marchal Frères", "billing_postcode": "69003"},
    ])
    assert search(admin, "vasseur")[0].subtitle == "Fonderie Marchal Frères"


def test_a_burst_beyond_the_catch_up_bound_is_left_to_the_periodic_job(
        personas: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = personas.admin
    search(admin, "zz")  # read everything written so far
    monkeypatch.setattr(indexing, "CATCH_UP_EVENTS", 2)
    records = [{"external_id": f"B{n}", "legal_name": f"Atelier Numero{n}"} for n in range(5)]
    bulk_upsert(ACCOUNT_BULK, system="erp", user=admin, records=records)
    assert len(search(admin, "atelier", limit=10)) == 2  # a bounded catch-up before a query
    done = index_outbox()
    assert done["events"] == 3
    assert len(search(admin, "atelier", limit=10)) == 5
    assert index_outbox() == {}  # nothing left
    last = OutboxEvent.objects.order_by("-id").values_list("id", flat=True)[0]
    assert SearchCursor.objects.get(pk="outbox").last_event_id == last


def test_reading_the_same_events_twice_changes_nothing(personas: Any) -> None:
    account = f.account(by=personas.owner, legal_name="Idempotence SA")
    search(personas.owner, "idempotence")
    before = list(SearchEntry.objects.order_by("id").values())
    SearchCursor.objects.filter(pk="outbox").update(last_event_id=0)
    assert index_outbox()["events"] > 0
    assert list(SearchEntry.objects.order_by("id").values()) == before
    assert entry("account", account.pk) is not None


def test_incremental_rows_equal_rebuilt_rows(world: Any) -> None:
    search(world.personas.admin, "olivia")
    incremental = list(SearchEntry.objects.order_by("id").values())
    assert {r["object_type"] for r in incremental} == set(SOURCES)
    indexing.rebuild(clear=True)
    assert list(SearchEntry.objects.order_by("id").values()) == incremental
    indexing.rebuild()  # in place: the same again
    assert list(SearchEntry.objects.order_by("id").values()) == incremental


def test_reindex_command_rebuilds_and_drops_stale_rows(world: Any) -> None:
    admin = world.personas.admin
    search(admin, "olivia")
    SearchEntry.objects.create(id=SOURCES["account"].entry_id(999_999), object_type="account",
                               object_id=999_999, title="Ghost", text="ghost")
    SearchEntry.objects.filter(object_type="contact").delete()
    out = StringIO()
    call_command("reindex", stdout=out)
    assert "rows/s" in out.getvalue()
    assert entry("account", 999_999) is None
    assert search(admin, "ghost ") == []
    assert ("contact", world.mine.contact.pk) in keys(search(admin, "oliviacontact"))


def test_reindex_of_some_types_only(world: Any) -> None:
    admin = world.personas.admin
    search(admin, "olivia")
    SearchEntry.objects.all().delete()
    call_command("reindex", "--types", "product,lead", "--batch-size", "1", stdout=StringIO())
    assert {e.object_type for e in SearchEntry.objects.all()} == {"product", "lead"}
    assert keys(search(admin, "widget")) == {("product", world.product.pk)}
    with pytest.raises(CommandError, match="Unknown object types: nope"):
        call_command("reindex", "--types", "nope", stdout=StringIO())


def test_reindex_clear_is_a_bulk_load_that_stays_maintained(world: Any) -> None:
    admin = world.personas.admin
    call_command("reindex", "--clear", stdout=StringIO())
    assert ("account", world.mine.account.pk) in keys(search(admin, "olivia industries"))
    # the full-text triggers are back: a later write is found again
    account = f.account(by=admin, legal_name="After Rebuild SA", billing_postcode="69001")
    assert ("account", account.pk) in keys(search(admin, "after rebuild"))
    f.opportunity(by=admin, account=account, name="Suite", amount=Decimal("1"))
    assert search(admin, "suite after")


def test_the_periodic_job_builds_a_missing_index(world: Any) -> None:
    admin = world.personas.admin
    SearchCursor.objects.update_or_create(pk="outbox", defaults={
        "needs_rebuild": True,
        "last_event_id": OutboxEvent.objects.order_by("-id").values_list("id", flat=True)[0]})
    SearchEntry.objects.all().delete()
    assert search(admin, "olivia") == []
    done = index_outbox()
    assert done["rebuilt"] == SearchEntry.objects.count() > 0
    assert search(admin, "olivia")
    assert not SearchCursor.objects.get(pk="outbox").needs_rebuild


@pytest.mark.xfail(
    condition=__import__("os").environ.get("DATABASE_URL", "").startswith("postgres"),
    strict=False,
    reason="Under investigation: on PostgreSQL, in the full suite only (it passes alone and "
           "with tests/search), the late event is read before it is deleted, as if another "
           "consumer ran during the account's creation; see the stop note of 2026-12-08.")
def test_an_event_committed_late_below_the_cursor_is_not_lost(
        personas: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL hands out event ids at insert time: a transaction can commit id n after
    id n+1 was read. The consumer remembers the missing id for a while and reads it then."""
    owner = personas.owner
    # The cursor at the end of the outbox: every event read (a search catches up on 500 at
    # most; the fixtures may write more). A new cursor's first read may note the ids below
    # the first event (ids the sequence used in earlier tests) as gaps for a while: start
    # from none, so how many there were (it depends on the tests run before) cannot matter.
    indexing.consume()
    SearchCursor.objects.filter(pk="outbox").update(gaps={})
    search(owner, "zz")
    account = f.account(by=owner, legal_name="Retardataire SA")
    late = OutboxEvent.objects.filter(object_type="account", object_id=account.pk).latest("id")
    late_id = late.id
    late.delete()  # as if its transaction had not committed yet
    f.account(by=owner, legal_name="Suivant SA")  # a later event, read first
    assert search(owner, "suivant")
    assert search(owner, "retardataire") == []
    cursor = SearchCursor.objects.get(pk="outbox")
    assert str(late_id) in cursor.gaps
    assert cursor.last_event_id > late_id
    late.id = late_id
    late.save()  # the slow transaction commits
    assert keys(search(owner, "retardataire")) == {("account", account.pk)}
    assert str(late_id) not in SearchCursor.objects.get(pk="outbox").gaps
    # a gap nobody fills is given up after a while
    monkeypatch.setattr(indexing, "GAP_TTL", 0.0)
    SearchCursor.objects.filter(pk="outbox").update(gaps={"1": 0.0})
    index_outbox()
    assert SearchCursor.objects.get(pk="outbox").gaps == {}


@pytest.mark.django_db(transaction=True)
def test_the_demo_is_searchable() -> None:
    from comptoir.access.models import User

    out = StringIO()
    call_command("demo", "--accounts", "30", "--seed", "3", stdout=out)
    assert "Search index built" in out.getvalue()
    admin = User.objects.get(username="admin")
    account = Account.objects.order_by("pk").first()
    assert account is not None
    hits = search(admin, f"{account.legal_name} ", types=["account"])
    assert ("account", account.pk) in keys(hits)
    assert SearchEntry.objects.count() > Account.objects.count()
    # a database loaded before the index existed is indexed by ``demo --if-empty``
    SearchEntry.objects.all().delete()
    SearchCursor.objects.filter(pk="outbox").update(needs_rebuild=True)
    call_command("demo", "--if-empty", stdout=StringIO())
    assert ("account", account.pk) in keys(search(admin, f"{account.legal_name} "))
