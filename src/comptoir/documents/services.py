"""Attachments: size and type limits, the owning account derived from the target record."""

from __future__ import annotations

import mimetypes
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from comptoir.access import policy
from comptoir.core.errors import Forbidden, TooLarge, ValidationFailed
from comptoir.core.models import ObjectType
from comptoir.core.services import record_change, snapshot

from .models import Attachment

TARGETS = {
    "account": ("crm", "Account"),
    "contact": ("crm", "Contact"),
    "opportunity": ("crm", "Opportunity"),
    "case": ("service", "Case"),
    "sales_document": ("sales", "SalesDocument"),
}


def detect_type(name: str) -> str:
    """The type from the file name, not the client's claim (which is easy to forge)."""
    guessed, _enc = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


@transaction.atomic
def attachment_create(*, user: Any, target: str, target_id: int, upload: UploadedFile,
                      name: str = "", source: str = "app") -> Attachment:
    from django.apps import apps

    if target not in TARGETS:
        raise ValidationFailed(_("Attachments go on accounts, contacts, deals, cases or sales "
                                 "documents."), fields={"target": [_("Unknown target.")]})
    model = apps.get_model(*TARGETS[target])
    obj = model.objects.filter(pk=target_id).first()
    if obj is None or not policy.can(user, "view", obj):
        raise ValidationFailed(_("Unknown or not accessible record."),
                               fields={"target_id": [_("Unknown or not accessible record.")]})
    if not policy.can(user, "change", obj):
        raise Forbidden(_("You may read this record but not add files to it."))
    limit = settings.COMPTOIR_ATTACHMENT_MAX_BYTES
    if upload.size is None or upload.size > limit:
        raise TooLarge(_("The file is larger than the limit of %(mb).0f MB.")
                       % {"mb": limit / 1024 / 1024})
    if upload.size == 0:
        raise ValidationFailed(_("The file is empty."), fields={"file": [_("The file is empty.")]})
    filename = get_valid_filename(name or upload.name or "file")
    content_type = detect_type(filename)
    if content_type not in settings.COMPTOIR_ATTACHMENT_TYPES:
        raise ValidationFailed(
            _("Files of type %(type)s are not accepted.") % {"type": content_type},
            fields={"file": [_("This type of file is not accepted.")]},
        )
    attachment = Attachment(name=filename, content_type=content_type, size=upload.size,
                            uploaded_by=user if getattr(user, "is_authenticated", False) else None,
                            account_id=obj.pk if target == "account" else obj.account_id)
    if target != "account":
        setattr(attachment, f"{target}_id", obj.pk)
    attachment.file.save(filename, upload, save=False)
    attachment.save()
    record_change(object_type=ObjectType.ATTACHMENT, instance=attachment, action="create",
                  user=user, changes={k: [None, v] for k, v in snapshot(attachment).items() if v},
                  source=source)
    return attachment


@transaction.atomic
def attachment_delete(*, attachment: Attachment, user: Any, source: str = "app") -> None:
    if not policy.can(user, "delete", attachment):
        raise Forbidden(_("You are not allowed to delete this attachment."))
    before = snapshot(attachment)
    pk = attachment.pk
    attachment.delete()  # the file goes with it on commit (signals.py)
    attachment.pk = pk
    record_change(object_type=ObjectType.ATTACHMENT, instance=attachment, action="delete",
                  user=user, changes={k: [v, None] for k, v in before.items() if v},
                  source=source)
