"""``comptoir sirene load FILE…`` and ``comptoir sirene enrich``: the local SIRENE copy.

    comptoir sirene load StockUniteLegale_utf8.zip StockEtablissement_utf8.zip
    comptoir sirene enrich --as data_manager --all-missing --dry-run
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from comptoir.access.models import User
from comptoir.core.errors import DomainError
from comptoir.crm.models import Account
from comptoir.sirene import loader, services


class Command(BaseCommand):
    help = ("Load the INSEE SIRENE stock files (StockUniteLegale, StockEtablissement; .csv or "
            "the official .zip) into the local copy, or enrich accounts from it.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="Load stock files, recognised by their header.")
        load.add_argument("files", nargs="+", type=Path)
        load.add_argument("--batch-size", type=int, default=loader.BATCH)
        enrich = sub.add_parser("enrich", help="Apply SIRENE values to accounts.")
        which = enrich.add_mutually_exclusive_group(required=True)
        which.add_argument("--account", type=int, help="One account, by id.")
        which.add_argument("--all-missing", action="store_true",
                           help="Every account with a SIREN or SIRET and a missing legal "
                                "identifier, NAF code, address or headcount band.")
        enrich.add_argument("--dry-run", action="store_true", help="Show, change nothing.")
        enrich.add_argument("--as", dest="username",
                            help="The user recorded in the audit trail (required unless "
                                 "--dry-run); must be allowed to change the accounts.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "load":
            self._load(options["files"], options["batch_size"])
        else:
            self._enrich(options)

    def _load(self, files: list[Path], batch_size: int) -> None:
        for path in files:
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
        for path in files:
            try:
                result = loader.load_file(path, batch_size=batch_size,
                                          progress=loader.print_progress(self.stdout.write))
            except loader.SireneFileError as exc:
                raise CommandError(str(exc)) from exc
            for example in result.bad_examples:
                self.stdout.write(f"  bad row, {example}")
            self.stdout.write(self.style.SUCCESS(result.summary()))

    def _enrich(self, options: dict[str, Any]) -> None:
        dry_run = options["dry_run"]
        user = None
        if options["username"]:
            user = User.objects.filter(username=options["username"]).first()
            if user is None:
                raise CommandError(f"No user {options['username']!r}.")
        elif not dry_run:
            raise CommandError("--as USERNAME is required to apply changes.")
        if options["account"] is not None:
            accounts = Account.objects.filter(pk=options["account"])
            if not accounts.exists():
                raise CommandError(f"No account {options['account']}.")
        else:
            accounts = (Account.objects.exclude(siren="", siret="")
                        .filter(Q(siren="") | Q(siret="") | Q(naf_code="") | Q(billing_street="")
                                | Q(billing_postcode="") | Q(billing_city="")
                                | Q(headcount_band="")).order_by("pk"))
        counts = {"accounts": 0, "changed": 0, "closed": 0, "not_found": 0, "refused": 0}
        for account in accounts.iterator(chunk_size=500):
            counts["accounts"] += 1
            proposal = services.enrichment_for(account)
            if not proposal.found:
                counts["not_found"] += 1
                continue
            label = f"#{account.pk} {account.legal_name}"
            for note in proposal.notes:
                self.stdout.write(f"{label}: {note}")
            for kept in proposal.kept:
                self.stdout.write(f"{label}: {kept.field} kept (owned by the ERP)")
            if proposal.closed:
                counts["closed"] += 1
            if not proposal.changes:
                continue
            for change in proposal.changes:
                self.stdout.write(f"{label}: {change.field}: {change.current!r} → "
                                  f"{change.value!r}")
            # a closed company is only reported: naming its fields is a person's decision
            if proposal.closed:
                continue
            if dry_run:
                counts["changed"] += 1
                continue
            try:
                services.account_enrich(account=account, user=user)
            except DomainError as exc:
                counts["refused"] += 1
                self.stdout.write(self.style.WARNING(f"{label}: {exc.message}"))
                continue
            counts["changed"] += 1
        verb = "would change" if dry_run else "changed"
        self.stdout.write(self.style.SUCCESS(
            f"{counts['accounts']} account(s) read: {counts['changed']} {verb}, "
            f"{counts['closed']} closed in SIRENE, {counts['not_found']} not found, "
            f"{counts['refused']} refused."))
