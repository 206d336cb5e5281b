"""Bulk upsert of sales documents with their lines, price lists and prices (the ERP's shapes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from comptoir.core.bulk import bulk_upsert
from comptoir.core.models import AuditEntry, ExternalRef
from comptoir.sales.bulk import PRICE_LIST_BULK, PRICE_LIST_ITEM_BULK
from comptoir.sales.models import PriceListItem, SalesDocument, SalesDocumentLine
from comptoir.testing import factories


@pytest.fixture
def erp(world: Any, api: Any) -> Any:
    """Two products and an account known by their ERP ids."""
    dm = world.personas.data_manager
    api(dm).post("products/bulk", {"system": "erp", "records": [
        {"external_id": "P1", "code": "CONS", "name": "Conseil", "tax_rate": "20"},
        {"external_id": "P2", "code": "LIVRE", "name": "Livre", "tax_rate": "5.5"},
    ]}).expect(200)
    account = factories.account(by=dm, legal_name="Client ERP SAS")
    ExternalRef.objects.create(system="erp", object_type="account", external_id="C1",
                               object_id=account.pk, content_hash="")
    return dm, account


def _invoice(**extra: Any) -> dict[str, Any]:
    record = {"external_id": "F1", "kind": "invoice", "number": "F-001", "status": "posted",
              "account_external_id": "C1", "issue_date": "2026-03-01",
              "lines": [{"product_external_id": "P1", "quantity": "2", "unit_price": "850"},
                        {"product_external_id": "P2", "quantity": "3", "unit_price": "20",
                         "description": "Manuel"}]}
    record.update(extra)
    return record


def _post(api: Any, user: Any, records: list[dict[str, Any]]) -> Any:
    return api(user).post("sales-documents/bulk", {"system": "erp", "records": records})


def test_a_document_arrives_with_its_lines_and_computed_totals(erp: Any, api: Any) -> None:
    dm, account = erp
    body = _post(api, dm, [_invoice()]).expect(200)
    assert body["counts"]["created"] == 1, body["results"]
    doc = SalesDocument.objects.get(pk=body["results"][0]["id"])
    assert (doc.account_id, doc.owner_id) == (account.pk, account.owner_id)
    lines = list(doc.lines.order_by("position"))
    assert [(ln.position, ln.description, ln.tax_rate, ln.total_excl_tax) for ln in lines] == [
        (1, "Conseil", Decimal("20.00"), Decimal("1700.00")),
        (2, "Manuel", Decimal("5.50"), Decimal("60.00"))]
    # VAT per rate: 1700 × 20 % + 60 × 5.5 %
    assert (doc.total_excl_tax, doc.total_tax, doc.total_incl_tax) == (
        Decimal("1760.00"), Decimal("343.30"), Decimal("2103.30"))
    assert doc.amount_due == doc.total_incl_tax  # an invoice nobody said was paid
    entry = AuditEntry.objects.get(object_type="salesdocument", object_id=doc.pk)
    assert len(entry.changes["lines"][1]) == 2

    # the other system's totals win when given (it invoiced them)
    given = _invoice(external_id="F2", number="F-002", total_excl_tax="1760",
                     total_tax="343.31", total_incl_tax="2103.31", amount_due="0")
    body = _post(api, dm, [given]).expect(200)
    doc2 = SalesDocument.objects.get(pk=body["results"][0]["id"])
    assert (doc2.total_tax, doc2.amount_due) == (Decimal("343.31"), Decimal("0.00"))


def test_resent_unchanged_then_lines_changed_then_header_only(erp: Any, api: Any) -> None:
    dm, _account = erp
    doc_id = _post(api, dm, [_invoice()]).expect(200)["results"][0]["id"]
    line_ids = set(SalesDocumentLine.objects.filter(document_id=doc_id)
                   .values_list("id", flat=True))
    assert _post(api, dm, [_invoice()]).expect(200)["counts"]["unchanged"] == 1

    changed = _invoice(lines=[{"product_external_id": "P1", "quantity": "5",
                               "unit_price": "850"}])
    assert _post(api, dm, [changed]).expect(200)["counts"]["updated"] == 1
    doc = SalesDocument.objects.get(pk=doc_id)
    assert [(ln.quantity, ln.total_excl_tax) for ln in doc.lines.all()] == [
        (Decimal("5.000"), Decimal("4250.00"))]
    assert doc.total_incl_tax == Decimal("5100.00")
    entry = AuditEntry.objects.filter(object_id=doc_id, action="update").latest("id")
    assert [len(side) for side in entry.changes["lines"]] == [2, 1]
    assert entry.changes["total_excl_tax"] == ["1760.00", "4250.00"]

    # the header changes, the same lines are sent: they stay as they are (same rows)
    kept = set(SalesDocumentLine.objects.filter(document_id=doc_id)
               .values_list("id", flat=True))
    assert not kept & line_ids
    header = {**changed, "status": "paid", "amount_due": "0"}
    assert _post(api, dm, [header]).expect(200)["counts"]["updated"] == 1
    assert set(SalesDocumentLine.objects.filter(document_id=doc_id)
               .values_list("id", flat=True)) == kept
    entry = AuditEntry.objects.filter(object_id=doc_id, action="update").latest("id")
    assert set(entry.changes) == {"status", "amount_due"}

    # without lines, the lines are left alone
    assert _post(api, dm, [{"external_id": "F1", "notes": "Relancé"}]).expect(200)[
        "counts"]["updated"] == 1
    assert SalesDocumentLine.objects.filter(document_id=doc_id).count() == 1


def test_bad_lines_and_numbers_are_errors_with_their_place(erp: Any, api: Any) -> None:
    dm, _account = erp
    _post(api, dm, [_invoice()]).expect(200)
    records = [
        _invoice(external_id="F2", number="F-002",
                 lines=[{"product_external_id": "P9", "unit_price": "1"},
                        {"description": "Sans prix"},
                        {"description": "Remise", "unit_price": "5", "discount_percent": 140}]),
        _invoice(external_id="F3", number="F-001"),  # the number of F1
        _invoice(external_id="F4", number="F-004", lines="une ligne"),
        _invoice(external_id="F5", number="F-005"),
    ]
    body = _post(api, dm, records).expect(200)
    results = body["results"]
    assert body["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "error": 3}
    assert set(results[0]["errors"]) == {"lines.2.discount_percent"}  # the schema's check
    assert list(results[1]["errors"]) == ["number"]
    assert "invoice / F-001" in results[1]["errors"]["number"][0]
    assert "lines" in results[2]["errors"]
    fixed = records[0]
    fixed["lines"][2]["discount_percent"] = 10
    body = _post(api, dm, [fixed]).expect(200)
    assert set(body["results"][0]["errors"]) == {"lines.0.product_external_id"}
    fixed["lines"][0]["product_external_id"] = "P2"
    body = _post(api, dm, [fixed]).expect(200)  # prices are checked once products resolve
    assert set(body["results"][0]["errors"]) == {"lines.1.unit_price"}
    assert not SalesDocument.objects.filter(number="F-002").exists()


def test_a_changed_record_may_not_take_anothers_number(erp: Any, api: Any) -> None:
    dm, _account = erp
    _post(api, dm, [_invoice(), _invoice(external_id="F2", number="F-002")]).expect(200)
    body = _post(api, dm, [_invoice(external_id="F2", number="F-001")]).expect(200)
    assert "number" in body["results"][0]["errors"]
    # a quote and an invoice may share a number; a record keeps its own
    body = _post(api, dm, [_invoice(external_id="F2", number="F-001", kind="quote"),
                           _invoice(status="paid")]).expect(200)
    assert body["counts"]["updated"] == 2, body["results"]


def test_price_lists_and_prices_by_external_id(erp: Any) -> None:
    dm, _account = erp
    [made] = bulk_upsert(PRICE_LIST_BULK, system="erp", user=dm, records=[
        {"external_id": "T", "name": "Tarif ERP", "currency": "eur"}])
    assert made.status == "created"
    items = [{"external_id": "P1", "price_list_external_id": "T", "product_external_id": "P1",
              "unit_price": "850"},
             {"external_id": "P2", "price_list_external_id": "T", "product_external_id": "P2",
              "unit_price": "-1"},
             {"external_id": "P3", "price_list_external_id": "T", "product_external_id": "P3",
              "unit_price": "1"}]
    results = bulk_upsert(PRICE_LIST_ITEM_BULK, system="erp", user=dm, records=items)
    assert [r.status for r in results] == ["created", "error", "error"]
    assert set(results[1].errors) == {"unit_price"}
    assert set(results[2].errors) == {"product_external_id"}
    items[0]["unit_price"] = "900"
    again = bulk_upsert(PRICE_LIST_ITEM_BULK, system="erp", user=dm, records=items[:1])
    assert again[0].status == "updated"  # a model without updated_at updates too
    assert PriceListItem.objects.get(pk=again[0].id).unit_price == Decimal("900.00")
