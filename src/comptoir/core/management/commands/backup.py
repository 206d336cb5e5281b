"""``comptoir backup``: an online backup of the database and the uploaded files.

Safe while the site serves and writes (see ``comptoir.core.backup``); one
``comptoir-YYYYMMDDTHHMMSSZ.tar.gz`` in ``COMPTOIR_BACKUP_DIR``, then only the ``--keep``
newest backups are kept. The worker makes one by itself every
``COMPTOIR_BACKUP_INTERVAL_HOURS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from comptoir.core.backup import BackupError, human_size, make_backup


class Command(BaseCommand):
    help = ("Back up the database and the uploaded files (online, consistent), then delete "
            "the oldest backups beyond --keep.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", type=Path, default=None,
                            help="Folder of the backups (default: COMPTOIR_BACKUP_DIR, "
                                 f"{settings.COMPTOIR_BACKUP_DIR}).")
        parser.add_argument("--keep", type=int, default=None,
                            help="How many backups to keep in the folder, newest first "
                                 "(default: COMPTOIR_BACKUP_KEEP, "
                                 f"{settings.COMPTOIR_BACKUP_KEEP}).")

    def handle(self, *args: Any, **options: Any) -> None:
        keep = options["keep"]
        if keep is not None and keep < 1:
            raise CommandError("--keep must be at least 1.")
        try:
            result = make_backup(options["dir"], keep=keep)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        if result.media_included:
            files = f"{result.media_files} uploaded file{'s' if result.media_files != 1 else ''}"
        else:
            files = "uploaded files not included (not stored on this machine's file system)"
        self.stdout.write(f"Backup written: {result.path} ({human_size(result.size)}; "
                          f"{result.engine} database of {human_size(result.database_size)}, "
                          f"{files}).")
        if result.media_missing:
            self.stderr.write(f"{len(result.media_missing)} file(s) were deleted while the "
                              f"backup was made and are not in it: "
                              f"{', '.join(result.media_missing[:10])}")
        for path in result.removed:
            self.stdout.write(f"Removed old backup: {path}")
