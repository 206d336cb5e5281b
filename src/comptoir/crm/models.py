"""Accounts, contacts, leads, pipelines and opportunities (R1, R2)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from comptoir.core.models import CustomFieldsModel

USER = settings.AUTH_USER_MODEL


class HeadcountBand(models.TextChoices):
    """INSEE ``tranche d'effectif salarié`` codes, as in the SIRENE files."""

    NN = "NN", _("Unknown")
    B00 = "00", _("0 employees")
    B01 = "01", _("1–2 employees")
    B02 = "02", _("3–5 employees")
    B03 = "03", _("6–9 employees")
    B11 = "11", _("10–19 employees")
    B12 = "12", _("20–49 employees")
    B21 = "21", _("50–99 employees")
    B22 = "22", _("100–199 employees")
    B31 = "31", _("200–249 employees")
    B32 = "32", _("250–499 employees")
    B41 = "41", _("500–999 employees")
    B42 = "42", _("1,000–1,999 employees")
    B51 = "51", _("2,000–4,999 employees")
    B52 = "52", _("5,000–9,999 employees")
    B53 = "53", _("10,000+ employees")


class PaymentTerms(models.TextChoices):
    ON_RECEIPT = "on_receipt", _("On receipt")
    NET_30 = "net_30", _("30 days")
    NET_45_EOM = "net_45_eom", _("45 days end of month")
    NET_60 = "net_60", _("60 days")
    EOM_30 = "eom_30", _("30 days end of month")
    PREPAID = "prepaid", _("Prepayment")


class Account(CustomFieldsModel):
    class Status(models.TextChoices):
        PROSPECT = "prospect", _("Prospect")
        CUSTOMER = "customer", _("Customer")
        FORMER = "former", _("Former customer")

    legal_name = models.CharField(_("legal name"), max_length=200)
    trade_name = models.CharField(_("trade name"), max_length=200, blank=True)
    normalized_name = models.CharField(max_length=200, blank=True, db_index=True, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.PROSPECT)
    siren = models.CharField(_("SIREN"), max_length=9, blank=True, db_index=True)
    siret = models.CharField(_("head-office SIRET"), max_length=14, blank=True)
    vat_number = models.CharField(_("VAT number"), max_length=20, blank=True)
    naf_code = models.CharField(_("NAF code"), max_length=6, blank=True)
    billing_street = models.CharField(_("billing street"), max_length=200, blank=True)
    billing_postcode = models.CharField(_("billing postcode"), max_length=12, blank=True)
    billing_city = models.CharField(_("billing city"), max_length=100, blank=True)
    billing_country = models.CharField(_("billing country"), max_length=2, default="FR")
    shipping_street = models.CharField(_("shipping street"), max_length=200, blank=True)
    shipping_postcode = models.CharField(_("shipping postcode"), max_length=12, blank=True)
    shipping_city = models.CharField(_("shipping city"), max_length=100, blank=True)
    shipping_country = models.CharField(_("shipping country"), max_length=2, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    fax = models.CharField(_("fax"), max_length=32, blank=True)
    email = models.CharField(_("e-mail"), max_length=254, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    headcount_band = models.CharField(_("headcount band"), max_length=2,
                                      choices=HeadcountBand.choices, blank=True)
    owner = models.ForeignKey(USER, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="accounts")
    territory = models.ForeignKey("access.Territory", verbose_name=_("territory"), null=True,
                                  blank=True, on_delete=models.SET_NULL, related_name="accounts")
    parent = models.ForeignKey("self", verbose_name=_("parent account"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="children")
    payment_terms = models.CharField(_("payment terms"), max_length=12,
                                     choices=PaymentTerms.choices, blank=True)
    credit_limit = models.DecimalField(_("credit limit"), max_digits=14, decimal_places=2,
                                       null=True, blank=True)
    # Mirrored from the ERP: an archived (inactive) or deleted party stays here with its
    # history, but is no longer offered for new business (see ``open_for_business``).
    active = models.BooleanField(_("active"), default=True, db_default=True)
    erp_deleted_at = models.DateTimeField(_("deleted in the ERP on"), null=True, blank=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        indexes = [
            models.Index(fields=["owner", "legal_name"], name="account_owner_name"),
            # "my accounts, latest changes first", the default view of a rep's list
            models.Index(fields=["owner", "updated_at", "id"], name="account_owner_updated"),
            models.Index(fields=["territory", "legal_name"], name="account_territory_name"),
            models.Index(fields=["legal_name", "id"], name="account_name_id"),
            models.Index(fields=["billing_postcode"], name="account_postcode"),
        ]

    def __str__(self) -> str:
        return self.legal_name

    @property
    def open_for_business(self) -> bool:
        """Whether new quotes, orders and deals may be started for it."""
        return self.active and self.erp_deleted_at is None


def open_for_business() -> models.Q:
    """The accounts offered for new quotes, orders and deals: active and not deleted in the
    ERP. Existing documents of the others stay readable and editable."""
    return models.Q(active=True, erp_deleted_at__isnull=True)


# --- What an ERP party carries beyond the first-class fields ------------------------------
#
# Stored as the ERP has them (only lengths and choices checked): a malformed e-mail in the
# ERP's contact mechanisms is still data the rep wants to see. The first-class fields of
# Account (billing/shipping address, phone, e-mail, SIREN, VAT…) keep their own validation.

def compact_identifier(value: str) -> str:
    """An identifier reduced to its letters and digits, upper case: ``CHE-123.456.789`` →
    ``CHE123456789``, so it is found however it is typed."""
    return "".join(c for c in value if c.isalnum()).upper()


# Readable labels of the identifier types an ERP sends (python-stdnum codes, as Tryton uses
# them); an unknown type is shown by its code.
IDENTIFIER_TYPES: dict[str, Any] = {
    "fr_siren": _("SIREN"),
    "fr_siret": _("SIRET"),
    "fr_tva": _("French VAT"),
    "fr_nif": _("French tax number"),
    "eu_vat": _("EU VAT"),
    "eu_eori": _("EORI"),
    "ch_uid": _("Swiss UID"),
    "ch_vat": _("Swiss VAT"),
    "be_vat": _("Belgian VAT"),
    "de_vat": _("German VAT"),
    "de_hrb": _("German trade register"),
    "de_handelsregisternummer": _("German trade register"),
    "gb_vat": _("UK VAT"),
    "lu_tva": _("Luxembourg VAT"),
    "es_nif": _("Spanish NIF"),
    "it_iva": _("Italian VAT"),
}


class AccountAddress(models.Model):
    class Kind(models.TextChoices):
        BILLING = "billing", _("Billing")
        DELIVERY = "delivery", _("Delivery")
        OTHER = "other", _("Other")

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE,
                                related_name="addresses")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.OTHER)
    name = models.CharField(_("label"), max_length=200, blank=True)
    street = models.CharField(_("street"), max_length=500, blank=True)  # may hold several lines
    postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["account", "position", "id"]
        indexes = [models.Index(fields=["account", "position"], name="account_address_pos")]

    def __str__(self) -> str:
        return ", ".join(p for p in (self.street.replace("\n", " "), self.postcode, self.city)
                         if p)


class AccountIdentifier(models.Model):
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE,
                                related_name="identifiers")
    type = models.CharField(_("type"), max_length=40, blank=True)  # "" when the ERP gives none
    value = models.CharField(_("value"), max_length=100)
    compact = models.CharField(_("compact value"), max_length=100, blank=True, db_index=True,
                               editable=False)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("identifier")
        verbose_name_plural = _("identifiers")
        ordering = ["account", "position", "id"]
        indexes = [models.Index(fields=["account", "position"], name="account_identifier_pos")]

    def __str__(self) -> str:
        return f"{self.type_label} {self.value}"

    @property
    def type_label(self) -> str:
        label = IDENTIFIER_TYPES.get(self.type)
        return str(label) if label is not None else (self.type or str(_("Identifier")))


class AccountChannel(models.Model):
    """One way to reach the party (Tryton's *contact mechanism*)."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        PHONE = "phone", _("Phone")
        MOBILE = "mobile", _("Mobile")
        FAX = "fax", _("Fax")
        WEBSITE = "website", _("Website")
        OTHER = "other", _("Other")

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE,
                                related_name="channels")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.OTHER)
    value = models.CharField(_("value"), max_length=254)
    name = models.CharField(_("label"), max_length=200, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("contact channel")
        verbose_name_plural = _("contact channels")
        ordering = ["account", "position", "id"]
        indexes = [models.Index(fields=["account", "position"], name="account_channel_pos")]

    def __str__(self) -> str:
        return self.value


class Contact(CustomFieldsModel):
    class Civility(models.TextChoices):
        MR = "M.", _("Mr")
        MRS = "Mme", _("Mrs")
        NONE = "", _("—")

    class Consent(models.TextChoices):
        UNKNOWN = "unknown", _("Unknown")
        OPT_IN = "opt_in", _("Opted in")
        OPT_OUT = "opt_out", _("Opted out")

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE,
                                related_name="contacts")
    civility = models.CharField(_("civility"), max_length=3, choices=Civility.choices, blank=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100)
    job_title = models.CharField(_("job title"), max_length=150, blank=True)
    email = models.CharField(_("e-mail"), max_length=254, blank=True, db_index=True)
    email_secondary = models.CharField(_("other e-mail"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    mailing_street = models.CharField(_("mailing street"), max_length=200, blank=True)
    mailing_postcode = models.CharField(_("mailing postcode"), max_length=12, blank=True)
    mailing_city = models.CharField(_("mailing city"), max_length=100, blank=True)
    mailing_country = models.CharField(_("mailing country"), max_length=2, blank=True)
    marketing_consent = models.CharField(_("marketing consent"), max_length=8,
                                         choices=Consent.choices, default=Consent.UNKNOWN)
    consent_date = models.DateTimeField(_("consent date"), null=True, blank=True)
    consent_source = models.CharField(_("consent source"), max_length=100, blank=True)
    owner = models.ForeignKey(USER, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="contacts")

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(fields=["account", "last_name"], name="contact_account_name"),
            # lists sorted by name: the first page is read off the index, not a sort of 2M rows
            models.Index(fields=["last_name", "id"], name="contact_name_id"),
            # a mailbox's addresses are looked up case aside, a batch at a time
            models.Index(Lower("email"), name="contact_email_lower"),
            models.Index(Lower("email_secondary"), name="contact_email2_lower"),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Lead(CustomFieldsModel):
    class Source(models.TextChoices):
        WEB_FORM = "web_form", _("Web form")
        NEWSLETTER = "newsletter", _("Newsletter sign-up")
        PDF_DOWNLOAD = "pdf_download", _("PDF download")
        WEB_VISIT = "web_visit", _("Web visit")
        PURCHASED_LIST = "purchased_list", _("Purchased list")
        PARTNER_PORTAL = "partner_portal", _("Partner portal")
        TRADE_SHOW = "trade_show", _("Trade show")
        REFERRAL = "referral", _("Referral")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        WORKING = "working", _("Working")
        QUALIFIED = "qualified", _("Qualified")
        DISQUALIFIED = "disqualified", _("Disqualified")
        CONVERTED = "converted", _("Converted")

    company_name = models.CharField(_("company"), max_length=200, blank=True)
    siren = models.CharField(_("SIREN"), max_length=9, blank=True)
    civility = models.CharField(_("civility"), max_length=3, choices=Contact.Civility.choices,
                                blank=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    job_title = models.CharField(_("job title"), max_length=150, blank=True)
    email = models.CharField(_("e-mail"), max_length=254, blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    street = models.CharField(_("street"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=12, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices,
                              default=Source.OTHER)
    status = models.CharField(_("status"), max_length=15, choices=Status.choices,
                              default=Status.NEW)
    score = models.PositiveSmallIntegerField(
        _("score"), default=0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(USER, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="leads")
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    converted_account = models.ForeignKey(Account, null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="+")
    converted_contact = models.ForeignKey(Contact, null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="+")
    converted_opportunity = models.ForeignKey("Opportunity", null=True, blank=True,
                                              on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [models.Index(fields=["owner", "status"], name="lead_owner_status"),
                   models.Index(fields=["created_at", "id"], name="lead_created_id"),
                   models.Index(Lower("email"), name="lead_email_lower")]

    def __str__(self) -> str:
        person = f"{self.first_name} {self.last_name}".strip()
        return person or self.company_name or self.email or self.phone


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(_("default"), default=False)
    # Per pipeline, as sales cycles differ (a week is long for renewals, short for tenders).
    idle_days = models.PositiveSmallIntegerField(
        _("idle after (days)"), default=14,
        validators=[MaxValueValidator(365)],
        help_text=_("An open deal with no activity for this many days is flagged idle on the "
                    "board; 0 turns the flag off."),
    )

    class Meta:
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=100)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    probability = models.PositiveSmallIntegerField(
        _("default probability"), default=10,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    is_won = models.BooleanField(_("won stage"), default=False)
    is_lost = models.BooleanField(_("lost stage"), default=False)

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["pipeline", "order"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="stage_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class LostReason(models.Model):
    """An option of the lost-reason picklist offered when a deal is lost (kept in the deal as
    text, so renaming or retiring an option leaves closed deals as they were)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("lost reason")
        verbose_name_plural = _("lost reasons")
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class Opportunity(CustomFieldsModel):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    name = models.CharField(_("name"), max_length=200)
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE,
                                related_name="opportunities")
    contact = models.ForeignKey(Contact, verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="opportunities")
    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT,
                                 related_name="opportunities")
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT,
                              related_name="opportunities")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2,
                                 default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    probability = models.PositiveSmallIntegerField(
        _("probability"), default=10, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    owner = models.ForeignKey(USER, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="opportunities")
    status = models.CharField(_("status"), max_length=5, choices=Status.choices,
                              default=Status.OPEN)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [models.Index(fields=["owner", "status"], name="opportunity_owner_status"),
                   models.Index(fields=["expected_close_date", "id"], name="opportunity_close_id")]

    def __str__(self) -> str:
        return self.name
