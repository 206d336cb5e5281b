"""``comptoir createtoken USERNAME``: issue a personal API token from the command line.

Prints only the token on standard output, so ``TOKEN=$(comptoir createtoken admin)`` works; the
token is stored hashed and cannot be shown again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comptoir.access.models import User
from comptoir.api.auth import issue_token


class Command(BaseCommand):
    help = "Create an API token for a user and print it (use it as 'Authorization: Bearer …')."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="Label shown in the token list.")
        parser.add_argument("--days", type=int, default=None,
                            help="Expire after this many days (default: never).")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        if not user.is_active:
            raise CommandError(f"User {user.username!r} is inactive.")
        days = options["days"]
        if days is not None and days <= 0:
            raise CommandError("--days must be greater than zero.")
        token, raw = issue_token(user, options["name"], days=days)
        expiry = f", expires {token.expires_at:%Y-%m-%d}" if token.expires_at else ""
        # On stderr, unstyled: stdout carries the token alone.
        self.stderr.write(f"Token {token.name!r} for {user.username}{expiry}:",
                          style_func=lambda text: text)
        self.stdout.write(raw)
