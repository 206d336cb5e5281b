"""Mailbox logging models.

* :class:`Mailbox` — one user's IMAP mailbox. Its secrets (password, OAuth2 client secret and
  refresh token) are **write-only** as the integration connections' ``secrets`` are: stored in
  the database (or read from the environment when the value is ``env:NAME``), never rendered
  by a page, the admin or a log; a form left empty keeps the stored value.
* :class:`MailboxFolder` — the incremental cursor of one folder: the server's UIDVALIDITY and
  the last UID fetched. A changed UIDVALIDITY restarts the folder; messages already logged are
  recognised by their Message-ID and not logged again.
* :class:`LoggedMessage` — one e-mail, once for everyone who received it (the normalised
  Message-ID is unique), logged as an e-mail :class:`~comptoir.activities.models.Activity`.
  Its text is private by default: only the owner's scope (the owner and their managers, plus
  those who see everything) reads it; others see the activity (subject, date) through the
  record it is on.
* :class:`LoggedAttachment` — a file of a logged message, kept privately with the message after
  the same checks as an upload (size, accepted types); a refused one keeps its name, type, size
  and the reason.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Mailbox(models.Model):
    class Security(models.TextChoices):
        SSL = "ssl", _("SSL/TLS (port 993)")
        STARTTLS = "starttls", _("STARTTLS (port 143)")
        NONE = "none", _("None (unencrypted, tests only)")

    class AuthKind(models.TextChoices):
        PASSWORD = "password", _("Password")
        XOAUTH2 = "xoauth2", _("OAuth2 (XOAUTH2)")

    class Provider(models.TextChoices):
        NONE = "", _("—")
        GMAIL = "gmail", _("Google (Gmail)")
        MICROSOFT = "microsoft", _("Microsoft 365")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"),
                             on_delete=models.CASCADE, related_name="mailboxes")
    address = models.CharField(_("e-mail address"), max_length=254, blank=True,
                               help_text=_("The address of this mailbox; messages from or to it "
                                           "are yours."))
    host = models.CharField(_("server"), max_length=255)
    port = models.PositiveIntegerField(_("port"), default=993)
    security = models.CharField(_("security"), max_length=8, choices=Security.choices,
                                default=Security.SSL)
    username = models.CharField(_("user name"), max_length=255)
    auth_kind = models.CharField(_("sign-in"), max_length=8, choices=AuthKind.choices,
                                 default=AuthKind.PASSWORD)
    # Write-only secrets (``env:NAME`` reads the environment); never rendered.
    password = models.CharField(_("password"), max_length=500, blank=True)
    oauth_provider = models.CharField(_("OAuth2 provider"), max_length=10,
                                      choices=Provider.choices, blank=True)
    oauth_client_id = models.CharField(_("OAuth2 client id"), max_length=255, blank=True)
    oauth_client_secret = models.CharField(_("OAuth2 client secret"), max_length=500,
                                           blank=True)
    oauth_refresh_token = models.CharField(_("OAuth2 refresh token"), max_length=2000,
                                           blank=True)
    oauth_access_token = models.CharField(max_length=4000, blank=True, editable=False)
    oauth_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    folders = models.CharField(_("folders"), max_length=500, default="INBOX, Sent",
                               help_text=_("Folders to log, separated by commas."))
    enabled = models.BooleanField(_("enabled"), default=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_fetch_at = models.DateTimeField(_("last fetched"), null=True, blank=True)
    # Claimed by the worker while it fetches, so two workers never fetch one mailbox at once.
    fetching_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")
        indexes = [models.Index(fields=["enabled", "last_fetch_at"], name="mailbox_due")]

    def __str__(self) -> str:
        return f"{self.username}@{self.host}"

    def folder_names(self) -> list[str]:
        return [f.strip() for f in self.folders.split(",") if f.strip()]


class MailboxFolder(models.Model):
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="cursors")
    name = models.CharField(max_length=255)
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mailbox", "name"],
                                               name="mailboxfolder_unique")]

    def __str__(self) -> str:
        return f"{self.mailbox_id}:{self.name}@{self.uidvalidity}/{self.last_uid}"


class LoggedMessage(models.Model):
    # Normalised (no angle brackets, lower case; a hash when missing): the dedupe key.
    message_id = models.CharField(_("Message-ID"), max_length=255, unique=True)
    thread_id = models.CharField(_("thread"), max_length=255, db_index=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    from_address = models.CharField(_("from"), max_length=254, blank=True)
    from_name = models.CharField(max_length=200, blank=True)
    to = models.JSONField(_("to"), default=list, blank=True)
    cc = models.JSONField(_("cc"), default=list, blank=True)
    sent_at = models.DateTimeField(_("date"), null=True, blank=True)
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    body_text = models.TextField(_("text"), blank=True)
    activity = models.OneToOneField("activities.Activity", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="logged_message")
    contact = models.ForeignKey("crm.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    lead = models.ForeignKey("crm.Lead", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    account = models.ForeignKey("crm.Account", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="+")
    mailboxes = models.ManyToManyField(Mailbox, related_name="messages", blank=True)
    private = models.BooleanField(_("private"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("logged e-mail")
        verbose_name_plural = _("logged e-mails")

    def __str__(self) -> str:
        return self.subject or self.message_id


def logged_attachment_path(instance: LoggedAttachment, filename: str) -> str:
    return f"mailbox/{instance.message_id}/{filename}"


class LoggedAttachment(models.Model):
    message = models.ForeignKey(LoggedMessage, on_delete=models.CASCADE,
                                related_name="attachments")
    file = models.FileField(upload_to=logged_attachment_path, max_length=300, blank=True)
    name = models.CharField(_("name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=120)
    size = models.PositiveBigIntegerField(_("size"))
    refused = models.CharField(_("not kept"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("e-mail attachment")
        verbose_name_plural = _("e-mail attachments")

    def __str__(self) -> str:
        return self.name
