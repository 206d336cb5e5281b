"""Where the data manager sees the values a sync left out (``FieldIssue``): the run's page, the
sync page, the "Values left out" tab of the data-quality area, and the record's quality card."""

from __future__ import annotations

import re
from typing import Any

import pytest

from comptoir.integration.models import Connection, FieldIssue, SyncRun
from comptoir.testing import factories as f


@pytest.fixture
def erp(db: None) -> Connection:
    return Connection.objects.create(name="erp", label="The ERP", connector="memory",
                                     mapping='system = "erp"\n')


@pytest.fixture
def shop(db: None) -> Connection:
    return Connection.objects.create(name="shop", label="The shop", connector="memory",
                                     mapping='system = "shop"\n')


@pytest.fixture
def run(erp: Connection) -> SyncRun:
    return SyncRun.objects.create(connection=erp, status=SyncRun.Status.SUCCEEDED, read=3,
                                  created=3, dropped=2)


def issue(connection: Connection, obj: Any, field: str, value: str, *, run: SyncRun | None,
          object_type: str = "account", status: str = "open", **extra: Any) -> FieldIssue:
    return FieldIssue.objects.create(
        connection=connection, stream="customers", external_id=f"X{obj.pk}-{field}",
        object_type=object_type, object_id=obj.pk, field=field, value=value,
        reason=extra.pop("reason", "Enter a valid value."), status=status, first_run=run,
        last_run=run, **extra)


# --- The run's page and the sync page -------------------------------------------------------

def test_run_page_shows_the_count_and_the_values_it_left_out(
        client_for: Any, personas: Any, erp: Connection, run: SyncRun) -> None:
    account = f.account(by=personas.owner, legal_name="Dupont SARL")
    other = SyncRun.objects.create(connection=erp, status=SyncRun.Status.SUCCEEDED)
    mine = issue(erp, account, "email", "dupont@@example", run=run,
                 reason="Enter a valid e-mail address.")
    fixed = issue(erp, account, "phone", "12", run=run, status="resolved")
    elsewhere = issue(erp, account, "siren", "123", run=other)
    client = client_for(personas.data_manager)
    html = client.get(f"/sync/runs/{run.pk}/").content.decode()
    assert re.search(r'data-figure="dropped">2<', html)
    assert f'id="issue-{mine.pk}"' in html
    assert "dupont@@example" in html
    assert "Enter a valid e-mail address." in html
    assert "E-mail" in html  # the field's label, not its name
    assert f'href="/accounts/{account.pk}/"' in html
    assert "Dupont SARL" in html
    assert f'id="issue-{fixed.pk}"' in html
    assert "Valid again" in html
    assert f'id="issue-{elsewhere.pk}"' not in html
    # the polled part carries the count, not the list
    partial = client.get(f"/sync/runs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-figure="dropped">2<' in partial
    assert f'id="issue-{mine.pk}"' not in partial
    empty = client.get(f"/sync/runs/{other.pk}/?page=x").content.decode()
    assert f'id="issue-{elsewhere.pk}"' in empty
    assert "left no value out" in client.get(
        f"/sync/runs/{SyncRun.objects.create(connection=erp).pk}/").content.decode()


def test_run_page_pages_its_values(client_for: Any, personas: Any, erp: Connection,
                                   run: SyncRun) -> None:
    accounts = [f.account(by=personas.owner) for _ in range(27)]
    for a in accounts:
        issue(erp, a, "email", "bad", run=run)
    client = client_for(personas.data_manager)
    first = client.get(f"/sync/runs/{run.pk}/").content.decode()
    assert first.count('id="issue-') == 25
    assert "Page 1 of 2" in first
    second = client.get(f"/sync/runs/{run.pk}/?page=2").content.decode()
    assert second.count('id="issue-') == 2
    assert client.get(f"/sync/runs/{run.pk}/?page=999").status_code == 200


def test_sync_page_and_runs_show_the_values_left_out(client_for: Any, personas: Any,
                                                     erp: Connection, run: SyncRun) -> None:
    account = f.account(by=personas.owner)
    issue(erp, account, "email", "bad", run=run)
    issue(erp, account, "phone", "bad", run=run)
    issue(erp, account, "siren", "1", run=run, status="resolved")
    client = client_for(personas.data_manager)
    html = client.get("/sync/").content.decode()
    assert "2 to correct" in html
    assert "/quality/field-issues/?connection=erp" in html
    assert "2 values to correct at the source" in html
    runs = client.get("/sync/runs/").content.decode()
    assert "Values left out" in runs


# --- The "Values left out" tab --------------------------------------------------------------

@pytest.fixture
def spread(personas: Any, erp: Connection, shop: Connection, run: SyncRun) -> dict[str, Any]:
    owner = personas.owner
    account = f.account(by=owner, legal_name="Acme SAS")
    contact = f.contact(by=owner, account=account, last_name="Martin")
    document = f.sales_document(by=owner, account=account)
    shop_run = SyncRun.objects.create(connection=shop)
    return {
        "account": account, "contact": contact, "document": document,
        "email": issue(erp, account, "email", "acme@", run=run),
        "phone": issue(erp, contact, "phone", "abc", run=run, object_type="contact"),
        "date": issue(erp, document, "issue_date", "31/02/2024", run=run,
                      object_type="salesdocument"),
        "shop": issue(shop, account, "siren", "12", run=shop_run),
        "resolved": issue(erp, account, "website", "nope", run=run, status="resolved"),
    }


def _ids(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'id="issue-(\d+)"', html)}


def test_tab_lists_the_open_values_with_links_to_their_records(
        client_for: Any, personas: Any, spread: dict[str, Any]) -> None:
    response = client_for(personas.data_manager).get("/quality/field-issues/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-current="page" class="active">Values left out<' in html
    assert _ids(html) == {spread[k].pk for k in ("email", "phone", "date", "shop")}
    assert f'href="/accounts/{spread["account"].pk}/"' in html
    assert f'href="/contacts/{spread["contact"].pk}/"' in html
    assert f'href="/documents/{spread["document"].pk}/"' in html
    assert f'href="/sync/runs/{spread["email"].last_run_id}/"' in html
    assert "acme@" in html
    assert "31/02/2024" in html
    assert "E-mail" in html
    assert "SIREN" in html


def test_tab_filters_by_connection_object_and_field(
        client_for: Any, personas: Any, spread: dict[str, Any]) -> None:
    client = client_for(personas.data_manager)

    def ids(query: str) -> set[int]:
        return _ids(client.get("/quality/field-issues/?" + query).content.decode())

    assert ids("connection=shop") == {spread["shop"].pk}
    assert ids("object=contact") == {spread["phone"].pk}
    assert ids("field=email") == {spread["email"].pk}
    assert ids("connection=erp&object=account") == {spread["email"].pk}
    assert ids("connection=erp&field=siren") == set()
    assert "No value left out matches these filters." in client.get(
        "/quality/field-issues/?connection=erp&field=siren").content.decode()
    # the field filter offers the fields present, under their labels
    html = client.get("/quality/field-issues/?object=account").content.decode()
    assert '<option value="email">E-mail</option>' in html
    assert 'value="phone"' not in html


def test_tab_sorts_by_date(client_for: Any, personas: Any, spread: dict[str, Any]) -> None:
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(days=30)
    FieldIssue.objects.filter(pk=spread["date"].pk).update(created_at=old)
    client = client_for(personas.data_manager)
    newest = re.findall(r'id="issue-(\d+)"', client.get("/quality/field-issues/")
                        .content.decode())
    oldest = re.findall(r'id="issue-(\d+)"', client.get("/quality/field-issues/?sort=oldest")
                        .content.decode())
    assert int(newest[-1]) == spread["date"].pk
    assert int(oldest[0]) == spread["date"].pk


def test_tab_paginates(client_for: Any, personas: Any, erp: Connection, run: SyncRun) -> None:
    for a in [f.account(by=personas.owner) for _ in range(33)]:
        issue(erp, a, "email", "bad", run=run)
    client = client_for(personas.data_manager)
    first = client.get("/quality/field-issues/").content.decode()
    assert len(_ids(first)) == 30
    assert "Page 1 of 2" in first
    assert len(_ids(client.get("/quality/field-issues/?page=2").content.decode())) == 3


def test_tab_empty_state(client_for: Any, personas: Any) -> None:
    html = client_for(personas.admin).get("/quality/field-issues/").content.decode()
    assert "No value left out: every value the syncs received was valid" in html


@pytest.mark.parametrize("query", [
    "connection=nope", "object=lead", "object=%00", "field=" + "x" * 500, "field=a%00b",
    "sort=sideways", "page=-1", "page=abc", "page=99999999999999999999999",
    "connection=erp&object=account&field=email&sort=oldest&page=2",
])
def test_tab_survives_garbage(client_for: Any, personas: Any, spread: dict[str, Any],
                              query: str) -> None:
    assert client_for(personas.data_manager).get(
        "/quality/field-issues/?" + query).status_code == 200


@pytest.mark.parametrize("who", ["owner", "manager", "outsider", "marketing", "service"])
def test_tab_is_404_for_everyone_but_data_managers(client_for: Any, personas: Any,
                                                   spread: dict[str, Any], who: str) -> None:
    assert client_for(personas[who]).get("/quality/field-issues/").status_code == 404


# --- The record's quality card --------------------------------------------------------------

def test_record_card_lists_the_open_values_for_whoever_sees_the_record(
        client_for: Any, personas: Any, spread: dict[str, Any],
        django_assert_num_queries: Any) -> None:
    account = spread["account"]
    for who in ("owner", "data_manager"):
        html = client_for(personas[who]).get(f"/accounts/{account.pk}/").content.decode()
        card = html.split('id="quality-issues"', 1)[1].split("</div>", 1)[0]
        assert f'data-issue="{spread["email"].pk}"' in card, who
        assert f'data-issue="{spread["shop"].pk}"' in card, who  # every connection
        assert f'data-issue="{spread["resolved"].pk}"' not in card, who
        assert "acme@" in card
        assert "E-mail" in card
        assert "The ERP" in card
        assert "2 values left out by the sync" in card
    # one indexed query
    from comptoir.web.views.quality_issues import record_issues

    with django_assert_num_queries(1):
        rows = record_issues("account", account.pk)
    assert [r["issue"].field for r in rows] == ["email", "siren"]


def test_record_card_on_pages_without_quality_profiles(
        client_for: Any, personas: Any, spread: dict[str, Any]) -> None:
    html = client_for(personas.owner).get(
        f"/documents/{spread['document'].pk}/").content.decode()
    assert 'id="quality-issues"' in html
    assert "31/02/2024" in html
    card = html.split('id="quality-issues"', 1)[1].split("</div>", 1)[0]
    assert "<dt>Date</dt>" in card  # the model's verbose name


def test_record_without_open_values_shows_no_list(client_for: Any, personas: Any,
                                                  erp: Connection, run: SyncRun) -> None:
    account = f.account(by=personas.owner)
    issue(erp, account, "email", "old@", run=run, status="resolved")
    html = client_for(personas.owner).get(f"/accounts/{account.pk}/").content.decode()
    assert 'id="quality-issues"' not in html
    assert "old@" not in html
    product = f.product(by=personas.admin)
    assert 'id="quality"' not in client_for(personas.owner).get(
        f"/catalogue/{product.pk}/").content.decode()


def test_a_rep_who_cannot_see_the_account_still_gets_404(
        client_for: Any, personas: Any, spread: dict[str, Any]) -> None:
    response = client_for(personas.outsider).get(f"/accounts/{spread['account'].pk}/")
    assert response.status_code == 404
    assert b"acme@" not in response.content
