"""The PDF of a sales document (``comptoir.sales.pdf``), without the web layer."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation

from comptoir.sales import pdf
from comptoir.sales.models import SalesDocument
from comptoir.testing import factories


def page_text(data: bytes) -> str:
    """The drawing instructions of an uncompressed PDF (``compress=False``), as text."""
    return data.decode("latin-1")


def shown(data: bytes, text: str) -> bool:
    """Whether ``text`` is drawn: reportlab writes ``(…) Tj`` strings in cp1252, with ``\\``,
    parentheses and bytes above 127 escaped (octal), and no-break spaces as spaces."""
    out = []
    for byte in text.replace("\xa0", " ").encode("cp1252"):
        ch = chr(byte)
        out.append(f"\\{byte:03o}" if byte > 127 else "\\" + ch if ch in "\\()" else ch)
    return "".join(out) in page_text(data)


@pytest.fixture
def quote(world: Any) -> SalesDocument:
    account = world.mine.account
    account.vat_number = "FR40123456789"
    account.billing_street = "12 rue de la République"
    account.save(update_fields=["vat_number", "billing_street"])
    return factories.sales_document(
        by=world.personas.owner, account=account, price_list=world.price_list,
        notes="Delivery within 3 weeks.",
        lines=[
            {"product": world.product, "quantity": Decimal("1200"),
             "unit_price": Decimal("9.90"), "tax_rate": Decimal("20")},
            {"description": "Installation (day)", "quantity": Decimal("1.5"),
             "unit_price": Decimal("800"), "discount_percent": Decimal("10"),
             "tax_rate": Decimal("5.5")},
        ],
    )


def test_french_quote_has_header_customer_lines_vat_and_totals(quote: SalesDocument) -> None:
    with translation.override("fr"):
        data = pdf.render_salesdocument(quote, compress=False, seller="Acme SAS")
    assert data.startswith(b"%PDF")
    assert shown(data, "Acme SAS")
    assert shown(data, quote.number)
    assert shown(data, quote.account.legal_name)
    assert shown(data, "12 rue de la République")
    assert shown(data, quote.account.siren)
    assert shown(data, "FR40123456789")
    assert shown(data, "Delivery within 3 weeks.")
    # 1200 × 9.90 = 11 880,00 € ; 1.5 × 800 × 0.9 = 1 080,00 € at 5.5 %
    assert shown(data, "11\xa0880,00\xa0€")
    assert shown(data, "1\xa0080,00\xa0€")
    assert shown(data, "5,5\xa0%")
    excl = Decimal("12960.00")
    tax = Decimal("2376.00") + Decimal("59.40")
    assert quote.total_excl_tax == excl
    assert quote.total_tax == tax
    assert shown(data, "12\xa0960,00\xa0€")
    assert shown(data, "2\xa0435,40\xa0€")
    assert shown(data, "15\xa0395,40\xa0€")
    assert shown(data, "Total TTC") or shown(data, "Total incl. tax")


def test_english_formats_money_and_labels_in_english(quote: SalesDocument) -> None:
    with translation.override("en"):
        data = pdf.render_salesdocument(quote, compress=False)
        assert shown(data, "€11,880.00")
        assert shown(data, "Total incl. tax")
        assert shown(data, pdf.DEFAULT_SELLER)


def test_many_lines_run_over_several_pages(world: Any) -> None:
    lines = [{"description": f"Item number {n}", "quantity": Decimal(n), "unit_price":
              Decimal("1.00"), "tax_rate": Decimal("20")} for n in range(1, 121)]
    doc = factories.sales_document(by=world.personas.owner, account=world.mine.account,
                                   lines=lines)
    with translation.override("en"):
        data = pdf.render_salesdocument(doc, compress=False)
    pages = len(re.findall(rb"/Type /Page\b", data))
    assert pages >= 3
    assert shown(data, "Item number 1")
    assert shown(data, "Item number 120")
    assert shown(data, "Page 3")
    assert data.count(b"(Description) Tj") == pages  # the header repeats on every page


def test_compressed_output_is_a_pdf_and_smaller(quote: SalesDocument) -> None:
    small = pdf.render_salesdocument(quote)
    big = pdf.render_salesdocument(quote, compress=False)
    assert small.startswith(b"%PDF")
    assert small.rstrip().endswith(b"%%EOF")
    assert len(small) < len(big)


def test_vat_breakdown_adds_up_to_the_document_tax(quote: SalesDocument) -> None:
    rows = pdf.vat_breakdown(list(quote.lines.all()))
    assert [r.rate for r in rows] == [Decimal("5.5"), Decimal("20")]
    assert sum(r.tax for r in rows) == quote.total_tax
    assert sum(r.base for r in rows) == quote.total_excl_tax


def test_filename_and_seller_setting(quote: SalesDocument, settings: Any) -> None:
    assert pdf.filename_for(quote) == f"quote-{quote.number}.pdf"
    assert pdf.seller_name() == "Comptoir"
    settings.COMPTOIR_COMPANY_NAME = "Établissements Martin"
    assert pdf.seller_name() == "Établissements Martin"
    with translation.override("fr"):
        data = pdf.render_salesdocument(quote, compress=False)
    assert shown(data, "Établissements Martin")
