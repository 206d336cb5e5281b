"""Sales documents: totals computed server-side, prices from the price list."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from comptoir.sales.models import SalesDocument
from comptoir.sales.services import compute_totals, price_for
from comptoir.testing import factories

D = Decimal


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


@pytest.fixture
def catalogue(world: Any) -> dict[str, Any]:
    admin = world.personas.admin
    standard = factories.product(by=admin, code="STD", name="Standard", tax_rate=D("20.00"))
    book = factories.product(by=admin, code="BOOK", name="Book", tax_rate=D("5.50"))
    unpriced = factories.product(by=admin, code="NEW", name="Not priced yet")
    prices = factories.pricelist(by=admin, name="Tarif 2026", items=[
        {"product": standard, "unit_price": D("100.00")},
        {"product": standard, "unit_price": D("90.00"), "min_quantity": D("10"),
         "valid_to": dt.date(2026, 6, 30)},
        {"product": standard, "unit_price": D("80.00"), "min_quantity": D("10"),
         "valid_from": dt.date(2026, 7, 1)},
        {"product": book, "unit_price": D("19.99")},
    ])
    return {"standard": standard, "book": book, "unpriced": unpriced, "prices": prices}


def post_document(api: Any, world: Any, lines: list[dict[str, Any]], **data: Any) -> Any:
    body = {"kind": "quote", "number": f"T-{factories.seq()}",
            "account_id": world.mine.account.pk, "lines": lines, **data}
    return api(world.personas.owner).post("sales-documents", body)


def totals(body: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    return (D(body["total_excl_tax"]), D(body["total_tax"]), D(body["total_incl_tax"]))


def test_totals_with_vat_per_rate_and_discounts(world: Any, api: Any) -> None:
    body = post_document(api, world, [
        {"description": "Consulting", "quantity": "3", "unit_price": "33.33"},  # 99.99 @ 20
        {"description": "Training", "quantity": "2", "unit_price": "250.00",
         "discount_percent": "10"},  # 450.00 @ 20
        {"description": "Manual", "quantity": "4", "unit_price": "12.50",
         "tax_rate": "5.50", "discount_percent": "12.5"},  # 43.75 @ 5.5
        {"description": "Exempt service", "quantity": "1", "unit_price": "60.00",
         "tax_rate": "0"},  # 60.00 @ 0
    ]).expect(201)
    assert [D(line["total_excl_tax"]) for line in body["lines"]] == [
        D("99.99"), D("450.00"), D("43.75"), D("60.00")]
    # VAT: 20 % of 549.99 = 110.00 (109.998); 5.5 % of 43.75 = 2.41 (2.40625); 0
    assert totals(body) == (D("653.74"), D("112.41"), D("766.15"))


def test_vat_is_rounded_per_rate_on_the_sum_not_per_line(world: Any, api: Any) -> None:
    """Three lines of 0.05 at 5.5 %: 0.00275 each would round to 0.00 line by line; on the
    sum, 0.15 × 5.5 % = 0.00825 rounds to 0.01."""
    lines = [{"description": f"Stamp {n}", "unit_price": "0.05", "tax_rate": "5.5"}
             for n in range(3)]
    assert totals(post_document(api, world, lines).expect(201)) == (D("0.15"), D("0.01"),
                                                                    D("0.16"))


def test_line_totals_round_half_up(world: Any, api: Any) -> None:
    body = post_document(api, world, [
        {"description": "Half cent", "quantity": "1.5", "unit_price": "0.03"},  # 0.045
    ]).expect(201)
    assert D(body["lines"][0]["total_excl_tax"]) == D("0.05")


def test_totals_sent_by_the_client_are_ignored(world: Any, api: Any) -> None:
    body = post_document(api, world, [{"description": "X", "unit_price": "10"}],
                         total_excl_tax="1", total_tax="0", total_incl_tax="1").expect(201)
    assert totals(body) == (D("10.00"), D("2.00"), D("12.00"))
    stored = SalesDocument.objects.get(pk=body["id"])
    assert stored.total_incl_tax == D("12.00")


def test_no_lines_means_zero_totals(world: Any, api: Any) -> None:
    assert totals(post_document(api, world, []).expect(201)) == (D("0"), D("0"), D("0"))


def test_price_tax_and_description_come_from_the_catalogue(world: Any, api: Any,
                                                           catalogue: dict[str, Any]) -> None:
    body = post_document(api, world, [
        {"product_id": catalogue["standard"].pk, "quantity": "2"},
        {"product_id": catalogue["book"].pk},
        {"product_id": catalogue["book"].pk, "unit_price": "15.00", "description": "Promo"},
    ], price_list_id=catalogue["prices"].pk, issue_date="2026-03-01").expect(201)
    lines = [(ln["description"], D(ln["unit_price"]), D(ln["tax_rate"]))
             for ln in body["lines"]]
    assert lines == [("Standard", D("100.00"), D("20.00")),
                     ("Book", D("19.99"), D("5.50")),
                     ("Promo", D("15.00"), D("5.50"))]
    # 200.00 @ 20 % = 40.00; 34.99 @ 5.5 % = 1.92 (1.92445)
    assert totals(body) == (D("234.99"), D("41.92"), D("276.91"))


@pytest.mark.parametrize(("quantity", "issue_date", "price"), [
    ("1", "2026-03-01", "100.00"),
    ("9.999", "2026-03-01", "100.00"),
    ("10", "2026-03-01", "90.00"),  # quantity break
    ("25", "2026-03-01", "90.00"),
    ("10", "2026-06-30", "90.00"),
    ("10", "2026-07-01", "80.00"),  # the price from July on, for 10 or more
    ("1", "2026-07-01", "100.00"),
])
def test_price_list_quantity_breaks_and_validity(world: Any, api: Any,
                                                 catalogue: dict[str, Any], quantity: str,
                                                 issue_date: str, price: str) -> None:
    body = post_document(api, world, [{"product_id": catalogue["standard"].pk,
                                       "quantity": quantity}],
                         price_list_id=catalogue["prices"].pk, issue_date=issue_date).expect(201)
    assert D(body["lines"][0]["unit_price"]) == D(price)
    assert price_for(catalogue["prices"], catalogue["standard"].pk, D(quantity),
                     dt.date.fromisoformat(issue_date)) == D(price)


def test_missing_price_is_422_on_that_line(world: Any, api: Any,
                                           catalogue: dict[str, Any]) -> None:
    error = post_document(api, world, [
        {"product_id": catalogue["standard"].pk},
        {"product_id": catalogue["unpriced"].pk},
        {"description": "Free text without a price"},
    ], price_list_id=catalogue["prices"].pk).error(422)
    assert set(error["fields"]) == {"lines.1.unit_price", "lines.2.unit_price"}
    assert not SalesDocument.objects.filter(account=world.mine.account).exclude(
        pk=world.mine.sales_document.pk).exists()


def test_product_without_a_price_list_needs_a_price(world: Any, api: Any,
                                                    catalogue: dict[str, Any]) -> None:
    error = post_document(api, world, [{"product_id": catalogue["standard"].pk}]).error(422)
    assert list(error["fields"]) == ["lines.0.unit_price"]
    post_document(api, world, [{"product_id": catalogue["standard"].pk,
                                "unit_price": "1.00"}]).expect(201)


def test_unknown_product_is_422_on_that_line(world: Any, api: Any) -> None:
    error = post_document(api, world, [{"description": "ok", "unit_price": "1"},
                                       {"product_id": 987654, "unit_price": "1"}]).error(422)
    assert list(error["fields"]) == ["lines.1.product"]


def test_replacing_lines_recomputes_and_other_changes_keep_them(world: Any, api: Any) -> None:
    client = api(world.personas.owner)
    body = post_document(api, world, [{"description": "A", "unit_price": "10"}]).expect(201)
    path = f"sales-documents/{body['id']}"
    kept = client.patch(path, {"notes": "no line change"}).expect(200)
    assert totals(kept) == (D("10.00"), D("2.00"), D("12.00"))
    assert [ln["description"] for ln in kept["lines"]] == ["A"]
    replaced = client.patch(path, {"lines": [{"description": "B", "unit_price": "5",
                                              "quantity": "3"}]}).expect(200)
    assert [ln["description"] for ln in replaced["lines"]] == ["B"]
    assert totals(replaced) == (D("15.00"), D("3.00"), D("18.00"))
    emptied = client.patch(path, {"lines": []}).expect(200)
    assert (emptied["lines"], totals(emptied)) == ([], (D("0"), D("0"), D("0")))


def test_invoice_amount_due_is_its_total_unless_given(world: Any, api: Any) -> None:
    lines = [{"description": "Work", "unit_price": "100"}]
    invoice = post_document(api, world, lines, kind="invoice").expect(201)
    assert D(invoice["amount_due"]) == D("120.00")
    paid_half = post_document(api, world, lines, kind="invoice", amount_due="60.00").expect(201)
    assert D(paid_half["amount_due"]) == D("60.00")
    quote = post_document(api, world, lines, kind="quote").expect(201)
    assert D(quote["amount_due"]) == D("0")


def test_documents_are_numbered_per_kind_and_year(world: Any) -> None:
    owner = world.personas.owner
    year = dt.date.today().year
    first = factories.sales_document(by=owner, account=world.mine.account, kind="order")
    second = factories.sales_document(by=owner, account=world.mine.account, kind="order")
    invoice = factories.sales_document(by=owner, account=world.mine.account, kind="invoice")
    assert (first.number, second.number) == (f"CMD-{year}-000001", f"CMD-{year}-000002")
    assert invoice.number == f"FAC-{year}-000001"


def test_compute_totals_on_no_lines() -> None:
    assert compute_totals([]) == (D("0.00"), D("0.00"), D("0.00"))


def test_only_a_user_who_may_change_the_account_issues_documents(world: Any, api: Any) -> None:
    for persona in ("outsider", "marketing", "service"):
        response = api(world.personas[persona]).post("sales-documents", {
            "kind": "quote", "number": f"X-{persona}", "account_id": world.mine.account.pk})
        assert "account" in response.error(422)["fields"], persona
    api(world.personas.teammate).post("sales-documents", {
        "kind": "quote", "number": "X-teammate", "account_id": world.mine.account.pk}
    ).expect(201)
