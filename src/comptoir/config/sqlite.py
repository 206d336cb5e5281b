"""Which SQLite library the process uses, chosen before Django's SQLite backend is imported.

Python 3.11's ``sqlite3`` links the system's SQLite; Debian 12's is 3.40.1, inside the range of
SQLite's documented WAL-reset corruption bug (3.7.0 to 3.51.2, fixed in 3.51.3): with several
processes writing one WAL database, a checkpoint racing a reset may overwrite committed pages.
That is what corrupted the embedded database under concurrent load.

The ``arize-phoenix-sqlean`` wheel bundles a current SQLite behind the same DB-API module as
``sqlite3``. Django imports ``sqlite3`` in several modules, so the swap must be process-wide:
``sys.modules["sqlite3"]`` and ``sqlite3.dbapi2`` point to it before any of them is imported.
One SQLite library per process matters on its own: two copies in one process keep separate
lock tables for the same file, and POSIX locks taken by one are dropped when the other closes
a descriptor.
"""

from __future__ import annotations

import sys
from types import ModuleType

# The first release with the WAL-reset fix (https://sqlite.org/wal.html#walresetbug).
SAFE_VERSION = (3, 51, 3)


def install() -> ModuleType:
    """Make ``import sqlite3`` give the bundled SQLite when it is installed; return the module
    every ``import sqlite3`` now gives."""
    current = sys.modules.get("sqlite3")
    if current is not None and getattr(current, "_comptoir_bundled", False):
        return current
    try:
        import sqlean  # type: ignore[import-not-found]
        from sqlean import dbapi2  # type: ignore[import-not-found]
    except ImportError:
        import sqlite3

        return sqlite3
    if "django.db.backends.sqlite3.base" in sys.modules:
        # Too late to swap: Django already holds the system library. Keep one library.
        import sqlite3

        return sqlite3
    sqlean._comptoir_bundled = True
    sys.modules["sqlite3"] = sqlean
    sys.modules["sqlite3.dbapi2"] = dbapi2
    return sqlean  # type: ignore[no-any-return]


def version_info(module: ModuleType | None = None) -> tuple[int, int, int]:
    mod = module if module is not None else sys.modules.get("sqlite3") or install()
    return tuple(int(part) for part in mod.sqlite_version.split(".")[:3])  # type: ignore[return-value]


def is_safe(module: ModuleType | None = None) -> bool:
    return version_info(module) >= SAFE_VERSION


def unsafe_message(module: ModuleType | None = None) -> str:
    mod = module if module is not None else sys.modules.get("sqlite3") or install()
    return (
        f"SQLite {mod.sqlite_version} has a known corruption bug with several writing processes "
        f"(fixed in {'.'.join(map(str, SAFE_VERSION))}). Install Comptoir's dependencies "
        "(pip install arize-phoenix-sqlean), or use PostgreSQL (DATABASE_URL=postgres://…). "
        "COMPTOIR_ALLOW_UNSAFE_SQLITE=1 starts anyway, at your own risk."
    )
