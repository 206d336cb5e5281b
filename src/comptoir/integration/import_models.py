"""The import wizard's job: one uploaded file, its column mapping and its runs.

Kept apart from ``models.py`` so that module stays the sync's; ``models.py`` imports it so
Django sees the model. The file itself lives in a private storage under the data directory
(never under MEDIA_ROOT, never served); the runs are ordinary sync runs of a one-off ``files``
connection, so an import shares the sync's dry run, worker, progress counts and quarantine.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.db import models
from django.utils.translation import gettext_lazy as _

from .models import Connection, SyncRun


def import_storage() -> Storage:
    """Uploaded import files: private, under the data directory."""
    return FileSystemStorage(location=settings.DATA_DIR / "imports",
                             file_permissions_mode=0o600, directory_permissions_mode=0o700)


class ImportJob(models.Model):
    """An import from the web: who uploaded what, as which object, mapped how."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    filename = models.CharField(_("file"), max_length=255)
    file = models.FileField(storage=import_storage, upload_to="%Y/%m/", max_length=255)
    object_type = models.CharField(_("object"), max_length=40)
    columns = models.JSONField(default=list)  # the header row, in order
    preview = models.JSONField(default=list)  # the first rows, as text, column order
    rows = models.PositiveIntegerField(_("rows"), default=0)  # data rows (bad ones included)
    info = models.JSONField(default=dict)  # format, encoding, delimiter
    mapping = models.JSONField(default=dict)  # column -> CRM field ("" = ignored)
    options = models.JSONField(default=dict)  # key column, owner
    audit = models.JSONField(default=dict)  # the pre-import audit's summary
    connection = models.ForeignKey(Connection, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+")
    dry_run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")
    run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True,
                            related_name="+")
    # Undo of the whole import (``imports.import_undo_start``): pending → running → done or
    # failed; the report counts what was deleted, restored and kept, and lists the kept ones.
    undo_status = models.CharField(_("undo"), max_length=10, blank=True, default="")
    undo_requested_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(_("undone on"), null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                  null=True, blank=True, related_name="+")
    undo_report = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.object_type})"
