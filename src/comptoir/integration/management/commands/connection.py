"""``comptoir connection NAME …``: create or update a connection from the command line.

``--help`` lists what an integrator needs without reading the code: every registered
connector's parameters (label, required or optional, default, kind, help, which are secrets
and how to keep a secret out of the database) and the ready-made mappings. It is built from the
registry and the mapping files themselves, so it cannot drift from them; the README's
"Connectors and mappings" section is checked against the same sources by a test.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)

from comptoir.core.errors import ValidationFailed
from comptoir.integration.engine.core import Connector, Parameter, connectors
from comptoir.integration.mappings import builtin_mapping, builtin_mappings
from comptoir.integration.models import Connection
from comptoir.integration.services import connection_validate, load_connectors

WIDTH = 96


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the description and epilog laid out as written."""


def mapping_summary(name: str) -> str:
    """The first comment line of a ready-made mapping (what it maps, from where), with "…"
    when its sentence goes on."""
    for line in builtin_mapping(name).splitlines():
        text = line.strip().lstrip("#").strip()
        if line.strip().startswith("#") and text:
            return text if text.endswith((".", ":", ")")) else f"{text.rstrip(';,')} …"
    return ""


def _is_secret(cls: type[Connector], name: str, spec: Parameter) -> bool:
    return name in cls.sensitive_parameters or spec.kind == "secret"


def _parameter_lines(cls: type[Connector], name: str, spec: Parameter) -> list[str]:
    facts = ["required" if spec.required else "optional"]
    if spec.default not in (None, ""):
        facts.append(f"default {spec.default!r}")
    facts.append(f"kind {spec.kind}")
    secret = _is_secret(cls, name, spec)
    if secret and spec.kind != "secret":
        facts.append("secret")
    lines = [f"    {name} ({spec.label}): {', '.join(facts)}"]
    text = spec.help
    if secret:
        text = (f"{text} " if text else "") + (
            f"A secret: --secret {name}=VALUE, or --secret {name}=env:NAME to read it from "
            "the environment variable NAME when the connection runs (then only the name is "
            "stored).")
    if text:
        lines += textwrap.wrap(text, WIDTH, initial_indent=" " * 8,
                               subsequent_indent=" " * 8)
    return lines


def connectors_help() -> str:
    """Every registered connector with its parameters, then the ready-made mappings."""
    load_connectors()
    lines = ["connectors (--connector NAME; parameters as --param NAME=VALUE, secrets as "
             "--secret NAME=VALUE", "or --secret NAME=env:NAME):"]
    for name, cls in sorted(connectors().items()):
        lines += ["", f"  {name}: {cls.label}"]
        if not cls.parameters:
            lines.append("    (no parameters)")
        for param, spec in cls.parameters.items():
            lines += _parameter_lines(cls, param, spec)
        if name == "push":
            lines.append("    its signing key: --push-secret (the HMAC key the ERP plugin "
                         "signs with).")
    lines += ["", "ready-made mappings (--mapping NAME, or the path of a TOML file of "
              "yours):", ""]
    names = builtin_mappings()
    width = max((len(n) for n in names), default=0) + 2
    for name in names:
        lines += textwrap.wrap(mapping_summary(name), WIDTH, initial_indent=f"  {name:<{width}}",
                               subsequent_indent=" " * (width + 2))
    return "\n".join(lines)


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"{option} takes NAME=VALUE, not {item!r}.")
        out[key.strip()] = value
    return out


class Command(BaseCommand):
    help = ("Create or update a connection: connector, parameters, secrets, mapping file.\n"
            "Secrets may be given as env:NAME to be read from the environment at run time.")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs.setdefault("epilog", connectors_help())
        return super().create_parser(prog_name, subcommand, **kwargs)

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
