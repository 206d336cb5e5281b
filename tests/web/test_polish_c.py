"""Day-one polish of the merge screens, the marketing home, the SIRENE button and the sync
page's quarantine: people read names and labels, never ids, codes or table paths."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages

from comptoir.integration.models import Connection
from comptoir.integration.services import sync_run
from comptoir.quality import dedupe
from comptoir.quality.models import DuplicatePair
from comptoir.sirene.models import SireneUnit
from comptoir.testing import factories as f

from .test_feeds import MAPPING, SOURCE

DATA = {"legal_name": "Dupont Conseil SARL", "email": "contact@dupont-conseil.fr",
        "phone": "04 72 00 00 01", "billing_street": "12 rue de la République",
        "billing_postcode": "69002", "billing_city": "Lyon"}


@pytest.fixture
def pair(personas: Any) -> DuplicatePair:
    """Two alike accounts that differ by owner, territory, payment terms and status; the
    second one has five activities."""
    north = f.territory(name="Nord-Est")
    south = f.territory(name="Sud-Ouest")
    a = f.account(by=personas.data_manager, siren=f.siren(9001), owner=personas.owner,
                  territory=north, payment_terms="net_45_eom", status="former", **DATA)
    b = f.account(by=personas.data_manager, owner=personas.manager, territory=south,
                  payment_terms="net_30", **{**DATA, "legal_name": "Dupont Conseil"})
    for _n in range(5):
        f.activity(by=personas.data_manager, account=b)
    dedupe.dedupe_run("account")
    return DuplicatePair.objects.get(left_id=a.pk, right_id=b.pk)


def _preview(client: Any, pair: DuplicatePair) -> str:
    response = client.get(f"/quality/pairs/{pair.pk}/", {"survivor": pair.left_id})
    assert response.status_code == 200
    return response.content.decode()


def test_merge_preview_shows_names_and_labels_not_ids_or_codes(client_for, personas, pair):
    html = _preview(client_for(personas.data_manager), pair)
    assert str(personas.owner) in html
    assert str(personas.manager) in html
    assert "Nord-Est" in html
    assert "Sud-Ouest" in html
    assert "45 days end of month" in html
    assert "net_45_eom" not in html
    assert "Former customer" in html
    assert ">former<" not in html


def test_merge_preview_says_what_moves_in_words(client_for, personas, pair):
    html = _preview(client_for(personas.data_manager), pair)
    assert "5 activities" in html
    assert "activities.activity" not in html


def test_merge_preview_rules_are_in_french(client_for, personas, pair):
    html = _preview(client_for(personas.data_manager, language="fr"), pair)
    assert '<span class="muted">recent</span>' not in html
    assert '<span class="muted">empty</span>' not in html


def test_merges_list_names_changed_fields(client_for, personas, pair):
    client = client_for(personas.data_manager)
    client.post(f"/quality/pairs/{pair.pk}/", {"survivor": pair.left_id,
                                               "pick_legal_name": pair.right_id,
                                               "pick_payment_terms": pair.right_id})
    html = client.get("/quality/merges/?object=account").content.decode()
    assert "payment terms" in html
    assert "payment_terms" not in html
    assert "legal_name" not in html


def test_merge_message_names_the_record_as_kept(client_for, personas, pair):
    client = client_for(personas.data_manager)
    response = client.post(f"/quality/pairs/{pair.pk}/", {"survivor": pair.left_id,
                                                          "pick_legal_name": pair.right_id})
    assert response.status_code == 302
    text = next(str(m) for m in get_messages(response.wsgi_request))
    assert "Merged into Dupont Conseil." in text
    assert "SARL" not in text


def test_marketing_home_suggests_nothing_that_does_not_exist(client_for, marketing):
    html = client_for(marketing).get("/").content.decode()
    assert "No new lead this week" in html
    assert "Import a list" not in html
    assert "web form" not in html


def test_enrich_from_sirene_is_offered_only_once_loaded(client_for, personas):
    account = f.account(by=personas.owner, legal_name="Martin SAS")
    client = client_for(personas.owner)
    assert "Enrich from SIRENE" not in client.get(f"/accounts/{account.pk}/").content.decode()
    SireneUnit.objects.create(siren="123456789", denomination="MARTIN")
    assert "Enrich from SIRENE" in client.get(f"/accounts/{account.pk}/").content.decode()


@pytest.fixture
def connection(db: None) -> Connection:
    SOURCE["customers"] = [{"id": "C1", "name": "Client 1 SAS", "kind": "C"},
                           {"id": "C2", "name": "Client 2 SAS", "kind": "?"}]
    return Connection.objects.create(name="erp", label="The ERP", connector="memory-web-test",
                                     mapping=MAPPING)


def test_quarantine_shows_the_field_label(client_for, data_manager, connection):
    run = sync_run(connection)
    assert run.quarantined == 1
    html = client_for(data_manager).get("/sync/").content.decode()
    assert ">Status</span> —" in html
    assert '<span class="mono">status</span>' not in html


def test_merge_preview_shows_no_ids_booleans_or_raw_phone_numbers(client_for, personas, pair):
    from comptoir.crm.models import Account

    Account.objects.filter(pk=pair.left_id).update(phone="+33472000001", active=True)
    html = _preview(client_for(personas.data_manager, language="fr"), pair)
    assert f"#{pair.left_id}" not in html
    assert f"#{pair.right_id}" not in html
    assert ">True<" not in html
    assert "> True" not in html
    assert "+33472000001" not in html
    assert "04 72 00 00 01" in html
    assert "<td>Raison sociale</td>" in html  # labels start with a capital, as in forms
