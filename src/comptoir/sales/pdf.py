"""A sales document as a PDF (quote, order, invoice…), in the active language.

Domain code: it reads the document and its lines and draws them with reportlab; the web layer
only sends the bytes. Money is written the way the reader expects it (``1 234,56 €`` in
French, ``€1,234.56`` in English; a unit price with its significant decimals, ``54,414 €``),
quantities without useless zeros, dates in the language's short format. Built with
reportlab's standard fonts (WinAnsi encoding: every French character, € included), so the
text stays searchable and copyable in the file.

The seller is the company profile (``comptoir.core.company``, edited in Settings): its logo,
name and address head the first page; every page's footer carries its legal identity (legal
form, share capital, RCS, SIREN/SIRET, VAT number, address), as French law requires on quotes
and invoices (Code de commerce R123-237, CGI annexe II art. 242 nonies A). Invoices add the
bank details, the payment terms, the early-payment discount and the late-payment penalties with
the fixed recovery indemnity (Code de commerce L441-9 and L441-10); quotes their payment terms
and how long they are valid. A field left blank in the profile is left off, never printed
empty; without a profile the seller is ``COMPTOIR_COMPANY_NAME`` or "Comptoir".
"""

from __future__ import annotations

import io
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from django.utils import formats
from django.utils.translation import get_language, ngettext, pgettext
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable

from comptoir.core import company as company_profiles
from comptoir.core.company import format_iban, format_phone, format_siren, format_siret
from comptoir.core.errors import ValidationFailed
from comptoir.core.formatting import CURRENCY_SYMBOLS, format_money, format_number
from comptoir.core.models import CompanyProfile

from .models import UNIT_PRICE_PLACES, SalesDocument, SalesDocumentLine
from .services import lines_over_cap, money

log = logging.getLogger(__name__)

DEFAULT_SELLER = company_profiles.DEFAULT_SELLER
LOGO_MAX_WIDTH = 45 * mm
LOGO_MAX_HEIGHT = 20 * mm
FOOTER_FONT = ("Helvetica", 7)
FOOTER_LEADING = 8.5
INK = colors.HexColor("#1b1b1f")
MUTED = colors.HexColor("#5f6068")
RULE = colors.HexColor("#dedee3")
SHADE = colors.HexColor("#f1f1f3")


def seller_name(profile: CompanyProfile | None = None) -> str:
    """The company printed on documents: the profile's trade or legal name, else
    ``COMPTOIR_COMPANY_NAME``, else a plain default."""
    return company_profiles.seller_name(profile)


def format_date(value: Any) -> str:
    return formats.date_format(value, "SHORT_DATE_FORMAT") if value else ""


@dataclass(frozen=True)
class VatRow:
    rate: Decimal
    base: Decimal
    tax: Decimal


def vat_breakdown(lines: Sequence[SalesDocumentLine], currency: str | None = "EUR"
                  ) -> list[VatRow]:
    """Base and VAT per rate, VAT computed on each rate's sum of lines (the rule of
    ``sales.services.compute_totals``, so the rows add up to the document's tax)."""
    base_by_rate: dict[Decimal, Decimal] = defaultdict(Decimal)
    for line in lines:
        base_by_rate[Decimal(line.tax_rate)] += Decimal(line.total_excl_tax or 0)
    return [VatRow(rate, money(base, currency), money(base * rate / Decimal(100), currency))
            for rate, base in sorted(base_by_rate.items())]


class _Styles:
    def __init__(self) -> None:
        base = getSampleStyleSheet()["Normal"]
        self.body = ParagraphStyle("body", parent=base, fontName="Helvetica", fontSize=9,
                                   leading=12, textColor=INK)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=8, leading=10,
                                    textColor=MUTED)
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=8.5, leading=10.5)
        self.seller = ParagraphStyle("seller", parent=self.body, fontName="Helvetica-Bold",
                                     fontSize=16, leading=20)
        self.title = ParagraphStyle("title", parent=self.body, fontName="Helvetica-Bold",
                                    fontSize=15, leading=19, alignment=TA_RIGHT)
        self.right = ParagraphStyle("right", parent=self.body, alignment=TA_RIGHT)
        self.small_right = ParagraphStyle("small_right", parent=self.small, alignment=TA_RIGHT)
        self.heading = ParagraphStyle("heading", parent=self.body, fontName="Helvetica-Bold",
                                      fontSize=9.5, leading=13, spaceAfter=2)


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


NOTES_CAP = 50_000  # characters of notes printed (notes are unbounded text)
_NOTES_CHUNK = 1_500  # characters per paragraph: reportlab splits a long one in square time


def _notes(text: str, st: _Styles) -> list[Flowable]:
    """The notes as short paragraphs (a line, or a piece of a long line cut between words),
    so a long text flows over pages in linear time; beyond ``NOTES_CAP`` characters, the
    beginning only, and the page says so."""
    shown, cut = text[:NOTES_CAP], len(text) > NOTES_CAP
    out: list[Flowable] = [_p(_("Notes"), st.heading)]
    for line in shown.splitlines() or [""]:
        while len(line) > _NOTES_CHUNK:
            at = line.rfind(" ", 0, _NOTES_CHUNK)
            at = at if at > 0 else _NOTES_CHUNK
            out.append(_p(line[:at], st.body))
            line = line[at:].lstrip(" ")
        out.append(_p(line, st.body) if line else Spacer(1, st.body.leading))
    if cut:
        out.append(_p(_("The notes are longer than %(n)s characters: only their beginning "
                        "is printed.") % {"n": format_number(NOTES_CAP)}, st.small))
    return out


def _customer_block(document: SalesDocument, st: _Styles) -> list[Flowable]:
    account = document.account
    rows: list[str] = [account.legal_name]
    if account.trade_name and account.trade_name != account.legal_name:
        rows.append(account.trade_name)
    if account.billing_street:
        rows.extend(account.billing_street.splitlines())
    city = " ".join(v for v in (account.billing_postcode, account.billing_city) if v)
    if city:
        rows.append(city)
    if account.billing_country and account.billing_country != "FR":
        rows.append(account.billing_country)
    ids = []
    if account.siren:
        ids.append(f"{_('SIREN')} {account.siren}")
    if account.vat_number:
        ids.append(f"{_('VAT number')} {account.vat_number}")
    out: list[Flowable] = [_p(_("Customer"), st.heading)]
    out.append(Paragraph("<br/>".join(escape(r) for r in rows), st.body))
    if ids:
        out.append(_p(" · ".join(ids), st.small))
    if document.contact_id and document.contact is not None:
        out.append(_p(_("For the attention of %(name)s") % {"name": document.contact}, st.body))
    return out


def _facts(document: SalesDocument, st: _Styles) -> list[Flowable]:
    facts = [(pgettext("sales document", "Number"), document.number),
             (_("Date"), format_date(document.issue_date))]
    if document.kind == SalesDocument.Kind.QUOTE and document.valid_until:
        facts.append((_("Valid until"), format_date(document.valid_until)))
    if document.due_date:
        facts.append((_("Due date"), format_date(document.due_date)))
    if document.start_date:
        facts.append((_("Start date"), format_date(document.start_date)))
    if document.end_date:
        facts.append((_("End date"), format_date(document.end_date)))
    if document.opportunity_id and document.opportunity is not None:
        facts.append((_("Deal"), document.opportunity.name))
    table = Table([[_p(k, st.small), _p(v, st.body)] for k, v in facts if v],
                  colWidths=[28 * mm, 52 * mm], hAlign="RIGHT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 2),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                               ("TOPPADDING", (0, 0), (-1, -1), 1)]))
    return [table]


def _lines_table(document: SalesDocument, lines: Sequence[SalesDocumentLine], st: _Styles,
                 width: float) -> Table:
    cur = document.currency
    head = [_("Description"), _("Qty"), _("Unit price"), _("Discount"), _("VAT"),
            _("Total excl. tax")]
    data: list[list[Any]] = [[_p(h, st.small if i == 0 else st.small_right)
                              for i, h in enumerate(head)]]
    for line in lines:
        description = line.description
        code = getattr(line.product, "code", "") if line.product_id else ""
        if code and not description.startswith(code):
            description = f"{code} · {description}"
        discount = Decimal(line.discount_percent or 0)
        data.append([
            _p(description, st.cell),
            format_number(line.quantity),
            format_money(line.unit_price, cur, max_places=UNIT_PRICE_PLACES),
            f"{format_number(discount)}\xa0%" if discount else "",
            f"{format_number(line.tax_rate)}\xa0%",
            format_money(line.total_excl_tax, cur),
        ])
    numbers = 22 * mm + 26 * mm + 16 * mm + 16 * mm + 28 * mm
    table = Table(data, colWidths=[width - numbers, 22 * mm, 26 * mm, 16 * mm, 16 * mm,
                                   28 * mm], repeatRows=1)
    style = [
        ("FONT", (0, 1), (-1, -1), "Helvetica", 8.5),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    table.setStyle(TableStyle(style))
    return table


def _totals(document: SalesDocument, lines: Sequence[SalesDocumentLine], st: _Styles
            ) -> list[Flowable]:
    cur = document.currency
    out: list[Flowable] = []
    vat = vat_breakdown(lines, cur)
    if vat:
        rows: list[list[Any]] = [[_p(_("VAT rate"), st.small_right),
                                  _p(_("Base"), st.small_right), _p(_("VAT"), st.small_right)]]
        rows += [[f"{format_number(r.rate)}\xa0%", format_money(r.base, cur),
                  format_money(r.tax, cur)] for r in vat]
        table = Table(rows, colWidths=[22 * mm, 30 * mm, 28 * mm], hAlign="LEFT")
        table.setStyle(TableStyle([("FONT", (0, 1), (-1, -1), "Helvetica", 8.5),
                                   ("ALIGN", (0, 0), (-1, -1), "RIGHT"),
                                   ("LINEBELOW", (0, 0), (-1, 0), 0.5, RULE)]))
        out.append(table)
    totals = [
        (_("Total excl. tax"), format_money(document.total_excl_tax, cur)),
        (_("VAT"), format_money(document.total_tax, cur)),
        (_("Total incl. tax"), format_money(document.total_incl_tax, cur)),
    ]
    if document.kind in (SalesDocument.Kind.INVOICE, SalesDocument.Kind.CREDIT_NOTE):
        totals.append((_("Amount due"), format_money(document.amount_due, cur)))
    table = Table([[k, v] for k, v in totals], colWidths=[40 * mm, 34 * mm], hAlign="RIGHT")
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), "Helvetica", 9),
        ("FONT", (0, 2), (-1, 2), "Helvetica-Bold", 10),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("LINEABOVE", (0, 2), (-1, 2), 0.8, INK),
        ("BACKGROUND", (0, 2), (-1, 2), SHADE),
    ]))
    side = Table([[out[0] if out else "", table]], colWidths=[90 * mm, None])
    side.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                              ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return [side]


def _money(value: Any, currency: str = "EUR") -> str:
    """An amount without decimals when it has none (``40 €``, ``10 000 €``), as legal
    mentions write it; otherwise at the currency's decimals."""
    number = Decimal(value)
    if number != number.to_integral_value():
        return format_money(number, currency)
    amount = format_number(number, 0)
    symbol = CURRENCY_SYMBOLS.get(currency or "EUR", currency or "")
    return f"{amount}\xa0{symbol}" if (get_language() or "fr").startswith("fr") \
        else f"{symbol}{amount}"


def _address_lines(profile: CompanyProfile) -> list[str]:
    rows = [line for street in (profile.street, profile.street2) for line in street.splitlines()
            if line.strip()]
    city = " ".join(v for v in (profile.postcode, profile.city) if v)
    if city:
        rows.append(city)
    if profile.country and profile.country != "FR":
        rows.append(profile.country)
    return rows


def _logo(profile: CompanyProfile) -> Flowable | None:
    """The logo scaled into its box (aspect kept), or ``None`` without one or when its file
    cannot be read (the document is printed without it, and the log says why)."""
    data = company_profiles.logo_bytes(profile)
    if not data:
        return None
    try:
        width, height = ImageReader(io.BytesIO(data)).getSize()
    except Exception:  # a damaged file must not stop the document
        log.warning("The company logo %s cannot be drawn", profile.logo.name)
        return None
    scale = min(LOGO_MAX_WIDTH / width, LOGO_MAX_HEIGHT / height)
    image = Image(io.BytesIO(data), width=width * scale, height=height * scale)
    image.hAlign = "LEFT"
    return image


def _seller_block(profile: CompanyProfile, name: str, st: _Styles) -> list[Flowable]:
    out: list[Flowable] = []
    logo = _logo(profile)
    if logo is not None:
        out += [logo, Spacer(1, 2 * mm)]
    out.append(_p(name, st.seller))
    rows = _address_lines(profile)
    if rows:
        out.append(_p("\n".join(rows), st.body))
    contact = [v for v in (format_phone(profile.phone, profile.country or "FR"),
                           profile.email, profile.website.removeprefix("https://")) if v]
    if contact:
        out.append(_p(" · ".join(contact), st.small))
    return out


def _legal_identity(profile: CompanyProfile, fallback: str) -> list[str]:
    """The footer's lines: who the seller is in law (name, form, capital, address), then its
    registrations. Blank fields are left off."""
    first = [profile.legal_name or fallback]
    if profile.share_capital is not None:
        capital = _money(profile.share_capital)
        first.append(_("%(form)s with a share capital of %(capital)s")
                     % {"form": profile.legal_form, "capital": capital}
                     if profile.legal_form else _("Share capital: %(capital)s")
                     % {"capital": capital})
    elif profile.legal_form:
        first.append(profile.legal_form)
    address = ", ".join(_address_lines(profile))
    if address:
        first.append(address)
    second = []
    rcs = profile.rcs.strip()
    if rcs and profile.siren and not any(c.isdigit() for c in rcs):
        second.append(f"{rcs} {format_siren(profile.siren)}")
    elif rcs:
        second.append(rcs)
    elif profile.siren:
        second.append(f"{_('SIREN')} {format_siren(profile.siren)}")
    if profile.siret:
        second.append(f"{_('SIRET')} {format_siret(profile.siret)}")
    if profile.vat_number:
        second.append(_("VAT number: %(number)s") % {"number": profile.vat_number})
    if profile.naf_code:
        second.append(_("NAF code: %(code)s") % {"code": profile.naf_code})
    lines = [" · ".join(first)]
    if second:
        lines.append(" · ".join(second))
    return lines


def _payment_terms(document: SalesDocument, profile: CompanyProfile) -> str:
    """The customer's own terms when the account has some, else the company's usual ones."""
    account = document.account
    if getattr(account, "payment_terms", ""):
        return str(account.get_payment_terms_display())
    return profile.payment_terms


def _conditions(document: SalesDocument, profile: CompanyProfile, st: _Styles
                ) -> list[Flowable]:
    """The legal mentions of the document's kind, then the profile's other mentions."""
    kind = document.kind
    Kind = SalesDocument.Kind
    rows: list[str] = []
    terms = _payment_terms(document, profile)
    if terms and kind in (Kind.QUOTE, Kind.ORDER, Kind.CONTRACT, Kind.INVOICE):
        rows.append(_("Payment terms: %(terms)s") % {"terms": terms})
    if kind == Kind.QUOTE:
        if document.valid_until:
            rows.append(_("This quote is valid until %(date)s.")
                        % {"date": format_date(document.valid_until)})
        else:
            days = profile.quote_validity_days or 30
            rows.append(ngettext("This quote is valid for %(n)d day from its date.",
                                 "This quote is valid for %(n)d days from its date.", days)
                        % {"n": days})
    if kind == Kind.INVOICE:
        discount = profile.early_payment_discount.strip()
        rows.append(_("Early payment discount: %(terms)s") % {"terms": discount} if discount
                    else _("No discount for early payment."))
        indemnity = _money(profile.recovery_indemnity if profile.recovery_indemnity is not None
                           else Decimal(40))
        if profile.late_penalty_rate is not None:
            rate = _("%(rate)s %% a year") % {"rate": format_number(profile.late_penalty_rate)}
        else:
            rate = _("the European Central Bank's refinancing rate plus 10 points")
        rows.append(_("Late payment: penalties at %(rate)s, and a fixed indemnity for recovery "
                      "costs of %(amount)s (French Commercial Code, art. L441-10).")
                    % {"rate": rate, "amount": indemnity})
    out: list[Flowable] = []
    if rows:
        out += [_p(pgettext("document section", "Terms"), st.heading),
                *[_p(r, st.small) for r in rows]]
    if kind == Kind.INVOICE and profile.iban:
        bank = [v for v in (profile.bank_name,
                            _("IBAN: %(iban)s") % {"iban": format_iban(profile.iban)},
                            _("BIC: %(bic)s") % {"bic": profile.bic} if profile.bic else "")
                if v]
        out += [Spacer(1, 3 * mm), _p(_("Bank details"), st.heading),
                _p(" · ".join(bank), st.body)]
    if kind == Kind.QUOTE:
        out += [Spacer(1, 3 * mm),
                _p(_("Date and signature of the customer, preceded by the words "
                     "“Good for agreement”:"), st.small), Spacer(1, 16 * mm)]
    if profile.footer.strip():
        out += [Spacer(1, 3 * mm), _p(profile.footer.strip(), st.small)]
    return [KeepTogether(out)] if out else []


def render_salesdocument(document: SalesDocument, *,
                         lines: Sequence[SalesDocumentLine] | None = None,
                         seller: str | None = None, compress: bool = True,
                         profile: CompanyProfile | None = None) -> bytes:
    """The document as PDF bytes; long documents run over several pages, the lines' header
    repeated on each. ``compress=False`` keeps the page text readable in the file (tests).
    ``profile`` is the seller (default: the stored company profile); ``seller`` overrides its
    printed name.

    A document over ``COMPTOIR_MAX_DOCUMENT_LINES`` lines (stored before the cap) is refused
    with :class:`ValidationFailed` before anything is drawn: its drawing time has no bound.
    """
    too_many = lines_over_cap(len(lines) if lines is not None else document.lines.count())
    if too_many:
        raise ValidationFailed(too_many, fields={"lines": [too_many]})
    if lines is None:
        lines = list(document.lines.select_related("product").order_by("position", "id"))
    profile = company_profiles.company_profile() if profile is None else profile
    company = seller or seller_name(profile)
    title = f"{document.get_kind_display()} {document.number}"
    st = _Styles()
    buffer = io.BytesIO()
    margin = 16 * mm
    width = A4[0] - 2 * margin
    font, size = FOOTER_FONT
    legal = [part for line in _legal_identity(profile, company)
             for part in simpleSplit(line, font, size, width)]
    footer_height = (len(legal) + 1) * FOOTER_LEADING + 3 * mm
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=margin, rightMargin=margin,
                            topMargin=margin, bottomMargin=margin + footer_height,
                            title=title, author=profile.legal_name or company,
                            creator=company, subject=title,
                            pageCompression=1 if compress else 0)

    def footer(canvas: Canvas, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, size)
        canvas.setFillColor(MUTED)
        canvas.setStrokeColor(RULE)
        top = margin + len(legal) * FOOTER_LEADING + 2 * mm
        canvas.setLineWidth(0.4)
        canvas.line(margin, top + FOOTER_LEADING, A4[0] - margin, top + FOOTER_LEADING)
        for i, text in enumerate(legal):
            canvas.drawCentredString(A4[0] / 2, top - i * FOOTER_LEADING, text)
        canvas.drawString(margin, margin, title)
        canvas.drawRightString(A4[0] - margin, margin,
                               _("Page %(n)d") % {"n": canvas.getPageNumber()})
        canvas.restoreState()

    header = Table([[_seller_block(profile, company, st), _p(title, st.title)]],
                   colWidths=[width * 0.6, width * 0.4])
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                                ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
                                ("BOTTOMPADDING", (0, 0), (-1, -1), 6)]))
    parties = Table([[_customer_block(document, st), _facts(document, st)]],
                    colWidths=[width * 0.55, width * 0.45])
    parties.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                 ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                 ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    story: list[Flowable] = [header, Spacer(1, 6 * mm), parties, Spacer(1, 8 * mm)]
    if lines:
        story.append(_lines_table(document, lines, st, width))
    else:
        story.append(_p(_("No lines."), st.small))
    story += [Spacer(1, 5 * mm), *_totals(document, lines, st)]
    if document.notes:
        story += [Spacer(1, 6 * mm), *_notes(document.notes, st)]
    conditions = _conditions(document, profile, st)
    if conditions:
        story += [Spacer(1, 6 * mm), *conditions]
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def filename_for(document: SalesDocument) -> str:
    """``quote-DEV-2025-000001.pdf``: safe for a Content-Disposition header."""
    number = "".join(c if c.isalnum() or c in "-_." else "-" for c in document.number)
    return f"{document.kind}-{number or document.pk}.pdf"
