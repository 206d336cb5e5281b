"""Agenda sync models.

* :class:`CalendarAccount` — one user's CalDAV agenda. The password is **write-only** as the
  integration connections' secrets are: stored (or read from the environment when the value
  is ``env:NAME``), never rendered; a form left empty keeps it. ``sync_token`` is the server's
  cursor (RFC 6578): a sync asks only for what changed since.
* :class:`ActivityCalendarLink` — one CRM activity ↔ one event in the agenda: its ``href``, the
  ``etag`` last seen or written (what tells our own writes from others') and the activity's
  ``version`` at the last sync (what tells a CRM change). ``activity`` becomes empty when the
  activity is deleted in the CRM (the next sync deletes the event); ``removed_at`` is set when
  the event was deleted in the agenda (the activity is kept, and no longer pushed).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CalendarAccount(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("user"),
                                on_delete=models.CASCADE, related_name="calendar_account")
    server_url = models.URLField(_("server"), max_length=500,
                                 help_text=_("The CalDAV address of the server."))
    username = models.CharField(_("user name"), max_length=255)
    password = models.CharField(_("password"), max_length=500, blank=True)  # write-only
    calendar = models.CharField(_("calendar"), max_length=500,
                                help_text=_("The calendar's address, or its name."))
    calendar_url = models.CharField(max_length=500, blank=True, editable=False)
    sync_token = models.CharField(max_length=500, blank=True, editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_sync_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    # Claimed by the worker while it syncs, so two workers never sync one agenda at once.
    syncing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("agenda sync")
        verbose_name_plural = _("agenda syncs")

    def __str__(self) -> str:
        return f"{self.username} @ {self.server_url}"


class ActivityCalendarLink(models.Model):
    account = models.ForeignKey(CalendarAccount, on_delete=models.CASCADE, related_name="links")
    activity = models.ForeignKey("activities.Activity", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="calendar_links")
    href = models.CharField(max_length=1000)
    etag = models.CharField(max_length=255, blank=True)
    uid = models.CharField(max_length=500)
    version = models.PositiveIntegerField(default=0)
    synced_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "href"], name="caldav_link_href"),
            models.UniqueConstraint(fields=["account", "uid"], name="caldav_link_uid"),
        ]

    def __str__(self) -> str:
        return f"{self.activity_id} ↔ {self.href}"
