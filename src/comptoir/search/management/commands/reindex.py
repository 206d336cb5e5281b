"""``comptoir reindex``: rebuild the search index from the tables.

Streams each table in primary-key order, in batches (memory stays flat), and prints progress
and rate. The index stays searchable meanwhile; ``--clear`` empties it first (faster when it
holds nothing worth keeping, e.g. after a restore).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comptoir.search.services import SEARCHABLE_TYPES, reindex


class Command(BaseCommand):
    help = "Rebuild the search index from the tables (all object types, or --types)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--types", default="",
                            help=f"Comma-separated object types ({', '.join(SEARCHABLE_TYPES)}).")
        parser.add_argument("--batch-size", type=int, default=5000,
                            help="Records read and written per transaction.")
        parser.add_argument("--clear", action="store_true",
                            help="Empty the index (of these types) before rebuilding it.")

    def handle(self, *args: Any, **options: Any) -> None:
        types = [t.strip() for t in options["types"].split(",") if t.strip()] or None
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        shown = {"at": 0.0}

        def progress(object_type: str, done: int, total: int, seconds: float) -> None:
            now = time.monotonic()
            if now - shown["at"] >= 2 or done >= total:
                shown["at"] = now
                self.stdout.write(f"  {object_type:<14}{done:>12,} / {total:,}  ({seconds:.0f} s)")

        try:
            result = reindex(types=types, batch_size=options["batch_size"],
                             clear=options["clear"], progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for object_type, count in result.rows.items():
            self.stdout.write(f"  {object_type:<14}{count:>12,} rows")
        self.stdout.write(self.style.SUCCESS(
            f"Search index rebuilt: {result.total:,} rows in {result.seconds:.1f} s "
            f"({result.rate:,.0f} rows/s), {result.deleted:,} stale rows removed."))
