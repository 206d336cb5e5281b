"""A local copy of the INSEE SIRENE register (open data), for enrichment without network.

Only the columns enrichment and search need are kept, under readable names; the loader maps
them from the official column names. Establishments carry their unit's normalised name
(``name_key``, denormalised) so that "name + postcode" is one index range scan on
``(postcode, name_key)`` instead of a join over millions of rows.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class State(models.TextChoices):
    """``etatAdministratif…``: active or ceased (closed)."""

    ACTIVE = "A", _("Active")
    CLOSED = "C", _("Closed")


class SireneUnit(models.Model):
    """A legal unit (``StockUniteLegale``): the company or the sole trader, by SIREN."""

    siren = models.CharField(_("SIREN"), max_length=9, primary_key=True)
    denomination = models.CharField(_("name"), max_length=120, blank=True)
    sigle = models.CharField(_("acronym"), max_length=20, blank=True)
    usual_name_1 = models.CharField(_("usual name"), max_length=70, blank=True)
    usual_name_2 = models.CharField(_("usual name 2"), max_length=70, blank=True)
    usual_name_3 = models.CharField(_("usual name 3"), max_length=70, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    usage_name = models.CharField(_("usage name"), max_length=100, blank=True)
    first_name = models.CharField(_("first name"), max_length=20, blank=True)
    legal_category = models.CharField(_("legal category"), max_length=4, blank=True)
    naf = models.CharField(_("NAF code"), max_length=6, blank=True)
    headcount_band = models.CharField(_("headcount band"), max_length=2, blank=True)
    state = models.CharField(_("state"), max_length=1, choices=State.choices, blank=True)
    created_on = models.DateField(_("created on"), null=True, blank=True)
    head_office_nic = models.CharField(_("head-office NIC"), max_length=5, blank=True)
    name_key = models.CharField(max_length=200, blank=True, db_index=True, editable=False)

    class Meta:
        verbose_name = _("SIRENE legal unit")
        verbose_name_plural = _("SIRENE legal units")

    def __str__(self) -> str:
        return f"{self.siren} {self.display_name}"

    @property
    def display_name(self) -> str:
        """The company name, or a sole trader's first and last name (``nomUsage`` first)."""
        if self.denomination:
            return self.denomination
        person = " ".join(p for p in (self.first_name, self.usage_name or self.last_name) if p)
        return person or self.usual_name_1

    @property
    def closed(self) -> bool:
        return self.state == State.CLOSED

    @property
    def head_office_siret(self) -> str:
        return f"{self.siren}{self.head_office_nic}" if len(self.head_office_nic) == 5 else ""


class SireneEstablishment(models.Model):
    """An establishment (``StockEtablissement``) by SIRET, with its address."""

    siret = models.CharField(_("SIRET"), max_length=14, primary_key=True)
    siren = models.CharField(_("SIREN"), max_length=9, db_index=True)
    head_office = models.BooleanField(_("head office"), default=False)
    street_number = models.CharField(_("street number"), max_length=10, blank=True)
    repetition = models.CharField(_("repetition index"), max_length=4, blank=True)
    street_type = models.CharField(_("street type"), max_length=4, blank=True)
    street_name = models.CharField(_("street name"), max_length=100, blank=True)
    address_complement = models.CharField(_("address complement"), max_length=38, blank=True)
    postcode = models.CharField(_("postcode"), max_length=5, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    naf = models.CharField(_("NAF code"), max_length=6, blank=True)
    headcount_band = models.CharField(_("headcount band"), max_length=2, blank=True)
    state = models.CharField(_("state"), max_length=1, choices=State.choices, blank=True)
    sign = models.CharField(_("sign"), max_length=50, blank=True)
    usual_name = models.CharField(_("usual name"), max_length=100, blank=True)
    # The unit's normalised name, filled by whichever file comes second.
    name_key = models.CharField(max_length=200, blank=True, editable=False)

    class Meta:
        verbose_name = _("SIRENE establishment")
        verbose_name_plural = _("SIRENE establishments")
        indexes = [models.Index(fields=["postcode", "name_key"], name="sirene_etab_postcode_name")]

    def __str__(self) -> str:
        return self.siret

    @property
    def closed(self) -> bool:
        return self.state == State.CLOSED


class SireneLoad(models.Model):
    """One file loaded: what the SIRENE page shows (how fresh the copy is, how big)."""

    class Kind(models.TextChoices):
        UNITS = "units", _("Legal units")
        ESTABLISHMENTS = "establishments", _("Establishments")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    file_name = models.CharField(_("file"), max_length=255)
    rows = models.PositiveBigIntegerField(_("rows"), default=0)
    bad_rows = models.PositiveBigIntegerField(_("bad rows"), default=0)
    seconds = models.FloatField(_("seconds"), default=0)
    finished_at = models.DateTimeField(_("finished at"), auto_now_add=True)

    class Meta:
        verbose_name = _("SIRENE load")
        verbose_name_plural = _("SIRENE loads")
        indexes = [models.Index(fields=["kind", "-finished_at"], name="sirene_load_latest")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.rows})"
