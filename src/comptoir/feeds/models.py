"""Follows, notifications, and where the notification consumer stands in the outbox (R11)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from comptoir.core.models import ObjectType


class Follow(models.Model):
    """A user asked to hear about one record's changes.

    Records are named by (object type, id), like the audit trail and the outbox, so a follow
    never blocks or cascades a domain write; the follows of a deleted record are dropped by the
    consumer when it sees the deletion.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="follows")
    object_type = models.CharField(_("object"), max_length=20, choices=ObjectType.choices)
    object_id = models.BigIntegerField(_("record"))
    created_at = models.DateTimeField(_("followed since"), auto_now_add=True)

    class Meta:
        verbose_name = _("follow")
        verbose_name_plural = _("follows")
        constraints = [models.UniqueConstraint(fields=["user", "object_type", "object_id"],
                                               name="follow_unique")]
        # "who follows these records", asked by the consumer for every batch of events
        indexes = [models.Index(fields=["object_type", "object_id"], name="follow_object")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.object_type}:{self.object_id}"


class Notification(models.Model):
    """Something a user should know about, read or not.

    One unread notification per (user, kind, record): further changes to the same record
    update it (``count``, ``fields``, time) instead of piling up. ``object_id`` is empty for
    a digest ("12 accounts were assigned to you"). The sentence is composed when shown, in the
    reader's language, from ``action``, ``fields`` and ``count``.
    """

    class Kind(models.TextChoices):
        FOLLOWED_CHANGED = "followed_record_changed", _("A record you follow changed")
        ASSIGNED = "assigned_to_you", _("Assigned to you")
        CASE_ASSIGNED = "case_assigned", _("Case assigned to you")
        REMINDER = "activity_reminder", _("Activity reminder")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notifications")
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    object_type = models.CharField(_("object"), max_length=20, choices=ObjectType.choices)
    object_id = models.BigIntegerField(_("record"), null=True, blank=True)
    title = models.CharField(_("title"), max_length=300)
    action = models.CharField(_("action"), max_length=30, default="update")
    fields = models.JSONField(_("changed fields"), default=list, blank=True)
    count = models.PositiveIntegerField(_("changes"), default=1)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="+")
    source = models.CharField(max_length=40, blank=True, default="")
    # What a reminder says besides its record: the activity's kind, time and account as they
    # were when it went out ({"kind", "at", "account"}).
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            # the bell on every page: COUNT(*) WHERE user = ? AND read_at IS NULL
            models.Index(fields=["user", "read_at"], name="notification_unread"),
            models.Index(fields=["user", "created_at"], name="notification_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.kind} {self.object_type}:{self.object_id}"


class FeedCursor(models.Model):
    """The last outbox event the notification consumer has handled (one row)."""

    name = models.CharField(max_length=40, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}@{self.last_event_id}"


class EmailKind(models.TextChoices):
    """What a user may hear about by e-mail (several notification kinds may share one)."""

    ASSIGNED = "assigned", _("Records and cases assigned to you")
    REMINDER = "reminder", _("Activity reminders")
    FOLLOWED = "followed", _("Changes to records you follow")
    SYNC_FAILED = "sync_failed", _("Failed synchronisations")


class EmailMode(models.TextChoices):
    OFF = "off", _("Off")
    IMMEDIATE = "immediate", _("Immediately")
    HOURLY = "hourly", _("Hourly digest")
    DAILY = "daily", _("Daily digest")


class NotificationEmailPreference(models.Model):
    """How one user wants one kind of notification by e-mail; no row means the default
    (``comptoir.feeds.emails.DEFAULT_MODES``), so most users never have a row."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notification_email_preferences")
    kind = models.CharField(_("kind"), max_length=20, choices=EmailKind.choices)
    mode = models.CharField(_("by e-mail"), max_length=10, choices=EmailMode.choices)

    class Meta:
        verbose_name = _("notification e-mail preference")
        verbose_name_plural = _("notification e-mail preferences")
        constraints = [models.UniqueConstraint(fields=["user", "kind"],
                                               name="notification_email_pref_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.kind} {self.mode}"


class NotificationEmailCursor(models.Model):
    """Up to when one user's e-mails of one mode (immediate, hourly, daily) have gone out.

    The job claims a send by moving ``sent_until`` with a filtered ``UPDATE … WHERE
    sent_until = <what it read>``: of two workers running at once only one moves it, so a
    digest never goes out twice.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    mode = models.CharField(max_length=10, choices=EmailMode.choices)
    sent_until = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "mode"],
                                               name="notification_email_cursor_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.mode}@{self.sent_until}"
