"""Private files on disk: the data directory 0700, the secret key and the SQLite database 0600.

Used by the settings (before Django is set up) and by backups, so no Django here.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its missing parents) readable by this account only; an existing
    directory of ours loses any group and other permissions."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    tighten(path)
    return path


def tighten(path: Path) -> None:
    """Remove group and other permissions from ``path`` if it exists and belongs to us."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(stat.S_IMODE(info.st_mode) & ~0o077)


def create_private_file(path: Path, content: str = "") -> bool:
    """Create ``path`` with mode 0600 unless it exists; ``True`` if this call created it.

    Never opens an existing file: for a database that another process may hold, closing any
    descriptor of it would drop that process's POSIX locks. An empty file is a valid empty
    SQLite database, and SQLite gives its ``-wal`` and ``-shm`` files the database's mode.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    return True


def private_sqlite_database(name: str) -> None:
    """Pre-create the SQLite database file 0600 before SQLite first opens it (SQLite would
    create it 0644 under the usual umask); the file must not exist yet and its directory must."""
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    if not path.parent.is_dir():
        return
    if not create_private_file(path):
        # An existing database (made before this rule): its mode is changed, never opened.
        for member in (path, Path(f"{name}-wal"), Path(f"{name}-shm")):
            tighten(member)
