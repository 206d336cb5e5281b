"""``comptoir restore FILE``: put a backup of ``comptoir backup`` back, database and files.

Refuses to overwrite a database that holds data unless ``--yes`` is given. On SQLite the backup
is written into the live database through SQLite's backup API (no file is swapped under the
connections of a running site) and checked; on PostgreSQL ``pg_restore`` runs in one
transaction. The uploaded files are replaced by the backup's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from comptoir.core.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = ("Restore a backup made by `comptoir backup`: replaces the whole database and the "
            "uploaded files.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="A comptoir-….tar.gz backup.")
        parser.add_argument("--yes", action="store_true",
                            help="Confirm that the current data (if any) is to be replaced.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = restore_backup(options["file"], force=options["yes"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        files = (f"{result.media_files} uploaded file{'s' if result.media_files != 1 else ''}"
                 if result.media_restored else "uploaded files left as they were")
        self.stdout.write(f"Restored {result.path} (taken {result.created}; {result.engine} "
                          f"database, {files}).")
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            self.stdout.write("The backup predates this version of Comptoir: run "
                              "`comptoir migrate` before starting the site.")
