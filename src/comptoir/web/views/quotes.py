"""The quote editor and the PDF of any sales document (issue 4, item 6).

The editor is one form: header fields, lines (repeated ``line_*`` inputs, in page order) and
notes. Every change posts the whole form to ``quote_recompute``, which prices the lines from
the price list (``sales.services.price_for``: quantity breaks, validity dates), computes the
totals with ``sales.services.compute_totals`` and answers with the lines and totals; without
JavaScript the same operations (add, remove, reorder, search) post to the page itself. Saving
goes through ``salesdocument_create``/``salesdocument_update``, whose errors come back next to
the field or the line they name (``lines.2.quantity``).

A line whose unit price is the price list's price *follows* the list (``line_list_price``
remembers the price last applied): a new quantity or another list re-prices it. A price typed
by hand is kept.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_GET, require_POST

from comptoir.access import policy
from comptoir.core.errors import DomainError
from comptoir.core.formatting import format_number, significant_places
from comptoir.core.models import ExternalRef, ObjectType
from comptoir.core.services import NON_FIELD
from comptoir.crm.models import Account, Contact, Opportunity, open_for_business
from comptoir.sales import pdf
from comptoir.sales.models import (
    UNIT_PRICE_PLACES,
    PriceList,
    Product,
    SalesDocument,
    SalesDocumentLine,
)
from comptoir.sales.services import (
    compute_totals,
    price_for,
    salesdocument_create,
    salesdocument_update,
)
from comptoir.web.objects import detail_url_for

MAX_LINES = 300  # a quote longer than this is a spreadsheet, not a quote
SUGGESTIONS = 10
CHOICES_CAP = 200  # contacts / deals offered in the header selects
VALIDITY_DAYS = 30
LINE_FIELDS = ("product", "description", "quantity", "unit_price", "discount", "tax_rate",
               "list_price")
STATUS_ACTIONS = {
    SalesDocument.Status.SENT: _l("Mark as sent"),
    SalesDocument.Status.ACCEPTED: _l("Mark as accepted"),
    SalesDocument.Status.REFUSED: _l("Mark as refused"),
}
# service field name -> input of the line
SERVICE_LINE_FIELD = {"discount_percent": "discount", "product_id": "product"}


# --- Numbers as people type them -----------------------------------------------------------

def parse_decimal(raw: str) -> Decimal | None:
    """``1 234,5`` or ``1,234.5`` or ``12 %`` → Decimal; empty → None; else ValueError."""
    text = re.sub(r"[\s\u00a0\u202f%€$£]", "", raw or "")
    if not text:
        return None
    if "," in text and "." in text:
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    else:
        text = text.replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if not value.is_finite():
        raise ValueError(text)
    return value


def plain(value: Any, places: int | None = None) -> str:
    """A number for an input, in the user's decimal notation, without grouping."""
    return format_number(value, places, grouping=False)


def plain_price(value: Any) -> str:
    """A unit price for an input: its significant decimals, 2 to 4 (``54,414``, ``12,50``)."""
    return plain(value, significant_places(Decimal(value), 2, UNIT_PRICE_PLACES))


# --- The editor's state --------------------------------------------------------------------

@dataclass
class Line:
    product_id: int | None = None
    product: Product | None = None
    description: str = ""
    quantity: str = "1"
    unit_price: str = ""
    discount: str = ""
    tax_rate: str = ""
    list_price: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    total: Decimal | None = None
    note: str = ""

    def blank(self) -> bool:
        return not (self.product_id or self.description.strip() or self.unit_price.strip())

    def number(self, name: str) -> Decimal | None:
        try:
            return parse_decimal(getattr(self, name))
        except ValueError:
            return None


class QuoteForm(forms.Form):
    price_list = forms.ModelChoiceField(queryset=PriceList.objects.none(), required=False,
                                        label=_l("Price list"), empty_label=_l("No price list"))
    contact = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                     label=_l("Contact"))
    opportunity = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                         label=_l("Deal"))
    issue_date = forms.DateField(label=_l("Date"),
                                 widget=forms.DateInput(attrs={"type": "date"},
                                                        format="%Y-%m-%d"))
    valid_until = forms.DateField(required=False, label=_l("Valid until"),
                                  widget=forms.DateInput(attrs={"type": "date"},
                                                         format="%Y-%m-%d"))
    notes = forms.CharField(required=False, label=_l("Notes"),
                            help_text=_l("Printed at the bottom of the quote."),
                            widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, account: Account, user: Any,
                 document: SalesDocument | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lists = PriceList.objects.filter(active=True)
        if document is not None and document.price_list_id:
            lists = PriceList.objects.filter(pk=document.price_list_id) | lists
        self.fields["price_list"].queryset = lists.order_by("name")  # type: ignore[attr-defined]
        current_contact = self._value("contact", document.contact_id if document else None)
        contacts = policy.restrict_under(Contact.objects.filter(account=account), user, account)
        self.fields["contact"].choices = self._choices(  # type: ignore[attr-defined]
            contacts.order_by("last_name", "first_name"), current_contact, _("No contact"))
        current_deal = self._value("opportunity",
                                   document.opportunity_id if document else None)
        deals = policy.restrict_under(Opportunity.objects.filter(account=account), user, account)
        self.fields["opportunity"].choices = self._choices(  # type: ignore[attr-defined]
            deals.filter(status=Opportunity.Status.OPEN).order_by("name"), current_deal,
            _("No deal"), extra=deals)

    def _value(self, name: str, fallback: Any) -> int | None:
        raw = self.data.get(name) if self.is_bound else self.initial.get(name, fallback)
        try:
            return int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            return None

    @staticmethod
    def _choices(qs: Any, current: int | None, empty: str, extra: Any = None
                 ) -> list[tuple[Any, str]]:
        rows = list(qs[:CHOICES_CAP])
        if current is not None and all(r.pk != current for r in rows):
            rows += list((extra if extra is not None else qs).filter(pk=current))
        return [("", empty), *((r.pk, str(r)) for r in rows)]


@dataclass
class Editor:
    account: Account
    document: SalesDocument | None
    form: QuoteForm
    lines: list[Line]
    errors: list[str] = field(default_factory=list)
    totals: tuple[Decimal, Decimal, Decimal] = (Decimal(0), Decimal(0), Decimal(0))
    vat: list[pdf.VatRow] = field(default_factory=list)
    product_q: str = ""
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    focus: str = ""

    @property
    def vat_rows(self) -> list[dict[str, Any]]:
        return [{"rate": plain(r.rate), "base": r.base, "tax": r.tax} for r in self.vat]

    @cached_property
    def price_list(self) -> PriceList | None:
        raw = self.form.data.get("price_list") if self.form.is_bound else \
            self.form.initial.get("price_list")
        if isinstance(raw, PriceList):
            return raw
        try:
            pk = int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            return None
        qs = self.form.fields["price_list"].queryset  # type: ignore[attr-defined]
        return qs.filter(pk=pk).first() if pk else None

    @property
    def issue_date(self) -> dt.date:
        if self.form.is_bound:
            try:
                return dt.date.fromisoformat(str(self.form.data.get("issue_date", "")))
            except ValueError:
                return timezone.localdate()
        value = self.form.initial.get("issue_date")
        return value if isinstance(value, dt.date) else timezone.localdate()

    @property
    def currency(self) -> str:
        price_list = self.price_list
        if price_list is not None:
            return price_list.currency
        return self.document.currency if self.document else "EUR"


def _products(ids: set[int]) -> dict[int, Product]:
    return Product.objects.in_bulk(list(ids)) if ids else {}


def lines_from_post(post: QueryDict) -> list[Line]:
    columns = {name: post.getlist(f"line_{name}") for name in LINE_FIELDS}
    count = min(max((len(v) for v in columns.values()), default=0), MAX_LINES)
    lines = []
    for i in range(count):
        values = {name: (col[i] if i < len(col) else "").strip() for name, col in columns.items()}
        product_raw = values["product"]
        line = Line(product_id=int(product_raw) if product_raw.isdigit() else None,
                    description=values["description"], quantity=values["quantity"],
                    unit_price=values["unit_price"], discount=values["discount"],
                    tax_rate=values["tax_rate"], list_price=values["list_price"])
        lines.append(line)
    products = _products({ln.product_id for ln in lines if ln.product_id})
    for line in lines:
        line.product = products.get(line.product_id) if line.product_id else None
        if line.product_id and line.product is None:
            line.errors["product"] = [_("This product no longer exists.")]
    return lines


def lines_from_document(document: SalesDocument) -> list[Line]:
    rows = list(document.lines.select_related("product").order_by("position", "id")[:MAX_LINES])
    lines = []
    for row in rows:
        line = Line(product_id=row.product_id, product=row.product, description=row.description,
                    quantity=plain(row.quantity), unit_price=plain_price(row.unit_price),
                    discount=plain(row.discount_percent) if row.discount_percent else "",
                    tax_rate=plain(row.tax_rate))
        if row.product_id and document.price_list_id:
            listed = price_for(document.price_list, row.product_id, row.quantity,  # type: ignore[arg-type]
                               document.issue_date)
            if listed is not None and listed == row.unit_price:
                line.list_price = line.unit_price
        lines.append(line)
    return lines


def _product_line(product: Product) -> Line:
    return Line(product_id=product.pk, product=product, description=product.name,
                quantity="1", tax_rate=plain(product.tax_rate))


def apply_op(ed: Editor, op: str, post: QueryDict) -> None:
    """Add, remove or move a line (the buttons of the editor)."""
    lines = ed.lines
    added = str(post.get("add_product", ""))
    if added.isdigit():
        product = Product.objects.filter(pk=int(added), active=True).first()
        if product is not None and len(lines) < MAX_LINES:
            lines.append(_product_line(product))
            ed.focus = f"line-{len(lines)}-quantity"
        return
    if op == "add_line" and len(lines) < MAX_LINES:
        lines.append(Line())
        ed.focus = f"line-{len(lines)}-description"
        return
    name, _sep, arg = op.partition(":")
    if not arg.isdigit() or not 0 <= int(arg) < len(lines):
        return
    i = int(arg)
    if name == "remove":
        del lines[i]
        ed.focus = "add-line" if not lines else f"line-{min(i, len(lines) - 1) + 1}-remove"
    elif name == "up" and i > 0:
        lines[i - 1], lines[i] = lines[i], lines[i - 1]
        ed.focus = f"line-{i}-up" if i > 1 else f"line-{i}-down"
    elif name == "down" and i + 1 < len(lines):
        lines[i + 1], lines[i] = lines[i], lines[i + 1]
        ed.focus = f"line-{i + 2}-down" if i + 2 < len(lines) else f"line-{i + 2}-up"


def reprice(ed: Editor) -> None:
    """Lines following the price list take its price for their quantity on the quote's date."""
    price_list, day = ed.price_list, ed.issue_date
    for line in ed.lines:
        if not line.product_id:
            continue
        price = line.number("unit_price")
        listed = line.number("list_price")
        follows = not line.unit_price.strip() or (listed is not None and price == listed)
        if not follows:
            continue
        quantity = line.number("quantity")
        new = price_for(price_list, line.product_id, quantity if quantity and quantity > 0
                        else Decimal(1), day) if price_list is not None else None
        if new is None:
            line.list_price = ""
            if price_list is not None:
                line.note = _("No price in %(list)s for this product: enter a unit price.") % {
                    "list": price_list.name}
            continue
        line.unit_price = line.list_price = plain_price(new)


def compute(ed: Editor, *, saving: bool = False) -> list[SalesDocumentLine]:
    """Check each line's numbers, compute line totals and the document's totals and VAT."""
    pairs: list[tuple[Line, SalesDocumentLine]] = []
    for line in ed.lines:
        if line.blank() and not saving:
            continue
        values: dict[str, Decimal | None] = {}
        for name in ("quantity", "unit_price", "discount", "tax_rate"):
            try:
                values[name] = parse_decimal(getattr(line, name))
            except ValueError:
                line.errors.setdefault(name, []).append(_("Enter a number."))
        quantity, price = values.get("quantity"), values.get("unit_price")
        discount, rate = values.get("discount"), values.get("tax_rate")
        if "quantity" not in line.errors and quantity is not None and quantity <= 0:
            line.errors["quantity"] = [_("Enter a quantity greater than zero.")]
        if "discount" not in line.errors and discount is not None \
                and not Decimal(0) <= discount <= Decimal(100):
            line.errors["discount"] = [_("Enter a discount between 0 and 100 %.")]
        if "tax_rate" not in line.errors and rate is not None and rate < 0:
            line.errors["tax_rate"] = [_("Enter a rate of zero or more.")]
        if saving:
            if quantity is None and "quantity" not in line.errors:
                line.errors["quantity"] = [_("Enter a quantity.")]
            if not line.description.strip() and line.product is None:
                line.errors.setdefault("description", []).append(_("Describe the line."))
            if price is None and "unit_price" not in line.errors and not line.product_id:
                line.errors["unit_price"] = [_("Enter a unit price.")]
            if rate is None and "tax_rate" not in line.errors and line.product is None:
                line.errors["tax_rate"] = [_("Enter a VAT rate.")]
        if line.errors or quantity is None or price is None:
            line.total = None
            continue
        row = SalesDocumentLine(product_id=line.product_id, description=line.description,
                                quantity=quantity, unit_price=price,
                                discount_percent=discount or Decimal(0),
                                tax_rate=rate if rate is not None else (
                                    line.product.tax_rate if line.product else Decimal(0)))
        pairs.append((line, row))
    built = [row for _line, row in pairs]
    ed.totals = compute_totals(built, ed.currency)  # sets each row's total_excl_tax
    for line, row in pairs:
        line.total = row.total_excl_tax
    ed.vat = pdf.vat_breakdown(built, ed.currency)
    return built


def search_products(q: str, price_list: PriceList | None, day: dt.date
                    ) -> list[dict[str, Any]]:
    """At most ``SUGGESTIONS`` active products by code or name, with their list price."""
    q = q.strip()
    if not q:
        return []
    qs = Product.objects.filter(active=True)
    found = list(qs.filter(code__istartswith=q).order_by("code")[:SUGGESTIONS])
    if len(found) < SUGGESTIONS:
        found += list(qs.filter(name__icontains=q).exclude(pk__in=[p.pk for p in found])
                      .order_by("name")[:SUGGESTIONS - len(found)])
    return [{"product": p, "price": price_for(price_list, p.pk, Decimal(1), day)
             if price_list is not None else None} for p in found]


# --- Access --------------------------------------------------------------------------------

def _from_erp(document: SalesDocument) -> bool:
    return ExternalRef.objects.filter(object_type=ObjectType.SALES_DOCUMENT,
                                      object_id=document.pk, deleted_at__isnull=True).exists()


def _visible_documents(user: Any) -> Any:
    return policy.restrict(SalesDocument.objects.select_related("account", "price_list"), user)


def editable_quote(request: HttpRequest, pk: int) -> SalesDocument | HttpResponse:
    """The quote if this user may edit it here; else a redirect to its read page (or 404)."""
    document = get_object_or_404(_visible_documents(request.user), pk=pk)
    detail = reverse("web:document_detail", args=[pk])
    if document.kind != SalesDocument.Kind.QUOTE or _from_erp(document):
        messages.info(request, _("%(doc)s comes from the ERP or is not a quote: it is read-only "
                                 "here.") % {"doc": document})
        return HttpResponseRedirect(detail)
    if not policy.can(request.user, "change", document):
        messages.error(request, _("You are not allowed to change this quote."))
        return HttpResponseRedirect(detail)
    if document.lines.count() > MAX_LINES:  # saving would drop the lines not shown
        messages.info(request, _("%(doc)s has more than %(n)d lines: it cannot be edited "
                                 "here.") % {"doc": document, "n": MAX_LINES})
        return HttpResponseRedirect(detail)
    return document


def _account_for_new(request: HttpRequest, raw: Any) -> Account:
    try:
        pk = int(raw)
    except (TypeError, ValueError) as exc:
        raise Http404 from exc
    return get_object_or_404(policy.restrict(Account.objects.all(), request.user), pk=pk)


# --- Views ---------------------------------------------------------------------------------

def _new_editor(request: HttpRequest, account: Account, document: SalesDocument | None,
                initial: dict[str, Any] | None = None) -> Editor:
    user = request.user
    if document is not None:
        initial = {"price_list": document.price_list, "contact": document.contact_id,
                   "opportunity": document.opportunity_id,
                   "issue_date": document.issue_date or timezone.localdate(),
                   "valid_until": document.valid_until, "notes": document.notes}
        lines = lines_from_document(document)
    else:
        today = timezone.localdate()
        initial = {"issue_date": today, "valid_until": today + dt.timedelta(days=VALIDITY_DAYS),
                   "price_list": PriceList.objects.filter(active=True).order_by("name").first(),
                   **(initial or {})}
        lines = []
    form = QuoteForm(initial=initial, account=account, user=user, document=document)
    return Editor(account=account, document=document, form=form, lines=lines)


def _posted_editor(request: HttpRequest, account: Account, document: SalesDocument | None
                   ) -> Editor:
    form = QuoteForm(request.POST, account=account, user=request.user, document=document)
    ed = Editor(account=account, document=document, form=form,
                lines=lines_from_post(request.POST),
                product_q=request.POST.get("product_q", "").strip()[:100])
    apply_op(ed, request.POST.get("op", ""), request.POST)
    reprice(ed)
    return ed


def _render(request: HttpRequest, ed: Editor, *, status: int = 200) -> HttpResponse:
    document = ed.document
    context = {
        "ed": ed, "form": ed.form, "account": ed.account, "document": document,
        "title": (_("Edit %(doc)s") % {"doc": document}) if document else _("New quote"),
        "action_url": (reverse("web:quote_edit", args=[document.pk]) if document
                       else reverse("web:quote_create") + f"?account={ed.account.pk}"),
        "cancel_url": (reverse("web:document_detail", args=[document.pk]) if document
                       else reverse("web:account_detail", args=[ed.account.pk])),
        "status_actions": [(s, label) for s, label in STATUS_ACTIONS.items()
                           if document is not None and document.status != s],
    }
    return render(request, "web/quotes/editor.html", context, status=status)


def _map_errors(ed: Editor, exc: DomainError, index: list[int]) -> None:
    """Service errors next to what they name: ``lines.<n>.<field>``, header fields, or top."""
    for key, msgs in exc.fields.items():
        found = re.fullmatch(r"lines\.(\d+)\.(\w+)", key)
        if found and int(found.group(1)) < len(index):
            line = ed.lines[index[int(found.group(1))]]
            name = SERVICE_LINE_FIELD.get(found.group(2), found.group(2))
            target = name if name in LINE_FIELDS else "other"
            line.errors.setdefault(target, []).extend(msgs)
        elif key.removesuffix("_id") in ed.form.fields:
            for msg in msgs:
                ed.form.add_error(key.removesuffix("_id"), msg)
        else:
            ed.errors.extend(m for m in msgs if key != NON_FIELD or m != exc.message)
    ed.errors.insert(0, exc.message)


def _save(request: HttpRequest, ed: Editor) -> SalesDocument | None:
    valid = ed.form.is_valid()
    built_ok = not any(line.errors for line in ed.lines)
    kept = [i for i, line in enumerate(ed.lines) if not line.blank()]
    ed.lines = [ed.lines[i] for i in kept]
    compute(ed, saving=True)
    if not valid or not built_ok or any(line.errors for line in ed.lines):
        ed.errors.append(_("Some fields are not valid: see the messages next to them."))
        return None
    data = ed.form.cleaned_data
    price_list = data["price_list"]
    values: dict[str, Any] = {
        "contact_id": data["contact"], "opportunity_id": data["opportunity"],
        "price_list_id": price_list.pk if price_list else None,
        "issue_date": data["issue_date"], "valid_until": data["valid_until"],
        "notes": data["notes"], "currency": ed.currency,
    }
    payload = []
    for n, line in enumerate(ed.lines, start=1):
        payload.append({
            "position": n, "product_id": line.product_id,
            "description": line.description.strip() or (line.product.name if line.product
                                                         else ""),
            "quantity": parse_decimal(line.quantity), "unit_price": parse_decimal(line.unit_price),
            "discount_percent": parse_decimal(line.discount) or Decimal(0),
            "tax_rate": parse_decimal(line.tax_rate),
        })
    try:
        if ed.document is not None:
            return salesdocument_update(document=ed.document, user=request.user, data=values,
                                        lines=payload)
        return salesdocument_create(user=request.user, lines=payload, data={
            "kind": SalesDocument.Kind.QUOTE, "account_id": ed.account.pk, **values})
    except DomainError as exc:
        _map_errors(ed, exc, list(range(len(ed.lines))))
        return None


def _handle_post(request: HttpRequest, account: Account, document: SalesDocument | None
                 ) -> HttpResponse:
    ed = _posted_editor(request, account, document)
    op = request.POST.get("op", "save")
    if op == "save" and not request.POST.get("add_product"):
        saved = _save(request, ed)
        if saved is not None:
            messages.success(request, _("%(doc)s saved.") % {"doc": saved})
            return HttpResponseRedirect(reverse("web:quote_edit", args=[saved.pk]))
        return _render(request, ed)
    compute(ed)
    if op == "search":
        ed.suggestions = search_products(ed.product_q, ed.price_list, ed.issue_date)
        ed.focus = "product-q"
    return _render(request, ed)


@login_required
def quote_create(request: HttpRequest) -> HttpResponse:
    """A new quote for ``?account=`` (or the account of ``?opportunity=``)."""
    params = request.POST if request.method == "POST" else request.GET
    initial: dict[str, Any] = {}
    if params.get("opportunity") and not params.get("account"):
        deal = get_object_or_404(policy.restrict(Opportunity.objects.select_related("account"),
                                                 request.user),
                                 pk=_account_pk(params.get("opportunity")))
        account = deal.account
        initial = {"opportunity": deal.pk, "contact": deal.contact_id}
    elif params.get("account"):
        account = _account_for_new(request, params.get("account"))
    else:
        return _choose_account(request)
    if not policy.can(request.user, "change", account):
        messages.error(request, _("You may not create quotes for %(account)s.")
                       % {"account": account})
        return HttpResponseRedirect(reverse("web:account_detail", args=[account.pk]))
    if not account.open_for_business:  # archived or deleted in the ERP: its history only
        messages.error(request, _("%(account)s is no longer active: new quotes cannot be "
                                  "started for it.") % {"account": account})
        return HttpResponseRedirect(reverse("web:account_detail", args=[account.pk]))
    if request.method == "POST":
        return _handle_post(request, account, None)
    return _render(request, _new_editor(request, account, None, initial))


def _account_pk(raw: Any) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError) as exc:
        raise Http404 from exc


def _choose_account(request: HttpRequest) -> HttpResponse:
    """Which account the quote is for: the user's recent accounts, or a search by name."""
    q = request.GET.get("q", "").strip()[:100]
    visible = policy.restrict(Account.objects.filter(open_for_business()), request.user)
    if q:
        accounts = list(visible.filter(legal_name__istartswith=q).order_by("legal_name")[:10])
    else:
        accounts = list(visible.filter(owner=request.user).order_by("-updated_at")[:10])
    return render(request, "web/quotes/choose_account.html",
                  {"q": q, "accounts": accounts, "title": _("New quote")})


@login_required
def quote_edit(request: HttpRequest, pk: int) -> HttpResponse:
    found = editable_quote(request, pk)
    if isinstance(found, HttpResponse):
        return found
    if request.method == "POST":
        return _handle_post(request, found.account, found)
    ed = _new_editor(request, found.account, found)
    compute(ed)
    return _render(request, ed)


@login_required
@require_POST
def quote_recompute(request: HttpRequest) -> HttpResponse:
    """The whole form in, the lines and totals out (the full page without htmx)."""
    document = None
    if request.POST.get("document"):
        found = editable_quote(request, _account_pk(request.POST.get("document")))
        if isinstance(found, HttpResponse):
            return found
        document = found
        account = found.account
    else:
        account = _account_for_new(request, request.POST.get("account"))
    ed = _posted_editor(request, account, document)
    compute(ed)
    if not request.htmx:  # type: ignore[attr-defined]
        return _render(request, ed)
    added = bool(request.POST.get("add_product"))
    return render(request, "web/quotes/_lines.html",
                  {"ed": ed, "document": document, "clear_suggestions": added})


@login_required
@require_GET
def quote_products(request: HttpRequest) -> HttpResponse:
    """Catalogue suggestions for the editor (at most ten active products)."""
    q = (request.GET.get("product_q") or request.GET.get("q") or "").strip()[:100]
    price_list = None
    if request.GET.get("price_list", "").isdigit():
        price_list = PriceList.objects.filter(pk=int(request.GET["price_list"])).first()
    try:
        day = dt.date.fromisoformat(request.GET.get("issue_date", ""))
    except ValueError:
        day = timezone.localdate()
    context = {"suggestions": search_products(q, price_list, day), "product_q": q,
               "currency": price_list.currency if price_list else "EUR",
               "title": _("Catalogue")}
    template = ("web/quotes/_suggestions.html" if request.htmx  # type: ignore[attr-defined]
                else "web/quotes/products.html")
    return render(request, template, context)


@login_required
@require_POST
def quote_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a quote sent, accepted or refused (through ``salesdocument_update``)."""
    found = editable_quote(request, pk)
    if isinstance(found, HttpResponse):
        return found
    status = request.POST.get("status", "")
    if status not in STATUS_ACTIONS:
        messages.error(request, _("Unknown status."))
    else:
        try:
            salesdocument_update(document=found, user=request.user, data={"status": status})
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("%(doc)s is now %(status)s.") % {
                "doc": found, "status": found.get_status_display().lower()})
    return HttpResponseRedirect(reverse("web:quote_edit", args=[pk]))


@login_required
@require_GET
def document_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """Any sales document the user may see, as a PDF (``?inline=1`` to open it in the
    browser)."""
    document = get_object_or_404(
        policy.restrict(SalesDocument.objects.select_related("account", "contact",
                                                             "opportunity"), request.user),
        pk=pk)
    try:
        data = pdf.render_salesdocument(document)
    except DomainError as exc:  # too many lines to draw: said on the document's page
        messages.error(request, exc.message)
        return HttpResponseRedirect(detail_url_for(ObjectType.SALES_DOCUMENT, document.pk))
    response = HttpResponse(data, content_type="application/pdf")
    disposition = "inline" if request.GET.get("inline") == "1" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{pdf.filename_for(document)}"'
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns = [
    path("documents/new/", quote_create, name="quote_create"),
    path("documents/<int:pk>/edit/", quote_edit, name="quote_edit"),
    path("documents/<int:pk>/pdf/", document_pdf, name="document_pdf"),
    path("documents/<int:pk>/status/", quote_status, name="quote_status"),
    path("documents/recompute/", quote_recompute, name="quote_recompute"),
    path("documents/products/", quote_products, name="quote_products"),
]
