"""``comptoir demo``: load the French B2B demo data set (see ``comptoir.demo``).

Demo data only: every demo user's password is ``comptoir``. Never load it on a real instance.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comptoir.access.models import User
from comptoir.crm.models import Account
from comptoir.demo import DEMO_PASSWORD, DEMO_USERS, load_demo


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
            self._print_logins(created=set())
            return
        self.stdout.write(f"Loading demo data: {accounts:,} accounts, seed {options['seed']}…")
        result = load_demo(accounts=accounts, seed=options["seed"],
                           chunk_size=options["chunk_size"],
                           progress=lambda msg: self.stdout.write(f"  {msg}"))
        for name, count in result.counts.items():
            self.stdout.write(f"  {name.replace('_', ' '):<22}{count:>12,}")
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded in {result.seconds:.1f} s."))
        self._print_logins(created=result.created_usernames)

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
