"""Bulk-load specification for the catalogue (the ERP is usually its master)."""

from comptoir.core.bulk import BulkSpec
from comptoir.core.models import ObjectType

from .models import Product

PRODUCT_BULK = BulkSpec(
    model=Product, object_type=ObjectType.PRODUCT,
    fields=["code", "name", "description", "unit", "tax_rate", "active", "custom"],
    unique=["code"],
)
