"""Complaints and support cases (R5)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.core.models import CustomFieldsModel


class Case(CustomFieldsModel):
    class Kind(models.TextChoices):
        COMPLAINT = "complaint", _("Complaint")
        SUPPORT = "support", _("Support request")
        QUESTION = "question", _("Question")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("In progress")
        WAITING = "waiting", _("Waiting for customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class Priority(models.TextChoices):
        LOW = "low", _("Low")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")
        URGENT = "urgent", _("Urgent")

    number = models.CharField(_("number"), max_length=20, unique=True, null=True, blank=True)
    account = models.ForeignKey("crm.Account", verbose_name=_("account"),
                                on_delete=models.CASCADE, related_name="cases")
    contact = models.ForeignKey("crm.Contact", verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="cases")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SUPPORT)
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.NEW)
    priority = models.CharField(_("priority"), max_length=8, choices=Priority.choices,
                                default=Priority.NORMAL)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="cases")
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes = [models.Index(fields=["status", "priority"], name="case_status_priority"),
                   models.Index(fields=["created_at", "id"], name="case_created_id")]

    def __str__(self) -> str:
        return f"{self.number or self.pk} {self.subject}"
