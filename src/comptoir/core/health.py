"""What ``comptoir doctor`` and the administrator's home report about the installation.

Each check says what it found and whether it is safe, with what to do when not. Nothing here
opens the database file outside SQLite (a closed descriptor would drop SQLite's POSIX locks for
the whole process): sizes come from SQLite's own pragmas, free space from the folder.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils.translation import gettext as _

Level = Literal["ok", "warning", "error"]

SAFE_SQLITE = (3, 51, 3)
# Beyond these, PostgreSQL serves better than one SQLite file (see the README).
SQLITE_ADVISE_PG_BYTES = 20 * 1024**3
MIN_FREE_BYTES = 2 * 1024**3
BACKUP_MAX_AGE_HOURS = 48


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    value: str
    advice: str = ""


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def _pragma(cursor: Any, name: str) -> Any:
    cursor.execute(f"PRAGMA {name}")
    row = cursor.fetchone()
    return None if row is None else row[0]


def sqlite_checks(*, full: bool = False) -> list[Check]:
    out: list[Check] = []
    module = sys.modules.get("sqlite3")
    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()")
        version = str(cursor.fetchone()[0])
        parts = tuple(int(p) for p in version.split(".")[:3])
        bundled = bool(getattr(module, "_comptoir_bundled", False))
        where = _("bundled") if bundled else _("system library")
        if parts >= SAFE_SQLITE:
            out.append(Check(_("SQLite version"), "ok", f"{version} ({where})"))
        else:
            out.append(Check(_("SQLite version"), "error", f"{version} ({where})",
                             _("This version has a known corruption bug with several writing "
                               "processes (fixed in 3.51.3): install Comptoir's dependencies "
                               "(arize-phoenix-sqlean) or move to PostgreSQL.")))
        mode = str(_pragma(cursor, "journal_mode")).lower()
        out.append(Check(_("Journal mode"), "ok" if mode == "wal" else "warning", mode,
                         "" if mode == "wal" else
                         _("WAL lets the web server read while the worker writes.")))
        mmap = int(_pragma(cursor, "mmap_size") or 0)
        out.append(Check(_("Memory-mapped I/O"), "ok" if mmap == 0 else "warning",
                         _human(mmap) if mmap else _("off"),
                         "" if mmap == 0 else
                         _("SQLite advises against mmap when several processes write.")))
        size = int(_pragma(cursor, "page_count")) * int(_pragma(cursor, "page_size"))
        big = size > SQLITE_ADVISE_PG_BYTES
        out.append(Check(_("Database size"), "warning" if big else "ok", _human(size),
                         _("Past about 20 GB, or beyond a few dozen people writing at once, "
                           "move to PostgreSQL.") if big else ""))
        check = "integrity_check" if full else "quick_check"
        cursor.execute(f"PRAGMA {check}")
        rows = [str(r[0]) for r in cursor.fetchall()]
        ok = rows == ["ok"]
        label = _("Integrity check") if full else _("Integrity check (quick)")
        out.append(Check(label, "ok" if ok else "error", "ok" if ok else "; ".join(rows[:5]),
                         "" if ok else
                         _("Stop Comptoir, restore the last backup (comptoir restore), and "
                           "report the problem.")))
    return out


def postgresql_checks() -> list[Check]:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = str(cursor.fetchone()[0])
        cursor.execute("SELECT pg_database_size(current_database())")
        size = int(cursor.fetchone()[0])
    return [Check(_("PostgreSQL version"), "ok", version),
            Check(_("Database size"), "ok", _human(size))]


def disk_check() -> Check:
    folder = Path(settings.DATA_DIR)
    usage = shutil.disk_usage(folder if folder.exists() else Path.cwd())
    low = usage.free < MIN_FREE_BYTES or usage.free < usage.total * 0.05
    return Check(_("Free disk space"), "warning" if low else "ok",
                 _("%(free)s free of %(total)s") % {"free": _human(usage.free),
                                                    "total": _human(usage.total)},
                 _("Free some space: the database, its journal and backups need room to grow.")
                 if low else "")


def backup_check() -> Check | None:
    try:
        from .backup import last_backup
    except ImportError:
        return None
    found = last_backup()
    if not found:
        return Check(_("Last backup"), "warning", _("none"),
                     _("Run comptoir backup, or keep comptoir serve / worker running: it makes "
                       "one every day."))
    hours = float(found.get("age") or 0) / 3600  # seconds since the snapshot
    old = hours > BACKUP_MAX_AGE_HOURS
    return Check(_("Last backup"), "warning" if old else "ok",
                 _("%(path)s, %(hours).0f h ago") % {"path": Path(str(found["path"])).name,
                                                    "hours": hours},
                 _("The last backup is more than two days old.") if old else "")


EXTRA_CHECKS: list[Callable[[], list[Check]]] = []


def run_checks(*, full: bool = False) -> list[Check]:
    """Every check, database first. Upper layers may add theirs to ``EXTRA_CHECKS``."""
    try:
        checks = (sqlite_checks(full=full) if connection.vendor == "sqlite"
                  else postgresql_checks())
    except DatabaseError as exc:
        checks = [Check(_("Database"), "error", str(exc),
                        _("The database cannot be read. Stop Comptoir, restore the last backup "
                          "(comptoir restore), and report the problem."))]
    checks.append(disk_check())
    backup = backup_check()
    if backup is not None:
        checks.append(backup)
    for extra in EXTRA_CHECKS:
        checks.extend(extra())
    return checks
