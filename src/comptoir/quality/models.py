"""Duplicate review queue, the blocking-key lookup index, the merge log (for undo), and the
requests to promote a prospect to an ERP customer."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from comptoir.core.models import ObjectType


class DuplicatePair(models.Model):
    """Two records of one type that look like the same thing, waiting for a decision.

    Records are named by id (``left_id`` < ``right_id``) rather than foreign keys: one queue
    serves accounts, contacts and leads, and a pair must outlive a record deleted meanwhile
    (it is then ignored and cleaned up by the next batch run). ``reasons`` explain the score
    field by field; ``keys`` say which blocking keys brought the pair together.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("To review")
        MERGED = "merged", _("Merged")
        DISMISSED = "dismissed", _("Not duplicates")

    object_type = models.CharField(_("object"), max_length=20, choices=ObjectType.choices)
    left_id = models.BigIntegerField(_("first record"))
    right_id = models.BigIntegerField(_("second record"))
    score = models.FloatField(_("score"))
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    keys = models.JSONField(_("matched keys"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.OPEN)
    found_at = models.DateTimeField(_("found at"), auto_now_add=True)
    scored_at = models.DateTimeField(_("scored at"), auto_now=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("duplicate pair")
        verbose_name_plural = _("duplicate pairs")
        constraints = [
            models.UniqueConstraint(fields=["object_type", "left_id", "right_id"],
                                    name="duplicatepair_unique"),
            models.CheckConstraint(condition=models.Q(left_id__lt=models.F("right_id")),
                                   name="duplicatepair_ordered"),
        ]
        indexes = [
            models.Index(fields=["object_type", "status", "-score", "id"],
                         name="duplicatepair_queue"),
            models.Index(fields=["object_type", "right_id"], name="duplicatepair_right"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.left_id}~{self.right_id} ({self.score:.0f})"


class MatchKey(models.Model):
    """One blocking key of one record (see ``matching``), hashed: what a single-record
    duplicate check looks up instead of scanning the table.

    One table per object type (below), so that the batch rebuild empties it in one cheap
    statement and writes it append-only in key order. Keys shared by more than
    ``index_cap`` records are left out: they would bring back hundreds of rows for nothing.
    """

    pk = models.CompositePrimaryKey("key", "object_id")
    key = models.BigIntegerField()
    object_id = models.BigIntegerField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.key}:{self.object_id}"


class AccountKey(MatchKey):
    pass


class ContactKey(MatchKey):
    pass


class LeadKey(MatchKey):
    pass


class MatchIndexState(models.Model):
    """How fresh the lookup index of one object type is: records changed after
    ``watermark`` are not in it yet and are checked directly."""

    object_type = models.CharField(max_length=20, choices=ObjectType.choices, primary_key=True)
    built_at = models.DateTimeField(null=True, blank=True)
    watermark = models.DateTimeField(null=True, blank=True)
    records = models.PositiveIntegerField(default=0)
    keys = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("duplicate index state")
        verbose_name_plural = _("duplicate index states")

    def __str__(self) -> str:
        return f"{self.object_type} @ {self.watermark}"


class MergeRecord(models.Model):
    """One merge: what the survivor looked like before, the losers as they were, and every
    related row moved, so the merge can be undone exactly."""

    object_type = models.CharField(_("object"), max_length=20, choices=ObjectType.choices)
    survivor_id = models.BigIntegerField(_("survivor"))
    loser_ids = models.JSONField(_("merged records"), default=list)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True,
                             blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("at"), auto_now_add=True)
    source = models.CharField(max_length=40, default="app")
    # {field: [before, after]} for the survivor's fields the merge changed
    survivor_changes = models.JSONField(default=dict, blank=True)
    # {loser id: {field: value}} — every column, to recreate them on undo
    losers = models.JSONField(default=dict, blank=True)
    # [["app.Model", "field", loser id, [row ids]], …] — rows re-pointed to the survivor
    moved = models.JSONField(default=list, blank=True)
    # [["app.Model", {column: value}], …] — rows dropped because the survivor had the same
    dropped = models.JSONField(default=list, blank=True)
    pair_ids = models.JSONField(default=list, blank=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("undone by"),
                                  null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        indexes = [models.Index(fields=["object_type", "survivor_id", "at"],
                                name="mergerecord_survivor")]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.object_type} {self.loser_ids} → {self.survivor_id}"


class PromotionRequest(models.Model):
    """A prospect that should become an ERP customer, waiting for the data manager (I7).

    Raised when a prospect gets an accepted quote or an order (whatever the write path: the
    consumer reads the sales documents' outbox events), or asked by hand. The data manager
    approves it (the account is promoted and the outbound connector creates the customer in
    the ERP), merges the prospect into the customer it turns out to be, or rejects it with a
    reason. The row is the decision's record: who decided, when, why.
    """

    class Trigger(models.TextChoices):
        QUOTE_ACCEPTED = "quote_accepted", _("Quote accepted")
        ORDER = "order", _("Order")
        MANUAL = "manual", _("Asked by hand")

    class Status(models.TextChoices):
        PENDING = "pending", _("To review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        MERGED = "merged", _("Merged into a customer")

    account = models.ForeignKey("crm.Account", verbose_name=_("account"),
                                on_delete=models.CASCADE, related_name="promotion_requests")
    document = models.ForeignKey("sales.SalesDocument", verbose_name=_("sales document"),
                                 null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.PENDING)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"),
                                     null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    # the merge that folded the prospect into an existing customer (status merged); the
    # request then points at that customer, the prospect being gone
    merge = models.ForeignKey(MergeRecord, verbose_name=_("merge"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("promotion request")
        verbose_name_plural = _("promotion requests")
        constraints = [
            models.UniqueConstraint(fields=["account"],
                                    condition=models.Q(status="pending"),
                                    name="promotionrequest_one_pending"),
        ]
        indexes = [models.Index(fields=["status", "requested_at", "id"],
                                name="promotionrequest_queue")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.status} ({self.trigger})"


class PromotionCursor(models.Model):
    """Where the promotion consumer stands in the outbox (one row, like the feeds' cursor)."""

    name = models.CharField(max_length=40, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}@{self.last_event_id}"
