"""A sales document holds at most ``COMPTOIR_MAX_DOCUMENT_LINES`` lines, on every write path
(API, service, bulk), and its PDF is refused, never attempted for hours, beyond that."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation

from comptoir.core.bulk import bulk_upsert
from comptoir.core.errors import ValidationFailed
from comptoir.sales import pdf
from comptoir.sales.bulk import SALES_DOCUMENT_BULK
from comptoir.sales.models import SalesDocument, SalesDocumentLine
from comptoir.sales.services import salesdocument_create, salesdocument_update
from comptoir.testing import factories

CAP = 5


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


@pytest.fixture(autouse=True)
def _cap(settings: Any) -> None:
    settings.COMPTOIR_MAX_DOCUMENT_LINES = CAP


def _lines(n: int) -> list[dict[str, Any]]:
    return [{"description": f"Line {i}", "unit_price": "10.00"} for i in range(n)]


def test_the_default_cap_is_two_thousand(settings: Any) -> None:
    from comptoir.config import settings as base

    assert base.COMPTOIR_MAX_DOCUMENT_LINES == 2000


def test_the_api_refuses_a_document_over_the_cap_on_its_lines(world: Any, api: Any) -> None:
    client = api(world.personas.owner)
    body = {"kind": "quote", "account_id": world.mine.account.pk}
    error = client.post("sales-documents", {**body, "lines": _lines(CAP + 1)}).error(422)
    assert list(error["fields"]) == ["lines"]
    assert str(CAP) in error["fields"]["lines"][0]
    created = client.post("sales-documents", {**body, "lines": _lines(CAP)}).expect(201)
    error = client.patch(f"sales-documents/{created['id']}",
                         {"lines": _lines(CAP + 1)}).error(422)
    assert list(error["fields"]) == ["lines"]
    assert SalesDocumentLine.objects.filter(document_id=created["id"]).count() == CAP


def test_the_service_refuses_it_too(world: Any) -> None:
    owner = world.personas.owner
    with pytest.raises(ValidationFailed) as refused:
        salesdocument_create(user=owner, data={"kind": "quote",
                                               "account_id": world.mine.account.pk},
                             lines=_lines(CAP + 1))
    assert "lines" in refused.value.fields
    document = factories.sales_document(by=owner, account=world.mine.account)
    with pytest.raises(ValidationFailed):
        salesdocument_update(document=document, user=owner, data={}, lines=_lines(CAP + 1))


def test_bulk_refuses_that_document_only(world: Any) -> None:
    account = world.mine.account
    results = bulk_upsert(SALES_DOCUMENT_BULK, system="erp", user=world.personas.data_manager,
                          records=[
        {"external_id": "BIG", "kind": "order", "number": "CMD-BIG", "account_id": account.pk,
         "lines": _lines(CAP + 1)},
        {"external_id": "OK", "kind": "order", "number": "CMD-OK", "account_id": account.pk,
         "lines": _lines(CAP)}])
    assert [r.status for r in results] == ["error", "created"]
    assert list(results[0].errors) == ["lines"]
    assert str(CAP) in results[0].errors["lines"][0]
    assert not SalesDocument.objects.filter(number="CMD-BIG").exists()


def _oversized(world: Any, n: int) -> SalesDocument:
    """A document stored with more lines than the cap (written before it, or straight to the
    database)."""
    document = factories.sales_document(by=world.personas.owner, account=world.mine.account)
    SalesDocumentLine.objects.bulk_create([
        SalesDocumentLine(document=document, position=i + 2, description=f"Extra {i}",
                          quantity=Decimal(1), unit_price=Decimal("1.00"),
                          tax_rate=Decimal("20.00"), total_excl_tax=Decimal("1.00"))
        for i in range(n)])
    return document


def test_the_pdf_of_a_document_over_the_cap_is_refused_quickly(world: Any) -> None:
    document = _oversized(world, CAP)
    with pytest.raises(ValidationFailed) as refused:
        pdf.render_salesdocument(document)
    assert str(CAP) in refused.value.message


def test_the_pdf_at_the_cap_is_drawn(world: Any) -> None:
    document = _oversized(world, CAP - 1)
    assert pdf.render_salesdocument(document).startswith(b"%PDF")


def test_very_long_notes_are_drawn_across_pages(world: Any) -> None:
    """Notes are unbounded text: one paragraph taller than a page used to stop reportlab."""
    document = factories.sales_document(by=world.personas.owner, account=world.mine.account,
                                        notes="A long note. " * 200_000)
    with translation.override("en"):
        data = pdf.render_salesdocument(document, compress=False)
    assert b"only their beginning is printed" in data


def test_the_pdf_page_says_why_it_is_refused(world: Any, client_for: Any) -> None:
    document = _oversized(world, CAP)
    response = client_for(world.personas.owner).get(f"/documents/{document.pk}/pdf/",
                                                     follow=True)
    assert response.status_code == 200
    assert response.redirect_chain
    assert str(CAP) in response.content.decode()
