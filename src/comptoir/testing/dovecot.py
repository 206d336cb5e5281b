"""A throwaway Dovecot IMAP server for tests (Debian's ``dovecot-imapd``; ``.ci/run`` installs
it). See the runbook, "IMAP for tests — Debian's Dovecot 2.3".

:class:`Dovecot` writes a config, a ``passwd`` file and a home per user into a temp directory,
starts ``dovecot -F`` on 127.0.0.1 on a free port, waits until it answers (a generous bound,
never a tight clock) and stops it with SIGTERM. :meth:`Dovecot.deliver` puts a message into a
user's folder with IMAP ``APPEND``, as a mail server would deliver it.

Without the binary, :func:`require_dovecot` skips the test with the reason; under
``COMPTOIR_REQUIRE_SERVICES=1`` (CI) the project's pytest plugin turns that skip into a failure.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

DOVECOT = os.environ.get("COMPTOIR_DOVECOT", "/usr/sbin/dovecot")
START_TIMEOUT = 60.0  # seconds: a loaded CI machine may be slow; the usual start is ~0.05 s
STOP_TIMEOUT = 30.0

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = dovecot-test-{port}
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
first_valid_uid = {uid}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def dovecot_available() -> bool:
    return os.access(DOVECOT, os.X_OK)


def require_dovecot() -> None:
    """Skip the calling test when Dovecot is not installed (a failure in CI, see above)."""
    if not dovecot_available():
        import pytest

        pytest.skip(f"Dovecot is not installed ({DOVECOT} missing): "
                    "apt-get install dovecot-imapd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mail_ids() -> tuple[int, int]:
    """The uid/gid mail is stored as: the ``dovecot`` user's as root, else our own."""
    if os.geteuid() == 0:
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam("dovecot")
            return entry.pw_uid, entry.pw_gid
    return os.geteuid(), os.getegid()


@dataclass
class Dovecot:
    """One running server; ``users`` maps user name to password."""

    users: dict[str, str]
    host: str = "127.0.0.1"
    port: int = 0
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dovecot-")))
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Dovecot:
        d = self.directory
        d.chmod(0o755)
        uid, gid = _mail_ids()
        for sub in ("run", "state", "home"):
            (d / sub).mkdir(exist_ok=True)
        self.port = self.port or free_port()
        self._write_passwd()
        for name in self.users:
            self._make_home(name, uid, gid)
        (d / "dovecot.conf").write_text(_CONFIG.format(d=d, port=self.port, uid=uid, gid=gid))
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(d / "dovecot.conf")],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None:
                out = self.process.stdout.read().decode(errors="replace") \
                    if self.process.stdout else ""
                raise RuntimeError(f"dovecot exited ({self.process.returncode}): {out}\n"
                                   f"{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not answer within {START_TIMEOUT:.0f} s\n"
                                   f"{self.log()}")
            time.sleep(0.02)
        return self

    def _write_passwd(self) -> None:
        lines = [f"{name}:{{PLAIN}}{password}::::::" for name, password in self.users.items()]
        (self.directory / "passwd").write_text("\n".join(lines) + "\n")

    def _make_home(self, name: str, uid: int, gid: int) -> None:
        home = self.directory / "home" / name
        home.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chown(home, uid, gid)

    def add_user(self, name: str, password: str) -> None:
        """Add or change a user; the passwd-file is read again on each login."""
        self.users[name] = password
        uid, gid = _mail_ids()
        self._make_home(name, uid, gid)
        self._write_passwd()

    def _answers(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=2) as s:
                return s.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def log(self) -> str:
        path = self.directory / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

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

    @contextlib.contextmanager
    def client(self, user: str) -> Iterator[imaplib.IMAP4]:
        imap = imaplib.IMAP4(self.host, self.port, timeout=30)
        try:
            imap.login(user, self.users[user])
            yield imap
        finally:
            with contextlib.suppress(Exception):
                imap.logout()

    def deliver(self, user: str, message: EmailMessage | bytes, folder: str = "INBOX"
                ) -> tuple[int, int]:
        """Append ``message`` to ``user``'s ``folder`` (created when missing); returns
        ``(uidvalidity, uid)`` from the server's ``APPENDUID`` answer."""
        raw = message if isinstance(message, bytes) else message.as_bytes()
        with self.client(user) as imap:
            if folder.upper() != "INBOX":
                imap.create(folder)  # "already exists" is fine
            typ, data = imap.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND refused: {data!r}")
            text = (data[0] or b"").decode()
            # "[APPENDUID 1733570000 1] Append completed."
            parts = text.split("APPENDUID", 1)[1].split("]", 1)[0].split()
            return int(parts[0]), int(parts[1])

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with self.client(user) as imap:
            typ, data = imap.status(folder, "(UIDVALIDITY)")
            text = (data[0] or b"").decode() if typ == "OK" else ""
            return int(text.rsplit("UIDVALIDITY", 1)[1].strip(" )"))

    def reset_folder(self, user: str, folder: str = "INBOX") -> int:
        """Make the server give ``folder`` a new UIDVALIDITY, keeping its messages (as when a
        server's index is rebuilt): the Maildir's uid list and indexes are thrown away.
        Returns the new UIDVALIDITY. Dovecot takes it from the clock (seconds), so this waits
        until the server hands out one different from the old (bounded, generously)."""
        old = self.uidvalidity(user, folder)
        maildir = self.directory / "home" / user / "Maildir"
        if folder.upper() != "INBOX":
            maildir = maildir / f".{folder}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            for path in maildir.glob("dovecot*"):
                if path.is_file():
                    path.unlink()
            new = self.uidvalidity(user, folder)
            if new != old:
                return new
            if time.monotonic() > deadline:
                raise RuntimeError("dovecot kept the same UIDVALIDITY")
            time.sleep(0.2)


@contextlib.contextmanager
def running_dovecot(users: dict[str, str]) -> Iterator[Dovecot]:
    server = Dovecot(users=dict(users)).start()
    try:
        yield server
    finally:
        server.stop()
