"""Bulk loads check the length of every text they store (SQLite would store anything).

An external id longer than its column, or a text longer than its field, is an error of that
record, named on its field; the other records of the batch still go in.
"""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.core.bulk import bulk_upsert
from comptoir.core.models import ExternalRef
from comptoir.crm.bulk import ACCOUNT_BULK, CONTACT_BULK
from comptoir.crm.models import Account, Contact
from comptoir.sales.bulk import PRODUCT_BULK, SALES_DOCUMENT_BULK
from comptoir.sales.models import Product, SalesDocument
from comptoir.testing import factories

pytestmark = pytest.mark.django_db

LONG_ID = "X" * 200
MAX_ID = "Y" * ExternalRef._meta.get_field("external_id").max_length  # type: ignore[union-attr]


def _by_status(body: dict[str, Any]) -> dict[str, str]:
    return {r["external_id"]: r["status"] for r in body["results"]}


@pytest.mark.parametrize("path", ["accounts", "contacts", "products", "sales-documents"])
def test_an_external_id_too_long_is_an_error_of_its_record(world: Any, api: Any,
                                                           path: str) -> None:
    account = world.mine.account
    record = {
        "accounts": {"legal_name": "Long Id SA"},
        "contacts": {"last_name": "Durand", "account_id": account.pk},
        "products": {"code": "P-LONG", "name": "Widget"},
        "sales-documents": {"kind": "order", "number": "CMD-LONG", "account_id": account.pk},
    }[path]
    other = {**record, **{"accounts": {"legal_name": "Short Id SA"},
                          "contacts": {"last_name": "Martin"},
                          "products": {"code": "P-OK", "name": "Gadget"},
                          "sales-documents": {"number": "CMD-OK"}}[path]}
    edge = {**record, **{"accounts": {"legal_name": "Edge Id SA"},
                         "contacts": {"last_name": "Petit"},
                         "products": {"code": "P-EDGE", "name": "Edge"},
                         "sales-documents": {"number": "CMD-EDGE"}}[path]}
    body = api(world.personas.data_manager).post(f"{path}/bulk", {"system": "erp", "records": [
        {**record, "external_id": LONG_ID}, {**other, "external_id": "OK-1"},
        {**edge, "external_id": MAX_ID}]}).expect(200)
    assert _by_status(body) == {LONG_ID: "error", "OK-1": "created", MAX_ID: "created"}
    errors = body["results"][0]["errors"]
    assert list(errors) == ["external_id"]
    assert "120" in errors["external_id"][0]
    assert not ExternalRef.objects.filter(external_id=LONG_ID).exists()


def test_every_text_field_is_checked_against_its_column(world: Any) -> None:
    """The generic path (a sync mapping gives no schema): lengths come from the model."""
    dm = world.personas.data_manager
    results = bulk_upsert(ACCOUNT_BULK, system="erp", user=dm, records=[
        {"external_id": "A1", "legal_name": "N" * 201, "billing_city": "C" * 101},
        {"external_id": "A2", "legal_name": "Fine SA", "billing_city": "Lyon"},
        {"external_id": "A3", "legal_name": "N" * 200},
    ])
    assert [r.status for r in results] == ["error", "created", "created"]
    assert set(results[0].errors) == {"legal_name", "billing_city"}
    assert "200" in results[0].errors["legal_name"][0]
    assert "100" in results[0].errors["billing_city"][0]
    assert not Account.objects.filter(legal_name="N" * 201).exists()
    assert Account.objects.filter(legal_name="N" * 200).exists()


def test_an_update_too_long_is_refused_and_the_record_kept(world: Any) -> None:
    dm = world.personas.data_manager
    bulk_upsert(ACCOUNT_BULK, system="erp", user=dm,
                records=[{"external_id": "U1", "legal_name": "Before SA"}])
    results = bulk_upsert(ACCOUNT_BULK, system="erp", user=dm,
                          records=[{"external_id": "U1", "trade_name": "T" * 250}])
    assert results[0].status == "error"
    assert list(results[0].errors) == ["trade_name"]
    assert Account.objects.get(pk=ExternalRef.objects.get(external_id="U1").object_id
                               ).trade_name == ""


def test_contacts_products_and_documents_too(world: Any) -> None:
    dm = world.personas.data_manager
    account = factories.account(by=dm, legal_name="Docs SA")
    contacts = bulk_upsert(CONTACT_BULK, system="erp", user=dm, records=[
        {"external_id": "C1", "last_name": "L" * 300, "account_id": account.pk},
        {"external_id": "C2", "last_name": "Durand", "account_id": account.pk}])
    assert [r.status for r in contacts] == ["error", "created"]
    assert list(contacts[0].errors) == ["last_name"]
    products = bulk_upsert(PRODUCT_BULK, system="erp", user=dm, records=[
        {"external_id": "P1", "code": "C" * 41, "name": "Too long a code"},
        {"external_id": "P2", "code": "OK", "name": "Fine"}])
    assert [r.status for r in products] == ["error", "created"]
    assert list(products[0].errors) == ["code"]
    assert not Product.objects.filter(name="Too long a code").exists()
    documents = bulk_upsert(SALES_DOCUMENT_BULK, system="erp", user=dm, records=[
        {"external_id": "D1", "kind": "order", "number": "N" * 41, "account_id": account.pk,
         "lines": [{"description": "Thing", "unit_price": "10"}]},
        {"external_id": "D2", "kind": "order", "number": "CMD-1", "account_id": account.pk,
         "lines": [{"description": "D" * 501, "unit_price": "10"}]},
        {"external_id": "D3", "kind": "order", "number": "CMD-2", "account_id": account.pk,
         "lines": [{"description": "Thing", "unit_price": "10"}]}])
    assert [r.status for r in documents] == ["error", "error", "created"]
    assert list(documents[0].errors) == ["number"]
    assert list(documents[1].errors) == ["lines.0.description"]
    assert SalesDocument.objects.filter(number="CMD-2").exists()
    assert not Contact.objects.filter(last_name="L" * 300).exists()


def test_an_external_id_too_long_through_the_core_path(world: Any) -> None:
    results = bulk_upsert(ACCOUNT_BULK, system="erp", user=world.personas.data_manager,
                          records=[{"external_id": LONG_ID, "legal_name": "Long SA"},
                                   {"external_id": "OK", "legal_name": "Short SA"}])
    assert [r.status for r in results] == ["error", "created"]
    assert list(results[0].errors) == ["external_id"]
