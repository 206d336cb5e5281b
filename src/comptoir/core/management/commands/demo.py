"""``comptoir demo``: load the French B2B demo data set (see ``comptoir.demo``).

Demo data only: every demo user's password is ``comptoir``. Never load it on a real instance.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comptoir.access.models import User
from comptoir.crm.models import Account
from comptoir.demo import DEMO_PASSWORD, DEMO_USERS, load_demo
from comptoir.search.indexing import needs_rebuild
from comptoir.search.services import reindex


class Command(BaseCommand):
    help = ("Load a realistic French B2B demo data set (sales organisation, accounts, contacts, "
            "leads, opportunities, activities, cases, catalogue, sales documents). Demo only: "
            f"every demo user's password is '{DEMO_PASSWORD}'.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=int, default=200,
                            help="Number of accounts (default 200; 1000000 for benchmarks).")
        parser.add_argument("--seed", type=int, default=42,
                            help="Random seed: the same seed gives the same data set.")
        parser.add_argument("--if-empty", action="store_true",
                            help="Load only when the database holds no account yet.")
        parser.add_argument("--chunk-size", type=int, default=10_000,
                            help="Accounts generated and written per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts: int = options["accounts"]
        if accounts < 1:
            raise CommandError("--accounts must be at least 1.")
        if options["if_empty"] and Account.objects.exists():
            self.stdout.write("Accounts already exist: demo data not loaded.")
            if needs_rebuild():  # a database loaded before the search index existed
                self._build_search_index(Account.objects.count())
            self._print_logins(created=set())
            return
        self.stdout.write(f"Loading demo data: {accounts:,} accounts, seed {options['seed']}…")
        result = load_demo(accounts=accounts, seed=options["seed"],
                           chunk_size=options["chunk_size"],
                           progress=lambda msg: self.stdout.write(f"  {msg}"))
        for name, count in result.counts.items():
            self.stdout.write(f"  {name.replace('_', ' '):<22}{count:>12,}")
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded in {result.seconds:.1f} s."))
        self._quality_examples(accounts, options["seed"])
        from comptoir.activities.services import activity_reminders_backfill

        activity_reminders_backfill()  # rows loaded set-based get their default reminder
        self._build_search_index(accounts)
        self._analyze()
        self._print_logins(created=result.created_usernames)

    def _quality_examples(self, accounts: int, seed: int) -> None:
        """Duplicates to review and promotion requests, as a real base would have."""
        from comptoir.demo.quality import add_quality_examples

        done = add_quality_examples(accounts=accounts, seed=seed)
        pairs = done["pairs"]
        found = (", ".join(f"{kind} {n:,}" for kind, n in pairs.items()) if pairs is not None
                 else "run `comptoir dedupe` to fill the review queue")
        self.stdout.write(f"  duplicates seeded    {done['duplicates']:>12,}  (pairs to review: "
                          f"{found})")
        self.stdout.write(f"  promotion requests   {done['promotions']:>12,}")

    def _build_search_index(self, accounts: int) -> None:
        """The generator writes past the services (no outbox events): index it in one pass."""
        self.stdout.write("Building the search index…")
        shown = {"at": time.monotonic()}

        def progress(object_type: str, done: int, total: int, seconds: float) -> None:
            if accounts > 10_000 and (time.monotonic() - shown["at"] >= 10 or done >= total):
                shown["at"] = time.monotonic()
                self.stdout.write(f"  {object_type:<14}{done:>12,} / {total:,} ({seconds:.0f} s)")

        built = reindex(clear=True, progress=progress)
        self.stdout.write(self.style.SUCCESS(
            f"Search index built: {built.total:,} rows in {built.seconds:.1f} s."))

    def _analyze(self) -> None:
        """Fresh table statistics after a bulk load, so the query planner picks the indexes
        that keep list pages fast (without them SQLite may sort a million rows)."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def _print_logins(self, *, created: set[str]) -> None:
        users = {u.username: u for u in User.objects.filter(
            username__in=[s.username for s in DEMO_USERS]).select_related("manager")}
        if not users:
            return
        self.stdout.write(f"\nDemo logins (password '{DEMO_PASSWORD}', demo only):")
        self.stdout.write(f"  {'username':<17}{'role':<16}{'manager':<16}title")
        for spec in DEMO_USERS:
            user = users.get(spec.username)
            if user is None:
                continue
            manager = user.manager.username if user.manager else "—"
            note = "" if not created or spec.username in created else \
                "  (existed already: password unchanged)"
            self.stdout.write(f"  {user.username:<17}{user.role:<16}{manager:<16}"
                              f"{spec.title}{note}")
