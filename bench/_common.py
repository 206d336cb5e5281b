"""Shared helpers for the benchmark scripts: a real server, HTTP timing, percentiles."""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def env_for(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["COMPTOIR_DATA_DIR"] = str(data_dir)
    env["DJANGO_SETTINGS_MODULE"] = "comptoir.config.settings"
    env.pop("DATABASE_URL", None) if env.get("BENCH_KEEP_DATABASE_URL") != "1" else None
    return env


def setup_django(data_dir: Path) -> None:
    os.environ.update(env_for(data_dir))
    import django

    django.setup()


def comptoir(data_dir: Path, *args: str) -> None:
    subprocess.run([PY, "-m", "comptoir", *args], env=env_for(data_dir), check=True)


@dataclass
class Measured:
    """A finished child process: its exit code, output, wall time and own peak memory."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float


# Reports the peak RSS of the command it runs, as GNU time does, for a system without it.
_WRAPPER = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
            "kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
            "open(sys.argv[1], 'w').write(f'Maximum resident set size (kbytes): {kb}'); "
            "sys.exit(code)")
_MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


@functools.cache
def _gnu_time() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rusage"
        try:
            subprocess.run(["/usr/bin/time", "-v", "-o", str(report), "true"], check=True,
                           capture_output=True)
            return bool(_MAX_RSS.search(report.read_text()))
        except (OSError, subprocess.CalledProcessError):
            return False


def run_measured(args: list[str], env: dict[str, str]) -> Measured:
    """Run ``args`` to its end: wall time and the peak RSS of that process alone.

    On Linux a child's ``ru_maxrss`` starts from its parent's RSS at the fork (the high-water
    mark survives ``exec``), and a benchmark may hold a whole generated base: the command is
    started by a small process instead, ``/usr/bin/time -v`` (else a Python one-liner reading
    ``RUSAGE_CHILDREN``), whose own fork inherits next to nothing.
    """
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rusage"
        prefix = (["/usr/bin/time", "-v", "-o", str(report)] if _gnu_time()
                  else [PY, "-c", _WRAPPER, str(report)])
        start = time.perf_counter()
        proc = subprocess.run([*prefix, *args], env=env, capture_output=True)
        seconds = time.perf_counter() - start
        found = _MAX_RSS.search(report.read_text()) if report.exists() else None
    return Measured(proc.returncode, proc.stdout.decode(errors="replace"),
                    proc.stderr.decode(errors="replace"), seconds,
                    int(found.group(1)) / 1024 if found else 0.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(data_dir: Path, workers: int = 2) -> Iterator[int]:
    """gunicorn serving Comptoir on 127.0.0.1, stopped on exit."""
    port = free_port()
    proc = subprocess.Popen(
        [PY, "-m", "gunicorn", "comptoir.config.wsgi:application", "-b", f"127.0.0.1:{port}",
         "-w", str(workers), "--timeout", "300", "--log-level", "warning"],
        env=env_for(data_dir), cwd=str(ROOT),
    )
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


class Http:
    """A keep-alive client; returns (status, seconds, body)."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                        "Accept-Language": "en"}

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, float, Any]:
        data = json.dumps(body) if body is not None else None
        start = time.perf_counter()
        self.conn.request(method, path, body=data, headers=self.headers)
        response = self.conn.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - start
        return response.status, elapsed, json.loads(raw) if raw else None


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p95_ms": round(p95 * 1000, 2), "n": len(ordered)}


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
