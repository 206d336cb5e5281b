"""Tryton's commercial history end to end: list prices, sales, invoices and credit notes.

Every figure is compared with what the real Tryton server answers for the same record, so a
mapping or loader mistake (a sign, a rounding, a lost line) shows as a difference.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from comptoir.core.models import AuditEntry, ExternalRef
from comptoir.integration.connectors.tryton_rpc import TrytonClient
from comptoir.integration.mappings import builtin_mapping
from comptoir.integration.models import Connection, SyncRun
from comptoir.integration.services import sync_run
from comptoir.sales.models import PriceList, Product, SalesDocument
from comptoir.testing.tryton_fixtures import tryton, tryton_template  # noqa: F401

SALE_KIND = {"draft": "quote", "quotation": "quote", "cancelled": "quote",
             "confirmed": "order", "processing": "order", "done": "order"}


@pytest.fixture
def erp(tryton: Any, db: None) -> tuple[Connection, TrytonClient]:  # noqa: F811
    connection = Connection.objects.create(
        name="tryton", connector="tryton", mapping=builtin_mapping("tryton"), batch_size=5,
        parameters={"url": tryton.url, "database": tryton.database,
                    "username": tryton.username},
        secrets={"password": tryton.password})
    client = TrytonClient(tryton.url, tryton.database, tryton.username, tryton.password)
    return connection, client


def _ok(run: SyncRun) -> SyncRun:
    assert run.status == SyncRun.Status.SUCCEEDED, (run.error_category, run.error_message)
    assert run.quarantined == 0, list(run.quarantined_records.values("stream", "reason"))
    return run


def _document(model: str, record_id: int) -> SalesDocument:
    ref = ExternalRef.objects.get(system="tryton", object_type="salesdocument",
                                  external_id=f"{model},{record_id}")
    return SalesDocument.objects.get(pk=ref.object_id)


def _local_id(object_type: str, external_id: Any) -> int:
    return ExternalRef.objects.get(system="tryton", object_type=object_type,
                                   external_id=str(external_id)).object_id


def _tryton_lines(client: TrytonClient, model: str, parent: str, record_id: int
                  ) -> list[dict[str, Any]]:
    return [row for row in client.search_read(
        model, [[parent, "=", record_id]], ["type", "product", "quantity", "unit_price"],
        order=[["sequence", "ASC"], ["id", "ASC"]]) if row["type"] == "line"]


def test_list_prices_become_a_price_list(erp: Any) -> None:
    connection, client = erp
    _ok(sync_run(connection))
    price_list = PriceList.objects.get(name="Tryton")
    assert price_list.currency == "EUR"
    products = client.search_read("product.product", [], ["template.list_price"])
    assert price_list.items.count() == len(products)
    for row in products:
        item = price_list.items.get(product_id=_local_id("product", row["id"]))
        assert item.unit_price == row["template."]["list_price"]


def test_sales_become_quotes_and_orders_with_their_lines(erp: Any) -> None:
    connection, client = erp
    _ok(sync_run(connection))
    sales = client.search_read("sale.sale", [], ["number", "state", "party", "untaxed_amount",
                                                 "tax_amount", "total_amount"])
    assert {s["state"] for s in sales} >= {"draft", "quotation", "processing"}
    for sale in sales:
        doc = _document("sale.sale", sale["id"])
        assert doc.kind == SALE_KIND[sale["state"]]
        assert doc.number == (sale["number"] or f"#{sale['id']}")
        assert doc.account_id == _local_id("account", sale["party"])
        assert (doc.total_excl_tax, doc.total_tax, doc.total_incl_tax) == (
            sale["untaxed_amount"], sale["tax_amount"], sale["total_amount"])
        lines = list(doc.lines.order_by("position"))
        source = _tryton_lines(client, "sale.line", "sale", sale["id"])
        assert len(lines) == len(source) > 0
        for line, row in zip(lines, source, strict=True):
            assert line.product_id == _local_id("product", row["product"])
            assert (line.quantity, line.unit_price) == (Decimal(str(row["quantity"])),
                                                        row["unit_price"])
            assert line.description == Product.objects.get(pk=line.product_id).name
            assert line.tax_rate in (Decimal("20.00"), Decimal("5.50"))
        # the lines add up to the ERP's totals: nothing lost, VAT rates right
        assert sum(ln.total_excl_tax for ln in lines) == doc.total_excl_tax


def test_invoices_and_credit_notes_with_amounts_due(erp: Any) -> None:
    connection, client = erp
    _ok(sync_run(connection))
    invoices = client.search_read(
        "account.invoice", [["type", "=", "out"]],
        ["number", "state", "total_amount", "untaxed_amount", "amount_to_pay",
         "lines_to_pay.maturity_date"])
    credits = [i for i in invoices if i["total_amount"] < 0]
    assert len(credits) == 1
    assert len(invoices) > 5
    for invoice in invoices:
        doc = _document("account.invoice", invoice["id"])
        sign = -1 if invoice in credits else 1
        assert doc.kind == ("credit_note" if sign < 0 else "invoice")
        assert doc.status == {"validated": "draft"}.get(invoice["state"], invoice["state"])
        assert doc.total_incl_tax == sign * invoice["total_amount"] > 0
        assert doc.total_excl_tax == sign * invoice["untaxed_amount"]
        assert doc.amount_due == sign * invoice["amount_to_pay"]
        maturities = [m["maturity_date"] for m in invoice["lines_to_pay."]]
        assert doc.due_date == (min(maturities) if maturities else None)
        source = _tryton_lines(client, "account.invoice.line", "invoice", invoice["id"])
        lines = list(doc.lines.order_by("position"))
        assert len(lines) == len(source) > 0
        assert all(ln.quantity > 0 and ln.unit_price >= 0 for ln in lines)
        assert sum(ln.total_excl_tax for ln in lines) == doc.total_excl_tax
    # the seed paid one invoice in part and one in full
    dues = {(d.status, d.amount_due == d.total_incl_tax) for d in SalesDocument.objects.filter(
        kind="invoice").exclude(status="draft")}
    assert ("paid", False) in dues
    assert ("posted", False) in dues
    assert ("posted", True) in dues


def test_a_changed_line_updates_its_document_and_a_deleted_sale_is_a_tombstone(erp: Any
                                                                                ) -> None:
    connection, client = erp
    _ok(sync_run(connection))
    assert _ok(sync_run(connection)).read == 0
    draft = client.search_read("sale.sale", [["state", "=", "draft"]], ["lines"], limit=1)[0]
    line_id = draft["lines"][0]
    client.write("sale.line", [line_id], {"quantity": 7.0})
    run = _ok(sync_run(connection))
    assert (run.read, run.updated) == (1, 1)
    doc = _document("sale.sale", draft["id"])
    [sale] = client.read("sale.sale", [draft["id"]], ["untaxed_amount", "total_amount"])
    assert (doc.total_excl_tax, doc.total_incl_tax) == (sale["untaxed_amount"],
                                                        sale["total_amount"])
    assert Decimal(7) in {ln.quantity for ln in doc.lines.all()}
    entry = AuditEntry.objects.filter(object_type="salesdocument", object_id=doc.pk,
                                      action="update").latest("id")
    assert "lines" in entry.changes
    assert "total_excl_tax" in entry.changes

    client.delete("sale.sale", [draft["id"]])
    run = _ok(sync_run(connection))
    assert run.deleted == 1
    refs = ExternalRef.objects.filter(system="tryton", object_type="salesdocument")
    assert refs.get(external_id=f"sale.sale,{draft['id']}").deleted_at is not None
    # the invoices, also sales documents from Tryton, are not touched by the sales' deletions
    assert not refs.filter(external_id__startswith="account.invoice,",
                           deleted_at__isnull=False).exists()
