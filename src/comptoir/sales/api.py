"""REST routes for products, price lists and sales documents with their lines."""

import datetime as dt
from decimal import Decimal

from ninja import Field, Router, Schema

from comptoir.api.adapters import creator, deleter, updater
from comptoir.api.bulk import register_bulk
from comptoir.api.crud import Resource, register, register_nested
from comptoir.core.models import ObjectType
from comptoir.crm.api import accounts, opportunities

from . import services
from .bulk import PRODUCT_BULK, SALES_DOCUMENT_BULK
from .models import (
    MONEY_DIGITS,
    MONEY_PLACES,
    QUANTITY_DIGITS,
    QUANTITY_PLACES,
    UNIT_PRICE_DIGITS,
    UNIT_PRICE_PLACES,
    PriceList,
    Product,
    SalesDocument,
)

router = Router()

PRODUCT_WRITE = ["code", "name", "description", "unit", "tax_rate", "active", "custom"]
products = Resource(
    model=Product, object_type=ObjectType.PRODUCT, path="products", tag="catalogue",
    out_fields=[*PRODUCT_WRITE, "created_at", "updated_at"], write_fields=PRODUCT_WRITE,
    filter_fields=["code", "name", "unit", "active", "tax_rate", "updated_at"],
    ordering=["code", "name", "updated_at", "id"], default_ordering="code",
    search_fields=["code", "name"],
    create_fn=creator(services.product_create),
    update_fn=updater(services.product_update, "product"),
    delete_fn=deleter(services.product_delete, "product"),
)


class PriceItem(Schema):
    product_id: int
    # the model's precision; trailing zeros beyond it are accepted (``54.41400000``)
    unit_price: Decimal = Field(..., max_digits=UNIT_PRICE_DIGITS,
                                decimal_places=UNIT_PRICE_PLACES, ge=0)
    min_quantity: Decimal = Field(Decimal("1"), max_digits=12, decimal_places=3, gt=0)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


PRICELIST_WRITE = ["name", "currency", "valid_from", "valid_to", "active"]
pricelists = Resource(
    model=PriceList, object_type=ObjectType.PRICE_LIST, path="pricelists", tag="catalogue",
    out_fields=[*PRICELIST_WRITE, "created_at", "updated_at"], write_fields=PRICELIST_WRITE,
    out_extra={"items": (list[PriceItem], [])},
    write_extra={"items": (list[PriceItem] | None, None)},
    filter_fields=["name", "currency", "active", "valid_from", "valid_to", "updated_at"],
    ordering=["name", "updated_at", "id"], default_ordering="name", search_fields=["name"],
    prefetch_related=["items"],
    create_fn=creator(services.pricelist_create, "items"),
    update_fn=updater(services.pricelist_update, "price_list", "items"),
    delete_fn=deleter(services.pricelist_delete, "price_list"),
)


class LineIn(Schema):
    product_id: int | None = None
    description: str | None = Field(None, max_length=500)
    quantity: Decimal = Field(Decimal("1"), max_digits=QUANTITY_DIGITS,
                              decimal_places=QUANTITY_PLACES)
    unit_price: Decimal | None = Field(None, max_digits=UNIT_PRICE_DIGITS,
                                       decimal_places=UNIT_PRICE_PLACES)
    discount_percent: Decimal = Field(Decimal("0"), ge=0, le=100, decimal_places=2)
    tax_rate: Decimal | None = Field(None, ge=0, le=100, decimal_places=2)


class LineOut(Schema):
    id: int
    position: int
    product_id: int | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate: Decimal
    total_excl_tax: Decimal


DOCUMENT_WRITE = ["kind", "number", "account", "contact", "opportunity", "price_list", "status",
                  "issue_date", "valid_until", "due_date", "start_date", "end_date", "currency",
                  "amount_due", "owner", "notes", "custom"]
salesdocuments = Resource(
    model=SalesDocument, object_type=ObjectType.SALES_DOCUMENT, path="sales-documents",
    tag="sales documents",
    out_fields=[*DOCUMENT_WRITE, "total_excl_tax", "total_tax", "total_incl_tax",
                "erp_deleted_at", "created_at", "updated_at"],
    write_fields=DOCUMENT_WRITE,
    out_extra={"lines": (list[LineOut], [])},
    write_extra={"lines": (list[LineIn] | None, None),
                 # numbered by the service (DEV-2026-000001…) when left out
                 "number": (str | None, Field(None, min_length=1, max_length=40))},
    filter_fields=["kind", "number", "account", "opportunity", "status", "currency", "owner",
                   "issue_date", "due_date", "total_incl_tax", "amount_due", "updated_at"],
    ordering=["issue_date", "due_date", "number", "total_incl_tax", "amount_due", "updated_at",
              "id"],
    default_ordering="-issue_date", search_fields=["number"], prefetch_related=["lines"],
    create_fn=creator(services.salesdocument_create, "lines"),
    update_fn=updater(services.salesdocument_update, "document", "lines"),
    delete_fn=deleter(services.salesdocument_delete, "document"),
)
for _res in (products, pricelists, salesdocuments):
    register(router, _res)
register_nested(router, accounts, salesdocuments, "account_id", "sales-documents")
register_nested(router, opportunities, salesdocuments, "opportunity_id", "sales-documents")

register_bulk(router, products, PRODUCT_BULK)


class BulkLineIn(LineIn):
    product_external_id: str | None = Field(None, max_length=120,
                                            description="The product by its id in the system")


_MONEY = (Decimal | None, Field(None, max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES))
register_bulk(router, salesdocuments, SALES_DOCUMENT_BULK, {
    "account_external_id": (str | None, None), "contact_external_id": (str | None, None),
    "price_list_external_id": (str | None, None),
    # the other system's totals are kept when sent (what the customer was invoiced);
    # computed from the lines when not
    "total_excl_tax": _MONEY, "total_tax": _MONEY, "total_incl_tax": _MONEY,
    "lines": (list[BulkLineIn] | None, Field(None, description="Replace the lines as a whole")),
})
