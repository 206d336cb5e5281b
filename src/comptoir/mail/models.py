"""Outgoing e-mail models: templates with merge fields, each user's signature, and the messages
composed from a record, with their delivery state (the worker sends them)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.core.models import ObjectType, TimeStampedModel


class EmailTemplate(TimeStampedModel):
    """A ready-made message in one language; ``{{ contact.first_name }}``-style merge fields
    are filled from the record when the message is composed (``services.render_merge``)."""

    name = models.CharField(_("name"), max_length=120)
    language = models.CharField(_("language"), max_length=5, choices=settings.LANGUAGES,
                                default="fr")
    subject = models.CharField(_("subject"), max_length=250)
    body = models.TextField(_("body"))
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("e-mail template")
        verbose_name_plural = _("e-mail templates")
        ordering = ["name", "language"]
        constraints = [models.UniqueConstraint(fields=["name", "language"],
                                               name="mail_template_name_language")]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class Signature(models.Model):
    """The text appended to every message a user sends (plain text, after ``-- ``)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True,
                                on_delete=models.CASCADE, related_name="mail_signature")
    text = models.TextField(_("signature"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")

    def __str__(self) -> str:
        return str(self.user)


def pdf_path(instance: OutgoingEmail, filename: str) -> str:
    return f"mail/{instance.account_id or 0}/{filename}"


class OutgoingEmail(models.Model):
    """One message as composed and queued; the worker moves it to sent, failed or bounced.

    ``attachments`` reference the record's files (read when sending); the quote PDF is drawn
    once when composing and kept, so what went out can be shown again. ``bounces`` lists the
    recipients the relay refused: ``[{"address", "code", "reason"}]``.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        BOUNCED = "bounced", _("Bounced")

    sender = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("sender"), null=True,
                               blank=True, on_delete=models.SET_NULL, related_name="+")
    from_email = models.CharField(_("from"), max_length=320)
    reply_to = models.CharField(_("reply to"), max_length=320, blank=True)
    to = models.JSONField(_("to"), default=list)
    cc = models.JSONField(_("cc"), default=list, blank=True)
    bcc = models.JSONField(_("bcc"), default=list, blank=True)
    subject = models.CharField(_("subject"), max_length=500)
    body = models.TextField(_("body"))
    html = models.TextField(_("HTML body"), blank=True)
    language = models.CharField(_("language"), max_length=5, default="fr")
    attachments = models.ManyToManyField("documents.Attachment", verbose_name=_("attachments"),
                                         blank=True, related_name="+")
    pdf_document = models.ForeignKey("sales.SalesDocument", verbose_name=_("attached PDF of"),
                                     null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    pdf_file = models.FileField(_("PDF"), upload_to=pdf_path, max_length=300, blank=True)
    pdf_name = models.CharField(_("PDF name"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices,
                              default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    bounces = models.JSONField(_("refused recipients"), default=list, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=250, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # The record it was written from (generic, as the audit trail names records), and what
    # the visibility policy checks: its account.
    object_type = models.CharField(_("record type"), max_length=20, choices=ObjectType.choices)
    object_id = models.BigIntegerField(_("record id"))
    account = models.ForeignKey("crm.Account", verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="+")
    activity = models.ForeignKey("activities.Activity", verbose_name=_("activity"), null=True,
                                 blank=True, on_delete=models.SET_NULL,
                                 related_name="outgoing_emails")

    class Meta:
        verbose_name = _("e-mail")
        verbose_name_plural = _("e-mails")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="mail_out_record"),
            models.Index(fields=["status", "next_attempt_at"], name="mail_out_due"),
        ]

    def __str__(self) -> str:
        return self.subject
