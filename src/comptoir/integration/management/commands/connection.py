"""``comptoir connection NAME …``: create or update a connection from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comptoir.core.errors import ValidationFailed
from comptoir.integration.mappings import builtin_mapping, builtin_mappings
from comptoir.integration.models import Connection
from comptoir.integration.services import connection_validate


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"{option} takes NAME=VALUE, not {item!r}.")
        out[key.strip()] = value
    return out


class Command(BaseCommand):
    help = ("Create or update a connection: connector, parameters, secrets, mapping file. "
            "Secrets may be given as env:NAME to be read from the environment at run time.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--connector", help="files, tryton, sql… (required to create)")
        parser.add_argument("--mapping", help="The mapping file (TOML), or the name of a "
                                              "ready-made one (tryton, odoo_partners…).")
        parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
        parser.add_argument("--secret", action="append", default=[], metavar="NAME=VALUE")
        parser.add_argument("--push-secret", help="Push connections: the HMAC signing key.")
        parser.add_argument("--label")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--schedule", type=int, metavar="MINUTES",
                            help="Run every N minutes through the worker (0: on demand only).")
        parser.add_argument("--disable", action="store_true")
        parser.add_argument("--enable", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = Connection.objects.filter(name=options["name"]).first()
        creating = connection is None
        if connection is None:
            if not options["connector"] or not options["mapping"]:
                raise CommandError("A new connection needs --connector and --mapping.")
            connection = Connection(name=options["name"])
        if options["connector"]:
            connection.connector = options["connector"]
        if options["mapping"]:
            path = Path(options["mapping"])
            if not path.exists() and options["mapping"] in builtin_mappings():
                connection.mapping = builtin_mapping(options["mapping"])
            else:
                try:
                    connection.mapping = path.read_text(encoding="utf-8")
                except OSError as exc:
                    raise CommandError(f"Cannot read the mapping: {exc}") from exc
        connection.parameters = {**connection.parameters, **_pairs(options["param"], "--param")}
        connection.secrets = {**connection.secrets, **_pairs(options["secret"], "--secret")}
        if options["push_secret"] is not None:
            connection.push_secret = options["push_secret"]
        if options["label"] is not None:
            connection.label = options["label"]
        if options["batch_size"]:
            connection.batch_size = options["batch_size"]
        if options["schedule"] is not None:
            connection.schedule_minutes = options["schedule"] or None
        if options["disable"] or options["enable"]:
            connection.enabled = options["enable"]
        try:
            connection_validate(connection)
        except ValidationFailed as exc:
            problems = "\n".join(f"  {field}: {msg}" for field, msgs in exc.fields.items()
                                 for msg in msgs)
            raise CommandError(f"{exc}\n{problems}") from exc
        connection.save()
        self.stdout.write(f"Connection {connection.name} {'created' if creating else 'updated'}"
                          f" ({connection.connector}).")
