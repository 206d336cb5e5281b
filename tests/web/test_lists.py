"""Lists: filters, sort, pagination, columns, saved views, exports — and only what one may see."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from comptoir.crm.models import Account, Opportunity
from comptoir.testing import factories
from comptoir.web.listing import COUNT_CAP, PAGE_SIZE, period_range
from comptoir.web.models import SavedView
from comptoir.web.views.lists import SPECS

pytestmark = pytest.mark.django_db


def _names(response: Any) -> list[str]:
    """Text of the first cell of each row, in order."""
    import re

    html = response.content.decode()
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [re.sub(r"<[^>]+>", "", m).strip()
            for m in re.findall(r'<td data-label="[^"]*"[^>]*>\s*<a href="[^"]*">(.*?)</a>',
                                body, re.S)]


@pytest.mark.parametrize("key", sorted(SPECS))
def test_every_list_renders_for_every_persona(key: str, world: Any, client_for: Any) -> None:
    url = reverse(f"web:{key}_list")
    for user in world.personas.users().values():
        response = client_for(user).get(url)
        assert response.status_code == 200, (key, user.username)
        assert 'aria-current="page"' in response.content.decode() or key == "opportunity"


def test_list_shows_only_what_the_user_may_see(world: Any, client_for: Any) -> None:
    mine, theirs = world.mine.account.legal_name, world.theirs.account.legal_name
    owner_page = _names(client_for(world.personas.owner).get("/accounts/"))
    assert mine in owner_page
    assert theirs not in owner_page
    manager_page = _names(client_for(world.personas.manager).get("/accounts/"))
    assert mine in manager_page
    assert theirs not in manager_page
    admin_page = _names(client_for(world.personas.admin).get("/accounts/"))
    assert mine in admin_page
    assert theirs in admin_page
    outsider = client_for(world.personas.outsider)
    assert mine not in _names(outsider.get("/accounts/"))
    # a filter naming the owner does not open a door
    assert mine not in _names(outsider.get(f"/accounts/?owner={world.personas.owner.pk}"))
    assert mine not in _names(outsider.get(f"/accounts/?q={mine}"))


def test_filters_sort_and_chips(owner: Any, client_for: Any) -> None:
    factories.account(by=owner, legal_name="Zèbre SAS", status="customer",
                      billing_postcode="69001")
    factories.account(by=owner, legal_name="Abeille SARL", status="prospect",
                      billing_postcode="69002")
    factories.account(by=owner, legal_name="Castor SA", status="customer",
                      billing_postcode="75001")
    client = client_for(owner)
    assert _names(client.get("/accounts/?status=customer")) == ["Castor SA", "Zèbre SAS"]
    assert _names(client.get("/accounts/?status=customer&sort=-legal_name")) == [
        "Zèbre SAS", "Castor SA"]
    assert _names(client.get("/accounts/?postcode=69&sort=billing_postcode")) == [
        "Zèbre SAS", "Abeille SARL"]
    assert _names(client.get("/accounts/?q=abeil")) == ["Abeille SARL"]
    assert _names(client.get("/accounts/?owner=me&status=prospect")) == ["Abeille SARL"]
    page = client.get("/accounts/?status=customer").content.decode()
    assert "Status: Customer" in page  # the active filter is a removable chip
    # an unknown sort or filter value is ignored, never an error
    assert client.get("/accounts/?sort=password&status=nope&page=999").status_code == 200


def test_bad_number_filter_is_a_message_not_an_error(owner: Any, client_for: Any,
                                                     pipeline: Any) -> None:
    response = client_for(owner).get("/deals/list/?amount=abc")
    assert response.status_code == 200
    assert "is not a number" in response.content.decode()


def test_deals_filtered_by_amount_and_close_period(owner: Any, client_for: Any,
                                                   pipeline: Any) -> None:
    account = factories.account(by=owner)
    start, _end = period_range("month")
    factories.opportunity(by=owner, account=account, name="Big", amount=Decimal("50000"),
                          expected_close_date=start)
    factories.opportunity(by=owner, account=account, name="Small", amount=Decimal("500"),
                          expected_close_date=start)
    factories.opportunity(by=owner, account=account, name="Later", amount=Decimal("90000"))
    client = client_for(owner)
    assert _names(client.get("/deals/list/?amount=1000&close=month")) == ["Big"]
    assert set(_names(client.get("/deals/list/?close=month"))) == {"Big", "Small"}


def test_pagination_and_capped_count(owner: Any, client_for: Any, settings: Any) -> None:
    Account.objects.bulk_create(
        [Account(legal_name=f"Bulk {i:03d}", owner=owner) for i in range(PAGE_SIZE + 5)])
    client = client_for(owner)
    first = client.get("/accounts/")
    assert len(_names(first)) == PAGE_SIZE
    assert f"{PAGE_SIZE + 5} records" in first.content.decode()
    second = client.get("/accounts/?page=2")
    assert _names(second) == [f"Bulk {i:03d}" for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert 'rel="prev"' in second.content.decode()
    import comptoir.web.listing as listing

    listing.COUNT_CAP, saved = 10, COUNT_CAP
    try:
        assert "More than 10 records" in client.get("/accounts/").content.decode()
    finally:
        listing.COUNT_CAP = saved


def test_column_choice(owner: Any, client_for: Any) -> None:
    factories.account(by=owner, legal_name="Colonnes", naf_code="62.01Z")
    html = client_for(owner).get("/accounts/?cols=legal_name&cols=naf_code").content.decode()
    header = html.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert "NAF code" in header
    assert "Status" not in header
    assert "62.01Z" in html


def test_htmx_request_gets_only_the_results(owner: Any, client_for: Any) -> None:
    factories.account(by=owner, legal_name="Partielle")
    response = client_for(owner).get("/accounts/?q=Part", HTTP_HX_REQUEST="true",
                                     HTTP_HX_TARGET="list-results")
    html = response.content.decode()
    assert "Partielle" in html
    assert "<html" not in html


def test_saved_views_are_personal(owner: Any, teammate: Any, client_for: Any) -> None:
    client = client_for(owner)
    response = client.post("/views/account/save/", {"name": "Lyon customers",
                                                    "query": "status=customer&postcode=69"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/?status=customer&postcode=69"
    view = SavedView.objects.get(user=owner)
    assert view.name == "Lyon customers"
    assert "Lyon customers" in client.get("/accounts/").content.decode()
    assert "Lyon customers" not in client_for(teammate).get("/accounts/").content.decode()
    # nameless: refused with a message, nothing saved
    client.post("/views/account/save/", {"name": " ", "query": "x=1"})
    assert SavedView.objects.count() == 1
    # someone else's view cannot be deleted
    assert client_for(teammate).post(f"/views/{view.pk}/delete/").status_code == 404
    assert client.post(f"/views/{view.pk}/delete/").status_code == 302
    assert not SavedView.objects.exists()


def test_csv_export_is_exactly_the_visible_filtered_list(world: Any, client_for: Any) -> None:
    owner = world.personas.owner
    factories.account(by=owner, legal_name="Export Me", status="customer")
    response = client_for(owner).get("/export/account/?format=csv&status=customer"
                                     "&cols=legal_name&cols=status")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=","))
    assert rows[0] == ["Name", "Status"]
    assert rows[1:] == [["Export Me", "Customer"]]
    everything = b"".join(client_for(owner).get("/export/account/?format=csv")
                          .streaming_content).decode("utf-8-sig")
    assert world.mine.account.legal_name in everything
    assert world.theirs.account.legal_name not in everything
    assert world.theirs.private_account.legal_name not in everything


def test_xlsx_export_keeps_numbers_and_respects_access(world: Any, client_for: Any) -> None:
    response = client_for(world.personas.outsider).get(
        "/export/opportunity/?format=xlsx&cols=name&cols=amount")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(book.active.values)
    assert rows[0] == ("Name", "Amount")
    assert rows[1:] == [(world.theirs.opportunity.name, 12000)]
    names = {r[0] for r in rows}
    assert world.mine.opportunity.name not in names


def test_export_of_selected_rows_only(owner: Any, client_for: Any) -> None:
    a = factories.account(by=owner, legal_name="Pick A")
    factories.account(by=owner, legal_name="Pick B")
    text = b"".join(client_for(owner).get(f"/export/account/?format=csv&ids={a.pk}")
                    .streaming_content).decode("utf-8-sig")
    assert "Pick A" in text
    assert "Pick B" not in text


def test_export_unknown_format_is_400(owner: Any, client_for: Any) -> None:
    assert client_for(owner).get("/export/account/?format=pdf").status_code == 400
    assert client_for(owner).get("/export/nothing/?format=csv").status_code == 404


def test_lists_need_a_signed_in_user(client: Any, db: None) -> None:
    response = client.get("/accounts/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert client.get("/export/account/?format=csv").status_code == 302


def test_french_list_formats_money_the_french_way(owner: Any, client_for: Any,
                                                  pipeline: Any) -> None:
    account = factories.account(by=owner)
    factories.opportunity(by=owner, account=account, name="Gros", amount=Decimal("1234.5"))
    html = client_for(owner, language="fr").get("/deals/list/").content.decode()
    assert "1\xa0234,50\xa0€" in html
    assert Opportunity.objects.count() == 1


def test_bulk_assign_goes_through_the_services(world: Any, client_for: Any) -> None:
    from comptoir.core.models import AuditEntry

    p = world.personas
    mine, theirs = world.mine.account, world.theirs.account
    client = client_for(p.lead_rep)  # the owner's manager takes the account back
    response = client.post("/bulk/account/assign/", {
        "ids": [mine.pk, theirs.pk], "assign_to": p.lead_rep.pk, "query": "status=prospect"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/?status=prospect"
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.owner_id == p.lead_rep.pk
    assert theirs.owner_id == p.outsider.pk  # not visible to the manager: untouched
    assert AuditEntry.objects.filter(object_type="account", object_id=mine.pk,
                                     action="update", source="ui").exists()


def test_bulk_assign_refuses_an_owner_out_of_reach(world: Any, client_for: Any) -> None:
    p = world.personas
    account = world.mine.account
    response = client_for(p.owner).post("/bulk/account/assign/", {
        "ids": [account.pk], "assign_to": p.outsider.pk}, follow=True)
    account.refresh_from_db()
    assert account.owner_id == p.owner.pk
    assert response.status_code == 200
    assert list(response.context["messages"])  # the refusal is said, not swallowed


def test_export_of_selected_rows_as_the_bulk_form_sends_them(owner: Any,
                                                              client_for: Any) -> None:
    a = factories.account(by=owner, legal_name="Sel A")
    b = factories.account(by=owner, legal_name="Sel B")
    factories.account(by=owner, legal_name="Sel C")
    text = b"".join(client_for(owner).get("/export/account/", {
        "ids": [a.pk, b.pk], "format": "csv", "cols": "legal_name", "assign_to": "",
        "query": "x=1"}).streaming_content).decode("utf-8-sig")
    assert text.splitlines()[1:] == ["Sel A", "Sel B"]
