"""Cross-cutting models: custom fields, the audit trail, the outbox, external references."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        abstract = True


class CustomFieldsModel(TimeStampedModel):
    """Records whose admins may add typed fields (R14). Values live in one JSON column.

    ``version`` counts the record's writes: the API's ETag and the forms' "changed since you
    opened it" compare it (a database default, so set-based inserts need not name it).
    """

    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1, db_default=1, editable=False)

    class Meta:
        abstract = True


class ObjectType(models.TextChoices):
    ACCOUNT = "account", _("Account")
    CONTACT = "contact", _("Contact")
    LEAD = "lead", _("Lead")
    OPPORTUNITY = "opportunity", _("Opportunity")
    ACTIVITY = "activity", _("Activity")
    CASE = "case", _("Case")
    PRODUCT = "product", _("Product")
    PRICE_LIST = "pricelist", _("Price list")
    PRICE_LIST_ITEM = "pricelistitem", _("Price")
    SALES_DOCUMENT = "salesdocument", _("Sales document")
    ATTACHMENT = "attachment", _("Attachment")


class CustomField(models.Model):
    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")
        BOOLEAN = "boolean", _("Yes/no")

    object_type = models.CharField(_("object"), max_length=20, choices=ObjectType.choices)
    name = models.SlugField(_("name"), max_length=50, help_text=_("Key used in the API."))
    label = models.CharField(_("label"), max_length=100)
    type = models.CharField(_("type"), max_length=10, choices=Type.choices, default=Type.TEXT)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)
    max_length = models.PositiveIntegerField(_("maximum length"), default=255)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        constraints = [
            models.UniqueConstraint(fields=["object_type", "name"], name="customfield_unique_name")
        ]
        ordering = ["object_type", "name"]

    def __str__(self) -> str:
        return f"{self.object_type}.{self.name}"


class AuditEntry(models.Model):
    """Who changed what and when, field by field: ``changes = {field: [before, after]}``."""

    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("updated")
        DELETE = "delete", _("deleted")
        TOMBSTONE = "tombstone", _("deleted in another system")
        PROMOTE = "promote", _("promoted to the ERP")
        MERGE = "merge", _("merged")
        UNMERGE = "unmerge", _("merge undone")
        RESTORE = "restore", _("restored from the recycle bin")

    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    object_id = models.BigIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=40, default="app", help_text=_("api, ui, sync:<system>…"))
    at = models.DateTimeField(auto_now_add=True)
    changes = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        indexes = [models.Index(fields=["object_type", "object_id", "at"])]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.object_type}:{self.object_id} {self.action}"


class OutboxEvent(models.Model):
    """A domain event, written in the same transaction as the change it describes.

    Consumers (webhooks, search index, outbound connectors, feeds) each keep a cursor on ``id``;
    the table is the source of truth, so a consumer that is down loses nothing.
    """

    topic = models.CharField(max_length=60, db_index=True, help_text="account.created…")
    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    object_id = models.BigIntegerField()
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.topic} {self.object_id}"


class ExternalRef(models.Model):
    """A record's identity in another system (ERP id, previous CRM id…).

    Unique per (system, object type, external id); one local record may carry several.
    ``content_hash`` is the hash of the last payload received, so an unchanged record is
    recognised without reading or rewriting it.
    """

    system = models.CharField(_("system"), max_length=40)
    object_type = models.CharField(_("object"), max_length=20, choices=ObjectType.choices)
    external_id = models.CharField(_("external id"), max_length=120)
    object_id = models.BigIntegerField(_("local id"))
    content_hash = models.CharField(max_length=32, blank=True, default="")
    synced_at = models.DateTimeField(_("last synchronised"), auto_now=True)
    # A tombstone: the record was deleted in the other system. The local record stays (it has
    # a history); the sync says so instead of silently forgetting it.
    deleted_at = models.DateTimeField(_("deleted in the other system"), null=True, blank=True)

    class Meta:
        verbose_name = _("external reference")
        verbose_name_plural = _("external references")
        constraints = [
            models.UniqueConstraint(
                fields=["system", "object_type", "external_id"], name="externalref_unique"
            )
        ]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.system}:{self.object_type}:{self.external_id}"


class CompanyProfile(models.Model):
    """The company that issues quotes and invoices: one row, edited in Settings.

    French law requires these mentions on quotes and invoices (Code de commerce L441-9 and
    R123-237, CGI annexe II art. 242 nonies A): the seller's legal identity, its payment terms,
    the late-payment penalty rate and the fixed recovery indemnity. Blank fields are left off
    the documents rather than printed empty.
    """

    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    trade_name = models.CharField(_("trade name"), max_length=200, blank=True)
    legal_form = models.CharField(_("legal form"), max_length=60, blank=True,
                                  help_text=_("SAS, SARL, SA…"))
    share_capital = models.DecimalField(_("share capital"), max_digits=15, decimal_places=2,
                                        null=True, blank=True)
    street = models.CharField(_("street"), max_length=200, blank=True)
    street2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, default="FR")
    siren = models.CharField(_("SIREN"), max_length=9, blank=True)
    siret = models.CharField(_("SIRET"), max_length=14, blank=True)
    vat_number = models.CharField(_("VAT number"), max_length=20, blank=True)
    rcs = models.CharField(_("trade register (RCS)"), max_length=100, blank=True,
                           help_text=_("For example: RCS Lyon"))
    naf_code = models.CharField(_("NAF / APE code"), max_length=10, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    website = models.URLField(_("website"), blank=True)
    logo = models.FileField(_("logo"), upload_to="company/", max_length=300, blank=True)
    bank_name = models.CharField(_("bank"), max_length=100, blank=True)
    iban = models.CharField(_("IBAN"), max_length=40, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    payment_terms = models.CharField(_("payment terms"), max_length=200, blank=True)
    late_penalty_rate = models.DecimalField(
        _("late-payment penalty rate (yearly %)"), max_digits=6, decimal_places=2,
        null=True, blank=True)
    recovery_indemnity = models.DecimalField(
        _("fixed recovery indemnity"), max_digits=8, decimal_places=2, default=40)
    early_payment_discount = models.CharField(
        _("early payment discount"), max_length=200, blank=True)
    quote_validity_days = models.PositiveIntegerField(_("quotes valid for (days)"), default=30)
    footer = models.TextField(_("other mentions"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("company profile")
        verbose_name_plural = _("company profile")
        # One company issues the documents: the profile is the row with id 1
        # (comptoir.core.company reads and writes it).
        constraints = [models.CheckConstraint(condition=models.Q(id=1),
                                              name="companyprofile_single_row")]

    def __str__(self) -> str:
        return self.legal_name or self.trade_name or "—"


class DeletedRecord(models.Model):
    """A deleted record kept for 30 days in the recycle bin (``core.recycle``): the record and
    every row its deletion took with it (contacts, deals, activities…), serialised, so that a
    restore brings them all back at once. ``record_owner``, ``account_owner`` and
    ``account_territory`` are the ids the visibility policy reads, as they were at deletion."""

    object_type = models.CharField(_("object"), max_length=20, choices=ObjectType.choices)
    object_id = models.BigIntegerField(_("local id"))
    label = models.CharField(_("name"), max_length=255)
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("deleted by"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    deleted_at = models.DateTimeField(_("deleted at"), db_index=True)
    source = models.CharField(max_length=40, default="app")
    record_owner = models.BigIntegerField(null=True, blank=True)
    account_owner = models.BigIntegerField(null=True, blank=True)
    account_territory = models.BigIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, help_text="rows kept per model, for display")
    payload = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("deleted record")
        verbose_name_plural = _("recycle bin")
        indexes = [models.Index(fields=["deleted_by", "deleted_at"],
                                name="deletedrecord_by_at")]
        ordering = ["-deleted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.object_type}:{self.object_id} {self.label}"
