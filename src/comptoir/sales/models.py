"""Catalogue, price lists and sales documents (R6, R7)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.core.decimals import ExactDecimalField
from comptoir.core.models import CustomFieldsModel, TimeStampedModel

# Amounts (totals, amount due) at the currency's cents; unit prices and quantities as the
# ERP keeps them (Tryton: 4 decimals, so a 10 % discount on 60.46 is 54.4140). At most 15
# digits: all SQLite keeps exactly. Every decimal field takes trailing zeros beyond its places
# (``ExactDecimalField``): ERPs write them.
MONEY_DIGITS, MONEY_PLACES = 14, 2
UNIT_PRICE_DIGITS, UNIT_PRICE_PLACES = 15, 4
QUANTITY_DIGITS, QUANTITY_PLACES = 14, 4


class Product(CustomFieldsModel):
    class Unit(models.TextChoices):
        UNIT = "unit", _("Unit")
        HOUR = "hour", _("Hour")
        DAY = "day", _("Day")
        KG = "kg", _("Kilogram")
        METER = "m", _("Metre")
        LITER = "l", _("Litre")
        MONTH = "month", _("Month")
        PACKAGE = "package", _("Package")

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    unit = models.CharField(_("unit"), max_length=8, choices=Unit.choices, default=Unit.UNIT)
    tax_rate = ExactDecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2,
                                 default=Decimal("20.00"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PriceList(TimeStampedModel):
    name = models.CharField(_("name"), max_length=100, unique=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PriceListItem(models.Model):
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    unit_price = ExactDecimalField(_("unit price"),
        max_digits=UNIT_PRICE_DIGITS, decimal_places=UNIT_PRICE_PLACES)
    min_quantity = ExactDecimalField(_("minimum quantity"), max_digits=12, decimal_places=3,
                                     default=Decimal("1"))
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        indexes = [models.Index(fields=["price_list", "product"], name="price_lookup")]

    def __str__(self) -> str:
        return f"{self.product_id} {self.unit_price}"


class SalesDocument(CustomFieldsModel):
    class Kind(models.TextChoices):
        QUOTE = "quote", _("Quote")
        ORDER = "order", _("Order")
        CONTRACT = "contract", _("Contract")
        INVOICE = "invoice", _("Invoice")
        CREDIT_NOTE = "credit_note", _("Credit note")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        REFUSED = "refused", _("Refused")
        CONFIRMED = "confirmed", _("Confirmed")
        ACTIVE = "active", _("Active")
        POSTED = "posted", _("Posted")
        PAID = "paid", _("Paid")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    number = models.CharField(_("number"), max_length=40)
    account = models.ForeignKey("crm.Account", verbose_name=_("account"),
                                on_delete=models.CASCADE, related_name="sales_documents")
    contact = models.ForeignKey("crm.Contact", verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    opportunity = models.ForeignKey("crm.Opportunity", verbose_name=_("opportunity"), null=True,
                                    blank=True, on_delete=models.SET_NULL,
                                    related_name="sales_documents")
    price_list = models.ForeignKey(PriceList, verbose_name=_("price list"), null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.DRAFT)
    issue_date = models.DateField(_("date"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    start_date = models.DateField(_("start date"), null=True, blank=True)
    end_date = models.DateField(_("end date"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    total_excl_tax = ExactDecimalField(_("total excl. tax"), default=Decimal("0"),
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    total_tax = ExactDecimalField(_("tax"), default=Decimal("0"),
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    total_incl_tax = ExactDecimalField(_("total incl. tax"), default=Decimal("0"),
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    amount_due = ExactDecimalField(_("amount due"), default=Decimal("0"),
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True,
                              blank=True, on_delete=models.SET_NULL,
                              related_name="sales_documents")
    notes = models.TextField(_("notes"), blank=True)
    # Deleted in the ERP it came from: kept (it is history), marked with the date.
    erp_deleted_at = models.DateTimeField(_("deleted in the ERP on"), null=True, blank=True)

    class Meta:
        verbose_name = _("sales document")
        verbose_name_plural = _("sales documents")
        constraints = [
            models.UniqueConstraint(fields=["kind", "number"], name="salesdocument_unique_number")
        ]
        indexes = [models.Index(fields=["account", "kind", "issue_date"], name="salesdoc_account"),
                   models.Index(fields=["issue_date", "id"], name="salesdoc_issued_id")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"


class SalesDocumentLine(models.Model):
    document = models.ForeignKey(SalesDocument, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(_("position"), default=0)
    product = models.ForeignKey(Product, verbose_name=_("product"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    description = models.CharField(_("description"), max_length=500)
    quantity = ExactDecimalField(_("quantity"), max_digits=QUANTITY_DIGITS,
                                 decimal_places=QUANTITY_PLACES, default=Decimal("1"))
    unit_price = ExactDecimalField(_("unit price"),
        max_digits=UNIT_PRICE_DIGITS, decimal_places=UNIT_PRICE_PLACES)
    discount_percent = ExactDecimalField(
        _("discount (%)"), max_digits=5, decimal_places=2, default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    tax_rate = ExactDecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2,
                                 default=Decimal("20.00"))
    total_excl_tax = ExactDecimalField(_("total excl. tax"), default=Decimal("0"),
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)

    class Meta:
        verbose_name = _("line")
        verbose_name_plural = _("lines")
        ordering = ["document", "position", "id"]

    def __str__(self) -> str:
        return self.description
