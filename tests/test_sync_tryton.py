"""The *tryton* mode end to end, against a real Tryton 8 server started for each test."""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.core.models import ExternalRef
from comptoir.crm.models import Account
from comptoir.integration.connectors.tryton_rpc import TrytonClient
from comptoir.integration.mappings import builtin_mapping
from comptoir.integration.models import Connection, SyncRun
from comptoir.integration.services import sync_run
from comptoir.sales.models import PriceList, Product, SalesDocument
from comptoir.testing.tryton_fixtures import tryton, tryton_template  # noqa: F401

MAPPING = builtin_mapping("tryton")  # the mapping shipped for Tryton, tested as shipped


@pytest.fixture
def erp(tryton: Any, db: None) -> tuple[Connection, TrytonClient]:  # noqa: F811
    connection = Connection.objects.create(
        name="tryton", connector="tryton", mapping=MAPPING, batch_size=7,
        parameters={"url": tryton.url, "database": tryton.database,
                    "username": tryton.username},
        secrets={"password": tryton.password})
    client = TrytonClient(tryton.url, tryton.database, tryton.username, tryton.password,
                          extra_context={"active_test": False})
    return connection, client


def _ok(run: SyncRun) -> SyncRun:
    assert run.status == SyncRun.Status.SUCCEEDED, (run.error_category, run.error_message)
    return run


def _source_counts(client: TrytonClient) -> dict[str, int]:
    own = [c["party"] for c in client.search_read("company.company", [], ["party"])]
    assert own  # the ERP's company is a party too: never a customer
    return {"parties": client.search_count("party.party", [["id", "not in", own]]),
            "contacts": 0,  # the seed names no contact mechanism
            "products": client.search_count("product.product", []),
            "price_lists": 1,
            "sales": client.search_count("sale.sale", []),
            "invoices": client.search_count("account.invoice", [["type", "=", "out"]])}


def test_parties_and_products_arrive_then_only_changes(erp: Any) -> None:
    connection, client = erp
    source = _source_counts(client)
    first = _ok(sync_run(connection))
    assert first.read == sum(source.values())
    # every record once, and each product once more as a price of the list
    assert (first.created, first.quarantined) == (sum(source.values()) + source["products"], 0)
    assert {name: counts["read"] for name, counts in first.details["streams"].items()} == source
    assert Account.objects.count() == source["parties"]
    company = client.search_read("company.company", [], ["party", "party.name"])[0]
    assert not Account.objects.filter(legal_name=company["party."]["name"]).exists()
    assert Product.objects.count() >= 1
    # A party with a SIREN identifier in Tryton carries it here, compacted.
    with_siren = client.search_read("party.identifier", [["type", "=", "fr_siren"],
                                                         ["party", "!=", company["party"]]],
                                    ["party", "code"], limit=1)
    if with_siren:
        ref = ExternalRef.objects.get(system="tryton", object_type="account",
                                      external_id=str(with_siren[0]["party"]))
        account = Account.objects.get(pk=ref.object_id)
        assert account.siren == "".join(c for c in with_siren[0]["code"] if c.isdigit())

    assert _ok(sync_run(connection)).read == 0  # nothing changed in Tryton

    # A rename, an address change (which Tryton does not stamp on the party) and a new party.
    party_id = int(ExternalRef.objects.filter(system="tryton", object_type="account")
                   .order_by("external_id").values_list("external_id", flat=True)[0])
    client.write("party.party", [party_id], {"name": "Renommée SAS"})
    other = client.search_read("party.address", [["party", "!=", party_id]],
                               ["party"], limit=1)[0]
    client.write("party.address", [other["id"]], {"city": "Villeurbanne"})
    client.create("party.party", [{"name": "Nouvelle Entreprise SARL"}])
    second = _ok(sync_run(connection))
    assert (second.read, second.created, second.updated) == (3, 1, 2)
    assert Account.objects.filter(legal_name="Renommée SAS").exists()
    assert Account.objects.filter(legal_name="Nouvelle Entreprise SARL").exists()
    moved = ExternalRef.objects.get(system="tryton", object_type="account",
                                    external_id=str(other["party"]))
    assert Account.objects.get(pk=moved.object_id).billing_city == "Villeurbanne"


def test_deleted_parties_become_tombstones(erp: Any) -> None:
    connection, client = erp
    _ok(sync_run(connection))
    [victim] = client.create("party.party", [{"name": "Éphémère SAS"}])
    _ok(sync_run(connection))
    client.delete("party.party", [victim])
    run = _ok(sync_run(connection))
    assert run.deleted == 1
    ref = ExternalRef.objects.get(system="tryton", object_type="account",
                                  external_id=str(victim))
    assert ref.deleted_at is not None


def test_tryton_down_then_back(erp: Any, tryton: Any) -> None:  # noqa: F811
    connection, _client = erp
    tryton.kill()
    down = sync_run(connection)
    assert (down.status, down.error_category) == (SyncRun.Status.FAILED, "transient")
    assert "unreachable" in down.error_message.lower() or "tryton" in down.error_message.lower()
    assert Account.objects.count() == 0
    tryton.restart()
    assert _ok(sync_run(connection)).created > 0


def test_wrong_password_is_a_config_failure(erp: Any) -> None:
    connection, _client = erp
    connection.secrets = {"password": "Not-The-Pa55word"}
    connection.save()
    run = sync_run(connection)
    assert (run.status, run.error_category) == (SyncRun.Status.FAILED, "config")
    assert "Not-The-Pa55word" not in run.error_message


def test_promoted_account_is_created_in_tryton_once_with_retries(erp: Any, tryton: Any,  # noqa: F811
                                                                 api: Any, personas: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from comptoir.integration.models import OutboundState
    from comptoir.integration.outbound import outbound_process
    from comptoir.testing import factories

    connection, client = erp
    connection.direction = Connection.Direction.BOTH
    connection.save()
    account = factories.account(by=personas.owner, legal_name="Boulangerie Ducasse SARL",
                                siren="732829320", billing_street="3 place du Marché",
                                billing_postcode="31000", billing_city="Toulouse",
                                email="contact@ducasse.fr")
    api(personas.owner).post(f"/api/v1/accounts/{account.pk}/promote").error(403)
    # promote applies the whole ERP profile: complete the account first
    api(personas.admin).post(f"/api/v1/accounts/{account.pk}/promote").error(422)
    Account.objects.filter(pk=account.pk).update(siret="73282932000074", naf_code="10.71C",
                                                 payment_terms="net_30")
    factories.contact(by=personas.owner, account=account, last_name="Ducasse",
                      email="p.ducasse@ducasse.fr")
    api(personas.admin).post(f"/api/v1/accounts/{account.pk}/promote").expect(200)
    account.refresh_from_db()
    assert account.status == "customer"

    tryton.kill()  # the ERP is down when the consumer runs
    assert outbound_process(connection)["created"] == 0
    state = OutboundState.objects.get(connection=connection)
    assert state.attempts == 1
    assert state.next_attempt_at is not None
    assert state.last_error
    assert outbound_process(connection)["waiting"] == 1  # backing off, not hammering
    tryton.restart()
    later = timezone.now() + dt.timedelta(minutes=5)
    assert outbound_process(connection, now=later)["created"] == 1
    ref = ExternalRef.objects.get(system="tryton", object_type="account", object_id=account.pk)
    [party] = client.read("party.party", [int(ref.external_id)], ["name"])
    assert party["name"] == "Boulangerie Ducasse SARL"
    identifiers = client.search_read("party.identifier", [["party", "=", party["id"]]],
                                     ["type", "code"])
    assert [i["type"] for i in identifiers] == ["fr_siren"]

    # Promoting again or running again creates nothing more in Tryton.
    api(personas.admin).post(f"/api/v1/accounts/{account.pk}/promote").expect(200)
    assert outbound_process(connection, now=later)["created"] == 0
    assert client.search_count("party.party", [["name", "=", "Boulangerie Ducasse SARL"]]) == 1
    # The next inbound sync sees the party as this account, not as a new one.
    _ok(sync_run(connection))
    assert Account.objects.filter(legal_name="Boulangerie Ducasse SARL").count() == 1
    assert ExternalRef.objects.get(system="tryton", external_id=ref.external_id,
                                   object_type="account").object_id == account.pk


def test_erpdemo_command_syncs_a_local_tryton_and_shows_a_change(db: None,
                                                                   tryton_template: Any  # noqa: F811
                                                                   ) -> None:
    from io import StringIO

    from django.core.management import call_command

    from comptoir.testing.tryton import free_port

    out = StringIO()
    call_command("erpdemo", "--once", "--port", str(free_port()), stdout=out)
    assert "created" in out.getvalue()
    assert "Tryton stopped." in out.getvalue()
    connection = Connection.objects.get(name="tryton-demo")
    first = connection.runs.get()
    assert first.status == SyncRun.Status.SUCCEEDED
    assert first.created == (Account.objects.count() + 2 * Product.objects.count()
                             + SalesDocument.objects.count() + PriceList.objects.count())
    assert SalesDocument.objects.filter(kind="invoice").exists()
    # Again, on the kept database: a change made with --change arrives, nothing else moves.
    port = free_port()
    from django.conf import settings

    from comptoir.testing.tryton import TrytonServer

    server = TrytonServer(tryton_template, workdir=settings.DATA_DIR / "tryton-demo", port=port,
                          keep_database=True)
    with server:
        connection.parameters = {**connection.parameters, "url": server.url}
        connection.save()
        change = StringIO()
        call_command("erpdemo", "--change", stdout=change)
        assert "renamed" in change.getvalue()
        run = _ok(sync_run(connection))
    assert (run.read, run.updated, run.created) == (1, 1, 0)


def test_named_contact_mechanisms_become_the_accounts_contacts(erp: Any) -> None:
    from comptoir.crm.models import Contact

    connection, client = erp
    _ok(sync_run(connection))
    party = client.search("party.party", [["identifiers", "!=", None],
                                          ["contact_mechanisms.type", "=", "phone"]], 0, 1,
                          [["id", "ASC"]])[0]
    first, second, other = client.create("party.contact_mechanism", [
        {"party": party, "type": "email", "value": "claire.martin@exemple.fr",
         "name": "Claire Martin"},
        {"party": party, "type": "phone", "value": "04 72 10 20 30", "name": "Claire  Martin"},
        {"party": party, "type": "mobile", "value": "06 12 34 56 78", "name": "Paul"}])
    run = _ok(sync_run(connection))
    assert (run.created, run.quarantined) == (2, 0)  # one contact per name, not per mechanism
    account = ExternalRef.objects.get(system="tryton", object_type="account",
                                      external_id=str(party)).object_id
    claire = Contact.objects.get(account_id=account, last_name="Martin")
    assert (claire.first_name, claire.email, claire.phone) == (
        "Claire", "claire.martin@exemple.fr", "+33472102030")
    assert Contact.objects.get(account_id=account, last_name="Paul").mobile == "+33612345678"

    client.write("party.contact_mechanism", [second], {"value": "04 72 99 99 99"})
    # the contact changes; the account keeps its own (unnamed) phone
    assert _ok(sync_run(connection)).updated == 1
    claire.refresh_from_db()
    assert claire.phone == "+33472999999"
    client.delete("party.contact_mechanism", [other])
    run = _ok(sync_run(connection))
    assert run.deleted == 1
    assert ExternalRef.objects.get(system="tryton", object_type="contact",
                                   external_id=f"party.contact_mechanism,{other}").deleted_at
    assert ExternalRef.objects.filter(system="tryton", object_type="contact",
                                      external_id=f"party.contact_mechanism,{first}",
                                      deleted_at__isnull=True).exists()
    # A deactivated first mechanism re-keys the contact once; the next runs leave it alone.
    client.write("party.contact_mechanism", [first], {"active": False})
    _ok(sync_run(connection))
    again = _ok(sync_run(connection))
    assert again.deleted == 0
    assert ExternalRef.objects.filter(system="tryton", object_type="contact",
                                      external_id=f"party.contact_mechanism,{second}",
                                      deleted_at__isnull=True).exists()


def test_a_template_change_brings_its_products_back(erp: Any) -> None:
    from comptoir.sales.models import PriceListItem

    connection, client = erp
    _ok(sync_run(connection))
    product = client.search_read("product.product", [], ["template"], limit=1,
                                 order=[["id", "ASC"]])[0]
    client.write("product.template", [product["template"]], {"list_price": "999.0000",
                                                              "name": "Audit renommé"})
    run = _ok(sync_run(connection))
    assert run.updated == 2  # the product (its name) and its price in the list
    local = ExternalRef.objects.get(system="tryton", object_type="product",
                                    external_id=str(product["id"])).object_id
    assert Product.objects.get(pk=local).name == "Audit renommé"
    assert PriceListItem.objects.get(product_id=local).unit_price == 999
