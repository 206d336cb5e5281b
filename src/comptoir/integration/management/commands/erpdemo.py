"""``comptoir erpdemo``: a local Tryton ERP with sample data, synced into Comptoir live.

Starts Tryton (its own environment: ``make tryton``) on 127.0.0.1 with a seeded database kept
under the data directory, creates the ``tryton-demo`` connection, and syncs every few seconds,
printing what arrives. ``--change`` renames a party in the running Tryton, so the next sync
shows the change arriving. Demo only: the Tryton admin password is printed.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from comptoir.integration.connectors.tryton import own_parties
from comptoir.integration.connectors.tryton_rpc import TrytonClient
from comptoir.integration.mappings import builtin_mapping
from comptoir.integration.models import Connection, SyncRun
from comptoir.integration.services import sync_run
from comptoir.testing import tryton as harness

NAME = "tryton-demo"


class Command(BaseCommand):
    help = "Run a local Tryton ERP with sample data and sync it into Comptoir live (demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8001, help="Tryton's port.")
        parser.add_argument("--interval", type=float, default=10.0,
                            help="Seconds between two syncs.")
        parser.add_argument("--once", action="store_true", help="One sync, then stop Tryton.")
        parser.add_argument("--change", action="store_true",
                            help="Rename a party in the running demo Tryton, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not harness.tryton_available():
            raise CommandError("Tryton is not installed: run 'make tryton' first.")
        if options["change"]:
            self._change()
            return
        workdir = Path(settings.DATA_DIR) / "tryton-demo"
        self.stdout.write("Preparing the Tryton database (the first time takes a minute)…")
        template = harness.build_template(profile="small")
        server = harness.TrytonServer(template, workdir=workdir, port=options["port"],
                                      keep_database=True)
        server.start()
        try:
            connection = self._connection(server)
            self.stdout.write(
                f"Tryton on {server.url} (database {server.database}, user {server.username}, "
                f"password {server.password}); connection '{NAME}'.\n"
                f"In another terminal: 'make run' to browse Comptoir, and "
                f"'.venv/bin/comptoir erpdemo --change' to change a party in Tryton.")
            while True:
                run = sync_run(connection)
                self._report(run)
                if options["once"]:
                    break
                time.sleep(options["interval"])
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            self.stdout.write("Tryton stopped.")

    def _connection(self, server: harness.TrytonServer) -> Connection:
        connection, _created = Connection.objects.update_or_create(
            name=NAME, defaults={
                "label": "Tryton (demo)", "connector": "tryton",
                "direction": Connection.Direction.BOTH, "mapping": builtin_mapping("tryton"),
                "parameters": {"url": server.url, "database": server.database,
                               "username": server.username},
                "secrets": {"password": server.password},
                "owned_fields": {
                    "account": ["legal_name", "siren", "siret", "billing_street",
                                "billing_postcode", "billing_city"],
                    "product": ["code", "name", "unit", "active"],
                    "salesdocument": ["kind", "number", "account", "status", "issue_date",
                                      "due_date", "currency", "total_excl_tax", "total_tax",
                                      "total_incl_tax", "amount_due"]},
                "batch_size": 500})
        return connection

    def _report(self, run: SyncRun) -> None:
        stamp = time.strftime("%H:%M:%S")
        if run.status != SyncRun.Status.SUCCEEDED:
            self.stdout.write(self.style.WARNING(
                f"{stamp} run {run.pk} {run.status} ({run.error_category}): {run.error_message}"))
            return
        self.stdout.write(f"{stamp} run {run.pk}: read {run.read}, created {run.created}, "
                          f"updated {run.updated}, unchanged {run.unchanged}, deleted "
                          f"{run.deleted}, quarantined {run.quarantined}")
        for stream, counts in (run.details or {}).get("streams", {}).items():
            moved = {k: v for k, v in counts.items() if v and k != "unchanged"}
            if moved:
                self.stdout.write(f"    {stream}: " + ", ".join(f"{k} {v}"
                                                               for k, v in moved.items()))

    def _change(self) -> None:
        connection = Connection.objects.filter(name=NAME).first()
        if connection is None:
            raise CommandError("Start 'comptoir erpdemo' first.")
        params = connection.parameters
        client = TrytonClient(params["url"], params["database"], params["username"],
                              connection.secrets["password"])
        # a customer: the company's own party is never synced, its change would not show
        ids = client.search("party.party", [["id", "not in", sorted(own_parties(client))]],
                            0, 50)
        if not ids:
            raise CommandError("The demo Tryton has no party.")
        party = random.choice(ids)
        [row] = client.read("party.party", [party], ["name"])
        new = f"{row['name'].split(' (')[0]} ({time.strftime('%H:%M:%S')})"
        client.write("party.party", [party], {"name": new})
        self.stdout.write(f"Party {party} renamed in Tryton to {new!r}: watch the next sync.")
