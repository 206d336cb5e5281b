"""A throwaway Radicale CalDAV server for tests (the ``radicale`` package, in the project's
dependencies). See the runbook, "Radicale (CalDAV / CardDAV)".

:class:`Radicale` writes a config and a plain ``htpasswd`` file into a temp directory, starts
``python -m radicale`` on 127.0.0.1 on a free port, waits until it answers HTTP (a generous
bound, never a tight clock) and stops it with SIGTERM.

Without the package, :func:`require_radicale` skips the test with the reason; under
``COMPTOIR_REQUIRE_SERVICES=1`` (CI) the project's pytest plugin turns that skip into a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 60.0  # seconds: a loaded CI machine may be slow; the usual start is ~0.5 s
STOP_TIMEOUT = 30.0

_CONFIG = """\
[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {d}/users
htpasswd_encryption = plain

[rights]
type = owner_only

[storage]
filesystem_folder = {d}/collections

[logging]
level = warning
"""


def radicale_available() -> bool:
    return importlib.util.find_spec("radicale") is not None


def require_radicale() -> None:
    """Skip the calling test when Radicale is not installed (a failure in CI, see above)."""
    if not radicale_available():
        import pytest

        pytest.skip("Radicale is not installed: pip install radicale")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Radicale:
    """One running server; ``users`` maps user name to password."""

    users: dict[str, str]
    host: str = "127.0.0.1"
    port: int = 0
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="radicale-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> Radicale:
        d = self.directory
        (d / "collections").mkdir(exist_ok=True)
        self.port = self.port or free_port()
        self._write_users()
        (d / "config").write_text(_CONFIG.format(d=d, port=self.port))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(d / "config")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None:
                out = self.process.stdout.read().decode(errors="replace") \
                    if self.process.stdout else ""
                raise RuntimeError(f"radicale exited ({self.process.returncode}): {out}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"radicale did not answer within {START_TIMEOUT:.0f} s")
            time.sleep(0.05)
        return self

    def _write_users(self) -> None:
        lines = [f"{name}:{password}" for name, password in self.users.items()]
        (self.directory / "users").write_text("\n".join(lines) + "\n")

    def add_user(self, name: str, password: str) -> None:
        """Add or change a user (Radicale reads the file again when it changes)."""
        self.users[name] = password
        self._write_users()

    def _answers(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=2) as s:
                s.sendall(b"OPTIONS / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                return s.recv(16).startswith(b"HTTP/")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)

    # --- Client side -------------------------------------------------------------------

    def client(self, user: str):  # type: ignore[no-untyped-def]
        """A :class:`caldav.DAVClient` signed in as ``user``."""
        from caldav.davclient import DAVClient

        return DAVClient(self.url, username=user, password=self.users[user])

    def make_calendar(self, user: str, name: str = "work"):  # type: ignore[no-untyped-def]
        """Create ``user``'s calendar ``name`` (id = name); returns the caldav Calendar."""
        return self.client(user).principal().make_calendar(name=name, cal_id=name)

    def calendar_url(self, user: str, name: str = "work") -> str:
        return f"{self.url}{user}/{name}/"


@contextlib.contextmanager
def running_radicale(users: dict[str, str]) -> Iterator[Radicale]:
    server = Radicale(users=dict(users)).start()
    try:
        yield server
    finally:
        server.stop()
