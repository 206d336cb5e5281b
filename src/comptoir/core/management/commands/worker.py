"""``comptoir worker``: run background tasks (django-tasks-db's ``db_worker``).

A thin front so operators learn one verb; the options are the useful subset of ``db_worker``'s.
Several workers may run side by side (each claims tasks in its own transaction); on SQLite one
is enough.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

log = logging.getLogger(__name__)


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
        parser.add_argument("--no-scheduler", action="store_true",
                            help="Do not queue the scheduled sync runs (another worker does).")

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
        if options["batch"] or options["no_scheduler"]:
            call_command("db_worker", **worker_options)
            return
        stop = threading.Event()
        scheduler = threading.Thread(target=_schedule_loop, args=(stop,), daemon=True,
                                     name="comptoir-scheduler")
        scheduler.start()
        try:
            call_command("db_worker", **worker_options)
        finally:
            stop.set()
            scheduler.join(timeout=5)


SCHEDULER_INTERVAL = 20.0  # seconds between two looks at the connections' schedules


def _schedule_loop(stop: threading.Event) -> None:
    """Run the periodic jobs (``COMPTOIR_PERIODIC_JOBS``: the sync schedules…) until the
    worker stops; a failure is logged, never fatal."""
    from django.conf import settings
    from django.db import close_old_connections
    from django.utils.module_loading import import_string

    jobs = [import_string(path) for path in settings.COMPTOIR_PERIODIC_JOBS]
    interval = float(getattr(settings, "COMPTOIR_SCHEDULER_INTERVAL", SCHEDULER_INTERVAL))
    # A first round at start: a run that fell due while the worker was down waits no longer.
    while not stop.is_set():
        for job in jobs:
            try:
                done = job()
                if done:
                    log.info("%s: %s", job.__name__, done)
            except Exception:
                log.exception("periodic job %s failed; retrying", job.__name__)
            finally:
                close_old_connections()
        stop.wait(interval)
