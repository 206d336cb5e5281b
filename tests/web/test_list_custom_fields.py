"""Custom fields (R14) in the web lists: columns, sort, filters, saved views and exports.

Values live in each record's ``custom`` JSON column; these tests run on SQLite and on
PostgreSQL (CI runs the suite on both), where JSON key lookups and ordering differ.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from django.utils import translation
from django.utils.formats import date_format
from openpyxl import load_workbook

from comptoir.core.config_services import custom_field_create
from comptoir.testing import factories
from comptoir.web.models import SavedView

pytestmark = pytest.mark.django_db


def _rows(response: Any) -> list[str]:
    """Text of the first cell of each row, in order."""
    html = response.content.decode()
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [re.sub(r"<[^>]+>", "", m).strip()
            for m in re.findall(r'<td data-label="[^"]*"[^>]*>\s*<a href="[^"]*"[^>]*>(.*?)</a>',
                                body, re.S)]


def _cells(response: Any, label: str) -> list[str]:
    """Text of the cells of one column (by its label), in row order."""
    html = response.content.decode()
    return [re.sub(r"<[^>]+>", "", m).strip() for m in
            re.findall(rf'<td data-label="{re.escape(label)}"[^>]*>(.*?)</td>', html, re.S)]


@pytest.fixture
def fields(admin: Any) -> dict[str, Any]:
    def make(name: str, label: str, type_: str, **extra: Any) -> Any:
        return custom_field_create(user=admin, data={
            "object_type": "account", "name": name, "label": label, "type": type_, **extra})

    return {
        "fleet": make("fleet_size", "Fleet size", "number"),
        "signed": make("signed_on", "Signed on", "date"),
        "tier": make("tier", "Tier", "choice", choices=["Gold", "Silver", "Bronze"]),
        "vip": make("vip", "VIP", "boolean"),
        "note": make("sales_note", "Sales note", "text"),
    }


@pytest.fixture
def accounts(owner: Any, fields: Any) -> dict[str, Any]:
    # numbers chosen so that text order (10 < 9 < 100…) differs from number order
    return {
        "a": factories.account(by=owner, legal_name="Alpha", custom={
            "fleet_size": 9, "signed_on": "2025-03-01", "tier": "Gold", "vip": True,
            "sales_note": "Wants a framework agreement"}),
        "b": factories.account(by=owner, legal_name="Bravo", custom={
            "fleet_size": 100, "signed_on": "2024-12-31", "tier": "Silver", "vip": False}),
        "c": factories.account(by=owner, legal_name="Charlie", custom={
            "fleet_size": 10.5, "signed_on": "2025-11-15", "tier": "Gold",
            "sales_note": "Call back in spring"}),
        "d": factories.account(by=owner, legal_name="Delta"),  # nothing set
    }


def test_custom_fields_are_offered_as_columns_and_filters(accounts: Any, owner: Any,
                                                          client_for: Any) -> None:
    html = client_for(owner).get("/accounts/").content.decode()
    for key in ("cf_fleet_size", "cf_signed_on", "cf_tier", "cf_vip", "cf_sales_note"):
        assert f'name="cols" value="{key}"' in html, key  # in the column picker
    assert 'name="cf_fleet_size_min"' in html
    assert 'name="cf_fleet_size_max"' in html
    assert 'name="cf_signed_on_min"' in html
    assert 'type="date"' in html
    assert '<option value="Silver"' in html  # the choice field's picklist
    assert 'name="cf_sales_note"' in html
    assert 'name="cf_vip"' in html
    # not shown as columns until chosen
    assert 'data-label="Fleet size"' not in html


def test_an_inactive_custom_field_is_neither_column_nor_filter(accounts: Any, fields: Any,
                                                               admin: Any, owner: Any,
                                                               client_for: Any) -> None:
    from comptoir.core.config_services import custom_field_update

    custom_field_update(user=admin, field=fields["note"], data={"active": False})
    html = client_for(owner).get("/accounts/?cols=legal_name,cf_sales_note").content.decode()
    assert 'value="cf_sales_note"' not in html
    assert "Sales note" not in html
    assert _rows(client_for(owner).get("/accounts/?cf_sales_note=spring")) == [
        "Alpha", "Bravo", "Charlie", "Delta"]  # an unknown filter is ignored, not an error


def test_custom_columns_are_formatted_like_other_values(accounts: Any, owner: Any,
                                                        client_for: Any) -> None:
    url = "/accounts/?cols=legal_name,cf_fleet_size,cf_signed_on,cf_vip,cf_tier&sort=legal_name"
    en = client_for(owner, language="en").get(url)
    assert _cells(en, "Fleet size") == ["9", "100", "10.5", ""]
    with translation.override("en"):
        days = [date_format(dt.date(2025, 3, 1), "SHORT_DATE_FORMAT"),
                date_format(dt.date(2024, 12, 31), "SHORT_DATE_FORMAT")]
    assert _cells(en, "Signed on")[:2] == days
    assert _cells(en, "Signed on")[3] == ""
    assert _cells(en, "VIP") == ["Yes", "No", "", ""]
    assert _cells(en, "Tier") == ["Gold", "Silver", "Gold", ""]
    factories.account(by=owner, legal_name="Echo", custom={"fleet_size": 1234.5})
    fr = client_for(owner, language="fr").get(url)
    assert _cells(fr, "Signed on")[0] == "01/03/2025"
    assert _cells(fr, "Fleet size")[-1] == "1\u202f234,5" or \
        _cells(fr, "Fleet size")[-1] == "1\xa0234,5"
    assert _cells(fr, "VIP")[:2] == ["Oui", "Non"]


def test_custom_columns_sort_by_value_not_text(accounts: Any, owner: Any,
                                               client_for: Any) -> None:
    client = client_for(owner)
    base = "/accounts/?cols=legal_name,cf_fleet_size,cf_signed_on"
    # numbers as numbers (9 < 10.5 < 100), empty values last in both directions
    assert _rows(client.get(base + "&sort=cf_fleet_size")) == [
        "Alpha", "Charlie", "Bravo", "Delta"]
    assert _rows(client.get(base + "&sort=-cf_fleet_size")) == [
        "Bravo", "Charlie", "Alpha", "Delta"]
    assert _rows(client.get(base + "&sort=cf_signed_on")) == [
        "Bravo", "Alpha", "Charlie", "Delta"]
    assert _rows(client.get(base + "&sort=-cf_signed_on")) == [
        "Charlie", "Alpha", "Bravo", "Delta"]
    # the column header offers the sort
    html = client.get(base).content.decode()
    assert "sort=cf_fleet_size" in html


def test_custom_filters(accounts: Any, owner: Any, client_for: Any) -> None:
    client = client_for(owner)

    def names(query: str) -> list[str]:
        return _rows(client.get(f"/accounts/?sort=legal_name&{query}"))

    assert names("cf_sales_note=SPRING") == ["Charlie"]  # text: contains, any case
    assert names("cf_fleet_size_min=10") == ["Bravo", "Charlie"]  # numbers, not text
    assert names("cf_fleet_size_max=10") == ["Alpha"]
    assert names("cf_fleet_size_min=10,5&cf_fleet_size_max=10.5") == ["Charlie"]  # equality
    assert names("cf_fleet_size_min=1%20000") == []  # "1 000" as typed in French
    assert names("cf_signed_on_min=2025-01-01") == ["Alpha", "Charlie"]
    assert names("cf_signed_on_min=2025-03-01&cf_signed_on_max=2025-03-01") == ["Alpha"]
    assert names("cf_tier=Gold") == ["Alpha", "Charlie"]
    assert names("cf_tier=Gold&cf_tier=Silver") == ["Alpha", "Bravo", "Charlie"]
    assert names("cf_tier=Platinum") == ["Alpha", "Bravo", "Charlie", "Delta"]  # not offered
    assert names("cf_vip=1") == ["Alpha"]
    assert names("cf_vip=0") == ["Bravo", "Charlie", "Delta"]  # never set counts as no


def test_bad_custom_filter_values_are_said_not_a_500(accounts: Any, owner: Any,
                                                     client_for: Any) -> None:
    client = client_for(owner)
    with translation.override("en"):
        response = client.get("/accounts/?cf_fleet_size_min=lots&cf_signed_on_max=31/02/2025")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Fleet size from: “lots” is not a number." in html
    assert "Signed on to: “31/02/2025” is not a date." in html
    assert len(_rows(response)) == 4  # the bad filters are left out, the list still shows


def test_chips_name_the_custom_filter(accounts: Any, owner: Any, client_for: Any) -> None:
    html = client_for(owner).get(
        "/accounts/?cf_tier=Gold&cf_signed_on_min=2025-01-01").content.decode()
    assert "Tier: Gold" in html
    with translation.override("en"):
        day = date_format(dt.date(2025, 1, 1), "SHORT_DATE_FORMAT")
    assert f"Signed on from: {day}" in html


def test_saved_view_keeps_custom_columns_sort_and_filters(accounts: Any, owner: Any,
                                                          client_for: Any) -> None:
    client = client_for(owner)
    query = "cols=legal_name%2Ccf_fleet_size&sort=-cf_fleet_size&cf_tier=Gold"
    response = client.post("/views/account/save/", {"name": "Gold fleets", "query": query})
    assert response.status_code == 302
    view = SavedView.objects.get(user=owner, name="Gold fleets")
    assert view.query == query
    reopened = client.get(f"/accounts/?{view.query}")
    assert _rows(reopened) == ["Charlie", "Alpha"]
    assert _cells(reopened, "Fleet size") == ["10.5", "9"]


def test_exports_carry_the_custom_columns(accounts: Any, owner: Any, client_for: Any) -> None:
    client = client_for(owner)
    params = {"cols": "legal_name,cf_fleet_size,cf_signed_on,cf_vip", "sort": "cf_fleet_size",
              "format": "csv"}
    text = b"".join(client.get("/export/account/", params).streaming_content
                    ).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=","))
    assert rows[0] == ["Name", "Fleet size", "Signed on", "VIP"]
    assert rows[1] == ["Alpha", "9", "2025-03-01", "True"]
    assert [r[0] for r in rows[1:]] == ["Alpha", "Charlie", "Bravo", "Delta"]
    xlsx = client.get("/export/account/", {**params, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[1][:2] == ["Alpha", 9]  # a number stays a number
    assert values[1][2].date().isoformat() == "2025-03-01"  # a date stays a date


def test_custom_columns_never_widen_access(world: Any, admin: Any, client_for: Any) -> None:
    custom_field_create(user=admin, data={"object_type": "account", "name": "fleet_size",
                                          "label": "Fleet size", "type": "number"})
    hidden = world.theirs.account
    hidden.custom = {"fleet_size": 42}
    hidden.save(update_fields=["custom"])
    client = client_for(world.personas.owner)
    for query in ("cf_fleet_size_min=42", "sort=cf_fleet_size&cols=legal_name,cf_fleet_size"):
        assert hidden.legal_name not in _rows(client.get(f"/accounts/?{query}"))
    text = b"".join(client.get("/export/account/", {
        "cf_fleet_size_min": "42", "format": "csv"}).streaming_content).decode("utf-8-sig")
    assert hidden.legal_name not in text


@pytest.mark.parametrize(("key", "object_type"), [("contact", "contact"), ("lead", "lead"),
                                             ("opportunity", "opportunity"),
                                             ("activity", "activity"), ("case", "case"),
                                             ("product", "product"),
                                             ("document", "salesdocument")])
def test_every_list_offers_its_custom_fields(key: str, object_type: str, admin: Any,
                                             client_for: Any) -> None:
    from django.urls import reverse

    custom_field_create(user=admin, data={"object_type": object_type, "name": "region_code",
                                          "label": "Region code", "type": "text"})
    url = reverse(f"web:{key}_list")
    html = client_for(admin).get(url + "?cols=cf_region_code&sort=cf_region_code"
                                 "&cf_region_code=x").content.decode()
    assert 'name="cols" value="cf_region_code" checked' in html
    assert 'name="cf_region_code"' in html
