"""Leads and cases boards (issue 14): columns by status, moves through the services, access."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comptoir.core.models import AuditEntry, ObjectType
from comptoir.crm.models import Lead
from comptoir.crm.services import lead_update
from comptoir.service.models import Case
from comptoir.testing import factories

LEADS = "/leads/board/"
CASES = "/cases/board/"
HX = {"HTTP_HX_REQUEST": "true"}


def column(html: str, status: str) -> str:
    found = re.search(rf'<section id="col-{status}"[^>]*>(.*?)</section>', html, re.S)
    assert found, f"no column {status}"
    return found.group(1)


def count(col: str) -> str:
    found = re.search(r"<dd data-count>(.*?)</dd>", col)
    assert found
    return found.group(1)


def test_the_leads_board_shows_a_column_per_status_and_only_visible_leads(
        client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    factories.lead(by=owner, last_name="Working", company_name="Busy SARL", status="working")
    html = client_for(owner).get(LEADS).content.decode()
    for status in ("new", "working", "qualified", "disqualified", "converted"):
        assert f'id="col-{status}"' in html
    assert "OliviaLead" in column(html, "new")
    assert "Busy SARL" in column(html, "working")
    assert count(column(html, "new")) == "1"
    assert "OscarLead" not in html  # the outsider's lead
    # the list and the board link to each other (the list links back, see the lead's note)
    assert 'href="/leads/?status=new&amp;status=working&amp;status=qualified"' in html
    # converted is not a drop target: it says why instead
    converted = column(html, "converted")
    assert "conversion creates the account" in converted
    assert 'data-refuse="' in html
    assert f'href="/leads/{world.mine.lead.pk}/convert/"' in html


def test_the_boards_open_on_my_records_for_a_rep_and_on_all_for_the_other_roles(
        client_for: Any, world: Any) -> None:
    p = world.personas
    mate = factories.lead(by=p.teammate, last_name="MateLead")
    html = client_for(p.owner).get(LEADS).content.decode()
    assert "MateLead" not in html  # a rep starts on their own leads...
    assert "OliviaLead" in html
    assert re.search(r'<option value="me" selected>', html)
    html = client_for(p.lead_rep).get(LEADS).content.decode()  # ...a manager on their team's
    assert "OliviaLead" in html
    assert re.search(r'<option value="all" selected>', html)
    html = client_for(p.marketing).get(LEADS).content.decode()  # marketing reads every lead
    assert "OliviaLead" in html
    assert "OscarLead" in html
    assert "MateLead" in html
    html = client_for(p.owner).get(LEADS, {"owner": "team"}).content.decode()
    assert "MateLead" not in html  # a teammate's lead is not the owner's to see
    html = client_for(p.service).get(CASES).content.decode()  # service reads every case
    assert "Olivia broken widget" in html
    assert "Oscar broken widget" in html
    assert mate.pk


def test_a_lead_move_goes_through_the_service_with_audit(client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    lead = world.mine.lead
    response = client_for(owner).post(f"/leads/{lead.pk}/move/",
                                      {"status": "working", "from": "new"}, **HX)
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.status == "working"
    audit = AuditEntry.objects.filter(object_type=ObjectType.LEAD, object_id=lead.pk,
                                      action="update").latest("id")
    assert audit.changes["status"] == ["new", "working"]
    assert audit.user_id == owner.pk
    html = response.content.decode()
    assert 'hx-swap-oob="true"' in html
    assert "OliviaLead" in column(html, "working")
    assert count(column(html, "new")) == "0"
    assert 'id="col-qualified"' not in html  # only the two columns change
    assert "moved to Working" in html


def test_a_lead_is_never_converted_by_a_move(client_for: Any, world: Any) -> None:
    lead = world.mine.lead
    response = client_for(world.personas.owner).post(
        f"/leads/{lead.pk}/move/", {"status": "converted", "from": "new"}, **HX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "was not moved" in html
    assert "Convert…" in html
    assert "OliviaLead" in column(html, "new")  # drawn back where it is
    lead.refresh_from_db()
    assert lead.status == "new"
    assert lead.converted_at is None


def test_a_move_is_refused_when_the_status_changed_since_the_board_was_drawn(
        client_for: Any, world: Any) -> None:
    p = world.personas
    lead = world.mine.lead
    lead_update(lead=Lead.objects.get(pk=lead.pk), user=p.lead_rep,
                data={"status": "qualified"})
    response = client_for(p.owner).post(f"/leads/{lead.pk}/move/",
                                        {"status": "working", "from": "new"}, **HX)
    assert response.status_code == 412
    html = response.content.decode()
    assert "was not moved" in html
    assert "changed this record since you opened it" in html
    assert "OliviaLead" in column(html, "qualified")  # where it really is now
    lead.refresh_from_db()
    assert lead.status == "qualified"


def test_moves_need_the_right_to_see_and_change(client_for: Any, world: Any) -> None:
    p = world.personas
    lead, case = world.mine.lead, world.mine.case
    outsider = client_for(p.outsider)
    assert outsider.post(f"/leads/{lead.pk}/move/", {"status": "working"}).status_code == 404
    response = outsider.post(f"/leads/{lead.pk}/move/", {"status": "working"}, **HX)
    assert response.status_code == 404
    assert "does not exist or you may not see it" in response.content.decode()
    assert outsider.post(f"/cases/{case.pk}/move/", {"status": "open"}, **HX).status_code == 404
    assert client_for(p.marketing).post(f"/cases/{case.pk}/move/",
                                        {"status": "open"}, **HX).status_code == 404
    lead.refresh_from_db()
    case.refresh_from_db()
    assert lead.status == "new"
    assert case.status == "new"
    # marketing changes every lead, service every case (their roles' extensions)
    assert client_for(p.marketing).post(f"/leads/{lead.pk}/move/", {"status": "working"},
                                        **HX).status_code == 200
    assert client_for(p.service).post(f"/cases/{case.pk}/move/", {"status": "open"},
                                      **HX).status_code == 200
    lead.refresh_from_db()
    case.refresh_from_db()
    assert lead.status == "working"
    assert case.status == "open"
    # a status that does not exist
    response = client_for(p.owner).post(f"/cases/{case.pk}/move/", {"status": "nope"}, **HX)
    assert response.status_code == 422
    assert "Choose a status" in response.content.decode()


def test_closing_a_case_by_a_move_stamps_it_and_counts_it_this_month(client_for: Any,
                                                                     world: Any) -> None:
    owner = world.personas.owner
    case = world.mine.case
    client = client_for(owner)
    html = client.get(CASES).content.decode()
    assert "Olivia broken widget" in column(html, "new")
    assert "Drop here to close" in column(html, "closed")
    response = client.post(f"/cases/{case.pk}/move/", {"status": "closed", "from": "new"}, **HX)
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED
    assert case.closed_at is not None
    audit = AuditEntry.objects.filter(object_type=ObjectType.CASE, object_id=case.pk,
                                      action="update").latest("id")
    assert audit.changes["status"] == ["new", "closed"]
    html = response.content.decode()
    assert count(column(html, "closed")) == "1"
    assert "Olivia broken widget" not in column(html, "new")


def test_a_move_without_javascript_comes_back_to_the_board_with_a_message(
        client_for: Any, world: Any) -> None:
    client = client_for(world.personas.owner)
    case = world.mine.case
    response = client.post(f"/cases/{case.pk}/move/",
                           {"status": "waiting", "next": "/cases/board/?owner=all"})
    assert response.status_code == 302
    assert response["Location"] == "/cases/board/?owner=all"
    assert "moved to Waiting for customer" in client.get(response["Location"]).content.decode()
    evil = client.post(f"/cases/{case.pk}/move/", {"status": "open",
                                                   "next": "https://evil.example/"})
    assert evil["Location"] == "/cases/board/"


def test_a_board_costs_the_same_queries_for_many_records(client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    client = client_for(owner)
    client.get(LEADS)
    client.get(CASES)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    leads, cases = queries(LEADS), queries(CASES)
    for n in range(10):
        factories.lead(by=owner, last_name=f"Bulk{n}", status=("new", "working")[n % 2])
        factories.case(by=owner, account=world.mine.account, subject=f"Bulk case {n}",
                       priority=("urgent", "low")[n % 2])
    assert queries(LEADS) == leads
    assert queries(CASES) == cases
    html = client.get(CASES).content.decode()
    new = column(html, "new")
    assert new.index("Bulk case 0") < new.index("Bulk case 1")  # urgent first


@pytest.mark.parametrize("url", [LEADS, CASES])
def test_the_boards_need_a_sign_in(client: Any, url: str, db: None) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert "/login" in response["Location"]
