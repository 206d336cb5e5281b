"""``comptoir assignterritories``: re-apply the territory rules to every account."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from comptoir.access.models import User
from comptoir.crm.services import accounts_assign_territories


class Command(BaseCommand):
    help = "Re-apply territory assignment rules to all accounts (or only unassigned ones)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--as", dest="username", required=True,
                            help="A data manager or administrator, recorded in the audit trail.")
        parser.add_argument("--only-unassigned", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        try:
            counts = accounts_assign_territories(user=user,
                                                 only_unassigned=options["only_unassigned"])
        except Exception as exc:  # Forbidden carries a readable message
            raise CommandError(str(exc)) from exc
        for name, moved in counts.items():
            self.stdout.write(f"{name}: {moved} account(s) moved")
