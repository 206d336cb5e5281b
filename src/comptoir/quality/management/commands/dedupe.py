"""``comptoir dedupe --object account``: find duplicates over the whole base (review queue)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comptoir.quality.dedupe import OBJECT_TYPES, dedupe_run, match_index_refresh


class Command(BaseCommand):
    help = ("Score every record of one type against the others, rebuild the duplicate lookup "
            "index and update the review queue (open pairs rescored, new ones added, decided "
            "ones kept).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--object", dest="object_type", choices=OBJECT_TYPES,
                            default="account")
        parser.add_argument("--no-index", action="store_true",
                            help="Leave the lookup index as it is (queue only).")
        parser.add_argument("--refresh-index", action="store_true",
                            help="Only add the keys of records changed since the last run "
                                 "(cheap; for a periodic job).")
        parser.add_argument("--format", choices=("text", "json"), default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        object_type = options["object_type"]
        as_json = options["format"] == "json"
        if options["refresh_index"]:
            count = match_index_refresh(object_type)
            self.stdout.write(json.dumps({"object": object_type, "refreshed": count})
                              if as_json else f"{count:,} changed {object_type}s indexed.")
            return
        try:
            result = dedupe_run(object_type, write_index=not options["no_index"],
                                progress=None if as_json else
                                (lambda msg: self.stdout.write(f"  {msg}")))
        except Exception as exc:  # a readable message rather than a traceback
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps(result.as_dict()))
            return
        self.stdout.write(self.style.SUCCESS(
            f"{result.records:,} {object_type}s: {result.pairs_found:,} possible duplicate "
            f"pairs ({result.pairs_new:,} new, {result.pairs_rescored:,} rescored, "
            f"{result.pairs_removed:,} no longer matching) in "
            f"{result.timings.get('total', 0):.1f} s."))
