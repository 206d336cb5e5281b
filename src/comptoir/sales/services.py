"""Catalogue, price lists and sales documents: totals are always computed here, server-side."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Context, Decimal, localcontext
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.access import policy
from comptoir.core.decimals import round_money
from comptoir.core.errors import Forbidden, ValidationFailed
from comptoir.core.models import ObjectType
from comptoir.core.services import (
    apply_fields,
    create_record,
    delete_record,
    full_clean,
    snapshot,
    update_record,
)
from comptoir.crm.models import Account
from comptoir.crm.services import require_open_for_business

from .models import (
    MONEY_PLACES,
    PriceList,
    PriceListItem,
    Product,
    SalesDocument,
    SalesDocumentLine,
)

NUMBER_PREFIX: dict[str, str] = {
    SalesDocument.Kind.QUOTE: "DEV", SalesDocument.Kind.ORDER: "CMD",
    SalesDocument.Kind.CONTRACT: "CTR", SalesDocument.Kind.INVOICE: "FAC",
    SalesDocument.Kind.CREDIT_NOTE: "AVO",
}


def money(value: Decimal, currency: str | None = "EUR") -> Decimal:
    """An amount rounded half-up to the currency's decimals (EUR cents, whole yen), at most
    the places of the amount columns."""
    return round_money(Decimal(value), currency, max_places=MONEY_PLACES)


def _catalogue_guard(user: Any) -> None:
    if not policy.can_manage_catalogue(user):
        raise Forbidden(_("Only data managers and administrators can change the catalogue."))


# --- Catalogue -----------------------------------------------------------------------------

@transaction.atomic
def product_create(*, user: Any, data: Mapping[str, Any], custom: Mapping[str, Any] | None = None,
                   source: str = "app") -> Product:
    _catalogue_guard(user)
    product = Product()
    apply_fields(product, data)
    return create_record(product, object_type=ObjectType.PRODUCT, user=user, source=source,
                         custom=custom)


@transaction.atomic
def product_update(*, product: Product, user: Any, data: Mapping[str, Any],
                   custom: Mapping[str, Any] | None = None, source: str = "app") -> Product:
    _catalogue_guard(user)
    return update_record(product, data, object_type=ObjectType.PRODUCT, user=user, source=source,
                         custom=custom)


@transaction.atomic
def product_delete(*, product: Product, user: Any, source: str = "app") -> None:
    _catalogue_guard(user)
    delete_record(product, object_type=ObjectType.PRODUCT, user=user, source=source)


def _replace_items(price_list: PriceList, items: Sequence[Mapping[str, Any]]) -> None:
    errors: dict[str, list[str]] = {}
    rows = []
    known = set(Product.objects.filter(pk__in=[i.get("product_id") for i in items])
                .values_list("pk", flat=True))
    for n, item in enumerate(items):
        if item.get("product_id") not in known:
            errors[f"items.{n}.product"] = [_("Unknown product.")]
            continue
        row = PriceListItem(price_list=price_list, **item)
        if row.unit_price is not None:
            try:  # the fields' own rules: 4 decimals, trailing zeros beyond them taken
                full_clean(row, exclude=["price_list", "product"])
            except ValidationFailed as exc:
                for name, messages in exc.fields.items():
                    errors[f"items.{n}.{name}"] = messages
                continue
        if row.unit_price is None or Decimal(row.unit_price) < 0:
            errors[f"items.{n}.unit_price"] = [_("Enter a price of zero or more.")]
            continue
        if row.valid_from and row.valid_to and row.valid_to < row.valid_from:
            errors[f"items.{n}.valid_to"] = [_("Must be after the start of validity.")]
            continue
        rows.append(row)
    if errors:
        raise ValidationFailed(_("Some prices are not valid."), fields=errors)
    price_list.items.all().delete()
    PriceListItem.objects.bulk_create(rows)


@transaction.atomic
def pricelist_create(*, user: Any, data: Mapping[str, Any],
                     items: Sequence[Mapping[str, Any]] | None = None,
                     source: str = "app") -> PriceList:
    _catalogue_guard(user)
    price_list = PriceList()
    apply_fields(price_list, data)
    create_record(price_list, object_type=ObjectType.PRICE_LIST, user=user, source=source)
    if items:
        _replace_items(price_list, items)
    return price_list


@transaction.atomic
def pricelist_update(*, price_list: PriceList, user: Any, data: Mapping[str, Any],
                     items: Sequence[Mapping[str, Any]] | None = None,
                     source: str = "app") -> PriceList:
    _catalogue_guard(user)
    update_record(price_list, data, object_type=ObjectType.PRICE_LIST, user=user, source=source)
    if items is not None:
        _replace_items(price_list, items)
    return price_list


@transaction.atomic
def pricelist_delete(*, price_list: PriceList, user: Any, source: str = "app") -> None:
    _catalogue_guard(user)
    delete_record(price_list, object_type=ObjectType.PRICE_LIST, user=user, source=source)


def price_for(price_list: PriceList, product_id: int, quantity: Decimal,
              on: dt.date | None = None) -> Decimal | None:
    """The list price for ``quantity`` of a product on a date (largest quantity break first)."""
    day = on or timezone.localdate()
    item = (PriceListItem.objects
            .filter(price_list=price_list, product_id=product_id, min_quantity__lte=quantity)
            .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=day))
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))
            .order_by("-min_quantity", "-valid_from", "-id").first())
    return item.unit_price if item else None


# --- Sales documents -----------------------------------------------------------------------

def line_total(quantity: Any, unit_price: Any, discount_percent: Any,
               currency: str | None = "EUR") -> Decimal:
    """Quantity × unit price less the discount, computed exactly (4-decimal prices and
    quantities) and rounded once, half-up, to the currency's decimals."""
    with localcontext(Context(prec=60)):  # no rounding before the one that counts
        exact = (Decimal(quantity) * Decimal(unit_price)
                 * (Decimal(100) - Decimal(discount_percent)) / Decimal(100))
    return money(exact, currency)


def _vat_totals(base_by_rate: Mapping[Decimal, Decimal], currency: str | None
                ) -> tuple[Decimal, Decimal, Decimal]:
    excl = sum(base_by_rate.values(), Decimal(0))
    tax = sum((money(base * rate / Decimal(100), currency)
               for rate, base in base_by_rate.items()), Decimal(0))
    return money(excl, currency), money(tax, currency), money(excl + tax, currency)


def compute_totals(lines: Sequence[SalesDocumentLine], currency: str | None = "EUR"
                   ) -> tuple[Decimal, Decimal, Decimal]:
    """(excl. tax, tax, incl. tax); VAT computed per rate on the sum of lines, as on invoices;
    each line total rounded to ``currency``'s decimals."""
    base_by_rate: dict[Decimal, Decimal] = defaultdict(Decimal)
    for line in lines:
        line.total_excl_tax = line_total(line.quantity, line.unit_price, line.discount_percent,
                                         currency)
        base_by_rate[Decimal(line.tax_rate)] += line.total_excl_tax
    return _vat_totals(base_by_rate, currency)


def totals_of(rows: Sequence[dict[str, Any]], currency: str | None = "EUR"
              ) -> tuple[Decimal, Decimal, Decimal]:
    """:func:`compute_totals` for lines given as dicts (the bulk path), same rules."""
    base_by_rate: dict[Decimal, Decimal] = defaultdict(Decimal)
    for row in rows:
        row["total_excl_tax"] = line_total(row.get("quantity", 1), row["unit_price"],
                                           row.get("discount_percent") or 0, currency)
        base_by_rate[Decimal(row["tax_rate"])] += row["total_excl_tax"]
    return _vat_totals(base_by_rate, currency)


def lines_over_cap(count: int) -> str | None:
    """Why ``count`` lines are too many for one document (``COMPTOIR_MAX_DOCUMENT_LINES``), or
    None. Every write path (service, bulk) and the PDF ask."""
    cap = int(settings.COMPTOIR_MAX_DOCUMENT_LINES)
    if count <= cap:
        return None
    return _("A document holds at most %(max)d lines; this one has %(n)d. Split it into "
             "several documents.") % {"max": cap, "n": count}


def _build_lines(document: SalesDocument, lines: Sequence[Mapping[str, Any]]
                 ) -> list[SalesDocumentLine]:
    too_many = lines_over_cap(len(lines))
    if too_many:
        raise ValidationFailed(too_many, fields={"lines": [too_many]})
    errors: dict[str, list[str]] = {}
    products = Product.objects.in_bulk([ln["product_id"] for ln in lines if ln.get("product_id")])
    built = []
    for n, data in enumerate(lines):
        values = dict(data)
        product = products.get(values.get("product_id")) if values.get("product_id") else None
        if values.get("product_id") and product is None:
            errors[f"lines.{n}.product"] = [_("Unknown product.")]
            continue
        quantity = Decimal(str(values.get("quantity") or 1))
        if product is not None:
            values.setdefault("description", product.name)
            if values.get("tax_rate") is None:
                values["tax_rate"] = product.tax_rate
            if values.get("unit_price") is None:
                price = price_for(document.price_list, product.pk, quantity,
                                  document.issue_date) if document.price_list else None
                if price is None:
                    errors[f"lines.{n}.unit_price"] = [
                        _("No price for this product in the document's price list; "
                          "enter a unit price.")]
                    continue
                values["unit_price"] = price
        if values.get("unit_price") is None:
            errors[f"lines.{n}.unit_price"] = [_("Enter a unit price.")]
            continue
        values = {k: v for k, v in values.items() if v is not None}
        line = SalesDocumentLine(document=document, position=values.pop("position", n + 1),
                                 **values)
        try:
            full_clean(line, exclude=["document"])
        except ValidationFailed as exc:
            for field, messages in exc.fields.items():
                errors[f"lines.{n}.{field}"] = messages
            continue
        built.append(line)
    if errors:
        raise ValidationFailed(_("Some lines are not valid."), fields=errors)
    return built


def _check_account(user: Any, account_id: Any) -> None:
    """The account a new document is for (or an existing one moves to): one the user may work
    on, still open for business."""
    account = Account.objects.filter(pk=account_id).first() if account_id else None
    if account is None or not policy.can(user, "change", account):
        raise ValidationFailed(_("Choose an account you can work on."),
                               fields={"account": [_("Unknown or not accessible account.")]})
    require_open_for_business(account)


def _check_links(document: SalesDocument) -> None:
    """The contact and deal of a document belong to its account."""
    from comptoir.crm.models import Contact, Opportunity

    errors: dict[str, list[str]] = {}
    if document.contact_id and not Contact.objects.filter(
            pk=document.contact_id, account_id=document.account_id).exists():
        errors["contact"] = [_("Choose a contact of the document's account.")]
    if document.opportunity_id and not Opportunity.objects.filter(
            pk=document.opportunity_id, account_id=document.account_id).exists():
        errors["opportunity"] = [_("Choose a deal of the document's account.")]
    if errors:
        raise ValidationFailed(_("Some fields are not valid."), fields=errors)


def _next_number(kind: str) -> str:
    prefix = f"{NUMBER_PREFIX.get(kind, 'DOC')}-{timezone.localdate().year}-"
    last = (SalesDocument.objects.filter(kind=kind, number__startswith=prefix)
            .order_by("-number").values_list("number", flat=True).first())
    seq = int(last.rsplit("-", 1)[-1]) + 1 if last and last.rsplit("-", 1)[-1].isdigit() else 1
    return f"{prefix}{seq:06d}"


def _apply_lines(document: SalesDocument, lines: Sequence[Mapping[str, Any]] | None,
                 amount_due_given: bool) -> list[SalesDocumentLine] | None:
    if lines is None:
        return None
    built = _build_lines(document, lines)
    excl, tax, incl = compute_totals(built, document.currency)
    document.total_excl_tax, document.total_tax, document.total_incl_tax = excl, tax, incl
    if not amount_due_given and document.kind in (SalesDocument.Kind.INVOICE,
                                                  SalesDocument.Kind.CREDIT_NOTE):
        document.amount_due = incl
    return built


@transaction.atomic
def salesdocument_create(*, user: Any, data: Mapping[str, Any],
                         lines: Sequence[Mapping[str, Any]] | None = None,
                         custom: Mapping[str, Any] | None = None,
                         source: str = "app") -> SalesDocument:
    _check_account(user, data.get("account_id"))
    document = SalesDocument()
    apply_fields(document, data)
    if not document.number and document.kind:
        document.number = _next_number(document.kind)
    if document.owner_id is None and getattr(user, "is_authenticated", False):
        document.owner_id = user.pk
    policy.require_assignable(user, document.owner_id)
    _check_links(document)
    built = _apply_lines(document, lines or [], "amount_due" in data)
    document = create_record(document, object_type=ObjectType.SALES_DOCUMENT, user=user,
                             source=source, custom=custom)
    for line in built or []:
        line.document = document
    SalesDocumentLine.objects.bulk_create(built or [])
    return document


@transaction.atomic
def salesdocument_update(*, document: SalesDocument, user: Any, data: Mapping[str, Any],
                         lines: Sequence[Mapping[str, Any]] | None = None,
                         custom: Mapping[str, Any] | None = None,
                         source: str = "app") -> SalesDocument:
    if not policy.can(user, "change", document):
        raise Forbidden(_("You are not allowed to change this document."))
    if "account_id" in data and data["account_id"] != document.account_id:
        _check_account(user, data["account_id"])
    before = snapshot(document)
    apply_fields(document, data)
    if "owner_id" in data:
        policy.require_assignable(user, document.owner_id, record=document)
    _check_links(document)
    built = _apply_lines(document, lines, "amount_due" in data)
    if built is not None:
        document.lines.all().delete()
        SalesDocumentLine.objects.bulk_create(built)
    return update_record(document, {}, object_type=ObjectType.SALES_DOCUMENT, user=user,
                         source=source, custom=custom, before=before)


@transaction.atomic
def salesdocument_delete(*, document: SalesDocument, user: Any, source: str = "app") -> None:
    if not policy.can(user, "delete", document):
        raise Forbidden(_("You are not allowed to delete this document."))
    delete_record(document, object_type=ObjectType.SALES_DOCUMENT, user=user, source=source)
