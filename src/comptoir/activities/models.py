"""Calls, meetings, e-mails, notes and tasks (R4)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from comptoir.core.models import CustomFieldsModel


class Activity(CustomFieldsModel):
    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        EMAIL = "email", _("E-mail")
        NOTE = "note", _("Note")
        TASK = "task", _("Task")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.TASK)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    start_at = models.DateTimeField(_("start"), null=True, blank=True)
    end_at = models.DateTimeField(_("end"), null=True, blank=True)
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    account = models.ForeignKey("crm.Account", verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="activities")
    contact = models.ForeignKey("crm.Contact", verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="activities")
    opportunity = models.ForeignKey("crm.Opportunity", verbose_name=_("opportunity"), null=True,
                                    blank=True, on_delete=models.CASCADE,
                                    related_name="activities")
    case = models.ForeignKey("service.Case", verbose_name=_("case"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="activities")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="activities")
    # When the owner is reminded in the app (empty: no reminder). Set by the services from the
    # activity's time (15 min before; 9:00 on the day for a task without a time) and moved
    # with it; ``reminded_at`` is claimed by the worker's job, so each reminder goes out once.
    remind_at = models.DateTimeField(_("reminder"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [
            models.Index(fields=["owner", "done", "due_at"], name="activity_agenda"),
            models.Index(fields=["account", "start_at"], name="activity_account_time"),
            models.Index(fields=["created_at", "id"], name="activity_created_id"),
            # the calendar: one person's (or a team's) activities in a week or a month, by
            # their start (meetings, calls) or, without one, their due date (tasks)
            models.Index(fields=["owner", "start_at"], name="activity_owner_start"),
            models.Index(fields=["owner", "due_at"], name="activity_owner_due"),
            # the reminder job: WHERE remind_at <= now AND reminded_at IS NULL AND NOT done
            models.Index(fields=["remind_at"], name="activity_reminder_due",
                         condition=Q(reminded_at__isnull=True, done=False)),
        ]

    def __str__(self) -> str:
        return self.subject


class CalendarFeedToken(models.Model):
    """The secret of a user's private iCalendar feed URL (``/calendar/feed/<token>.ics``).

    Calendar apps cannot sign in, so the URL itself is the credential: only its SHA-256 is
    stored (as for API tokens), the URL is shown once, and revoking it ends the feed for every
    app subscribed to it. One active token per user: a new one revokes the previous.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"),
                             on_delete=models.CASCADE, related_name="calendar_feed_tokens")
    prefix = models.CharField(max_length=12, help_text=_("First characters, to recognise it."))
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("calendar feed link")
        verbose_name_plural = _("calendar feed links")

    def __str__(self) -> str:
        return f"{self.user} ({self.prefix}…)"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()


class MeetingAttendee(models.Model):
    """Who is invited to a meeting (or call): a user or a contact, with the e-mail address the
    invitation goes to and their answer (RFC 5545 ``PARTSTAT``). Set through
    ``services.attendees_set``, which checks the editor sees each person."""

    class Status(models.TextChoices):
        NEEDS_ACTION = "needs-action", _("No answer yet")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        TENTATIVE = "tentative", _("Tentative")

    activity = models.ForeignKey(Activity, verbose_name=_("activity"), on_delete=models.CASCADE,
                                 related_name="attendees")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True,
                             blank=True, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("crm.Contact", verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="meeting_invitations")
    email = models.EmailField(_("e-mail"), max_length=254, blank=True)
    status = models.CharField(_("answer"), max_length=12, choices=Status.choices,
                              default=Status.NEEDS_ACTION)

    class Meta:
        verbose_name = _("attendee")
        verbose_name_plural = _("attendees")
        constraints = [
            models.UniqueConstraint(fields=["activity", "user"], name="attendee_user_once",
                                    condition=Q(user__isnull=False)),
            models.UniqueConstraint(fields=["activity", "contact"],
                                    name="attendee_contact_once",
                                    condition=Q(contact__isnull=False)),
        ]

    def __str__(self) -> str:
        return str(self.user or self.contact or self.email)

    @property
    def name(self) -> str:
        if self.user is not None:
            return self.user.get_full_name() or self.user.get_username()
        return str(self.contact) if self.contact is not None else self.email
