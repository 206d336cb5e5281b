"""Attachments on accounts, contacts, opportunities, cases and sales documents (R8)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.account_id or 0}/{filename}"


class Attachment(models.Model):
    """Always carries its account (derived from what it is attached to), which is what the
    visibility policy checks."""

    file = models.FileField(_("file"), upload_to=attachment_path, max_length=300)
    name = models.CharField(_("name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=120)
    size = models.PositiveBigIntegerField(_("size"))
    account = models.ForeignKey("crm.Account", on_delete=models.CASCADE,
                                related_name="attachments")
    contact = models.ForeignKey("crm.Contact", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="attachments")
    opportunity = models.ForeignKey("crm.Opportunity", null=True, blank=True,
                                    on_delete=models.CASCADE, related_name="attachments")
    case = models.ForeignKey("service.Case", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="attachments")
    sales_document = models.ForeignKey("sales.SalesDocument", null=True, blank=True,
                                       on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name
