"""``comptoir sync NAME``: run a connection's sync now, with progress, and say how it ended."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comptoir.core.errors import DomainError
from comptoir.integration.loader import Counts
from comptoir.integration.models import Connection, SyncRun
from comptoir.integration.reconcile import reconcile_connection, reconcile_lines
from comptoir.integration.services import sync_run


class Command(BaseCommand):
    help = "Run the sync of a connection (see 'comptoir sync --list')."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="The connection's name.")
        parser.add_argument("--list", action="store_true", help="List the connections.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Read, map and check everything, show what would change, "
                                 "write nothing.")
        parser.add_argument("--full", action="store_true",
                            help="Ignore the saved cursors: read everything again "
                                 "(unchanged records are still not rewritten).")
        parser.add_argument("--reconcile", action="store_true",
                            help="Compare the CRM with the source, stream by stream (counts, "
                                 "each record's content, totals of amounts) and list every "
                                 "difference with its reason; writes nothing.")
        parser.add_argument("--limit", type=int, default=50,
                            help="With --reconcile: differences listed per stream "
                                 "(all are counted).")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"] or not options["name"]:
            self._list()
            return
        connection = Connection.objects.filter(name=options["name"]).first()
        if connection is None:
            raise CommandError(f"No connection named {options['name']!r} "
                               "(comptoir sync --list).")
        started = time.monotonic()
        show = not options["no_progress"] and sys.stdout.isatty()

        def progress(stream: str, total: Counts) -> None:
            if show:
                rate = total.read / max(time.monotonic() - started, 1e-6)
                self.stdout.write(f"\r  {stream}: {total.read:,} read, {total.created:,} "
                                  f"created, {total.updated:,} updated, {total.unchanged:,} "
                                  f"unchanged, {total.quarantined:,} quarantined "
                                  f"({rate:,.0f}/s)", ending="")
                self.stdout.flush()

        if options["reconcile"]:
            self._reconcile(connection, options["limit"], show)
            return
        try:
            run = sync_run(connection, full=options["full"], dry_run=options["dry_run"],
                           progress=progress)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        if show:
            self.stdout.write("")
        self._report(run)
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(f"Run {run.pk} failed ({run.error_category}): "
                               f"{run.error_message}")

    def _report(self, run: SyncRun) -> None:
        kind = "Dry run (nothing written)" if run.dry_run else "Run"
        seconds = run.duration_seconds or 0.0
        self.stdout.write(f"{kind} {run.pk} of {run.connection.name}: {run.status} in "
                          f"{seconds:.1f} s")
        for name in ("read", "created", "updated", "unchanged", "deleted", "quarantined"):
            self.stdout.write(f"  {name:<12}{getattr(run, name):>12,}")
        for stream, counts in (run.details.get("streams") or {}).items():
            self.stdout.write(f"  stream {stream}: " +
                              ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        source = run.details.get("source") or {}
        if "calls" in source and "seconds" in source:
            # the other system's share of the run: the rest is Comptoir's own
            calls = int(source["calls"])
            line = (f"  source: {calls:,} call{'' if calls == 1 else 's'}, "
                    f"{source['seconds']:,.1f} s answering")
            if source.get("bytes_received"):
                line += f", {source['bytes_received'] / 1e6:,.1f} MB received"
            self.stdout.write(line)
        if run.dry_run:
            for change in run.details.get("changes", [])[:50]:
                self.stdout.write(f"  would {change['action']} {change['object_type']} "
                                  f"{change['object_id']}: {change['changes']}")
        if run.quarantined:
            self.stdout.write(self.style.WARNING(
                f"  {run.quarantined} record(s) quarantined: see /api/v1/integration/"
                f"quarantine?connection={run.connection.name}"))

    def _reconcile(self, connection: Connection, limit: int, show: bool) -> None:
        def progress(stream: str, read: int) -> None:
            if show:
                self.stdout.write(f"\r  {stream}: {read:,} compared", ending="")
                self.stdout.flush()

        run = reconcile_connection(connection, progress=progress)
        if show:
            self.stdout.write("")
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(f"Reconciliation {run.pk} failed ({run.error_category}): "
                               f"{run.error_message}")
        for line in reconcile_lines(run.details["reconcile"], limit=limit):
            self.stdout.write(line)

    def _list(self) -> None:
        rows = Connection.objects.order_by("name")
        if not rows:
            self.stdout.write("No connection yet.")
            return
        for c in rows:
            last = c.runs.order_by("-id").first()
            state = f"last run {last.pk} {last.status}" if last else "never run"
            self.stdout.write(f"  {c.name:<24}{c.connector:<10}{state}")
