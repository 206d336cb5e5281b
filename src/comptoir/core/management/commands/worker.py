"""``comptoir worker``: run background tasks (django-tasks-db's ``db_worker``).

A thin front so operators learn one verb; the options are the useful subset of ``db_worker``'s.
Several workers may run side by side (each claims tasks in its own transaction); on SQLite one
is enough.
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run the background-task worker until stopped (Ctrl-C / SIGTERM finish the task)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue-name", default="default",
                            help="Queues to process, comma-separated; '*' for all.")
        parser.add_argument("--interval", type=float, default=1.0,
                            help="Seconds to wait between polls when the queue is empty.")
        parser.add_argument("--batch", action="store_true",
                            help="Run the outstanding tasks, then exit (scripts, tests).")
        parser.add_argument("--max-tasks", type=int, default=None,
                            help="Exit after this many tasks (a supervisor restarts it).")
        parser.add_argument("--reload", action="store_true",
                            help="Restart on code changes (development only).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] < 0:
            raise CommandError("--interval must be zero or more.")
        if options["max_tasks"] is not None and options["max_tasks"] <= 0:
            raise CommandError("--max-tasks must be greater than zero.")
        worker_options: dict[str, Any] = {
            "queue_name": options["queue_name"], "interval": options["interval"],
            "batch": options["batch"], "reload": options["reload"] and not options["batch"],
            "verbosity": options["verbosity"],
        }
        if options["max_tasks"] is not None:
            worker_options["max_tasks"] = options["max_tasks"]
        call_command("db_worker", **worker_options)
