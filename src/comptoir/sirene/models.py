"""A local copy of the INSEE SIRENE register (open data), for enrichment without network.

Only the columns enrichment and search need are kept, under readable names; the loader maps
them from the official column names. Establishments carry their unit's normalised name
(``name_key``, denormalised) so that "name + postcode" is one index range scan on
``(postcode, name_key)`` instead of a join over millions of rows.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


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


def sirene_storage() -> Storage:
    """Uploaded stock files: private, under the data directory (never MEDIA_ROOT, never
    served), deleted once loaded."""
    return FileSystemStorage(location=settings.DATA_DIR / "sirene",
                             file_permissions_mode=0o600, directory_permissions_mode=0o700)


class SireneLoad(models.Model):
    """One stock file loaded: what the SIRENE page shows (how fresh the copy is, how big).

    The command line records a load once it succeeded. A file uploaded on the SIRENE page is
    a job (``sirene.uploads``): pending, running (its progress counted as it goes), then
    succeeded or failed with the reason; its stored file is deleted once loaded, the record
    kept. ``bytes_done`` of ``bytes_total`` is the progress: bytes of the CSV read (the
    uncompressed CSV for a zip, whose size the archive states).
    """

    class Kind(models.TextChoices):
        UNITS = "units", _("Legal units")
        ESTABLISHMENTS = "establishments", _("Establishments")

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("SIRENE load", "Waiting")
        RUNNING = "running", pgettext_lazy("SIRENE load", "Loading")
        SUCCEEDED = "succeeded", pgettext_lazy("SIRENE load", "Loaded")
        FAILED = "failed", pgettext_lazy("SIRENE load", "Failed")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    file_name = models.CharField(_("file"), max_length=255)
    file = models.FileField(storage=sirene_storage, upload_to="%Y/%m/", max_length=255,
                            blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    # The last sign of life of a running load: one that stops giving any is failed.
    progress_at = models.DateTimeField(null=True, blank=True, editable=False)
    rows = models.PositiveBigIntegerField(_("rows"), default=0)
    bad_rows = models.PositiveBigIntegerField(_("bad rows"), default=0)
    bytes_total = models.PositiveBigIntegerField(_("bytes to read"), default=0)
    bytes_done = models.PositiveBigIntegerField(_("bytes read"), default=0)
    seconds = models.FloatField(_("seconds"), default=0)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    bad_examples = models.JSONField(default=list, blank=True)  # the first 20 bad rows

    class Meta:
        verbose_name = _("SIRENE load")
        verbose_name_plural = _("SIRENE loads")
        indexes = [models.Index(fields=["kind", "-finished_at"], name="sirene_load_latest")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.rows})"

    @property
    def alive(self) -> bool:
        """Still to finish: the page keeps polling it."""
        return self.status in (self.Status.PENDING, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        """How much of the file is read, 0–100 (0 while the size is not known)."""
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.bytes_total:
            return 0
        return min(100, int(self.bytes_done * 100 / self.bytes_total))
