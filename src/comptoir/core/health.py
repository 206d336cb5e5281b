"""What ``comptoir doctor`` and the administrator's home report about the installation.

Each check says what it found and whether it is safe, with what to do when not. Nothing here
opens the database file outside SQLite (a closed descriptor would drop SQLite's POSIX locks for
the whole process): sizes come from SQLite's own pragmas, free space from the folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import tempfile
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
    key: str  # stable, for scripts (the name is translated)
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


INTEGRITY_EVERY = dt.timedelta(hours=24)


def _integrity_file() -> Path:
    return Path(settings.DATA_DIR) / "integrity.json"


def record_integrity(ok: bool, detail: str, *, full: bool) -> None:
    """Keep the last integrity check's result for pages that must not read the whole base."""
    path = _integrity_file()
    if not path.parent.is_dir():
        return
    data = {"ok": ok, "detail": detail, "full": full,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".integrity-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def last_integrity() -> dict[str, Any] | None:
    try:
        data = json.loads(_integrity_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def integrity_due() -> str | None:
    """A periodic job (the worker): a quick integrity check of SQLite once a day, recorded for
    the administrator's home. A read transaction: it never blocks writers."""
    if connection.vendor != "sqlite":
        return None
    last = last_integrity()
    if last is not None:
        try:
            at = dt.datetime.fromisoformat(str(last["at"]))
        except (KeyError, ValueError):
            at = None
        if at is not None and dt.datetime.now(dt.UTC) - at < INTEGRITY_EVERY:
            return None
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA quick_check")
        rows = [str(r[0]) for r in cursor.fetchall()]
    record_integrity(rows == ["ok"], "; ".join(rows[:5]), full=False)
    return "integrity " + ("ok" if rows == ["ok"] else "FAILED")


def _recorded_integrity() -> Check:
    last = last_integrity()
    if last is None:
        return Check("integrity", _("Integrity check"), "warning", _("not run yet"),
                     _("Run comptoir doctor, or keep the worker running: it checks every day."))
    ok = bool(last.get("ok"))
    value = _("%(result)s on %(at)s") % {"result": "ok" if ok else last.get("detail", ""),
                                         "at": str(last.get("at", ""))[:16].replace("T", " ")}
    return Check("integrity", _("Integrity check"), "ok" if ok else "error", value,
                 "" if ok else _("Stop Comptoir, restore the last backup (comptoir restore), "
                                 "and report the problem."))


def sqlite_checks(*, full: bool = False, integrity: bool = True) -> list[Check]:
    out: list[Check] = []
    module = sys.modules.get("sqlite3")
    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()")
        version = str(cursor.fetchone()[0])
        parts = tuple(int(p) for p in version.split(".")[:3])
        bundled = bool(getattr(module, "_comptoir_bundled", False))
        where = _("bundled") if bundled else _("system library")
        if parts >= SAFE_SQLITE:
            out.append(Check("sqlite_version", _("SQLite version"), "ok", f"{version} ({where})"))
        else:
            out.append(Check("sqlite_version", _("SQLite version"), "error", f"{version} ({where})",
                             _("This version has a known corruption bug with several writing "
                               "processes (fixed in 3.51.3): install Comptoir's dependencies "
                               "(arize-phoenix-sqlean) or move to PostgreSQL.")))
        mode = str(_pragma(cursor, "journal_mode")).lower()
        out.append(Check("journal_mode", _("Journal mode"),
                         "ok" if mode == "wal" else "warning", mode,
                         "" if mode == "wal" else
                         _("WAL lets the web server read while the worker writes.")))
        mmap = int(_pragma(cursor, "mmap_size") or 0)
        out.append(Check("mmap", _("Memory-mapped I/O"), "ok" if mmap == 0 else "warning",
                         _human(mmap) if mmap else _("off"),
                         "" if mmap == 0 else
                         _("SQLite advises against mmap when several processes write.")))
        size = int(_pragma(cursor, "page_count")) * int(_pragma(cursor, "page_size"))
        big = size > SQLITE_ADVISE_PG_BYTES
        out.append(Check("database_size", _("Database size"), "warning" if big else "ok",
                         _human(size),
                         _("Past about 20 GB, or beyond a few dozen people writing at once, "
                           "move to PostgreSQL.") if big else ""))
        if not integrity:
            out.append(_recorded_integrity())
            return out
        check = "integrity_check" if full else "quick_check"
        cursor.execute(f"PRAGMA {check}")
        rows = [str(r[0]) for r in cursor.fetchall()]
        ok = rows == ["ok"]
        record_integrity(ok, "; ".join(rows[:5]), full=full)
        label = _("Integrity check") if full else _("Integrity check (quick)")
        out.append(Check("integrity", label, "ok" if ok else "error",
                         "ok" if ok else "; ".join(rows[:5]),
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
    return [Check("postgresql_version", _("PostgreSQL version"), "ok", version),
            Check("database_size", _("Database size"), "ok", _human(size))]


def disk_check() -> Check:
    folder = Path(settings.DATA_DIR)
    usage = shutil.disk_usage(folder if folder.exists() else Path.cwd())
    low = usage.free < MIN_FREE_BYTES or usage.free < usage.total * 0.05
    return Check("free_disk", _("Free disk space"), "warning" if low else "ok",
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
        return Check("last_backup", _("Last backup"), "warning", _("none"),
                     _("Run comptoir backup, or keep comptoir serve / worker running: it makes "
                       "one every day."))
    hours = float(found.get("age") or 0) / 3600  # seconds since the snapshot
    old = hours > BACKUP_MAX_AGE_HOURS
    return Check("last_backup", _("Last backup"), "warning" if old else "ok",
                 _("%(path)s, %(hours).0f h ago") % {"path": Path(str(found["path"])).name,
                                                    "hours": hours},
                 _("The last backup is more than two days old.") if old else "")


EXTRA_CHECKS: list[Callable[[], list[Check]]] = []


def run_checks(*, full: bool = False, integrity: bool = True) -> list[Check]:
    """Every check, database first. Upper layers may add theirs to ``EXTRA_CHECKS``.
    ``integrity=False`` (a page) shows the last recorded integrity check instead of running
    one, which reads the whole base."""
    try:
        checks = (sqlite_checks(full=full, integrity=integrity) if connection.vendor == "sqlite"
                  else postgresql_checks())
    except DatabaseError as exc:
        checks = [Check("database", _("Database"), "error", str(exc),
                        _("The database cannot be read. Stop Comptoir, restore the last backup "
                          "(comptoir restore), and report the problem."))]
    checks.append(disk_check())
    backup = backup_check()
    if backup is not None:
        checks.append(backup)
    for extra in EXTRA_CHECKS:
        checks.extend(extra())
    return checks
