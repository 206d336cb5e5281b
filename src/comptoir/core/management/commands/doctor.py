"""``comptoir doctor``: is this installation safe? Database engine and version, journal mode,
integrity, disk space, backups; exits 1 on an error (2 on a warning with ``--strict``)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from comptoir.core.health import run_checks

MARKS = {"ok": "ok  ", "warning": "WARN", "error": "FAIL"}


class Command(BaseCommand):
    help = "Check the installation: database, integrity, disk space, backups."
    requires_system_checks: list[str] = []  # must run on a broken installation too

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--full", action="store_true",
                            help="Full integrity check (reads every page: slow on a big base).")
        parser.add_argument("--json", action="store_true", help="Print the checks as JSON.")
        parser.add_argument("--strict", action="store_true",
                            help="Exit with status 2 on warnings too.")

    def handle(self, *args: Any, **options: Any) -> None:
        checks = run_checks(full=options["full"])
        if options["json"]:
            self.stdout.write(json.dumps([c.__dict__ for c in checks], ensure_ascii=False,
                                         indent=2))
        else:
            for c in checks:
                line = f"[{MARKS[c.level]}] {c.name}: {c.value}"
                style = {"ok": self.style.SUCCESS, "warning": self.style.WARNING,
                         "error": self.style.ERROR}[c.level]
                self.stdout.write(style(line))
                if c.advice:
                    self.stdout.write(f"         {c.advice}")
        levels = {c.level for c in checks}
        if "error" in levels:
            raise SystemExit(1)
        if options["strict"] and "warning" in levels:
            raise SystemExit(2)
