"""``comptoir audit FILE --object account``: audit a CSV/XLSX file before importing it (I10).

Reads the file, maps its columns, and reports fill rates, invalid identifiers, profile
violations and duplicates (inside the file and against the base) as HTML or JSON (structure in
``comptoir.quality.audit``). Nothing is imported or written to the database.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from comptoir.quality.audit import (
    DEFAULT_EXAMPLES,
    OBJECT_TYPES,
    AuditError,
    audit_file,
    parse_mapping,
    render_html,
)


class Command(BaseCommand):
    help = ("Audit a CSV or XLSX file before importing it: fill rate per field, invalid "
            "identifiers, profile violations, duplicates inside the file and against the base. "
            "Writes nothing to the database.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV (any of ; , tab as separator) or XLSX file.")
        parser.add_argument("--object", dest="object_type", choices=OBJECT_TYPES,
                            default="account")
        parser.add_argument("--format", choices=("html", "json"), default="html")
        parser.add_argument("--output", help="Write the report here (default: standard "
                                             "output).")
        parser.add_argument("--map", action="append", default=[], metavar="'Col=field,…'",
                            help="Map columns to fields, overriding the automatic mapping; "
                                 "'Col=' leaves a column out. Repeatable.")
        parser.add_argument("--sheet", help="XLSX: the sheet to read (default: the first).")
        parser.add_argument("--limit-examples", type=int, default=DEFAULT_EXAMPLES,
                            help="Examples kept per finding (default %(default)s).")
        parser.add_argument("--language", choices=[code for code, _name in settings.LANGUAGES],
                            default=settings.LANGUAGE_CODE,
                            help="Language of the report (default %(default)s).")
        parser.add_argument("--no-base", action="store_true",
                            help="Skip the comparison with the records of the base.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        with translation.override(options["language"]):
            try:
                started = time.perf_counter()
                report = audit_file(
                    content, filename=path.name, object_type=options["object_type"],
                    user=None, mapping=parse_mapping(options["map"]), sheet=options["sheet"],
                    limit_examples=options["limit_examples"],
                    check_base=not options["no_base"])
                data = report.as_dict()
                text = (json.dumps(data, ensure_ascii=False, indent=1)
                        if options["format"] == "json" else render_html(data))
            except AuditError as exc:
                raise CommandError(exc.message) from exc
        if options["output"]:
            out = Path(options["output"])
            try:
                out.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"Cannot write {out}: {exc.strerror or exc}") from exc
            self.stderr.write(
                f"{data['rows']:,} rows audited in {time.perf_counter() - started:.1f} s: "
                f"{data['duplicates_in_file']['pairs']:,} duplicate pairs in the file, "
                f"{data['duplicates_in_base']['rows']:,} rows already in the base → {out}")
            return
        self.stdout.write(text)
