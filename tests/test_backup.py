"""Backups: ``comptoir backup`` and ``comptoir restore`` run as an operator runs them, on a site of
their own (a real SQLite file, or a PostgreSQL database of its own when ``DATABASE_URL`` points
at PostgreSQL: pg_dump/pg_restore then), and the worker's scheduled backup.

A subprocess cannot see the test database (it lives in the test's transaction, in memory on
SQLite), so the round trips run against separate, migrated sites.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from comptoir.core import backup
from comptoir.testing import factories
from comptoir.testing.pytest_plugin import on_postgresql

COMPTOIR = str(Path(sys.executable).with_name("comptoir"))
ON_POSTGRESQL = on_postgresql()


def _require_pg_tools() -> None:
    if ON_POSTGRESQL:
        try:
            backup.find_pg_tool("pg_dump")
            backup.find_pg_tool("pg_restore")
        except backup.BackupError as exc:
            pytest.skip(f"PostgreSQL backups need the client tools: {exc}")


# --- A site of its own --------------------------------------------------------------------------

def _server_url() -> str:
    return os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)


def _pg_admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(_server_url(), autocommit=True) as admin:
        admin.execute(statement)


@dataclass
class Site:
    env: dict[str, str]
    data_dir: Path
    database_url: str | None  # None: SQLite in the data directory

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "comptoir.sqlite3"

    @property
    def media(self) -> Path:
        return self.data_dir / "media"

    @property
    def backups(self) -> Path:
        return self.data_dir / "backups"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([COMPTOIR, *args], env=self.env, capture_output=True, text=True,
                              timeout=600, check=False)
        if check:
            assert done.returncode == 0, f"comptoir {args[0]}: {done.stdout}\n{done.stderr}"
        return done

    def python(self, code: str) -> Any:
        """Run ``code`` in the site (Django set up); it prints one JSON value last."""
        out = self.run("shell", "-v", "0", "-c", textwrap.dedent(code)).stdout
        return json.loads(out.strip().splitlines()[-1])

    def snapshot(self, first: str = "") -> tuple[str, dict[str, str]]:
        """Every row of every model (``dumpdata``) and every uploaded file's digest, after
        running ``first`` (in the same process: each one costs seconds)."""
        rows = self.python(textwrap.dedent(first) + textwrap.dedent("""
            import io, json
            from django.core.management import call_command
            out = io.StringIO()
            call_command("dumpdata", indent=1, stdout=out)
            print(json.dumps(out.getvalue()))
        """))
        files = {path.relative_to(self.media).as_posix():
                 hashlib.sha256(path.read_bytes()).hexdigest()
                 for path in sorted(self.media.rglob("*")) if path.is_file()}
        return rows, files

    def probe_connection(self) -> Any:
        """A plain DB-API connection to the site's database (not Django's)."""
        if self.database_url:
            import psycopg

            return psycopg.connect(self.database_url)
        import sqlite3  # after Django's settings: the same SQLite library as Django's

        return sqlite3.connect(self.sqlite_path, timeout=60, isolation_level=None)

    def count(self, table: str) -> int:
        conn = self.probe_connection()
        try:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        finally:
            conn.close()


@pytest.fixture
def new_site(tmp_path: Path) -> Iterator[Callable[..., Site]]:
    """``new_site(name)``: a migrated site with its own data directory (and, on PostgreSQL, its
    own database, dropped at the end)."""
    _require_pg_tools()
    databases: list[str] = []

    def make(name: str, *, migrate: bool = True) -> Site:
        data_dir = tmp_path / name / "data"
        env = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "COMPTOIR_MEDIA_ROOT", "COMPTOIR_BACKUP_DIR"}}
        env["COMPTOIR_DATA_DIR"] = str(data_dir)
        url = None
        if ON_POSTGRESQL:
            database = f"comptoir_backup_{uuid.uuid4().hex[:12]}"
            _pg_admin(f'CREATE DATABASE "{database}"')
            databases.append(database)
            parts = urllib.parse.urlsplit(_server_url())
            url = urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))
            env["DATABASE_URL"] = url
        site = Site(env=env, data_dir=data_dir, database_url=url)
        if migrate:
            site.run("migrate", "-v", "0")
        return site

    yield make
    for database in databases:
        _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


SEED = """
    import os
    from comptoir.crm.models import Account
    from comptoir.testing import factories
    from comptoir.testing.personas import make_world
    world = make_world()
    factories.attachment(by=world.personas.owner, on=world.mine.account, name="scan.pdf",
                         content=os.urandom(300_000))
    assert Account.objects.count() == 4
"""

CHANGE = """
    from comptoir.access.models import User
    from comptoir.crm.models import Account
    from comptoir.documents.models import Attachment
    from comptoir.testing import factories
    owner = User.objects.get(username="owner")
    Account.objects.filter(legal_name="Olivia Industries").update(legal_name="Renamed")
    Attachment.objects.get(name="scan.pdf").delete()  # and its file
    factories.account(by=owner, legal_name="Created after the backup")
    factories.attachment(by=User.objects.get(username="outsider"), name="late.txt",
                         on=Account.objects.get(legal_name="Oscar Industries"))
    assert Account.objects.count() == 5
"""


def _written(output: str) -> Path:
    line = next(line for line in output.splitlines() if line.startswith("Backup written: "))
    return Path(line.removeprefix("Backup written: ").split(" (", 1)[0])


def _integrity_ok(site: Site) -> None:
    if site.database_url is None:
        conn = site.probe_connection()
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            conn.close()


def test_round_trip_brings_back_exactly_the_data_and_the_files(
        new_site: Callable[..., Site]) -> None:
    site = new_site("site")
    before = site.snapshot(SEED)
    assert "attachments/1/scan.pdf" in before[1]
    assert len(before[1]) == 3

    done = site.run("backup")
    archive = _written(done.stdout)
    assert archive.parent == site.backups
    assert archive.stat().st_mode & 0o777 == 0o600
    assert site.backups.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in site.backups.iterdir() if not p.name.startswith(".")] == [archive.name]
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json"
    assert ("database.pgdump" if ON_POSTGRESQL else "database.sqlite3") in names
    assert sum(name.startswith("media/") for name in names) == 3

    changed = site.snapshot(CHANGE)
    assert changed != before

    refused = site.run("restore", str(archive), check=False)
    assert refused.returncode != 0
    assert "not empty" in refused.stderr
    assert "--yes" in refused.stderr
    assert site.snapshot() == changed  # nothing touched

    restored = site.run("restore", str(archive), "--yes")
    assert "Restored" in restored.stdout
    assert site.snapshot() == before
    _integrity_ok(site)

    # Onto a new machine: installed, nothing done yet (the backup brings the schema).
    fresh = new_site("fresh", migrate=False)
    fresh.run("restore", str(archive))
    assert fresh.snapshot() == before
    _integrity_ok(fresh)


class Writer(threading.Thread):
    """Commits batches of ten rows into ``probe`` until stopped: a copy holding a partial batch
    would not be a consistent snapshot."""

    BATCH = 10

    def __init__(self, site: Site) -> None:
        super().__init__(daemon=True)
        self.site = site
        self.batches = 0
        self.error: BaseException | None = None
        self.started_writing = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        conn = self.site.probe_connection()
        try:
            postgres = self.site.database_url is not None
            while not self.stop.is_set():
                conn.execute("BEGIN" if postgres else "BEGIN IMMEDIATE")
                for i in range(self.BATCH):
                    conn.execute(f"INSERT INTO probe (batch, i) VALUES ({self.batches}, {i})")
                conn.execute("COMMIT")
                self.batches += 1
                if self.batches >= 20:
                    self.started_writing.set()
        except BaseException as exc:
            self.error = exc
            self.started_writing.set()
        finally:
            conn.close()


def test_backup_while_another_process_writes_is_consistent(
        new_site: Callable[..., Site]) -> None:
    site = new_site("busy")
    conn = site.probe_connection()
    try:
        conn.execute("CREATE TABLE probe (batch INTEGER NOT NULL, i INTEGER NOT NULL)")
        if site.database_url:
            conn.commit()
    finally:
        conn.close()
    writer = Writer(site)
    writer.start()
    try:
        assert writer.started_writing.wait(120), "the writer did not start"
        done = site.run("backup")
        during = writer.batches
    finally:
        writer.stop.set()
        writer.join(120)
    assert writer.error is None, writer.error
    assert writer.batches >= during >= 20  # never blocked by the backup
    archive = _written(done.stdout)

    if site.database_url is None:
        # The copy itself: a standalone file (no -wal), intact, whole batches only.
        import sqlite3

        folder = archive.parent / "extracted"
        with tarfile.open(archive) as tar:
            tar.extract("database.sqlite3", folder, filter="data")
        copy = sqlite3.connect(folder / "database.sqlite3")
        try:
            assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
            assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            rows = copy.execute("SELECT count(*) FROM probe").fetchone()[0]
        finally:
            copy.close()
        assert rows % Writer.BATCH == 0
        assert rows >= 20 * Writer.BATCH

    site.run("restore", str(archive), "--yes")
    restored = site.count("probe")
    assert restored % Writer.BATCH == 0
    assert 20 * Writer.BATCH <= restored <= writer.batches * Writer.BATCH
    _integrity_ok(site)


# --- In this process: the command, rotation, the scheduled job ---------------------------------

def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _fake_backup(folder: Path, moment: datetime, suffix: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"comptoir-{_stamp(moment)}{suffix}.tar.gz"
    path.write_bytes(b"x" * 10)
    return path


def test_rotation_keeps_the_newest_of_ours_only(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ours = [_fake_backup(tmp_path, now - timedelta(days=d)) for d in range(5)]
    same_second = _fake_backup(tmp_path, now, "-2")
    others = ["notes.txt", "comptoir-latest.tar.gz", f"comptoir-{_stamp(now)}.tar.gz.part",
              f".tmp-{_stamp(now)}"]
    for name in others:
        (tmp_path / name).write_text("keep me")

    removed = backup.rotate(tmp_path, 3)

    assert sorted(removed) == sorted(ours[2:])
    assert backup.list_backups(tmp_path) == [ours[1], ours[0], same_second]
    assert all((tmp_path / name).exists() for name in others)
    with pytest.raises(backup.BackupError):
        backup.rotate(tmp_path, 0)


def test_last_backup_reports_the_newest(tmp_path: Path) -> None:
    assert backup.last_backup(tmp_path) is None
    now = datetime.now(UTC).replace(microsecond=0)
    _fake_backup(tmp_path, now - timedelta(days=3))
    newest = _fake_backup(tmp_path, now - timedelta(hours=2))
    info = backup.last_backup(tmp_path)
    assert info is not None
    assert info["path"] == str(newest)
    assert info["size"] == 10
    assert info["created"] == now - timedelta(hours=2)
    assert 2 * 3600 <= info["age"] < 3 * 3600


@pytest.fixture
def backup_settings(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _require_pg_tools()
    folder = tmp_path / "backups"
    settings.COMPTOIR_BACKUP_DIR = folder
    settings.COMPTOIR_BACKUP_KEEP = 14
    settings.COMPTOIR_BACKUP_INTERVAL_HOURS = 24
    monkeypatch.setattr(backup, "_last_failure", None)
    return folder


def _ours(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) \
        if folder.exists() else []


@pytest.mark.django_db(transaction=True)
def test_backup_command_writes_and_rotates(backup_settings: Path, tmp_path: Path,
                                           media_root: Path) -> None:
    owner = factories.user(username="olivia")
    account = factories.account(by=owner, legal_name="Backed Up SA")
    factories.attachment(by=owner, on=account, name="contract.txt", content=b"signed\n")
    folder = tmp_path / "elsewhere"
    made = []
    for _ in range(3):
        out = StringIO()
        call_command("backup", "--dir", str(folder), "--keep", "2", stdout=out)
        made.append(_written(out.getvalue()))
        assert "1 uploaded file" in out.getvalue()
    assert _ours(folder) == sorted(p.name for p in made[1:])
    assert "Removed old backup" in out.getvalue()
    assert not backup_settings.exists()  # --dir, not the default folder
    with tarfile.open(made[-1]) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert manifest["engine"] == ("postgresql" if ON_POSTGRESQL else "sqlite")
        assert tar.getnames()[-1].endswith("contract.txt")


def test_backup_refuses_a_bad_keep(backup_settings: Path) -> None:
    with pytest.raises(CommandError, match="--keep"):
        call_command("backup", "--keep", "0", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_a_failed_backup_leaves_nothing_behind(backup_settings: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup, "_add_media", broken)
    with pytest.raises(CommandError, match="No space left"):
        call_command("backup", stdout=StringIO())
    assert [p.name for p in backup_settings.iterdir()] == [backup.LOCK_NAME]


@pytest.mark.django_db(transaction=True)
def test_scheduled_backup_only_when_due(settings: Any, backup_settings: Path,
                                        django_assert_max_num_queries: Any) -> None:
    assert "comptoir.core.backup.backup_due" in settings.COMPTOIR_PERIODIC_JOBS
    done = backup.backup_due()  # none yet: due
    assert done
    assert "backup" in done
    assert len(_ours(backup_settings)) == 1

    with django_assert_max_num_queries(0):  # fresh: one listing of the folder, no database
        assert backup.backup_due() is None
    assert len(_ours(backup_settings)) == 1

    # The newest is now two days old: due again.
    (only,) = backup.list_backups(backup_settings)
    old = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    only.rename(backup_settings / f"comptoir-{_stamp(old)}.tar.gz")
    assert backup.backup_due()
    assert len(_ours(backup_settings)) == 2
    assert backup.last_backup()["age"] < 3600  # type: ignore[index]

    settings.COMPTOIR_BACKUP_INTERVAL_HOURS = 0  # disabled
    for path in backup.list_backups(backup_settings):
        path.unlink()
    assert backup.backup_due() is None
    assert _ours(backup_settings) == []


@pytest.mark.django_db(transaction=True)
def test_scheduled_backup_never_runs_twice_at_once(backup_settings: Path) -> None:
    with backup.backup_lock(backup_settings):  # another process is making one
        assert backup.backup_due() is None
        with pytest.raises(CommandError, match="Another backup"):
            call_command("backup", stdout=StringIO())
    assert _ours(backup_settings) == []
    assert backup.backup_due()


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_without_yes(backup_settings: Path) -> None:
    owner = factories.user(username="olivia")
    factories.account(by=owner, legal_name="Precious SA")
    archive = backup.make_backup().path
    factories.account(by=owner, legal_name="Newer SA")
    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", str(archive), stdout=StringIO())
    from comptoir.crm.models import Account

    assert sorted(Account.objects.values_list("legal_name", flat=True)) == [
        "Newer SA", "Precious SA"]


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    import io

    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.django_db
def test_restore_rejects_what_is_not_a_backup_of_this_site(backup_settings: Path,
                                                           tmp_path: Path) -> None:
    other_engine = "sqlite" if ON_POSTGRESQL else "postgresql"
    manifest = {"format": 1, "app": "comptoir", "engine": other_engine,
                "database": "database.x", "media": True, "created": "2025-01-01T00:00:00+00:00"}
    cases = {
        "missing.tar.gz": None,
        "garbage.tar.gz": b"not a tar file at all",
        "nomanifest.tar.gz": {"database.sqlite3": b"x"},
        "other.tar.gz": {"manifest.json": json.dumps(manifest).encode()},
        "evil.tar.gz": {"manifest.json": json.dumps(
            {**manifest, "engine": "postgresql" if ON_POSTGRESQL else "sqlite"}).encode(),
            "../escape.txt": b"x"},
        "evil2.tar.gz": {"manifest.json": json.dumps(
            {**manifest, "engine": "postgresql" if ON_POSTGRESQL else "sqlite"}).encode(),
            "media/../../escape.txt": b"x"},
    }
    messages = {}
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, dict):
            _tar(path, content)
        with pytest.raises(CommandError) as caught:
            call_command("restore", str(path), "--yes", stdout=StringIO())
        messages[name] = str(caught.value)
    assert "No backup file" in messages["missing.tar.gz"]
    assert "not a Comptoir backup" in messages["garbage.tar.gz"]
    assert "not a Comptoir backup" in messages["nomanifest.tar.gz"]
    assert f"is a {other_engine} backup" in messages["other.tar.gz"]
    assert "Unexpected entry" in messages["evil.tar.gz"]
    assert "Cannot read" in messages["evil2.tar.gz"]
    assert not (tmp_path.parent / "escape.txt").exists()


def test_postgresql_tools_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setattr(backup.shutil, "which", lambda name: None)
    monkeypatch.setattr(backup, "PG_SEARCH_DIR", tmp_path)
    with pytest.raises(backup.BackupError, match=r"pg_dump was not found.*postgresql-client"):
        backup.find_pg_tool("pg_dump")
    tool = tmp_path / "16" / "bin" / "pg_dump"
    tool.parent.mkdir(parents=True)
    tool.touch()
    (tmp_path / "9.6" / "bin").mkdir(parents=True)
    (tmp_path / "9.6" / "bin" / "pg_dump").touch()
    assert backup.find_pg_tool("pg_dump") == str(tool)


def test_postgresql_password_goes_through_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen["args"], seen["env"] = args, kwargs["env"]
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(backup.subprocess, "run", run)
    monkeypatch.setattr(backup, "find_pg_tool", lambda name: f"/usr/bin/{name}")

    @dataclass
    class Fake:
        settings_dict: dict[str, Any]

    fake = Fake({"NAME": "crm", "USER": "comptoir", "PASSWORD": "Hunter2-secret",
                 "HOST": "db.example", "PORT": 5433, "OPTIONS": {"sslmode": "require"}})
    backup._pg_dump(fake, tmp_path / "dump")  # type: ignore[arg-type]
    assert not any("Hunter2" in arg for arg in seen["args"])
    assert seen["env"]["PGPASSWORD"] == "Hunter2-secret"
    assert (seen["env"]["PGHOST"], seen["env"]["PGPORT"], seen["env"]["PGDATABASE"],
            seen["env"]["PGSSLMODE"]) == ("db.example", "5433", "crm", "require")
    assert seen["args"][:2] == ["/usr/bin/pg_dump", "--format=custom"]
    with contextlib.suppress(FileNotFoundError):
        (tmp_path / "dump").unlink()
