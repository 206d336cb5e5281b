"""The quote editor, its recompute endpoint and the PDF of sales documents (Django client)."""

from __future__ import annotations

import base64
import re
import zlib
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from comptoir.core.models import AuditEntry, ExternalRef, ObjectType
from comptoir.sales.models import PriceList, Product, SalesDocument
from comptoir.sales.services import compute_totals
from comptoir.testing import factories

HX = {"HTTP_HX_REQUEST": "true"}
RECOMPUTE = "/documents/recompute/"


def pdf_text(data: bytes) -> str:
    """The page instructions of a reportlab PDF, inflated (ASCII85 + Flate streams)."""
    out = []
    for found in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        raw = found.group(1).strip()
        if raw.endswith(b"~>"):
            raw = raw[:-2]
        try:
            out.append(zlib.decompress(base64.a85decode(raw)).decode("latin-1"))
        except ValueError:
            out.append(found.group(1).decode("latin-1"))
    return "\n".join(out)


@pytest.fixture
def catalogue(world: Any) -> dict[str, Any]:
    """A trade price list with a quantity break (10+ at 8.50) and a product it lacks."""
    admin = world.personas.admin
    widget = world.product
    gadget = factories.product(by=admin, code="GADGET", name="Gadget", tax_rate=Decimal("5.5"))
    trade = factories.pricelist(by=admin, name="Trade", items=[
        {"product": widget, "unit_price": Decimal("9.90")},
        {"product": widget, "unit_price": Decimal("8.50"), "min_quantity": Decimal("10")},
    ])
    return {"widget": widget, "gadget": gadget, "trade": trade}


def editor_post(account: Any, price_list: PriceList | None, lines: list[dict[str, str]],
                **extra: str) -> dict[str, Any]:
    today = timezone.localdate().isoformat()
    data: dict[str, Any] = {"account": account.pk, "price_list": price_list.pk if price_list
                            else "", "issue_date": today, "valid_until": "", "notes": "",
                            "contact": "", "opportunity": ""}
    for key in ("product", "description", "quantity", "unit_price", "discount", "tax_rate",
                "list_price"):
        data[f"line_{key}"] = [ln.get(key, "") for ln in lines]
    data.update(extra)
    return data


def widget_line(catalogue: Any, quantity: str = "1", unit_price: str = "9.90",
                list_price: str = "9.90", **more: str) -> dict[str, str]:
    return {"product": str(catalogue["widget"].pk), "description": "Widget",
            "quantity": quantity, "unit_price": unit_price, "list_price": list_price,
            "tax_rate": "20", **more}


def test_new_quote_page_for_an_account_and_from_a_deal(client_for: Any, world: Any,
                                                       catalogue: Any) -> None:
    client = client_for(world.personas.owner)
    response = client.get("/documents/new/", {"account": world.mine.account.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "New quote" in html
    assert world.mine.account.legal_name in html
    assert "Trade" in html
    assert 'id="product-q"' in html
    deal = world.mine.opportunity
    html = client.get("/documents/new/", {"opportunity": deal.pk}).content.decode()
    assert re.search(rf'<option value="{deal.pk}" selected>', html)
    assert re.search(rf'<option value="{deal.contact_id}" selected>', html)
    # the outsider's account is not there for this rep
    assert client.get("/documents/new/", {"account": world.theirs.account.pk}).status_code == 404
    chooser = client.get("/documents/new/").content.decode()
    assert world.mine.account.legal_name in chooser
    assert world.theirs.account.legal_name not in chooser
    found = client.get("/documents/new/", {"q": "oli"}).content.decode()
    assert world.mine.account.legal_name in found


def test_recompute_adds_a_catalogue_line_priced_from_the_list(client_for: Any, world: Any,
                                                              catalogue: Any) -> None:
    client = client_for(world.personas.owner)
    data = editor_post(world.mine.account, catalogue["trade"], [],
                       add_product=str(catalogue["widget"].pk))
    response = client.post(RECOMPUTE, data, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="quote-lines"')
    assert "<html" not in html
    assert 'data-focus="line-1-quantity"' in html
    assert 'name="line_unit_price" value="9.90"' in html
    assert 'name="line_list_price" value="9.90"' in html
    assert 'data-total="incl">€11.88<' in html
    assert 'id="product-suggestions" class="suggestions" role="list" hx-swap-oob="true"' in html


def test_recompute_follows_quantity_breaks_but_keeps_typed_prices(client_for: Any, world: Any,
                                                                 catalogue: Any) -> None:
    client = client_for(world.personas.owner)
    lines = [widget_line(catalogue, quantity="12"),
             widget_line(catalogue, quantity="12", unit_price="7", discount="10"),
             {"description": "Set-up", "quantity": "1,5", "unit_price": "100", "tax_rate": "5,5"}]
    html = client.post(RECOMPUTE, editor_post(world.mine.account, catalogue["trade"], lines),
                       **HX).content.decode()
    prices = re.findall(r'name="line_unit_price" value="([^"]*)"', html)
    assert prices == ["8.50", "7", "100"]
    # the same totals as the service computes
    rows = [factories_line(12, "8.50", 0, 20), factories_line(12, "7", 10, 20),
            factories_line("1.5", "100", 0, "5.5")]
    excl, tax, incl = compute_totals(rows)
    assert f'data-total="excl">€{excl:,.2f}<' in html
    assert f'data-total="tax">€{tax:,.2f}<' in html
    assert f'data-total="incl">€{incl:,.2f}<' in html
    assert "VAT 5.5 % on €150.00" in html
    assert "VAT 20 % on €177.60" in html
    assert 'id="line-1-total">€102.00<' in html
    assert 'id="line-2-total">€75.60<' in html


def factories_line(quantity: Any, price: Any, discount: Any, rate: Any) -> Any:
    from comptoir.sales.models import SalesDocumentLine

    return SalesDocumentLine(quantity=Decimal(str(quantity)), unit_price=Decimal(str(price)),
                             discount_percent=Decimal(str(discount)), tax_rate=Decimal(str(rate)))


def test_recompute_reorders_and_removes_lines(client_for: Any, world: Any,
                                              catalogue: Any) -> None:
    client = client_for(world.personas.owner)
    lines = [{"description": "First", "quantity": "1", "unit_price": "1", "tax_rate": "20"},
             {"description": "Second", "quantity": "1", "unit_price": "2", "tax_rate": "20"},
             {"description": "Third", "quantity": "1", "unit_price": "3", "tax_rate": "20"}]
    data = editor_post(world.mine.account, None, lines, op="up:2")
    html = client.post(RECOMPUTE, data, **HX).content.decode()
    assert re.findall(r'name="line_description" value="([^"]*)"', html) == [
        "First", "Third", "Second"]
    data = editor_post(world.mine.account, None, lines, op="remove:0")
    html = client.post(RECOMPUTE, data, **HX).content.decode()
    assert re.findall(r'name="line_description" value="([^"]*)"', html) == ["Second", "Third"]
    assert 'data-total="excl">€5.00<' in html
    # without htmx the same endpoint answers with the whole page
    page = client.post(RECOMPUTE, data).content.decode()
    assert "<html" in page
    assert 'data-total="excl">€5.00<' in page


def test_create_saves_lines_at_list_prices_with_service_totals(client_for: Any, world: Any,
                                                               catalogue: Any) -> None:
    owner = world.personas.owner
    client = client_for(owner)
    lines = [widget_line(catalogue, quantity="12", unit_price="8.50", list_price="8.50"),
             {"product": str(catalogue["widget"].pk), "description": "", "quantity": "2",
              "unit_price": "", "list_price": "", "tax_rate": ""}]
    data = editor_post(world.mine.account, catalogue["trade"], lines, op="save",
                       notes="Valid for a month", contact=str(world.mine.contact.pk))
    response = client.post(f"/documents/new/?account={world.mine.account.pk}", data)
    assert response.status_code == 302
    doc = SalesDocument.objects.latest("id")
    assert response["Location"] == f"/documents/{doc.pk}/edit/"
    assert doc.kind == "quote"
    assert doc.account_id == world.mine.account.pk
    assert doc.price_list_id == catalogue["trade"].pk
    assert doc.contact_id == world.mine.contact.pk
    saved = list(doc.lines.order_by("position"))
    assert [ln.unit_price for ln in saved] == [Decimal("8.50"), Decimal("9.90")]
    assert [ln.description for ln in saved] == ["Widget", "Widget"]
    assert saved[1].tax_rate == catalogue["widget"].tax_rate
    assert (doc.total_excl_tax, doc.total_tax, doc.total_incl_tax) == compute_totals(saved)
    assert doc.notes == "Valid for a month"
    assert doc.owner_id == owner.pk
    assert AuditEntry.objects.filter(object_type=ObjectType.SALES_DOCUMENT, object_id=doc.pk,
                                     action="create").exists()
    page = client.get(response["Location"]).content.decode()
    assert f"{doc.number} saved" in page


def test_bad_quantity_is_shown_on_its_line_and_nothing_is_lost(client_for: Any, world: Any,
                                                               catalogue: Any) -> None:
    client = client_for(world.personas.owner)
    before = SalesDocument.objects.count()
    lines = [widget_line(catalogue, quantity="3"),
             {"description": "Custom work", "quantity": "abc", "unit_price": "120",
              "tax_rate": "20"}]
    data = editor_post(world.mine.account, catalogue["trade"], lines, op="save",
                       notes="Keep me")
    response = client.post(f"/documents/new/?account={world.mine.account.pk}", data)
    assert response.status_code == 200
    assert SalesDocument.objects.count() == before
    html = response.content.decode()
    assert re.search(r'id="line-2-quantity" name="line_quantity" value="abc"[^>]*'
                     r'aria-invalid="true"', html)
    assert '<p class="field-error" id="line-2-quantity-error">Enter a number.</p>' in html
    assert 'value="Custom work"' in html
    assert "Keep me" in html
    assert 'id="line-1-quantity-error"' not in html


def test_service_errors_come_back_on_their_line(client_for: Any, world: Any,
                                                catalogue: Any) -> None:
    """The gadget has no price in the list: the service's ``lines.1.unit_price`` error."""
    client = client_for(world.personas.owner)
    lines = [widget_line(catalogue),
             {"product": str(catalogue["gadget"].pk), "description": "Gadget",
              "quantity": "1", "unit_price": "", "list_price": "", "tax_rate": "5.5"}]
    data = editor_post(world.mine.account, catalogue["trade"], lines, op="save")
    response = client.post(f"/documents/new/?account={world.mine.account.pk}", data)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="line-2-unit_price-error"' in html
    assert "No price for this product in the document" in html
    assert "Some lines are not valid." in html


def test_edit_updates_the_quote_through_the_service(client_for: Any, world: Any,
                                                    catalogue: Any) -> None:
    owner = world.personas.owner
    doc = factories.sales_document(by=owner, account=world.mine.account,
                                   price_list=catalogue["trade"],
                                   lines=[{"product": catalogue["widget"], "quantity": 2}])
    client = client_for(owner)
    html = client.get(f"/documents/{doc.pk}/edit/").content.decode()
    assert 'name="line_unit_price" value="9.90"' in html
    assert 'name="line_list_price" value="9.90"' in html  # it follows the list
    assert "Download PDF" in html
    assert "Mark as sent" in html
    lines = [widget_line(catalogue, quantity="20")]
    data = editor_post(world.mine.account, catalogue["trade"], lines, op="recompute",
                       document=str(doc.pk))
    html = client.post(RECOMPUTE, data, **HX).content.decode()
    assert 'name="line_unit_price" value="8.50"' in html
    data["line_unit_price"] = ["8.50"]
    data["line_list_price"] = ["8.50"]
    data["op"] = "save"
    response = client.post(f"/documents/{doc.pk}/edit/", data)
    assert response.status_code == 302
    doc.refresh_from_db()
    line = doc.lines.get()
    assert (line.quantity, line.unit_price) == (Decimal("20"), Decimal("8.50"))
    assert doc.total_excl_tax == Decimal("170.00")
    assert doc.total_incl_tax == Decimal("204.00")
    assert AuditEntry.objects.filter(object_type=ObjectType.SALES_DOCUMENT, object_id=doc.pk,
                                     action="update").exists()


def test_status_actions(client_for: Any, world: Any) -> None:
    doc = world.mine.sales_document
    client = client_for(world.personas.owner)
    response = client.post(f"/documents/{doc.pk}/status/", {"status": "sent"})
    assert response.status_code == 302
    doc.refresh_from_db()
    assert doc.status == "sent"
    client.post(f"/documents/{doc.pk}/status/", {"status": "accepted"})
    doc.refresh_from_db()
    assert doc.status == "accepted"
    client.post(f"/documents/{doc.pk}/status/", {"status": "paid"})
    doc.refresh_from_db()
    assert doc.status == "accepted"


def test_only_editable_quotes_open_in_the_editor(client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    client = client_for(owner)
    invoice = factories.sales_document(by=owner, account=world.mine.account, kind="invoice")
    response = client.get(f"/documents/{invoice.pk}/edit/")
    assert response.status_code == 302
    assert response["Location"] == f"/documents/{invoice.pk}/"
    assert client.post(f"/documents/{invoice.pk}/edit/", {"op": "save"}).status_code == 302
    erp_quote = world.mine.sales_document
    ExternalRef.objects.create(system="tryton", object_type=ObjectType.SALES_DOCUMENT,
                               external_id="sale-1", object_id=erp_quote.pk)
    response = client.get(f"/documents/{erp_quote.pk}/edit/")
    assert response.status_code == 302
    assert response["Location"] == f"/documents/{erp_quote.pk}/"
    outsider = client_for(world.personas.outsider)
    assert outsider.get(f"/documents/{erp_quote.pk}/edit/").status_code == 404
    assert outsider.post(f"/documents/{world.mine.sales_document.pk}/status/",
                         {"status": "sent"}).status_code == 404


def test_product_suggestions_are_bounded_and_active_only(client_for: Any, world: Any,
                                                         catalogue: Any) -> None:
    admin = world.personas.admin
    for n in range(14):
        factories.product(by=admin, code=f"WID{n:02d}", name=f"Widget variant {n}")
    factories.product(by=admin, code="WIDOLD", name="Old widget", active=False)
    client = client_for(world.personas.owner)
    response = client.get("/documents/products/", {"product_q": "widget",
                                                   "price_list": catalogue["trade"].pk}, **HX)
    html = response.content.decode()
    assert html.count('name="add_product"') == 10
    assert "WIDOLD" not in html
    assert "€9.90" in html
    assert html.index("WIDGET") < html.index("WID00")  # the code first, then names
    assert "<html" not in html
    full = client.get("/documents/products/", {"q": "gadget"}).content.decode()
    assert "<html" in full
    assert "GADGET" in full
    assert Product.objects.filter(code__startswith="WID").count() == 16


def test_pdf_of_a_visible_document(client_for: Any, world: Any) -> None:
    doc = world.mine.sales_document
    client = client_for(world.personas.owner)
    response = client.get(f"/documents/{doc.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="quote-{doc.number}.pdf"'
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    assert f"({doc.number}) Tj" in text
    assert "(Olivia Industries) Tj" in text
    assert "(Consulting) Tj" in text
    inline = client.get(f"/documents/{doc.pk}/pdf/", {"inline": "1"})
    assert inline["Content-Disposition"].startswith("inline;")
    french = client_for(world.personas.owner, language="fr").get(f"/documents/{doc.pk}/pdf/")
    assert "(Devis " in pdf_text(french.content)
    invoice = factories.sales_document(by=world.personas.owner, account=world.mine.account,
                                       kind="invoice")
    response = client.get(f"/documents/{invoice.pk}/pdf/")
    assert response["Content-Disposition"] == (
        f'attachment; filename="invoice-{invoice.number}.pdf"')
    outsider = client_for(world.personas.outsider)
    assert outsider.get(f"/documents/{doc.pk}/pdf/").status_code == 404
