"""``comptoir serve``: the production-style way to run Comptoir on one machine.

Collects static files, then runs two child processes and supervises them: gunicorn (threaded
workers) serving ``comptoir.config.wsgi`` and ``comptoir worker`` (the task queue and the
periodic jobs: scheduled syncs, outbound ERP calls, notifications, backups). Ctrl-C
or SIGTERM stops both gracefully. A worker that dies is restarted (its tasks are in the
database); if the web server dies, or the worker keeps dying, the other is stopped too and the
command exits non-zero, so a supervisor (systemd, a container runtime) sees the failure.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

STOP_TIMEOUT = 30.0  # seconds a child gets to finish its requests or its task


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when ``serve`` dies, even by SIGKILL.

    Without it a killed ``serve`` would leave gunicorn and the worker running, holding the port.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    parent = os.getpid()

    def set_pdeathsig() -> None:
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return set_pdeathsig


class Command(BaseCommand):
    help = "Serve Comptoir with gunicorn and run the background-task worker alongside."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind.")
        parser.add_argument("--port", type=int, default=8000, help="Port to bind.")
        parser.add_argument("--workers", type=int, default=2,
                            help="Gunicorn worker processes (about one per core).")
        parser.add_argument("--threads", type=int, default=4, help="Threads per web worker.")
        parser.add_argument("--timeout", type=int, default=120,
                            help="Seconds before a stuck request's worker is restarted "
                                 "(bulk upserts of 10,000 records need more than the default).")
        parser.add_argument("--no-worker", action="store_true",
                            help="Do not start the background-task worker (run it elsewhere).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["workers"] < 1 or options["threads"] < 1:
            raise CommandError("--workers and --threads must be at least 1.")
        call_command("collectstatic", interactive=False, verbosity=0)
        env = os.environ.copy()
        env.setdefault("DJANGO_SETTINGS_MODULE", "comptoir.config.settings")
        bind = f"{options['host']}:{options['port']}"
        commands = {
            "web": [sys.executable, "-m", "gunicorn", "comptoir.config.wsgi:application",
                    "--bind", bind, "--worker-class", "gthread",
                    "--workers", str(options["workers"]), "--threads", str(options["threads"]),
                    "--timeout", str(options["timeout"]), "--graceful-timeout", "20",
                    "--access-logfile", "-"],
        }
        if not options["no_worker"]:
            commands["worker"] = [sys.executable, "-m", "comptoir", "worker",
                                  "--verbosity", str(options["verbosity"])]
        self._run(commands, env, bind)

    def _run(self, commands: dict[str, list[str]], env: dict[str, str], bind: str) -> None:
        stopping = False

        def on_signal(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        children: dict[str, subprocess.Popen[bytes]] = {}
        failed: str | None = None
        try:
            for name, argv in commands.items():
                # Own process group: a terminal's Ctrl-C reaches only this supervisor, which
                # then stops each child once, gracefully, instead of both getting it twice.
                children[name] = subprocess.Popen(argv, env=env, process_group=0,
                                                  preexec_fn=_die_with_parent())
            pids = ", ".join(f"{name} pid {p.pid}" for name, p in children.items())
            self.stdout.write(f"Comptoir on http://{bind}/ (admin /admin/, API docs "
                              f"/api/v1/docs) — {pids}. Ctrl-C to stop.")
            restarts: list[float] = []
            while not stopping and failed is None:
                for name, process in children.items():
                    if process.poll() is None:
                        continue
                    if name == "worker" and self._may_restart(restarts):
                        self.stderr.write(f"The worker exited (status {process.returncode}): "
                                          "restarting it.")
                        children[name] = subprocess.Popen(commands[name], env=env,
                                                          process_group=0,
                                                          preexec_fn=_die_with_parent())
                        break
                    failed = name
                    break
                else:
                    time.sleep(0.5)
        finally:
            self._stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed is not None:
            code = children[failed].returncode
            raise CommandError(f"The {failed} process exited (status {code}); stopped the rest.")
        self.stdout.write("Comptoir stopped.")

    @staticmethod
    def _may_restart(restarts: list[float]) -> bool:
        """A worker that died is restarted, unless it keeps dying (5 times in 5 minutes): then
        ``serve`` stops with an error, for a supervisor or a person to see."""
        now = time.monotonic()
        restarts[:] = [t for t in restarts if now - t < 300]
        if len(restarts) >= 5:
            return False
        restarts.append(now)
        time.sleep(1.0)
        return True

    def _stop(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        for process in children.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, process in children.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"The {name} process did not stop in time: killing it.")
                process.kill()
                process.wait()
