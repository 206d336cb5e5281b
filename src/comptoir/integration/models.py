"""Connections to other systems, their sync runs, stream cursors and quarantined records."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Connection(models.Model):
    """One other system Comptoir syncs with: which connector, its parameters, its mapping.

    ``secrets`` hold passwords and keys; they are never rendered by the API, the admin or the
    logs (write-only), and a value ``env:NAME`` reads the secret from the environment instead.
    """

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Into Comptoir")
        OUTBOUND = "outbound", _("Out of Comptoir")
        BOTH = "both", _("Both ways")

    name = models.SlugField(_("name"), max_length=60, unique=True)
    label = models.CharField(_("label"), max_length=120, blank=True)
    connector = models.CharField(_("connector"), max_length=40)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices,
                                 default=Direction.INBOUND)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    secrets = models.JSONField(_("secrets"), default=dict, blank=True)
    mapping = models.TextField(_("mapping (TOML)"))
    # {"account": ["legal_name", "siren", ...]}: fields the other system masters. They are
    # read-only in Comptoir's API and overwritten by each sync.
    owned_fields = models.JSONField(_("fields owned by the other system"), default=dict,
                                    blank=True)
    schedule_minutes = models.PositiveIntegerField(
        _("run every (minutes)"), null=True, blank=True,
        help_text=_("Empty: runs only on demand."))
    batch_size = models.PositiveIntegerField(_("batch size"), default=5000)
    enabled = models.BooleanField(_("enabled"), default=True)
    push_secret = models.CharField(_("push signing key"), max_length=128, blank=True,
                                   help_text=_("HMAC key of the push API; write-only."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("connection")
        verbose_name_plural = _("connections")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.label or self.name


class StreamState(models.Model):
    """Where a stream stopped: committed in the same transaction as the batch it ends."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="states")
    stream = models.CharField(max_length=60)
    cursor = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "stream"],
                                               name="streamstate_unique")]

    def __str__(self) -> str:
        return f"{self.connection_id}/{self.stream}"


class SyncRun(models.Model):
    """One run of a connection: a state machine with its counts and, on failure, why."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("Command line")
        WEB = "web", _("Sync page")
        SCHEDULE = "schedule", _("Schedule")
        API = "api", _("API")
        PUSH = "push", _("Push")
        REPLAY = "replay", _("Quarantine replay")
        RECONCILE = "reconcile", _("Reconciliation")

    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.PENDING)
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices,
                               default=Trigger.MANUAL)
    dry_run = models.BooleanField(_("dry run"), default=False)
    full = models.BooleanField(_("full (cursor ignored)"), default=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The process running it: a run whose process is gone (killed) is seen at once, on the
    # same machine, instead of after the heartbeat's staleness delay.
    host = models.CharField(max_length=255, blank=True, default="")
    pid = models.PositiveIntegerField(null=True, blank=True)
    read = models.PositiveIntegerField(_("read"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    deleted = models.PositiveIntegerField(_("deleted"), default=0)
    quarantined = models.PositiveIntegerField(_("quarantined"), default=0)
    dropped = models.PositiveIntegerField(
        _("values left out"), default=0,
        help_text=_("Invalid optional values the records landed without (kept aside as data "
                    "quality issues)."))
    matched = models.PositiveIntegerField(
        _("matched"), default=0,
        help_text=_("Of the updated and unchanged: records new to the CRM's copy of the other "
                    "system, linked to the existing record they duplicate."))
    lag_seconds = models.FloatField(
        _("lag (s)"), null=True, blank=True,
        help_text=_("How old the CRM's copy was when the run started: time since the previous "
                    "successful run."))
    error_category = models.CharField(_("error category"), max_length=10, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    details = models.JSONField(default=dict, blank=True)  # per-stream counts, dry-run diff

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-id"]
        indexes = [models.Index(fields=["connection", "status"])]

    def __str__(self) -> str:
        return f"{self.connection_id}#{self.pk} {self.status}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class QuarantinedRecord(models.Model):
    """A record a sync could not apply, kept whole with the reason, to fix and replay."""

    class Status(models.TextChoices):
        OPEN = "open", _("To fix")
        REPLAYED = "replayed", _("Replayed")
        DISCARDED = "discarded", _("Discarded")
        RESOLVED = "resolved", _("Fixed at the source")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE,
                                   related_name="quarantine")
    run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True,
                            related_name="quarantined_records")
    stream = models.CharField(max_length=60)
    external_id = models.CharField(max_length=120, blank=True)
    position = models.CharField(_("where"), max_length=120, blank=True)
    payload = models.JSONField(_("record as received"), default=dict)
    field = models.CharField(_("field"), max_length=120, blank=True)
    reason = models.TextField(_("reason"))
    errors = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Corrected in Comptoir (``quarantine.quarantine_correct``): the payload as first received,
    # kept once whatever the corrections, and who corrected it last, when.
    original_payload = models.JSONField(_("record as first received"), null=True, blank=True)
    corrected_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+")
    corrected_at = models.DateTimeField(_("corrected on"), null=True, blank=True)

    class Meta:
        verbose_name = _("quarantined record")
        verbose_name_plural = _("quarantined records")
        ordering = ["-id"]
        indexes = [models.Index(fields=["connection", "status", "stream"])]

    def __str__(self) -> str:
        return f"{self.stream}:{self.external_id or self.position}"


class FieldIssue(models.Model):
    """A value a sync left out of a record that did land: the other system's raw value and
    why it was refused. One row per record and field, reopened when the value goes bad again
    and resolved when a later run brings a valid one, so the data manager sees exactly what
    the CRM lacks from the source."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE,
                                   related_name="field_issues")
    stream = models.CharField(max_length=60)
    external_id = models.CharField(max_length=120)
    object_type = models.CharField(max_length=40)
    object_id = models.BigIntegerField()
    field = models.CharField(_("field"), max_length=120)
    value = models.TextField(_("value in the source"), blank=True)
    reason = models.TextField(_("reason"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    first_run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    last_run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="field_issues")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("value left out")
        verbose_name_plural = _("values left out")
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(
            fields=["connection", "stream", "external_id", "field"],
            name="fieldissue_unique")]
        indexes = [models.Index(fields=["object_type", "object_id", "status"],
                                name="fieldissue_record"),
                   models.Index(fields=["status", "connection"], name="fieldissue_status")]

    def __str__(self) -> str:
        return f"{self.stream}:{self.external_id}.{self.field}"


class PushReceipt(models.Model):
    """One push request accepted, by its idempotency key: a retried request gets the same
    answer instead of being applied twice."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="receipts")
    key = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True,
                            related_name="+")
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "key"],
                                               name="pushreceipt_unique")]

    def __str__(self) -> str:
        return f"{self.connection_id}:{self.key}"


class OutboundState(models.Model):
    """Where a connection's outbound consumer is in the outbox, and its retry state."""

    connection = models.OneToOneField(Connection, on_delete=models.CASCADE,
                                      related_name="outbound")
    last_event_id = models.BigIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.connection_id}@{self.last_event_id}"

from .import_models import ImportJob  # noqa: E402, F401  (the import wizard's model)
