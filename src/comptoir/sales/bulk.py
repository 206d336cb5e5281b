"""Bulk-load specifications for the catalogue, price lists and sales documents.

The ERP is usually their master: these are the shapes its extracts and syncs arrive in. A
document's lines travel with it (``lines``) and are replaced as a whole when they change; its
totals are the ERP's when sent (they are what the customer was invoiced), computed from the
lines with :func:`comptoir.sales.services.totals_of` when not.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from comptoir.core.bulk import BulkSpec, ChildRows, Errors
from comptoir.core.models import ObjectType
from comptoir.crm.models import Account

from .models import (
    QUANTITY_PLACES,
    PriceList,
    PriceListItem,
    Product,
    SalesDocument,
    SalesDocumentLine,
)
from .services import lines_over_cap, money, totals_of

PRODUCT_BULK = BulkSpec(
    model=Product, object_type=ObjectType.PRODUCT,
    fields=["code", "name", "description", "unit", "tax_rate", "active", "custom"],
    unique=["code"],
)


def _check_period(out: dict[str, Any], errors: Errors) -> None:
    start, end = out.get("valid_from"), out.get("valid_to")
    if start and end and end < start:
        errors.setdefault("valid_to", []).append(_("Must be after the start of validity."))


def _clean_price_list(data: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    out: dict[str, Any] = dict(data)
    errors: Errors = {}
    if out.get("currency"):
        out["currency"] = str(out["currency"]).strip().upper()
    _check_period(out, errors)
    return out, errors


PRICE_LIST_BULK = BulkSpec(
    model=PriceList, object_type=ObjectType.PRICE_LIST,
    fields=["name", "currency", "valid_from", "valid_to", "active"],
    clean=_clean_price_list, unique=["name"],
)


_PRICE_FIELD = next(f for f in PriceListItem._meta.concrete_fields if f.attname == "unit_price")


def _clean_price(data: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    """A list price is kept as the ERP has it (4 decimals), never rounded to cents."""
    out, errors = dict(data), {}
    price = out.get("unit_price")
    if price is not None:
        try:
            typed = _typed(_PRICE_FIELD, price)
        except ValidationError as exc:
            errors["unit_price"] = list(exc.messages)
        else:
            if typed is not None and typed < 0:
                errors["unit_price"] = [_("Enter a price of zero or more.")]
            else:
                out["unit_price"] = typed
    _check_period(out, errors)
    return out, errors


PRICE_LIST_ITEM_BULK = BulkSpec(
    model=PriceListItem, object_type=ObjectType.PRICE_LIST_ITEM,
    fields=["price_list_id", "product_id", "unit_price", "min_quantity", "valid_from",
            "valid_to"],
    clean=_clean_price,
    external_fks={"price_list_id": ObjectType.PRICE_LIST, "product_id": ObjectType.PRODUCT},
)


# --- Sales documents with their lines ----------------------------------------------------------

LINE_FIELDS = ["position", "product_id", "description", "quantity", "unit_price",
               "discount_percent", "tax_rate", "total_excl_tax"]
_LINE_INPUT = {*LINE_FIELDS, "product_external_id"} - {"total_excl_tax"}  # computed
_LINE_MODEL_FIELDS = {f.attname: f for f in SalesDocumentLine._meta.concrete_fields}
MONEY_FIELDS = ("total_excl_tax", "total_tax", "total_incl_tax", "amount_due")


def _typed(f: models.Field, value: Any) -> Any:
    """A value typed and checked by the model field, decimals at the field's precision (so a
    line sent again compares equal to the stored one)."""
    if value in (None, ""):
        return None
    if isinstance(f, models.ForeignKey):
        return f.target_field.to_python(value)
    value = f.clean(value, None)
    if isinstance(f, models.DecimalField):
        try:
            value = Decimal(value).quantize(Decimal(1).scaleb(-f.decimal_places))
        except InvalidOperation:
            raise ValidationError(_("Enter a number.")) from None
    return value


def clean_lines(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Errors]:
    """Type and check each line with the line model's own rules; errors keyed ``lines.N.f``
    (``lines`` itself for a document over the cap, whose lines are not read)."""
    too_many = lines_over_cap(len(rows))
    if too_many:
        return [], {"lines": [too_many]}
    out: list[dict[str, Any]] = []
    errors: Errors = {}
    for n, row in enumerate(rows):
        line: dict[str, Any] = {}
        for key, value in row.items():
            if key not in _LINE_INPUT:
                errors[f"lines.{n}.{key}"] = [_("Unknown field.")]
            elif key == "product_external_id":
                line[key] = str(value).strip() if value not in (None, "") else None
            else:
                try:
                    line[key] = _typed(_LINE_MODEL_FIELDS[key], value)
                except ValidationError as exc:
                    errors[f"lines.{n}.{key}"] = list(exc.messages)
        if line.get("position") is None:
            line["position"] = n + 1
        if line.get("quantity") is None:
            line["quantity"] = Decimal(1).quantize(Decimal(1).scaleb(-QUANTITY_PLACES))
        if line.get("discount_percent") is None:
            line["discount_percent"] = Decimal("0.00")
        out.append(line)
    return out, errors


def complete_documents(pairs: list[tuple[dict[str, Any], list[dict[str, Any]]]]
                       ) -> dict[int, Errors]:
    """Fill each line from its product (description, VAT rate), compute line totals, and the
    document's totals when the sender gave none; a line without a price is an error."""
    product_ids = {row["product_id"] for _doc, rows in pairs for row in rows
                   if row.get("product_id")}
    products = {p["pk"]: p for p in Product.objects.filter(pk__in=product_ids)
                .values("pk", "name", "tax_rate")}
    problems: dict[int, Errors] = {}
    for position, (document, rows) in enumerate(pairs):
        errors: Errors = {}
        for n, row in enumerate(rows):
            product = products.get(row.get("product_id") or 0)
            if not row.get("description"):
                if product is None:
                    errors[f"lines.{n}.description"] = [_("This field is required.")]
                    continue
                row["description"] = product["name"]
            if row.get("tax_rate") is None:
                row["tax_rate"] = product["tax_rate"] if product else Decimal("20.00")
            if row.get("unit_price") is None:
                errors[f"lines.{n}.unit_price"] = [_("Enter a unit price.")]
        if errors:
            problems[position] = errors
            continue
        excl, tax, incl = totals_of(rows, document.get("currency"))
        if not any(name in document for name in MONEY_FIELDS[:3]):
            document.update(total_excl_tax=excl, total_tax=tax, total_incl_tax=incl)
            if "amount_due" not in document and document.get("kind") in (
                    SalesDocument.Kind.INVOICE, SalesDocument.Kind.CREDIT_NOTE):
                document["amount_due"] = incl
    return problems


def _clean_document(data: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    out, errors = dict(data), {}
    if out.get("currency"):
        out["currency"] = str(out["currency"]).strip().upper()
    for name in MONEY_FIELDS:
        if out.get(name) is not None:
            out[name] = money(Decimal(out[name]), out.get("currency"))
    if out.get("number") is not None:
        out["number"] = str(out["number"]).strip()
    start, end = out.get("start_date"), out.get("end_date")
    if start and end and end < start:
        errors["end_date"] = [_("Must be after the start date.")]
    return out, errors


def _document_defaults(rows: list[dict[str, Any]], user: Any) -> None:
    """A new document belongs to its account's owner (the rep who follows the customer)."""
    wanted = {row["account_id"] for row in rows if row.get("owner_id") is None}
    owners = dict(Account.objects.filter(pk__in=wanted).values_list("pk", "owner_id"))
    for row in rows:
        if row.get("owner_id") is None:
            row["owner_id"] = owners.get(row.get("account_id") or 0)


SALES_DOCUMENT_BULK = BulkSpec(
    model=SalesDocument, object_type=ObjectType.SALES_DOCUMENT,
    fields=["kind", "number", "account_id", "contact_id", "opportunity_id", "price_list_id",
            "status", "issue_date", "valid_until", "due_date", "start_date", "end_date",
            "currency", "total_excl_tax", "total_tax", "total_incl_tax", "amount_due",
            "owner_id", "notes", "custom"],
    clean=_clean_document, prepare_new=_document_defaults,
    external_fks={"account_id": ObjectType.ACCOUNT, "contact_id": ObjectType.CONTACT,
                  "price_list_id": ObjectType.PRICE_LIST},
    unique=[("kind", "number")],
    children=(ChildRows(key="lines", model=SalesDocumentLine, parent="document_id",
                        fields=LINE_FIELDS, clean=clean_lines,
                        external_fks={"product_id": ObjectType.PRODUCT},
                        complete=complete_documents,
                        computed=frozenset({"total_excl_tax"})),),
)
