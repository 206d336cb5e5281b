"""Unit prices and quantities as the ERP keeps them (4 decimals), totals at the currency's.

Tryton stores unit prices with 4 decimals (a 10 % discount gives 54.4140) and writes values
with trailing zeros (``54.41400000``, floats become ``12.500000…``): they are stored exactly,
every write path (service, API, bulk, the sync's parse, the quote editor) takes trailing zeros,
and refuses real digits beyond the 4th with a message saying how many decimals are allowed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation

from comptoir.core.bulk import bulk_upsert
from comptoir.core.decimals import round_money, trim_places
from comptoir.core.errors import ValidationFailed
from comptoir.core.formatting import format_money, format_number
from comptoir.core.models import ExternalRef
from comptoir.integration.loader import field_parser
from comptoir.sales import pdf
from comptoir.sales.bulk import PRICE_LIST_BULK, PRICE_LIST_ITEM_BULK, SALES_DOCUMENT_BULK
from comptoir.sales.models import PriceListItem, SalesDocument, SalesDocumentLine
from comptoir.sales.services import line_total, salesdocument_create
from comptoir.testing import factories

D = Decimal


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


@pytest.fixture(autouse=True)
def _english() -> Any:
    """Django's messages in English (the default language is French)."""
    with translation.override("en"):
        yield


def create(world: Any, lines: list[dict[str, Any]], **data: Any) -> SalesDocument:
    return salesdocument_create(user=world.personas.owner, lines=lines, data={
        "kind": "quote", "account_id": world.mine.account.pk, **data})


def stored_lines(document: SalesDocument) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(quantity, unit price, total) of each line, read back from the database."""
    return [(ln.quantity, ln.unit_price, ln.total_excl_tax)
            for ln in SalesDocumentLine.objects.filter(document=document)
            .order_by("position")]


def totals(document: SalesDocument) -> tuple[Decimal, Decimal, Decimal]:
    document.refresh_from_db()
    return document.total_excl_tax, document.total_tax, document.total_incl_tax


# --- The helpers -------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "places", "expected"), [
    ("54.41400000", 4, "54.4140"),
    ("12.500000", 2, "12.50"),
    ("12.5", 4, "12.5"),  # fewer places: left as written
    ("0E-10", 4, "0.0000"),
    ("54.41405", 4, "54.41405"),  # a real fifth decimal: left for the validator to refuse
    ("1E+3", 2, "1E+3"),
])
def test_trim_places_drops_only_zeros(value: str, places: int, expected: str) -> None:
    assert str(trim_places(D(value), places)) == expected


@pytest.mark.parametrize(("value", "currency", "expected"), [
    ("163.242", "EUR", "163.24"),
    ("20.005", "EUR", "20.01"),  # half-up, not half-even
    ("163.5", "JPY", "164"),
    ("1.2345", "KWD", "1.235"),
    ("-0.005", "eur", "-0.01"),
])
def test_round_money_per_currency(value: str, currency: str, expected: str) -> None:
    assert str(round_money(D(value), currency)) == expected


# --- Service -----------------------------------------------------------------------------------

def test_four_decimal_prices_and_quantities_are_stored_exactly(world: Any) -> None:
    doc = create(world, [
        {"description": "Licence -10 %", "quantity": D("3"), "unit_price": D("54.4140")},
        {"description": "Support (h)", "quantity": D("0.5"), "unit_price": D("95.0000")},
        {"description": "Paper (kg)", "quantity": D("2.3333"), "unit_price": D("1.2345"),
         "tax_rate": D("5.5")},
    ])
    # 163.242 → 163.24; 47.50; 2.88045885 → 2.88
    assert stored_lines(doc) == [(D("3"), D("54.4140"), D("163.24")),
                                 (D("0.5"), D("95.0000"), D("47.50")),
                                 (D("2.3333"), D("1.2345"), D("2.88"))]
    # VAT: 20 % of 210.74 = 42.148 → 42.15; 5.5 % of 2.88 = 0.1584 → 0.16
    assert totals(doc) == (D("213.62"), D("42.31"), D("255.93"))


def test_line_total_is_rounded_once_from_the_exact_product(world: Any) -> None:
    doc = create(world, [
        # 7 × 54.4140 × 0.875 = 333.28575 → 333.29 (54.41 × 7 × 0.875 would give 333.26)
        {"description": "Discounted", "quantity": D("7"), "unit_price": D("54.4140"),
         "discount_percent": D("12.5")},
        # 2 × 10.0025 = 20.005 → 20.01, half-up
        {"description": "Half cent", "quantity": D("2"), "unit_price": D("10.0025")},
        # 0.3333 × 30 = 9.999 → 10.00
        {"description": "A third", "quantity": D("0.3333"), "unit_price": D("30")},
        # 3 × 60.46 less 10 %: the ERP's 54.4140 line, priced with its discount here
        {"description": "List price less 10 %", "quantity": D("3"),
         "unit_price": D("60.4600"), "discount_percent": D("10")},
    ])
    assert [total for _q, _p, total in stored_lines(doc)] == [
        D("333.29"), D("20.01"), D("10.00"), D("163.24")]
    assert line_total(D("7"), D("54.4140"), D("12.5")) == D("333.29")


def test_totals_follow_the_currency_decimals(world: Any) -> None:
    doc = create(world, [{"description": "Licence", "quantity": D("3"),
                          "unit_price": D("54.4140")}], currency="JPY")
    # 163.242 → 163 yen; VAT 20 % of 163 = 32.6 → 33
    assert stored_lines(doc)[0][2] == D("163")
    assert totals(doc) == (D("163"), D("33"), D("196"))


def test_trailing_zeros_are_taken_and_real_digits_refused_by_the_service(world: Any) -> None:
    doc = create(world, [{"description": "ERP line", "quantity": "12.500000",
                          "unit_price": "54.41400000", "discount_percent": "10.0000",
                          "tax_rate": "20.000000"}], amount_due="0.0000")
    assert stored_lines(doc) == [(D("12.5"), D("54.4140"), D("612.16"))]
    with pytest.raises(ValidationFailed) as refused:
        create(world, [{"description": "Too precise", "quantity": "1.00001",
                        "unit_price": "54.41405"}])
    assert refused.value.fields == {
        "lines.0.quantity": ["Ensure that there are no more than 4 decimal places."],
        "lines.0.unit_price": ["Ensure that there are no more than 4 decimal places."]}


def test_price_list_prices_keep_four_decimals(world: Any) -> None:
    admin = world.personas.admin
    prices = factories.pricelist(by=admin, name="ERP list", items=[
        {"product": world.product, "unit_price": D("54.41400000")}])
    assert PriceListItem.objects.get(price_list=prices).unit_price == D("54.4140")
    doc = create(world, [{"product_id": world.product.pk, "quantity": D("3")}],
                 price_list_id=prices.pk)
    assert stored_lines(doc) == [(D("3"), D("54.4140"), D("163.24"))]
    with pytest.raises(ValidationFailed) as refused:
        factories.pricelist(by=admin, name="Too precise", items=[
            {"product": world.product, "unit_price": D("1.00001")}])
    assert refused.value.fields == {
        "items.0.unit_price": ["Ensure that there are no more than 4 decimal places."]}


# --- API ---------------------------------------------------------------------------------------

def post_document(api: Any, world: Any, lines: list[dict[str, Any]]) -> Any:
    return api(world.personas.owner).post("sales-documents", {
        "kind": "quote", "number": f"P-{factories.seq()}",
        "account_id": world.mine.account.pk, "lines": lines})


def test_api_stores_four_decimals_and_returns_them_as_strings(world: Any, api: Any) -> None:
    body = post_document(api, world, [
        {"description": "Licence", "quantity": "3", "unit_price": "54.4140"},
        {"description": "Support", "quantity": "0.5", "unit_price": "95.0000"},
        {"description": "ERP", "quantity": "12.500000", "unit_price": "54.41400000",
         "discount_percent": "10"},
    ]).expect(201)
    assert [(ln["quantity"], ln["unit_price"], ln["total_excl_tax"])
            for ln in body["lines"]] == [("3.0000", "54.4140", "163.24"),
                                         ("0.5000", "95.0000", "47.50"),
                                         ("12.5000", "54.4140", "612.16")]
    # 822.90 → VAT 164.58
    assert (body["total_excl_tax"], body["total_tax"], body["total_incl_tax"]) == (
        "822.90", "164.58", "987.48")
    doc = SalesDocument.objects.get(pk=body["id"])
    assert stored_lines(doc)[2][:2] == (D("12.5"), D("54.4140"))


def test_api_refuses_a_fifth_decimal_with_a_field_message(world: Any, api: Any) -> None:
    body = post_document(api, world, [
        {"description": "Too precise", "quantity": "1.00001", "unit_price": "54.41405"},
    ]).expect(422)
    fields = body["error"]["fields"]
    assert set(fields) == {"lines.0.quantity", "lines.0.unit_price"}
    assert all("4 decimal places" in fields[name][0] for name in fields)


def test_api_price_list_items_take_four_decimals(world: Any, api: Any) -> None:
    body = api(world.personas.admin).post("pricelists", {
        "name": "API list", "items": [{"product_id": world.product.pk,
                                       "unit_price": "54.41400000"}]}).expect(201)
    assert body["items"][0]["unit_price"] == "54.4140"
    refused = api(world.personas.admin).post("pricelists", {
        "name": "API list 2", "items": [{"product_id": world.product.pk,
                                         "unit_price": "54.41405"}]}).expect(422)
    fields = refused["error"]["fields"]
    assert "4 decimal places" in fields["items.0.unit_price"][0]


# --- Bulk: the API route and the sync's path ------------------------------------------------

@pytest.fixture
def erp(world: Any) -> Any:
    dm = world.personas.data_manager
    ExternalRef.objects.create(system="erp", object_type="account", external_id="C1",
                               object_id=world.mine.account.pk, content_hash="")
    ExternalRef.objects.create(system="erp", object_type="product", external_id="P1",
                               object_id=world.product.pk, content_hash="")
    return dm


def erp_invoice(lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"external_id": "F1", "kind": "invoice", "number": "F-P-001", "status": "posted",
            "account_external_id": "C1", "currency": "EUR", "issue_date": "2026-03-01",
            "lines": lines, **extra}


def test_bulk_api_takes_trailing_zeros_and_refuses_real_digits(world: Any, api: Any,
                                                              erp: Any) -> None:
    lines = [{"product_external_id": "P1", "quantity": "3.00000000",
              "unit_price": "54.41400000"},
             {"description": "Support", "quantity": "0.5", "unit_price": "95",
              "tax_rate": "20"}]
    body = api(erp).post("sales-documents/bulk", {"system": "erp", "records": [
        erp_invoice(lines),
        erp_invoice([{"description": "Bad", "unit_price": "54.41405"}],
                    external_id="F2", number="F-P-002")]}).expect(200)
    ok, bad = body["results"]
    assert ok["status"] == "created", ok
    doc = SalesDocument.objects.get(pk=ok["id"])
    assert stored_lines(doc) == [(D("3"), D("54.4140"), D("163.24")),
                                 (D("0.5"), D("95"), D("47.50"))]
    assert totals(doc) == (D("210.74"), D("42.15"), D("252.89"))
    assert bad["status"] == "error"
    assert list(bad["errors"]) == ["lines.0.unit_price"]
    assert "4 decimal places" in bad["errors"]["lines.0.unit_price"][0]
    # sent again with other trailing zeros: the same values, nothing rewritten
    again = erp_invoice([{**lines[0], "unit_price": "54.414"}, lines[1]])
    body = api(erp).post("sales-documents/bulk", {"system": "erp", "records": [again]})
    assert body.expect(200)["counts"]["unchanged"] == 1


def test_sync_path_takes_floats_and_trailing_zeros(world: Any, erp: Any) -> None:
    """The loader's path: the model fields' parse (``field_parser``), then the domain's
    clean; Tryton's quantities are floats (0.1 becomes 0.10000000000000 in a 14-digit
    field), its amounts decimals written with trailing zeros."""
    parse = field_parser(SalesDocument, set(SALES_DOCUMENT_BULK.fields))
    record = erp_invoice(
        [{"product_external_id": "P1", "quantity": 3.0, "unit_price": D("54.41400000")},
         {"description": "Paper", "quantity": 0.1, "unit_price": "12.500000",
          "tax_rate": D("20.0000")}],
        total_excl_tax=D("164.49000000"), total_tax=D("32.9000"),
        total_incl_tax="197.390000", amount_due="197.39")
    [result] = bulk_upsert(SALES_DOCUMENT_BULK, system="erp", user=erp, records=[record],
                           parse=parse)
    assert result.status == "created", result.errors
    doc = SalesDocument.objects.get(pk=result.id)
    assert stored_lines(doc) == [(D("3"), D("54.4140"), D("163.24")),
                                 (D("0.1"), D("12.5"), D("1.25"))]
    assert totals(doc) == (D("164.49"), D("32.90"), D("197.39"))  # the ERP's, kept

    bad = erp_invoice([{"description": "Bad", "quantity": 0.33333, "unit_price": "1"}],
                      external_id="F2", number="F-P-002", total_excl_tax="1.005")
    [refused] = bulk_upsert(SALES_DOCUMENT_BULK, system="erp", user=erp, records=[bad],
                            parse=parse)
    assert refused.status == "error"
    assert refused.errors == {
        "total_excl_tax": ["Ensure that there are no more than 2 decimal places."]}
    [refused] = bulk_upsert(SALES_DOCUMENT_BULK, system="erp", user=erp,
                            records=[{**bad, "total_excl_tax": None}], parse=parse)
    assert refused.errors == {
        "lines.0.quantity": ["Ensure that there are no more than 4 decimal places."]}


def test_sync_path_keeps_list_prices_at_four_decimals(world: Any, erp: Any) -> None:
    bulk_upsert(PRICE_LIST_BULK, system="erp", user=erp,
                records=[{"external_id": "T", "name": "ERP prices", "currency": "EUR"}])
    parse = field_parser(PriceListItem, set(PRICE_LIST_ITEM_BULK.fields))
    items = [{"external_id": "I1", "price_list_external_id": "T",
              "product_external_id": "P1", "unit_price": D("54.41400000"),
              "min_quantity": 1.0},
             {"external_id": "I2", "price_list_external_id": "T",
              "product_external_id": "P1", "unit_price": "54.41405"}]
    made, refused = bulk_upsert(PRICE_LIST_ITEM_BULK, system="erp", user=erp,
                                records=items, parse=parse)
    assert made.status == "created", made.errors
    assert PriceListItem.objects.get(pk=made.id).unit_price == D("54.4140")
    assert refused.errors == {
        "unit_price": ["Ensure that there are no more than 4 decimal places."]}
    # without the parse (a direct caller), the domain's clean says the same
    [again] = bulk_upsert(PRICE_LIST_ITEM_BULK, system="erp", user=erp, records=items[1:])
    assert again.errors == refused.errors


# --- Display -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("54.4140", "54,414\xa0€"), ("12.5000", "12,50\xa0€"), ("95", "95,00\xa0€"),
    ("1234.5678", "1\u202f234,5678\xa0€"), ("0.0100", "0,01\xa0€"),
])
def test_unit_prices_show_their_significant_decimals(value: str, expected: str) -> None:
    with translation.override("fr"):
        shown = format_money(D(value), "EUR", max_places=4)
    assert shown.replace("\xa0", " ").replace("\u202f", " ") == expected.replace(
        "\xa0", " ").replace("\u202f", " ")


def test_amounts_show_their_currency_decimals_and_quantities_no_useless_zeros() -> None:
    with translation.override("en"):
        assert format_money(D("163.00"), "JPY") == "JPY163"
        assert format_money(D("54.4140"), "EUR", max_places=4) == "€54.414"
        assert format_money(D("54.4140"), "EUR") == "€54.41"  # an amount: cents
    with translation.override("fr"):
        assert [format_number(D(q)) for q in ("1.0000", "0.5000", "2.3330")] == [
            "1", "0,5", "2,333"]


@pytest.fixture
def erp_quote(world: Any) -> SalesDocument:
    return create(world, [
        {"description": "Licence", "quantity": D("3"), "unit_price": D("54.4140")},
        {"description": "Support", "quantity": D("0.5"), "unit_price": D("95.0000")},
        {"description": "Paper", "quantity": D("2.333"), "unit_price": D("12.5")},
    ])


def test_pdf_shows_unit_prices_and_quantities_as_stored(erp_quote: SalesDocument) -> None:
    with translation.override("fr"):
        data = pdf.render_salesdocument(erp_quote, compress=False).decode("latin-1")
    for text in ("(54,414 \\200)", "(95,00 \\200)", "(12,50 \\200)", "(0,5)", "(2,333)",
                 "(3)"):
        assert text in data, text
    assert "54,4140" not in data


def test_document_page_shows_unit_prices_and_quantities(client_for: Any, world: Any,
                                                        erp_quote: SalesDocument) -> None:
    client = client_for(world.personas.owner, "fr")
    html = client.get(f"/documents/{erp_quote.pk}/").content.decode()
    for text in ("54,414\xa0€", "95,00\xa0€", "12,50\xa0€", ">0,5<", ">2,333<", ">3<"):
        assert text in html, text
    assert "54,4140" not in html


def test_quote_editor_takes_and_shows_four_decimals(client_for: Any, world: Any,
                                                    erp_quote: SalesDocument) -> None:
    client = client_for(world.personas.owner)
    html = client.get(f"/documents/{erp_quote.pk}/edit/").content.decode()
    assert 'name="line_unit_price" value="54.414"' in html
    assert 'name="line_unit_price" value="95.00"' in html
    assert 'name="line_quantity" value="2.333"' in html
    data = {"price_list": "", "issue_date": "2026-03-01", "valid_until": "", "notes": "",
            "contact": "", "opportunity": "", "op": "save",
            "line_product": ["", ""], "line_list_price": ["", ""],
            "line_description": ["Licence", "Support"],
            "line_quantity": ["2.5000", "0.1250"], "line_unit_price": ["54.41400", "95.1234"],
            "line_discount": ["", ""], "line_tax_rate": ["20", "20"]}
    response = client.post(f"/documents/{erp_quote.pk}/edit/", data)
    assert response.status_code == 302
    # 136.035 → 136.04; 11.890425 → 11.89
    assert stored_lines(erp_quote) == [(D("2.5"), D("54.4140"), D("136.04")),
                                       (D("0.125"), D("95.1234"), D("11.89"))]
    data["line_unit_price"] = ["54.41405", "95.1234"]
    html = client.post(f"/documents/{erp_quote.pk}/edit/", data).content.decode()
    assert ('<p class="field-error" id="line-1-unit_price-error">Ensure that there are no '
            "more than 4 decimal places.</p>") in html
