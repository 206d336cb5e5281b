"""Outbound, when Tryton answers a promoted account with a party it already has (real server).

The customer synced from that party keeps its link; the promoted account is not linked and is
proposed for merge with it in the duplicate review queue, with an audit entry saying what it
matched. A party no CRM account is linked to yet is linked to the promoted account.
"""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.core.models import AuditEntry, ExternalRef
from comptoir.crm.models import Account
from comptoir.integration.connectors.tryton_rpc import TrytonClient
from comptoir.integration.mappings import builtin_mapping
from comptoir.integration.models import Connection, SyncRun
from comptoir.integration.outbound import outbound_process
from comptoir.integration.services import sync_run
from comptoir.quality.dedupe import SAME_EXTERNAL, dedupe_run
from comptoir.quality.identifiers import siret_with_check_digit
from comptoir.quality.models import DuplicatePair
from comptoir.quality.promotion import promotion_approve, promotion_request
from comptoir.testing import factories as f
from comptoir.testing.tryton_fixtures import tryton, tryton_template  # noqa: F401


@pytest.fixture
def erp(tryton: Any, db: None) -> tuple[Connection, TrytonClient]:  # noqa: F811
    """Both ways, the shipped mapping, and the whole Tryton base synced in."""
    connection = Connection.objects.create(
        name="tryton", connector="tryton", mapping=builtin_mapping("tryton"),
        direction=Connection.Direction.BOTH,
        parameters={"url": tryton.url, "database": tryton.database,
                    "username": tryton.username},
        secrets={"password": tryton.password})
    client = TrytonClient(tryton.url, tryton.database, tryton.username, tryton.password,
                          extra_context={"active_test": False})
    run = sync_run(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, (run.error_category, run.error_message)
    return connection, client


def _ref(party: int) -> ExternalRef:
    return ExternalRef.objects.get(system="tryton", object_type="account",
                                   external_id=str(party))


def _compact(code: str) -> str:
    return "".join(c for c in code if c.isdigit())


def _linked(party: int) -> bool:
    return ExternalRef.objects.filter(system="tryton", object_type="account",
                                      external_id=str(party), deleted_at__isnull=True).exists()


def _party_with_siren(client: TrytonClient) -> tuple[int, str]:
    """A party of the seed synced to an account, with a SIREN no other party has."""
    rows = client.search_read("party.identifier", [["type", "=", "fr_siren"]],
                              ["party", "code"], order=[["id", "ASC"]])
    counts: dict[str, int] = {}
    for row in rows:
        counts[_compact(row["code"])] = counts.get(_compact(row["code"]), 0) + 1
    row = next(r for r in rows if counts[_compact(r["code"])] == 1 and _linked(r["party"]))
    return int(row["party"]), _compact(row["code"])


def _prospect(by: Any, n: int, **data: Any) -> Account:
    """A prospect meeting the ERP profile (different address and contacts from the seed)."""
    siren = data.pop("siren", f.siren(n))
    values = {"legal_name": f"Prospect Unique {n} SAS", "siren": siren,
              "siret": siret_with_check_digit(siren, "0001"), "naf_code": "16.23Z",
              "billing_street": f"{n} chemin des Essais", "billing_postcode": "05000",
              "billing_city": "Gap", "payment_terms": "net_30", **data}
    account = f.account(by=by, **values)
    f.contact(by=by, account=account, last_name=f"Essai{n}", email=f"e{n}@prospect.example")
    return account


def _assert_proposed(prospect: Account, customer_id: int, party: int) -> None:
    """The customer keeps the party, the prospect is not linked, the pair and audit say so."""
    assert _ref(party).object_id == customer_id
    assert _ref(party).deleted_at is None
    assert not ExternalRef.objects.filter(system="tryton", object_type="account",
                                          object_id=prospect.pk).exists()
    left, right = sorted((prospect.pk, customer_id))
    pair = DuplicatePair.objects.get(object_type="account", left_id=left, right_id=right)
    assert pair.status == DuplicatePair.Status.OPEN
    assert SAME_EXTERNAL in pair.keys
    [stated] = [r for r in pair.reasons if r["field"] == SAME_EXTERNAL]
    assert (stated["system"], stated["external_id"]) == ("tryton", str(party))
    assert pair.score >= 85  # the "sure" threshold: at the head of the queue
    [entry] = AuditEntry.objects.filter(object_type="account", object_id=prospect.pk,
                                        source="outbound:tryton")
    assert entry.changes == {"erp_party": [None, f"tryton:{party}"],
                             "same_as_account": [None, customer_id],
                             "duplicate_pair": [None, pair.pk],
                             "erp_outcome": [None, "merge_proposed"]}


def test_same_siren_keeps_the_customer_linked_and_proposes_a_merge(erp: Any, api: Any,
                                                                    personas: Any) -> None:
    connection, client = erp
    party, siren = _party_with_siren(client)
    customer_id = _ref(party).object_id
    parties_before = client.search_count("party.party", [])
    prospect = _prospect(personas.owner, 8101, siren=siren)

    api(personas.admin).post(f"/api/v1/accounts/{prospect.pk}/promote").expect(200)
    done = outbound_process(connection)
    assert (done["created"], done["linked"], done["merge_proposed"]) == (0, 0, 1)
    assert client.search_count("party.party", []) == parties_before  # nothing made in Tryton
    _assert_proposed(prospect, customer_id, party)
    assert outbound_process(connection)["merge_proposed"] == 0  # the cursor moved on

    # The next batch scoring keeps the pair (its fields alone may not reach the queue), and
    # the next inbound sync leaves the link where it is.
    dedupe_run("account")
    assert DuplicatePair.objects.filter(status="open", keys__icontains=SAME_EXTERNAL).count() == 1
    assert sync_run(connection).status == SyncRun.Status.SUCCEEDED
    _assert_proposed(prospect, customer_id, party)

    # Merging the pair keeps the customer (the one the ERP knows), with its link.
    pair = DuplicatePair.objects.get(status="open", keys__icontains=SAME_EXTERNAL)
    api(personas.admin).post("/api/v1/duplicates/pairs/merge",
                             {"pair_ids": [pair.pk]}).expect(201)
    assert not Account.objects.filter(pk=prospect.pk).exists()
    assert _ref(party).object_id == customer_id


def test_same_name_through_an_approved_request(erp: Any, api: Any, personas: Any) -> None:
    connection, client = erp
    names: dict[str, list[int]] = {}
    for row in client.search_read("party.party", [], ["name"], order=[["id", "ASC"]]):
        names.setdefault(row["name"], []).append(row["id"])
    name, [party] = next((n, ids) for n, ids in names.items()
                         if len(ids) == 1 and _linked(ids[0]))
    customer_id = _ref(party).object_id
    prospect = _prospect(personas.owner, 8102, legal_name=name)
    request, _created = promotion_request(account=prospect, user=personas.owner)
    promotion_approve(request=request, user=personas.data_manager)

    assert outbound_process(connection)["merge_proposed"] == 1
    _assert_proposed(prospect, customer_id, party)
    # the data manager sees it in the review queue
    queue = api(personas.data_manager).get("/api/v1/duplicates/pairs").expect(200)
    assert [(p["left_id"], p["right_id"]) for p in queue["items"]
            if SAME_EXTERNAL in p["keys"]] == [tuple(sorted((prospect.pk, customer_id)))]


def test_a_party_no_account_is_linked_to_gets_linked(erp: Any, api: Any, personas: Any) -> None:
    connection, client = erp
    siren = f.siren(8103)
    assert not client.search("party.identifier", [["code", "=", siren]], 0, 1)
    [party] = client.create("party.party", [{
        "name": "Scierie des Hautes-Alpes",
        "identifiers": [["create", [{"type": "fr_siren", "code": siren}]]]}])
    prospect = _prospect(personas.owner, 8103, siren=siren)

    api(personas.admin).post(f"/api/v1/accounts/{prospect.pk}/promote").expect(200)
    done = outbound_process(connection)
    assert (done["created"], done["linked"], done["merge_proposed"]) == (0, 1, 0)
    assert _ref(party).object_id == prospect.pk
    assert not DuplicatePair.objects.filter(keys__icontains=SAME_EXTERNAL).exists()
    [entry] = AuditEntry.objects.filter(object_type="account", object_id=prospect.pk,
                                        source="outbound:tryton")
    assert entry.changes == {"erp_party": [None, f"tryton:{party}"],
                             "erp_outcome": [None, "linked"]}
