"""The *ERP database* mode end to end: a real database read by the ``sql`` connector.

The scenario (first sync, cursor, update, ties on the cursor, deletions, a bad query) runs
against a SQLite file shaped like an ERP, and against PostgreSQL when ``DATABASE_URL`` points
at one (CI): there the ERP is a database of its own on that server, created and dropped by the
test. Then Tryton's own database, built by the Tryton harness, is read as a closed ERP's would
be.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import urllib.parse
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from comptoir.core.models import ExternalRef
from comptoir.crm.models import Account
from comptoir.integration.connectors import sql
from comptoir.integration.connectors.sql import (
    SqlConnector,
    SqlStream,
    decode_cursor,
    encode_cursor,
    keyset_after,
)
from comptoir.integration.engine.errors import ConfigError, TransientError
from comptoir.integration.models import Connection, StreamState, SyncRun
from comptoir.integration.services import sync_run
from comptoir.testing.tryton import free_port
from comptoir.testing.tryton_fixtures import tryton_template  # noqa: F401

# Valid SIRENs (check digit), stored formatted as an ERP shows them.
SIRENS = ["756 844 379", "134 356 658", "128 049 004", "914 841 960", "890 026 529"]
CITIES = [("75010", "Paris"), ("21000", "Dijon"), ("31000", "Toulouse"),
          ("63000", "Clermont-Ferrand"), ("44000", "Nantes")]
T0 = dt.datetime(2026, 1, 5, 9, 30, 0, 123456)

SCHEMA = [
    """CREATE TABLE party_party (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL,
       code VARCHAR(20), active BOOLEAN NOT NULL, create_date TIMESTAMP,
       write_date TIMESTAMP)""",
    """CREATE TABLE party_address (id INTEGER PRIMARY KEY, party INTEGER NOT NULL,
       sequence INTEGER, zip VARCHAR(12), city VARCHAR(100))""",
    """CREATE TABLE party_identifier (id INTEGER PRIMARY KEY, party INTEGER NOT NULL,
       type VARCHAR(20), code VARCHAR(30))""",
]

# What an operator writes: a join, the first address, the SIREN identifier, a cursor that is
# never NULL, and a LIKE with a literal % (which psycopg must not take for a placeholder).
QUERY = """
SELECT p.id, p.name, p.code,
       COALESCE(p.write_date, p.create_date) AS changed_at,
       (SELECT i.code FROM party_identifier i
         WHERE i.party = p.id AND i.type = 'fr_siren' ORDER BY i.id LIMIT 1) AS siren,
       a.zip, a.city
  FROM party_party p
  LEFT JOIN party_address a ON a.id = (
       SELECT a2.id FROM party_address a2 WHERE a2.party = p.id
        ORDER BY a2.sequence, a2.id LIMIT 1)
 WHERE p.active AND p.code LIKE 'C%'
"""

MAPPING = """
system = "erp-db"

[streams.parties]
target = "account"
[streams.parties.fields]
legal_name = "name"
siren = { source = "siren", transforms = ["digits"] }
billing_postcode = "zip"
billing_city = "city"
status = { const = "customer" }
"""


def _streams(query: str = QUERY, **extra: Any) -> dict[str, Any]:
    spec = {"query": query, "key": "id", "cursor": "changed_at", "cursor_tiebreak": "id",
            "deleted_query": "SELECT id FROM party_party WHERE active"}
    spec.update(extra)
    return {"parties": spec}


# --- The ERP databases ----------------------------------------------------------------------

class ErpDatabase:
    """The ERP's database as its own application writes to it (not through the connector)."""

    url: str

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        raise NotImplementedError

    def setup(self) -> None:
        for statement in SCHEMA:
            self.execute(statement)

    def add_party(self, pid: int, name: str, *, at: dt.datetime | None = T0,
                  created: dt.datetime | None = T0, siren: str | None = None,
                  zip_city: tuple[str, str] | None = None) -> None:
        self.execute("INSERT INTO party_party (id, name, code, active, create_date, write_date)"
                     " VALUES (?, ?, ?, ?, ?, ?)", (pid, name, f"C{pid:04d}", True,
                                                    _ts(created), _ts(at)))
        if siren:
            self.execute("INSERT INTO party_identifier (id, party, type, code) "
                         "VALUES (?, ?, 'fr_siren', ?)", (pid, pid, siren))
        if zip_city:
            self.execute("INSERT INTO party_address (id, party, sequence, zip, city) "
                         "VALUES (?, ?, 10, ?, ?)", (pid, pid, *zip_city))

    def seed(self, n: int = 5) -> None:
        for i in range(n):
            self.add_party(i + 1, f"Client {i + 1} SAS", at=T0 + dt.timedelta(minutes=i),
                           siren=SIRENS[i % len(SIRENS)], zip_city=CITIES[i % len(CITIES)])


def _ts(value: dt.datetime | None) -> str | None:
    # As Tryton writes timestamps into SQLite; PostgreSQL casts the text to TIMESTAMP.
    return value.isoformat(" ") if value else None


class SqliteErp(ErpDatabase):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite://{path}"

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        with contextlib.closing(sqlite3.connect(self.path)) as conn, conn:
            conn.execute(statement, params)


class PostgresErp(ErpDatabase):
    """A database of its own on the server of ``DATABASE_URL``, dropped at the end."""

    def __init__(self, server_url: str) -> None:
        import psycopg

        self.psycopg = psycopg
        self.server_url = server_url
        self.name = f"comptoir_erp_{uuid.uuid4().hex[:12]}"
        parts = urllib.parse.urlsplit(server_url)
        self.url = urllib.parse.urlunsplit(parts._replace(scheme="postgresql",
                                                          path=f"/{self.name}"))
        with psycopg.connect(self._conninfo(server_url), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')

    @staticmethod
    def _conninfo(url: str) -> str:
        return url.replace("postgres://", "postgresql://", 1)

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        with self.psycopg.connect(self.url) as conn:
            conn.execute(statement.replace("?", "%s"), params)

    def drop(self) -> None:
        with self.psycopg.connect(self._conninfo(self.server_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@contextlib.contextmanager
def _postgres_erp() -> Iterator[PostgresErp]:
    url = _postgres_url()
    if url is None:
        pytest.skip("DATABASE_URL does not point at PostgreSQL: the PostgreSQL run of the ERP "
                    "database tests needs one (CI sets it)")
    pg = PostgresErp(url)
    try:
        pg.setup()
        yield pg
    finally:
        pg.drop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def erp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ErpDatabase]:
    if request.param == "sqlite":
        database = SqliteErp(tmp_path / "erp.sqlite")
        database.setup()
        yield database
    else:
        with _postgres_erp() as pg:
            yield pg


@pytest.fixture
def postgres_erp() -> Iterator[PostgresErp]:
    with _postgres_erp() as pg:
        yield pg


def _connection(erp: ErpDatabase, *, streams: dict[str, Any] | None = None,
                batch_size: int = 2, page_size: int = 2, url: str | None = None
                ) -> Connection:
    return Connection.objects.create(
        name="erp-db", connector="sql", mapping=MAPPING, batch_size=batch_size,
        parameters={"streams": streams or _streams(), "page_size": page_size},
        secrets={"url": url or erp.url})


def _ok(run: SyncRun) -> SyncRun:
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    return run


def _counts(run: SyncRun) -> tuple[int, int, int, int, int]:
    return run.read, run.created, run.updated, run.unchanged, run.deleted


# --- The scenario, on SQLite and PostgreSQL ---------------------------------------------------

def test_first_sync_creates_accounts_and_the_cursor_reads_nothing_next(
        db: None, erp: ErpDatabase) -> None:
    erp.seed(5)
    erp.add_party(6, "Client sans adresse")  # no SIREN, no address: LEFT JOINs give NULLs
    erp.execute("UPDATE party_party SET code = 'X0099' WHERE id = 6")  # outside the query
    erp.add_party(7, "Jamais modifié", at=None, siren=SIRENS[0])  # write_date NULL
    connection = _connection(erp)

    run = _ok(sync_run(connection))  # pages of 2 and batches of 2: several of each
    assert _counts(run) == (6, 6, 0, 0, 0)
    account = Account.objects.get(legal_name="Client 3 SAS")
    assert (account.siren, account.billing_postcode, account.billing_city, account.status) == (
        "128049004", "31000", "Toulouse", "customer")
    assert not Account.objects.filter(legal_name="Client sans adresse").exists()
    assert Account.objects.get(legal_name="Jamais modifié").siren == "756844379"
    ref = ExternalRef.objects.get(system="erp-db", object_id=account.pk)
    assert ref.external_id == "3"

    # The cursor is the last row's (changed_at, id), typed so it binds back as it was read.
    state = StreamState.objects.get(connection=connection, stream="parties")
    assert state.cursor is not None
    changed_at, last_id = decode_cursor(state.cursor, 2) or [None, None]
    assert last_id == 5
    assert str(changed_at).replace("T", " ") == _ts(T0 + dt.timedelta(minutes=4))

    again = _ok(sync_run(connection))
    assert _counts(again) == (0, 0, 0, 0, 0)
    full = _ok(sync_run(connection, full=True))
    assert _counts(full) == (6, 0, 0, 6, 0)


def test_a_bumped_write_date_is_one_update(db: None, erp: ErpDatabase) -> None:
    erp.seed(5)
    connection = _connection(erp)
    _ok(sync_run(connection))
    erp.execute("UPDATE party_party SET name = ?, write_date = ? WHERE id = 2",
                ("Client 2 renommé SAS", _ts(T0 + dt.timedelta(hours=1))))
    erp.execute("UPDATE party_address SET city = 'Dijon Cedex' WHERE party = 2")
    run = _ok(sync_run(connection))
    assert _counts(run) == (1, 0, 1, 0, 0)
    account = Account.objects.get(
        pk=ExternalRef.objects.get(system="erp-db", external_id="2").object_id)
    assert (account.legal_name, account.billing_city) == ("Client 2 renommé SAS", "Dijon Cedex")
    assert Account.objects.count() == 5
    # A change the cursor cannot see (no write_date bump) waits for a full read.
    erp.execute("UPDATE party_party SET name = 'Client 4 bis' WHERE id = 4")
    assert _ok(sync_run(connection)).read == 0
    assert _counts(_ok(sync_run(connection, full=True))) == (5, 0, 1, 4, 0)


def test_rows_sharing_a_write_date_are_not_skipped(db: None, erp: ErpDatabase) -> None:
    # One ERP transaction wrote these six at the same instant; pages of 2 cut through them.
    for pid in range(1, 7):
        erp.add_party(pid, f"Même instant {pid}", at=T0, siren=SIRENS[pid % 5])
    connection = _connection(erp)
    assert _counts(_ok(sync_run(connection))) == (6, 6, 0, 0, 0)
    # Written later with the very timestamp of the cursor (a long transaction committing
    # after our read): "> write_date" alone would skip them; the tiebreak on id does not.
    erp.add_party(7, "Même instant 7", at=T0)
    erp.add_party(8, "Même instant 8", at=T0)
    run = _ok(sync_run(connection))
    assert _counts(run) == (2, 2, 0, 0, 0)
    assert Account.objects.filter(legal_name__startswith="Même instant").count() == 8


def test_a_stopped_run_resumes_after_its_last_committed_batch(
        db: None, erp: ErpDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    erp.seed(5)
    connection = _connection(erp, batch_size=2, page_size=3)
    real_read = SqlStream.read

    def dying_read(self: SqlStream, cursor: str | None) -> Iterator[Any]:
        for n, record in enumerate(real_read(self, cursor), start=1):
            if n == 4:
                raise TransientError("The ERP database went away.")
            yield record

    monkeypatch.setattr(SqlStream, "read", dying_read)
    failed = sync_run(connection)
    assert (failed.status, failed.error_category) == (SyncRun.Status.FAILED, "transient")
    assert failed.created == 2  # one batch of 2 committed; the third record was not
    monkeypatch.setattr(SqlStream, "read", real_read)
    resumed = _ok(sync_run(connection))
    assert _counts(resumed) == (3, 3, 0, 0, 0)  # exactly the rest, nothing twice
    assert ExternalRef.objects.filter(system="erp-db").count() == 5


def test_a_deleted_row_becomes_a_tombstone(db: None, erp: ErpDatabase) -> None:
    erp.seed(4)
    connection = _connection(erp)
    _ok(sync_run(connection))
    erp.execute("DELETE FROM party_party WHERE id = 3")
    run = _ok(sync_run(connection))
    assert _counts(run) == (0, 0, 0, 0, 1)
    ref = ExternalRef.objects.get(system="erp-db", external_id="3")
    assert ref.deleted_at is not None
    assert Account.objects.filter(pk=ref.object_id).exists()  # the CRM keeps its history
    assert ExternalRef.objects.filter(system="erp-db", deleted_at__isnull=True).count() == 3
    assert _ok(sync_run(connection)).deleted == 0  # once only


def test_an_empty_deleted_query_deletes_nothing(db: None, erp: ErpDatabase) -> None:
    erp.seed(3)
    connection = _connection(erp)
    _ok(sync_run(connection))
    erp.execute("DELETE FROM party_party")  # or a URL now pointing at an empty database
    assert _ok(sync_run(connection)).deleted == 0
    assert not ExternalRef.objects.filter(deleted_at__isnull=False).exists()


def test_a_bad_query_fails_as_config_naming_the_stream(db: None, erp: ErpDatabase) -> None:
    erp.seed(2)
    bad = QUERY.replace("a.city", "a.town")
    run = sync_run(_connection(erp, streams=_streams(bad)))
    assert (run.status, run.error_category) == (SyncRun.Status.FAILED, "config")
    assert "parties" in run.error_message
    assert "town" in run.error_message  # the database's own words name the column
    assert Account.objects.count() == 0

    Connection.objects.all().delete()
    run = sync_run(_connection(erp, streams=_streams("SELECT * FROM party_partyy")))
    assert run.error_category == "config"
    assert "party_partyy" in run.error_message

    Connection.objects.all().delete()
    no_cursor = _streams(QUERY.replace("AS changed_at", "AS modified"))
    run = sync_run(_connection(erp, streams=no_cursor))
    assert run.error_category == "config"
    assert "changed_at" in run.error_message
    assert "parties" in run.error_message


def test_a_stream_without_cursor_is_read_whole_each_run(db: None, erp: ErpDatabase) -> None:
    erp.seed(5)
    streams = {"parties": {"query": QUERY, "key": "id"}}
    connection = _connection(erp, streams=streams)
    assert _counts(_ok(sync_run(connection))) == (5, 5, 0, 0, 0)
    erp.execute("UPDATE party_party SET name = 'Client 5 modifié' WHERE id = 5")
    assert _counts(_ok(sync_run(connection))) == (5, 0, 1, 4, 0)


# --- SQLite specifics and errors ------------------------------------------------------------

@pytest.fixture
def sqlite_erp(tmp_path: Path) -> SqliteErp:
    database = SqliteErp(tmp_path / "erp.sqlite")
    database.setup()
    return database


def test_a_missing_database_file_is_a_config_failure(db: None, sqlite_erp: SqliteErp,
                                                     tmp_path: Path) -> None:
    # Config, not transient: the file is named by the connection's URL, and no retry will
    # make a missing file appear; a person must fix the URL or restore the file.
    missing = tmp_path / "moved" / "erp.sqlite"
    run = sync_run(_connection(sqlite_erp, url=f"sqlite://{missing}"))
    assert (run.status, run.error_category) == (SyncRun.Status.FAILED, "config")
    assert str(missing) in run.error_message
    assert not missing.exists()  # read-only: not created by opening it


def test_a_locked_database_is_transient(db: None, sqlite_erp: SqliteErp,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_erp.seed(2)
    monkeypatch.setattr(sql, "SQLITE_TIMEOUT", 0.05)
    writer = sqlite3.connect(sqlite_erp.path, isolation_level=None)
    try:
        writer.execute("BEGIN EXCLUSIVE")  # the ERP in the middle of a long write
        run = sync_run(_connection(sqlite_erp))
    finally:
        writer.close()
    assert (run.status, run.error_category) == (SyncRun.Status.FAILED, "transient")
    assert "locked" in run.error_message
    assert _counts(_ok(sync_run(Connection.objects.get()))) == (2, 2, 0, 0, 0)


def test_the_sqlite_file_is_opened_read_only(sqlite_erp: SqliteErp) -> None:
    connector = SqlConnector({"url": sqlite_erp.url, "streams": _streams()})
    try:
        connector.check()
        assert isinstance(connector.db, sql._SQLite)
        assert connector.db.conn is not None
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            connector.db.conn.execute("DELETE FROM party_party")
    finally:
        connector.close()


def test_null_cursors_come_first_and_once(sqlite_erp: SqliteErp) -> None:
    sqlite_erp.add_party(1, "Daté", at=T0)
    sqlite_erp.add_party(2, "Sans date A", at=None, created=None)
    sqlite_erp.add_party(3, "Sans date B", at=None, created=None)
    connector = SqlConnector({"url": sqlite_erp.url, "streams": _streams(), "page_size": 1})
    try:
        stream = connector.streams()["parties"]
        records = list(stream.read(None))
        assert [r.key for r in records] == ["2", "3", "1"]
        assert decode_cursor(records[0].cursor, 2) == [None, 2]
        assert [r.key for r in stream.read(records[1].cursor)] == ["1"]  # B not read again
        assert list(stream.read(records[2].cursor)) == []
        assert records[2].position == "parties 1"
        assert records[2].data["name"] == "Daté"
    finally:
        connector.close()


def test_a_keyed_pass_ends_with_a_restart_cursor(sqlite_erp: SqliteErp) -> None:
    sqlite_erp.seed(3)
    connector = SqlConnector({"url": sqlite_erp.url, "page_size": 2,
                              "streams": {"parties": {"query": QUERY, "key": "id"}}})
    try:
        stream = connector.streams()["parties"]
        records = list(stream.read(None))
        assert [(r.key, r.cursor) for r in records] == [("1", "[1]"), ("2", "[2]"), ("3", "[]")]
        assert [r.key for r in stream.read("[]")] == ["1", "2", "3"]  # the next pass: all
        assert [r.key for r in stream.read("[1]")] == ["2", "3"]  # a stopped pass resumes
        # A stopped pass whose remaining rows were deleted starts a new pass, rather than
        # resuming after key 2 forever with nothing to read.
        sqlite_erp.execute("DELETE FROM party_party WHERE id = 3")
        assert [(r.key, r.cursor) for r in stream.read("[2]")] == [("1", "[1]"), ("2", "[]")]
    finally:
        connector.close()


# --- Parameters, URLs, cursors --------------------------------------------------------------

@pytest.mark.parametrize(("streams", "problem"), [
    ({"parties": {"query": "SELECT 1 AS id", "key": "id; DROP TABLE party_party"}}, "key"),
    ({"parties": {"query": "SELECT 1 AS id", "cursor": "write_date DESC"}}, "cursor"),
    ({"parties": {"query": "SELECT 1 AS id", "cursor": "c", "cursor_tiebreak": "id\n"}},
     "cursor_tiebreak"),
    ({"parties": {"query": "  ;"}}, "query"),
    ({"parties": {"query": "SELECT 1 AS id", "cursr": "id"}}, "cursr"),
    ("{not json", "JSON"),
    ({}, "streams"),
])
def test_unsafe_or_wrong_stream_settings_are_config_errors(streams: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        SqlConnector({"url": "sqlite:///tmp/erp.sqlite", "streams": streams})


def test_streams_may_be_given_as_json_text_from_the_command_line() -> None:
    connector = SqlConnector({"url": "sqlite:///tmp/erp.sqlite", "page_size": "10",
                              "streams": json.dumps(_streams())})
    assert connector.page_size == 10
    assert connector.specs["parties"].order == ("changed_at", "id")
    assert connector.public_parameters()["url"] == "********"


@pytest.mark.parametrize("url", ["mysql://erp:Hunter2-secret@db/erp", "erp.sqlite",
                                 "sqlite://relative/erp.sqlite",
                                 "postgresql://erp:Hunter2-secret@db:port/erp"])
def test_unsupported_urls_are_config_errors_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SqlConnector({"url": url, "streams": _streams()})
    assert "Hunter2" not in caught.value.message


def test_an_unreachable_postgresql_is_transient_without_the_password() -> None:
    pytest.importorskip("psycopg")
    port = free_port()  # nothing listens there
    connector = SqlConnector({"url": f"postgresql://erp:Hunter2-secret@127.0.0.1:{port}/erp",
                              "streams": _streams()})
    with pytest.raises(TransientError) as caught:
        connector.check()
    assert f"postgresql://erp@127.0.0.1:{port}/erp" in caught.value.message
    assert "Hunter2" not in caught.value.message + caught.value.detail


# --- PostgreSQL specifics -------------------------------------------------------------------

@pytest.mark.postgresql
def test_postgresql_reads_in_a_read_only_transaction(postgres_erp: PostgresErp) -> None:
    postgres_erp.seed(3)
    connector = SqlConnector({"url": postgres_erp.url, "streams": _streams(), "page_size": 2})
    try:
        connector.check()
        records = list(connector.streams()["parties"].read(None))
        assert [r.key for r in records] == ["1", "2", "3"]
        changed_at, _id = decode_cursor(records[-1].cursor, 2) or [None, None]
        assert changed_at == T0 + dt.timedelta(minutes=2)  # a datetime again, not text
        with pytest.raises(ConfigError, match="read-only"):
            connector.db.fetch("CREATE TABLE intruder (x int)", [], what="a probe")
    finally:
        connector.close()


@pytest.mark.postgresql
def test_postgresql_unknown_database_is_config_without_the_password(
        db: None, postgres_erp: PostgresErp) -> None:
    parts = urllib.parse.urlsplit(postgres_erp.url)
    password = parts.password or "no-password"
    url = urllib.parse.urlunsplit(parts._replace(path="/no_such_erp_database"))
    run = sync_run(_connection(postgres_erp, url=url))
    assert (run.status, run.error_category) == (SyncRun.Status.FAILED, "config")
    assert "no_such_erp_database" in run.error_message
    assert password not in run.error_message


def test_cursor_values_round_trip_with_their_types() -> None:
    values = [dt.datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=dt.UTC), Decimal("12.50"),
              dt.date(2026, 2, 3), 42, "C0042", None, 1.5]
    text = encode_cursor(values)
    assert json.loads(text)[0] == {"datetime": "2026-01-01T10:00:00.123456+00:00"}
    assert decode_cursor(text, len(values)) == values
    assert encode_cursor(["2026-01-01 10:00:00", 42]) == '["2026-01-01 10:00:00",42]'
    assert decode_cursor(text, 2) is None  # written for other settings: read from the start
    assert decode_cursor("12", 1) is None  # not ours


def test_keyset_condition_is_null_aware() -> None:
    assert keyset_after(["c", "t"], ["x", 7], "?") == (
        "(q.c > ? OR (q.c = ? AND q.t > ?))", ["x", "x", 7])
    assert keyset_after(["c", "t"], [None, 7], "?") == (
        "(q.c IS NOT NULL OR (q.c IS NULL AND q.t > ?))", [7])
    assert keyset_after(["k"], [None], "%s") == ("q.k IS NOT NULL", [])


# --- Tryton's own database ------------------------------------------------------------------

# Tryton 8 on SQLite: party_party (name, code, create_date, write_date, active),
# party_identifier (party, type, code "501 895 643", code_compact), party_address (party,
# sequence, postal_code, city, active). An address's sequence may be NULL; Tryton lists
# those first, as does "sequence IS NOT NULL" here.
TRYTON_QUERY = """
SELECT p.id, p.name, p.code,
       COALESCE(p.write_date, p.create_date) AS changed_at,
       (SELECT i.code FROM party_identifier i
         WHERE i.party = p.id AND i.type = 'fr_siren' AND i.active
         ORDER BY i.sequence IS NOT NULL, i.sequence, i.id LIMIT 1) AS siren,
       a.postal_code, a.city
  FROM party_party p
  LEFT JOIN party_address a ON a.id = (
       SELECT a2.id FROM party_address a2 WHERE a2.party = p.id AND a2.active
        ORDER BY a2.sequence IS NOT NULL, a2.sequence, a2.id LIMIT 1)
 WHERE p.active
"""

TRYTON_MAPPING = """
system = "tryton-db"

[streams.parties]
target = "account"
[streams.parties.fields]
legal_name = "name"
siren = { source = "siren", transforms = ["digits"] }
billing_postcode = "postal_code"
billing_city = "city"
"""


@pytest.fixture
def tryton_db(tryton_template: Path, tmp_path: Path) -> Path:  # noqa: F811
    """A private copy of the seeded Tryton database (the template is shared)."""
    path = tmp_path / "tryton.sqlite"
    shutil.copyfile(tryton_template, path)
    return path


def test_tryton_parties_read_from_trytons_own_database(db: None, tryton_db: Path) -> None:
    # What Tryton holds, read independently of the connector (code_compact is Tryton's own
    # compacted SIREN).
    with contextlib.closing(sqlite3.connect(tryton_db)) as conn:
        expected = {str(pid): (name, compact or "", postal or "", city or "")
                    for pid, name, compact, postal, city in conn.execute("""
            SELECT p.id, p.name,
                   (SELECT i.code_compact FROM party_identifier i
                     WHERE i.party = p.id AND i.type = 'fr_siren' ORDER BY i.id LIMIT 1),
                   (SELECT a.postal_code FROM party_address a WHERE a.party = p.id
                     ORDER BY a.id LIMIT 1),
                   (SELECT a.city FROM party_address a WHERE a.party = p.id
                     ORDER BY a.id LIMIT 1)
              FROM party_party p WHERE p.active""")}
        formatted = conn.execute("SELECT code FROM party_identifier WHERE type = 'fr_siren' "
                                 "LIMIT 1").fetchone()[0]
        latest = conn.execute("SELECT MAX(COALESCE(write_date, create_date)) "
                              "FROM party_party").fetchone()[0]
    assert len(expected) > 5
    assert sum(1 for v in expected.values() if re.fullmatch(r"\d{9}", v[1])) >= 5
    assert " " in formatted  # Tryton stores "501 895 643": the mapping compacts it
    connection = Connection.objects.create(
        name="tryton-db", connector="sql", mapping=TRYTON_MAPPING, batch_size=5,
        parameters={"page_size": 4, "streams": {"parties": {
            "query": TRYTON_QUERY, "key": "id", "cursor": "changed_at",
            "cursor_tiebreak": "id", "deleted_query": "SELECT id FROM party_party "
                                                      "WHERE active"}}},
        secrets={"url": f"sqlite://{tryton_db}"})

    run = _ok(sync_run(connection))
    assert _counts(run) == (len(expected), len(expected), 0, 0, 0)
    assert _loaded("tryton-db") == expected
    assert "Comptoir Démo SAS" in {name for name, *_rest in expected.values()}
    assert _ok(sync_run(connection)).read == 0

    # Tryton renames a party (bumping write_date) and archives another (active = false).
    later = (dt.datetime.fromisoformat(latest) + dt.timedelta(minutes=1)).isoformat(" ")
    with contextlib.closing(sqlite3.connect(tryton_db)) as conn, conn:
        renamed, archived = (row[0] for row in conn.execute(
            "SELECT id FROM party_party WHERE active ORDER BY id DESC LIMIT 2"))
        conn.execute("UPDATE party_party SET name = name || ' (renommée)', write_date = ? "
                     "WHERE id = ?", (later, renamed))
        conn.execute("UPDATE party_party SET active = 0, write_date = ? WHERE id = ?",
                     (later, archived))
    run = _ok(sync_run(connection))
    assert (run.read, run.updated, run.deleted) == (1, 1, 1)
    assert _loaded("tryton-db")[str(renamed)][0].endswith(" (renommée)")
    assert ExternalRef.objects.get(system="tryton-db", external_id=str(archived)).deleted_at


def _loaded(system: str) -> dict[str, tuple[str, str, str, str]]:
    """The live accounts of ``system`` by external id: (name, SIREN, postcode, city)."""
    refs = dict(ExternalRef.objects.filter(system=system, deleted_at__isnull=True)
                .values_list("object_id", "external_id"))
    return {refs[a.pk]: (a.legal_name, a.siren, a.billing_postcode, a.billing_city)
            for a in Account.objects.filter(pk__in=refs)}
