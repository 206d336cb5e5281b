"""Online backups of the database and the uploaded files, their rotation and their restore.

**One file per backup**: ``comptoir-YYYYMMDDTHHMMSSZ.tar.gz`` (UTC, the moment the database
snapshot was taken; ``-2``, ``-3``… when two are made in the same second), holding
``manifest.json`` (first member: format, engine, creation time, Comptoir version), the database
(``database.sqlite3``, a standalone SQLite file, or ``database.pgdump``, a ``pg_dump -Fc``
archive) and ``media/…``, the uploaded files of ``MEDIA_ROOT``. A single file is copied,
rotated and restored as a whole and can never be separated from its attachments. The archive is
gzipped: a SQLite file shrinks several times; the custom-format PostgreSQL dump is already
compressed and most attachments (PDF, images, Office files) too, so the cost is small.

The database is copied **first**, the files after it: a file uploaded meanwhile is only an extra
file in the backup; a file deleted meanwhile is reported as missing (the manifest lists it).

**SQLite: the online backup API, not ``VACUUM INTO``.** Both read one consistent snapshot
without blocking the writers (WAL). The backup API copies pages — fast, no index rebuilding
(the full-text index is large) — and the same API is what ``restore`` writes the backup back
into the *live* database with, so both directions use one mechanism; ``VACUUM INTO`` rebuilds
every table and index (more CPU and time on a big base) and is documented as not syncing its
output. The copy is made in one step (``pages=-1``: one read transaction, hence one snapshot,
never restarted by concurrent writes), through a separate connection opened with the very
``sqlite3`` module Django uses (``connection.Database``), then switched to a rollback journal
(a single self-contained file) and checked with ``PRAGMA integrity_check``. The live database
file is only ever opened by SQLite itself, never with ``open()``: closing any other descriptor
on it would drop the process's POSIX locks on it.

**PostgreSQL**: ``pg_dump -Fc`` (one consistent snapshot as well) with the connection settings
in the environment (``PGPASSWORD``…), never on the command line; ``pg_restore --clean
--if-exists --no-owner --no-privileges --single-transaction``: all or nothing, into a database
whose owner and roles may differ from the source's.

Nothing half-written is ever left under a backup's name: the archive is written in a private
staging folder (``.tmp-…``) of the backup folder, synced, then renamed. Backups and restores
take an exclusive ``flock`` on ``.backup.lock`` in the backup folder (released by the kernel if
the process dies; never a lock on the database file): two are never made at once on one machine.
The folder is created ``0700`` and the archives ``0600``.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from .files import private_dir

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
POSTGRES_MEMBER = "database.pgdump"
MEDIA_PREFIX = "media"
LOCK_NAME = ".backup.lock"
STAGING_PREFIX = ".tmp-"
BACKUP_RE = re.compile(r"^comptoir-(\d{8}T\d{6}Z)(?:-(\d+))?\.tar\.gz$")
_STAMP = "%Y%m%dT%H%M%SZ"
# After a failed scheduled backup, wait this long before the next attempt (not every 20 s).
RETRY_AFTER_FAILURE = timedelta(minutes=15)
PG_LOCK_WAIT_TIMEOUT = "300s"
PG_SEARCH_DIR = Path("/usr/lib/postgresql")  # Debian/Ubuntu: one bin folder per version
# Rows written by the migrations themselves: a freshly migrated database is still "empty".
_BOOKKEEPING_MODELS = {"feeds.feedcursor", "search.searchcursor"}
_PG_OPTION_ENV = {
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY", "sslpassword": "PGSSLPASSWORD", "passfile": "PGPASSFILE",
    "service": "PGSERVICE", "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS", "application_name": "PGAPPNAME",
}


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why, for an operator."""


class BackupBusy(BackupError):
    """Another backup or restore holds the backup folder's lock."""


class RestoreRefused(BackupError):
    """The target database holds data and the operator did not confirm."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    engine: str
    database_size: int
    media_files: int
    media_included: bool
    media_missing: list[str] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    engine: str
    created: str
    media_files: int
    media_restored: bool


# --- The backup folder ------------------------------------------------------------------------

def backup_dir() -> Path:
    return Path(settings.COMPTOIR_BACKUP_DIR)


def _ensure_dir(directory: Path) -> None:
    if directory.is_dir():
        return
    try:
        private_dir(directory)
    except OSError as exc:
        raise BackupError(f"Cannot create the backup folder {directory}: {exc}") from exc


@dataclass(frozen=True, order=True)
class _Entry:
    created: datetime
    seq: int
    path: Path = field(compare=False)


def _entries(directory: Path) -> list[_Entry]:
    """Our backups in ``directory``, oldest first; only names we write (no stat, one listing)."""
    found: list[_Entry] = []
    try:
        scan = os.scandir(directory)
    except FileNotFoundError:
        return found
    with scan:
        for entry in scan:
            match = BACKUP_RE.match(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            created = datetime.strptime(match[1], _STAMP).replace(tzinfo=UTC)
            found.append(_Entry(created, int(match[2] or 1), Path(entry.path)))
    found.sort()
    return found


def list_backups(directory: Path | str | None = None) -> list[Path]:
    """The backups of ``directory`` (default ``COMPTOIR_BACKUP_DIR``), oldest first."""
    return [e.path for e in _entries(Path(directory) if directory else backup_dir())]


def last_backup(directory: Path | str | None = None) -> dict[str, Any] | None:
    """The newest backup, for ``comptoir doctor`` and monitoring: ``path`` (str), ``size``
    (bytes), ``created`` (aware UTC datetime of the snapshot, from the name) and ``age``
    (seconds since then, float); ``None`` when there is none."""
    entries = _entries(Path(directory) if directory else backup_dir())
    if not entries:
        return None
    newest = entries[-1]
    try:
        size = newest.path.stat().st_size
    except FileNotFoundError:  # rotated away by another process meanwhile
        return last_backup(directory)
    return {"path": str(newest.path), "size": size, "created": newest.created,
            "age": (datetime.now(UTC) - newest.created).total_seconds()}


def rotate(directory: Path | str, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest backups of ``directory`` (only files named like
    ours); return the deleted paths."""
    if keep < 1:
        raise BackupError("The number of backups to keep must be at least 1.")
    removed: list[Path] = []
    for entry in _entries(Path(directory))[:-keep]:
        with contextlib.suppress(FileNotFoundError):
            entry.path.unlink()
            removed.append(entry.path)
    return removed


@contextlib.contextmanager
def backup_lock(directory: Path | str) -> Iterator[None]:
    """Hold the backup folder's exclusive lock, or raise ``BackupBusy`` at once.

    A ``flock`` on ``.backup.lock`` (never on the database file): it works across processes
    (and threads: each call opens its own file description) and the kernel releases it when the
    holder dies, so a crash never leaves a stale lock behind.
    """
    directory = Path(directory)
    _ensure_dir(directory)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupBusy(f"Another backup or restore is running (lock {directory / LOCK_NAME})."
                             " Try again when it is done.") from exc
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _clean_staging(directory: Path) -> None:
    """Remove the staging folders of interrupted runs (called with the lock held)."""
    for path in directory.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _free_name(directory: Path, created: datetime) -> Path:
    stamp = created.strftime(_STAMP)
    path = directory / f"comptoir-{stamp}.tar.gz"
    number = 1
    while path.exists():
        number += 1
        path = directory / f"comptoir-{stamp}-{number}.tar.gz"
    return path


# --- Backends ---------------------------------------------------------------------------------

def _connection(using: str) -> BaseDatabaseWrapper:
    return connections[using]


def _engine(connection: BaseDatabaseWrapper) -> str:
    if connection.vendor in {"sqlite", "postgresql"}:
        return connection.vendor
    raise BackupError(f"Backups support SQLite and PostgreSQL, not {connection.vendor}.")


def _sqlite_module(connection: BaseDatabaseWrapper) -> Any:
    """The DB-API module Django's SQLite backend uses (``sqlite3`` or a bundled replacement):
    connections given to ``Connection.backup`` must come from the same module."""
    return cast(Any, connection).Database


def _sqlite_check(conn: Any, what: str) -> None:
    rows = conn.execute("PRAGMA integrity_check").fetchall()
    if [tuple(row) for row in rows] != [("ok",)]:
        detail = "; ".join(str(row[0]) for row in rows[:5])
        raise BackupError(f"Integrity check of {what} failed: {detail}")


def _sqlite_snapshot(connection: BaseDatabaseWrapper, target: Path) -> None:
    """Copy the live database into ``target`` through the online backup API."""
    database = _sqlite_module(connection)
    name = str(connection.settings_dict["NAME"])
    # A stat, never an open(): a missing file must not be created empty by connect().
    if not cast(Any, connection).is_in_memory_db() and not os.path.exists(name):
        raise BackupError(f"The SQLite database {name} does not exist (run `comptoir migrate`).")
    timeout = float(connection.settings_dict.get("OPTIONS", {}).get("timeout", 20))
    # Created 0600 before SQLite opens it (SQLite would create it 0644).
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        source = database.connect(name, uri=True, timeout=timeout, check_same_thread=False,
                                  isolation_level=None)
        try:
            destination = database.connect(str(target), isolation_level=None)
            try:
                source.backup(destination)  # pages=-1: one step, one consistent snapshot
                # The copy says "WAL" like its source; make it one self-contained file.
                destination.execute("PRAGMA journal_mode=DELETE")
                _sqlite_check(destination, "the copy")
            finally:
                destination.close()
        finally:
            source.close()
    except database.Error as exc:
        raise BackupError(f"SQLite backup of {name} failed: {exc}") from exc


def _sqlite_restore(connection: BaseDatabaseWrapper, copy: Path) -> None:
    """Write ``copy`` into the live database through the backup API, on the live connection:
    no file is swapped under the connections other processes hold open."""
    database = _sqlite_module(connection)
    if connection.in_atomic_block:
        raise BackupError("Cannot restore inside a transaction.")
    connection.ensure_connection()
    live = cast(Any, connection).connection
    try:
        source = database.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True)
        try:
            _sqlite_check(source, "the backup's database")
            source.backup(live)
        finally:
            source.close()
        _sqlite_check(live, "the restored database")
    except database.Error as exc:
        raise BackupError(f"SQLite restore failed: {exc} (the page size of the backup must "
                          "match the database's when it is in WAL mode)") from exc
    finally:
        connection.close()


def find_pg_tool(name: str) -> str:
    """``pg_dump``/``pg_restore`` from ``PATH``, else the newest ``/usr/lib/postgresql/*/bin``."""
    found = shutil.which(name)
    if found:
        return found

    def version(path: Path) -> tuple[int, ...]:
        parts = path.parent.parent.name.split(".")
        return tuple(int(p) for p in parts if p.isdigit())

    candidates = sorted(PG_SEARCH_DIR.glob(f"*/bin/{name}"), key=version)
    if candidates:
        return str(candidates[-1])
    raise BackupError(f"{name} was not found on PATH nor in /usr/lib/postgresql/*/bin: install "
                      "the PostgreSQL client tools of the server's version (Debian/Ubuntu: "
                      "apt install postgresql-client) or add their folder to PATH.")


def _pg_env(settings_dict: dict[str, Any]) -> dict[str, str]:
    """libpq's environment for the connection settings: the password never goes on a command
    line (other users can read those)."""
    env = dict(os.environ)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"),
                     ("PASSWORD", "PGPASSWORD"), ("NAME", "PGDATABASE")):
        if settings_dict.get(key):
            env[var] = str(settings_dict[key])
    for option, var in _PG_OPTION_ENV.items():
        value = (settings_dict.get("OPTIONS") or {}).get(option)
        if value not in (None, ""):
            env[var] = str(value)
    return env


def _run_pg(args: list[str], settings_dict: dict[str, Any], what: str) -> None:
    done = subprocess.run(args, env=_pg_env(settings_dict), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-10:])
        raise BackupError(f"{what} failed (exit {done.returncode}): {detail}")


def _pg_dump(connection: BaseDatabaseWrapper, target: Path) -> None:
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    _run_pg([find_pg_tool("pg_dump"), "--format=custom", "--no-password",
             f"--lock-wait-timeout={PG_LOCK_WAIT_TIMEOUT}", f"--file={target}"],
            connection.settings_dict, "pg_dump")


def _conninfo_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pg_restore(connection: BaseDatabaseWrapper, dump: Path) -> None:
    name = str(connection.settings_dict.get("NAME") or "")
    if not name:
        raise BackupError("settings.DATABASES has no database NAME to restore into.")
    connection.close()  # hold nothing that pg_restore's DROPs would wait for
    _run_pg([find_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
             "--no-privileges", "--single-transaction", "--no-password",
             f"--dbname=dbname={_conninfo_quote(name)}", str(dump)],
            connection.settings_dict, "pg_restore")


# --- Media ------------------------------------------------------------------------------------

def _media_root() -> Path | None:
    """The folder of the uploaded files, when they are stored on the file system."""
    from django.core.files.storage import FileSystemStorage, storages

    if not isinstance(storages["default"], FileSystemStorage) or not settings.MEDIA_ROOT:
        return None
    return Path(settings.MEDIA_ROOT)


def _add_media(tar: tarfile.TarFile, root: Path, skip: Path) -> tuple[int, list[str]]:
    """Add the regular files under ``root`` as ``media/…``; return (count, missing)."""
    count = 0
    missing: list[str] = []
    if not root.is_dir():
        return count, missing
    skip = skip.resolve()
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if (here / d).resolve() != skip)
        for name in sorted(files):
            path = here / name
            arcname = f"{MEDIA_PREFIX}/{path.relative_to(root).as_posix()}"
            try:
                if not path.is_file() or path.is_symlink():
                    continue
                tar.add(path, arcname=arcname, recursive=False)
            except FileNotFoundError:
                missing.append(arcname)  # deleted since it was listed
                continue
            count += 1
    return count, missing


def _replace_tree(new: Path, target: Path) -> None:
    """Put ``new`` in place of ``target``: two renames; when ``target`` cannot be renamed (a
    mount point…), its content is replaced instead."""
    old = target.parent / f".media-old-{uuid.uuid4().hex[:12]}"
    moved = False
    # Extracted folders get the umask's mode: give them (and the files) the site's modes.
    folder_mode = getattr(settings, "FILE_UPLOAD_DIRECTORY_PERMISSIONS", None)
    file_mode = getattr(settings, "FILE_UPLOAD_PERMISSIONS", None)
    for folder, _dirs, files in os.walk(new):
        if folder_mode is not None:
            os.chmod(folder, folder_mode)
        if file_mode is not None:
            for name in files:
                os.chmod(os.path.join(folder, name), file_mode)
    with contextlib.suppress(FileNotFoundError):
        os.chmod(new, stat.S_IMODE(target.stat().st_mode))
    try:
        if target.exists():
            os.rename(target, old)
            moved = True
        os.rename(new, target)
    except OSError:
        if moved and not target.exists():
            os.rename(old, target)
            moved = False
        target.mkdir(parents=True, exist_ok=True)
        for entry in target.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for entry in new.iterdir():
            shutil.move(str(entry), str(target / entry.name))
    if moved:
        shutil.rmtree(old, ignore_errors=True)


# --- Backup -----------------------------------------------------------------------------------

def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("comptoir")
    except PackageNotFoundError:
        return "unknown"


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(mtime), 0o600
    tar.addfile(info, io.BytesIO(data))


def make_backup(directory: Path | str | None = None, *, keep: int | None = None,
                using: str = "default") -> BackupResult:
    """Back up the database and the uploaded files into ``directory`` (default
    ``COMPTOIR_BACKUP_DIR``), then keep its ``keep`` newest backups (default
    ``COMPTOIR_BACKUP_KEEP``). Raises ``BackupBusy`` when another one runs, ``BackupError`` on
    failure — with nothing left behind."""
    directory = Path(directory) if directory else backup_dir()
    keep = settings.COMPTOIR_BACKUP_KEEP if keep is None else keep
    if keep < 1:
        raise BackupError("The number of backups to keep must be at least 1.")
    with backup_lock(directory):
        return _make_backup_locked(directory, keep, using)


def _make_backup_locked(directory: Path, keep: int, using: str) -> BackupResult:
    _clean_staging(directory)
    connection = _connection(using)
    engine = _engine(connection)
    created = datetime.now(UTC).replace(microsecond=0)
    final = _free_name(directory, created)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=directory))  # 0700
    try:
        if engine == "sqlite":
            member = SQLITE_MEMBER
            _sqlite_snapshot(connection, staging / member)
        else:
            member = POSTGRES_MEMBER
            _pg_dump(connection, staging / member)
        database_size = (staging / member).stat().st_size
        media = _media_root()
        manifest = {"format": FORMAT, "app": "comptoir", "version": _version(),
                    "created": created.isoformat(), "engine": engine, "database": member,
                    "media": media is not None}
        part = staging / f"{final.name}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6,
                              format=tarfile.PAX_FORMAT) as tar:
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode(),
                           created.timestamp())
                tar.add(staging / member, arcname=member, recursive=False)
                media_files, missing = (_add_media(tar, media, directory) if media is not None
                                        else (0, []))
            raw.flush()
            os.fsync(raw.fileno())
        os.rename(part, final)
        _fsync_dir(directory)
    except OSError as exc:
        raise BackupError(f"Backup failed: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if missing:
        log.warning("backup %s: %d file(s) deleted while it was made: %s", final.name,
                    len(missing), ", ".join(missing[:10]))
    removed = rotate(directory, keep)
    return BackupResult(path=final, size=final.stat().st_size, engine=engine,
                        database_size=database_size, media_files=media_files,
                        media_included=media is not None, media_missing=missing,
                        removed=removed)


_last_failure: float | None = None  # time.monotonic() of the last failed scheduled backup


def _is_due(directory: Path, interval: timedelta) -> bool:
    entries = _entries(directory)
    return not entries or datetime.now(UTC) - entries[-1].created >= interval


def backup_due() -> str | None:
    """The worker's periodic job (``COMPTOIR_PERIODIC_JOBS``, every ~20 s): make a backup when
    the newest is older than ``COMPTOIR_BACKUP_INTERVAL_HOURS`` (0 disables).

    Cheap when not due: one listing of the backup folder, no database access. Never two at once
    (the folder's lock; whoever does not get it skips); after a failure, waits
    ``RETRY_AFTER_FAILURE`` before trying again (the worker logs the error).
    """
    global _last_failure
    hours = settings.COMPTOIR_BACKUP_INTERVAL_HOURS
    if not hours or hours <= 0:
        return None
    if (_last_failure is not None
            and time.monotonic() - _last_failure < RETRY_AFTER_FAILURE.total_seconds()):
        return None
    directory = backup_dir()
    interval = timedelta(hours=hours)
    if not _is_due(directory, interval):
        return None
    try:
        with backup_lock(directory):
            if not _is_due(directory, interval):  # made by another process meanwhile
                return None
            result = _make_backup_locked(directory, settings.COMPTOIR_BACKUP_KEEP, "default")
    except BackupBusy:
        return None
    except Exception:
        _last_failure = time.monotonic()
        raise
    _last_failure = None
    return f"backup {result.path} ({human_size(result.size)})"


# --- Restore ----------------------------------------------------------------------------------

def database_has_data(using: str = "default") -> bool:
    """Whether the database holds anything a restore would destroy: a user or any row of
    Comptoir's tables (the rows the migrations write themselves excepted)."""
    from django.apps import apps
    from django.contrib.auth import get_user_model

    connection = _connection(using)
    tables = set(connection.introspection.table_names())
    user_model = get_user_model()
    for model in apps.get_models():
        meta = model._meta
        if not (meta.app_config.name.startswith("comptoir.") or model is user_model):
            continue
        if meta.label_lower in _BOOKKEEPING_MODELS or not meta.managed or meta.proxy:
            continue
        if meta.db_table in tables and model._base_manager.using(using).exists():
            return True
    return False


def read_manifest(tar: tarfile.TarFile, path: Path) -> dict[str, Any]:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise BackupError(f"{path} is not a Comptoir backup (no manifest).")
    handle = tar.extractfile(first)
    try:
        manifest = json.loads(handle.read()) if handle else None
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("app") != "comptoir":
        raise BackupError(f"{path} is not a Comptoir backup (unreadable manifest).")
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path} has backup format {manifest.get('format')!r}; this version "
                          f"of Comptoir reads format {FORMAT}.")
    return manifest


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, folder: Path) -> None:
    if not (member.isfile() or member.isdir()):
        raise BackupError(f"Unexpected entry {member.name!r} in the backup.")
    tar.extract(member, folder, filter="data")  # no absolute paths, no "..", no links out


def restore_backup(path: Path | str, *, force: bool = False,
                   using: str = "default") -> RestoreResult:
    """Replace the database and the uploaded files with the backup's.

    Refuses (``RestoreRefused``) when the database holds data, unless ``force``. Everything is
    extracted and checked before the live database is touched; the database comes back first,
    then the files.
    """
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"No backup file {path}.")
    connection = _connection(using)
    engine = _engine(connection)
    directory = backup_dir()
    with backup_lock(directory):
        _clean_staging(directory)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=directory))
        media_staging: Path | None = None
        try:
            media_root = _media_root()
            try:
                tar = tarfile.open(path, "r:gz")  # noqa: SIM115 (closed by "with tar" below)
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise BackupError(f"{path} is not a Comptoir backup (not a .tar.gz archive: "
                                  f"{exc}).") from exc
            try:
                with tar:
                    manifest = read_manifest(tar, path)
                    _check_target(manifest, path, engine, force, using)
                    restore_media = bool(manifest.get("media")) and media_root is not None
                    if restore_media and media_root is not None:
                        media_staging = _media_staging(media_root, directory)
                    media_files = _extract_all(tar, path, str(manifest.get("database")),
                                               staging, media_staging)
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise BackupError(f"Cannot read {path}: {exc}") from exc
            if engine == "sqlite":
                _sqlite_restore(connection, staging / SQLITE_MEMBER)
            else:
                _pg_restore(connection, staging / POSTGRES_MEMBER)
            if media_staging is not None and media_root is not None:
                try:
                    new_tree = media_staging / MEDIA_PREFIX
                    new_tree.mkdir(exist_ok=True)
                    _replace_tree(new_tree, media_root)
                except OSError as exc:
                    raise BackupError(f"The database was restored, but the uploaded files in "
                                      f"{media_root} could not be replaced: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if media_staging is not None:
                shutil.rmtree(media_staging, ignore_errors=True)
    return RestoreResult(path=path, engine=engine, created=str(manifest.get("created")),
                         media_files=media_files, media_restored=restore_media)


def _check_target(manifest: dict[str, Any], path: Path, engine: str, force: bool,
                  using: str) -> None:
    if manifest.get("engine") != engine:
        raise BackupError(f"{path} is a {manifest.get('engine')} backup and this site runs on "
                          f"{engine}: restore it into a site on {manifest.get('engine')}.")
    if not force and database_has_data(using):
        name = _connection(using).settings_dict.get("NAME")
        raise RestoreRefused(
            f"The database {name} is not empty: restoring replaces all its data with the "
            f"backup's (taken {manifest.get('created')}), and the uploaded files too. "
            "Run again with --yes to confirm.")


def _extract_all(tar: tarfile.TarFile, path: Path, database: str, staging: Path,
                 media_staging: Path | None) -> int:
    """Extract the database into ``staging`` and the files into ``media_staging`` (when
    given); return the number of files."""
    media_files, found_database = 0, False
    for member in tar:
        if member.name == MANIFEST:
            continue
        if member.name == database and member.isfile():
            _extract(tar, member, staging)
            found_database = True
        elif member.name.startswith(f"{MEDIA_PREFIX}/"):
            if media_staging is not None:
                _extract(tar, member, media_staging)
                media_files += member.isfile()
        else:
            raise BackupError(f"Unexpected entry {member.name!r} in {path}.")
    if not found_database:
        raise BackupError(f"{path} holds no database.")
    return media_files


def _media_staging(media_root: Path, fallback: Path) -> Path:
    """A private folder on the media folder's file system (so the swap is a rename)."""
    media_root.parent.mkdir(parents=True, exist_ok=True)
    try:
        return Path(tempfile.mkdtemp(prefix=".media-restore-", dir=media_root.parent))
    except OSError:
        return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=fallback))


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover
