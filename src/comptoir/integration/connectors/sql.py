"""The ``sql`` connector: read a closed ERP straight from its database (SQLite or PostgreSQL).

For an ERP with no usable API but a readable database. Each stream is one ``SELECT`` written by
the operator, wrapped as a subquery and read by **keyset pagination**::

    SELECT * FROM (<query>) AS q
    WHERE (q.<cursor>, q.<tiebreak>) > (:c, :t)      -- spelled out, NULL-aware
    ORDER BY q.<cursor> NULLS FIRST, q.<tiebreak> NULLS FIRST LIMIT <page_size>

(``NULLS FIRST``: PostgreSQL, and SQLite from 3.30, 2019.)

so memory stays flat whatever the table size, and a run stopped after any committed batch
resumes exactly after its last record. ``cursor_tiebreak`` (default: the key) orders the rows
sharing a cursor value, so rows written in the same instant are never skipped. Without
``cursor`` a stream pages by its key and is read whole on every run: the loader's content
comparison makes unchanged rows cost nothing but the read. (Its cursor is the last key read,
so a stopped pass resumes where it stopped; the pass's last record carries ``[]``, which makes
the next run start again from the first key.)

**NULL cursors** sort first (the smallest value). A row whose cursor stays NULL is read on the
first run only, so give the query a cursor that is never NULL: with a modification date that
is empty until the first edit, ``COALESCE(write_date, create_date) AS changed_at`` and
``"cursor": "changed_at"``.

The stored cursor is JSON of the last row's (cursor, tiebreak) values, typed so datetimes,
dates, decimals… come back as they were read: ``[{"datetime": "2026-01-01T10:00:00.123456"},
42]``; plain JSON values stay plain (``["2026-01-01 10:00:00", 42]`` from SQLite, which
returns timestamps as text).

Parameters (the connection's parameters are JSON; ``streams`` may also be a JSON string)::

    url = "postgresql://crm_reader:…@erp-db:5432/erp"        # a secret: it holds a password
          or "sqlite:///srv/erp/erp.sqlite"                  # opened read-only
    streams = {"parties": {
        "query": "SELECT p.id, p.name, COALESCE(p.write_date, p.create_date) AS changed_at "
                 "FROM party_party p",
        "key": "id", "cursor": "changed_at", "cursor_tiebreak": "id",
        "deleted_query": "SELECT id FROM party_party"}}
    page_size = 5000

Safety: the queries are the operator's own SQL and run as given, so the database user should
be one that can only read (``GRANT SELECT`` on the tables the queries use, nothing else). The
connector adds only a read-only transaction (PostgreSQL) or a read-only open (SQLite) on top;
``key``, ``cursor`` and ``cursor_tiebreak`` must be plain identifiers; values are always bound
parameters. ``deleted_query`` returns every key that exists now (its first column): keys known
to Comptoir and missing from it become tombstones. An empty answer is taken as "cannot tell"
rather than "everything was deleted", so an emptied or mis-pointed database never tombstones
the whole CRM.

Errors: unreachable, locked or restarting databases are transient (the next run retries); a
bad URL, refused credentials, a missing database file and SQL errors in a query (unknown table
or column, syntax) are configuration errors naming the stream. The URL is never shown with its
password.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import sqlite3
import urllib.parse
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from comptoir.integration.engine.core import Connector, Parameter, Record, Stream, register
from comptoir.integration.engine.errors import (
    ConfigError,
    PermanentError,
    SyncError,
    TransientError,
)

DEFAULT_PAGE_SIZE = 5000
SQLITE_TIMEOUT = 10.0  # seconds to wait for a writer's lock before "database is locked"
PG_CONNECT_TIMEOUT = 10  # seconds
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STREAM_KEYS = frozenset({"query", "key", "cursor", "cursor_tiebreak", "deleted_query"})
_DETAIL_LIMIT = 2000


# --- Parameters -----------------------------------------------------------------------------

@dataclass(frozen=True)
class StreamSpec:
    """One stream's query and the columns that identify and order its rows."""

    name: str
    query: str
    key: str
    cursor: str | None = None
    tiebreak: str | None = None  # None: the key
    deleted_query: str | None = None

    @property
    def order(self) -> tuple[str, ...]:
        """The columns of the keyset, in order: (cursor, tiebreak) or (key,)."""
        if self.cursor is None:
            return (self.key,)
        return (self.cursor, self.tiebreak or self.key)


def _clean_query(query: str) -> str:
    """Trailing semicolons and spaces off, so the query can be wrapped as a subquery."""
    return query.strip().rstrip(";").rstrip()


def parse_streams(value: Any) -> dict[str, StreamSpec]:
    """The ``streams`` parameter checked whole: every problem in one ConfigError."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ConfigError(f"ERP database (SQL): parameter 'streams' is not valid JSON "
                              f"({exc})") from None
    if not isinstance(value, Mapping) or not value:
        raise ConfigError("ERP database (SQL): parameter 'streams' must be an object of "
                          'stream name → {"query": …, "key": …}')
    problems: list[str] = []
    specs: dict[str, StreamSpec] = {}
    for name, raw in value.items():
        where = f"streams.{name}"
        if not isinstance(name, str) or not name.strip():
            problems.append("a stream needs a name")
            continue
        if not isinstance(raw, Mapping):
            problems.append(f'{where}: must be an object {{"query": …, "key": …}}')
            continue
        unknown = sorted(set(raw) - _STREAM_KEYS)
        if unknown:
            problems.append(f"{where}: unknown setting(s) {', '.join(map(repr, unknown))} "
                            f"(known: {', '.join(sorted(_STREAM_KEYS))})")
        query = raw.get("query")
        if not isinstance(query, str) or not _clean_query(query):
            problems.append(f"{where}.query: a SELECT is required")
            query = ""
        columns: dict[str, str | None] = {}
        for setting, default in (("key", "id"), ("cursor", None), ("cursor_tiebreak", None)):
            column = raw.get(setting, default)
            columns[setting] = None
            if column in (None, ""):
                if setting == "key":
                    problems.append(f"{where}.key: required (the column of each row's id)")
            elif not isinstance(column, str) or not _IDENTIFIER.fullmatch(column):
                problems.append(f"{where}.{setting}: {column!r} is not a plain column name "
                                "(letters, digits and _; alias an expression in the query)")
            else:
                columns[setting] = column
        if columns["cursor_tiebreak"] and not columns["cursor"]:
            problems.append(f"{where}.cursor_tiebreak: only meaningful with a cursor")
        deleted = raw.get("deleted_query")
        if deleted is not None and (not isinstance(deleted, str) or not _clean_query(deleted)):
            problems.append(f"{where}.deleted_query: must be a SELECT of the existing keys")
            deleted = None
        specs[name] = StreamSpec(name=name, query=_clean_query(query or ""),
                                 key=columns["key"] or "id", cursor=columns["cursor"],
                                 tiebreak=columns["cursor_tiebreak"],
                                 deleted_query=_clean_query(deleted) if deleted else None)
    if problems:
        raise ConfigError("ERP database (SQL): " + "; ".join(problems))
    return specs


def _page_size(value: Any) -> int:
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = 0
    if size < 1:
        raise ConfigError(f"ERP database (SQL): parameter 'page_size' must be a positive "
                          f"whole number, not {value!r}")
    return size


# --- Cursor ---------------------------------------------------------------------------------

def _typed(value: Any) -> Any:
    """A column value as JSON that :func:`_untyped` turns back into the same Python value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):  # before date: a datetime is a date too
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"time": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": base64.b64encode(bytes(value)).decode("ascii")}
    return str(value)


_DECODERS: dict[str, Any] = {
    "datetime": dt.datetime.fromisoformat, "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat, "decimal": Decimal, "uuid": uuid.UUID,
    "bytes": base64.b64decode,
}


def _untyped(value: Any) -> Any:
    if isinstance(value, dict):
        ((kind, text),) = value.items()
        return _DECODERS[kind](text)
    return value


# The cursor after the last record of a stream without cursor column: the pass is complete,
# the next run reads everything again (it decodes to None, like an unknown cursor).
END_OF_PASS = "[]"


def encode_cursor(values: Sequence[Any]) -> str:
    return json.dumps([_typed(v) for v in values], ensure_ascii=False, separators=(",", ":"))


def decode_cursor(cursor: str | None, width: int) -> list[Any] | None:
    """The values of a cursor this stream wrote, or None: no cursor, or one written for other
    settings (a cursor column added or removed), in which case the stream is read from its
    start, which is always safe."""
    if not cursor:
        return None
    try:
        values = json.loads(cursor)
        if not isinstance(values, list) or len(values) != width:
            return None
        return [_untyped(v) for v in values]
    except (ValueError, TypeError, KeyError):
        return None


def keyset_after(columns: Sequence[str], values: Sequence[Any], mark: str
                 ) -> tuple[str, list[Any]]:
    """The SQL condition "row after ``values`` in ``ORDER BY columns NULLS FIRST``" and its
    parameters. A row-value comparison ``(a, b) > (x, y)`` would be shorter but is false for
    every NULL, and NULLs sort first here."""
    column, rest = f"q.{columns[0]}", columns[1:]
    value = values[0]
    if rest:
        tail, tail_params = keyset_after(rest, values[1:], mark)
        if value is None:
            return f"({column} IS NOT NULL OR ({column} IS NULL AND {tail}))", tail_params
        return (f"({column} > {mark} OR ({column} = {mark} AND {tail}))",
                [value, value, *tail_params])
    if value is None:
        return f"{column} IS NOT NULL", []
    return f"{column} > {mark}", [value]


# --- Databases ------------------------------------------------------------------------------

def _truncate(text: str) -> str:
    return text if len(text) <= _DETAIL_LIMIT else text[:_DETAIL_LIMIT] + "…"


class _Database(ABC):
    """One open connection to the ERP database, with its driver's errors made SyncErrors."""

    mark = "?"  # the driver's placeholder

    def __init__(self, shown: str, secrets: Sequence[str] = ()) -> None:
        self.shown = shown  # the URL without its password: the only form in messages
        self._secrets = [s for s in secrets if s]

    def scrub(self, text: str) -> str:
        """A driver's message with anything secret replaced (drivers may echo the DSN)."""
        for secret in self._secrets:
            text = text.replace(secret, "********")
        return text

    def sql(self, query: str) -> str:
        """The operator's query made safe to send with bound parameters."""
        return query

    @abstractmethod
    def connect(self) -> None: ...

    @abstractmethod
    def fetch(self, sql: str, params: Sequence[Any], *, what: str
              ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and every row of ``sql`` (a page: bounded by its LIMIT)."""

    @abstractmethod
    def iterate(self, sql: str, *, what: str, size: int) -> Iterator[tuple[Any, ...]]:
        """The rows of ``sql``, fetched ``size`` at a time."""

    @abstractmethod
    def close(self) -> None: ...


class _SQLite(_Database):
    """A SQLite file opened read-only (``mode=ro``): the connector cannot write to it."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path
        self.conn: sqlite3.Connection | None = None

    def connect(self) -> None:
        if self.conn is not None:
            return
        if not self.path.is_file():
            # A person must fix the URL (or restore the file): retrying will not make it appear.
            raise ConfigError(f"SQLite database {self.path}: no such file")
        uri = f"file:{urllib.parse.quote(str(self.path))}?mode=ro"
        try:
            # isolation_level None: each SELECT is its own short read, no lock held between
            # pages while the loader commits.
            self.conn = sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT,
                                        isolation_level=None, check_same_thread=False)
            self.conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            self.close()
            raise self.error(exc, what="opening it") from None

    def error(self, exc: sqlite3.Error, *, what: str) -> SyncError:
        message = str(exc)
        text = f"SQLite database {self.path}, {what}: {message}"
        lowered = message.lower()
        if any(s in lowered for s in ("locked", "busy", "disk i/o", "unable to open",
                                       "interrupted")):
            return TransientError(text)
        if "malformed" in lowered:
            return PermanentError(text)
        return ConfigError(text)  # no such table/column, syntax, not a database…

    def fetch(self, sql: str, params: Sequence[Any], *, what: str
              ) -> tuple[list[str], list[tuple[Any, ...]]]:
        self.connect()
        assert self.conn is not None
        try:
            cur = self.conn.execute(sql, list(params))
            rows = cur.fetchall()
        except sqlite3.Error as exc:
            raise self.error(exc, what=what) from None
        return [d[0] for d in cur.description or ()], rows

    def iterate(self, sql: str, *, what: str, size: int) -> Iterator[tuple[Any, ...]]:
        self.connect()
        assert self.conn is not None
        try:
            cur = self.conn.execute(sql)
            while rows := cur.fetchmany(size):
                yield from rows
        except sqlite3.Error as exc:
            raise self.error(exc, what=what) from None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# Refusals at connection time that only a person can fix (libpq gives no SQLSTATE for them).
_PG_CONFIG_MESSAGES = ("password authentication failed", "no password supplied",
                       "does not exist", "pg_hba.conf", "invalid", "permission denied",
                       "authentication", "unsupported", "certificate")


class _PostgreSQL(_Database):
    """psycopg 3, every statement in a read-only transaction ended after each page."""

    mark = "%s"

    def __init__(self, url: str, parts: urllib.parse.SplitResult) -> None:
        host = parts.hostname or "localhost"
        user = f"{urllib.parse.unquote(parts.username)}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        password = urllib.parse.unquote(parts.password or "")
        super().__init__(f"{parts.scheme}://{user}{host}{port}{parts.path}",
                         [url, parts.password or "", password])
        self.url = url
        self.conn: Any = None

    def sql(self, query: str) -> str:
        # With parameters psycopg reads % as a placeholder: the operator's LIKE 'A%' stays one.
        return query.replace("%", "%%")

    def connect(self) -> None:
        if self.conn is not None:
            return
        try:
            import psycopg
        except ImportError:
            raise ConfigError("PostgreSQL support needs psycopg: install comptoir[postgres] "
                              "(pip install 'psycopg[binary]').") from None
        try:
            self.conn = psycopg.connect(self.url, connect_timeout=PG_CONNECT_TIMEOUT,
                                        application_name="comptoir-sync", autocommit=False)
        except psycopg.Error as exc:
            message = self.scrub(str(exc))
            text = f"PostgreSQL {self.shown}: cannot connect: {message}"
            if any(s in message.lower() for s in _PG_CONFIG_MESSAGES):
                raise ConfigError(text) from None
            raise TransientError(text) from None
        except ValueError as exc:  # psycopg refuses a malformed conninfo this way too
            raise ConfigError(f"PostgreSQL {self.shown}: {self.scrub(str(exc))}") from None
        self.conn.read_only = True

    def error(self, exc: Exception, *, what: str) -> SyncError:
        import psycopg

        message = self.scrub(str(getattr(getattr(exc, "diag", None), "message_primary", None)
                                 or exc)).strip()
        text = f"PostgreSQL {self.shown}, {what}: {message}"
        detail = _truncate(self.scrub(str(exc)))
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return TransientError(text, detail=detail)  # server gone, restarting, cancelled
        if isinstance(exc, psycopg.ProgrammingError | psycopg.DataError |
                      psycopg.NotSupportedError | psycopg.errors.ReadOnlySqlTransaction):
            return ConfigError(text, detail=detail)  # unknown table/column, syntax, rights
        return PermanentError(text, detail=detail)

    def _end(self) -> None:
        """End the read-only transaction: no snapshot held open between pages."""
        import psycopg

        if self.conn is not None and not self.conn.closed:
            try:
                self.conn.rollback()
            except psycopg.Error:
                self.close()

    def fetch(self, sql: str, params: Sequence[Any], *, what: str
              ) -> tuple[list[str], list[tuple[Any, ...]]]:
        import psycopg

        self.connect()
        try:
            cur = self.conn.execute(sql, list(params))
            rows = cur.fetchall()
            columns = [d.name for d in cur.description or ()]
        except psycopg.Error as exc:
            error = self.error(exc, what=what)
            self._end()
            raise error from None
        self._end()
        return columns, rows

    def iterate(self, sql: str, *, what: str, size: int) -> Iterator[tuple[Any, ...]]:
        import psycopg

        self.connect()
        try:
            # A server-side (named) cursor: the keys arrive ``size`` at a time.
            with self.conn.cursor(name="comptoir_keys") as cur:
                cur.itersize = size
                cur.execute(sql, [])
                yield from cur
        except psycopg.Error as exc:
            error = self.error(exc, what=what)
            self._end()
            raise error from None
        self._end()

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


def open_database(url: str) -> _Database:
    """The database a URL names (not connected yet); a ConfigError for anything else."""
    url = str(url or "").strip()
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        rest = url[len("sqlite:"):]
        if not rest.startswith("//"):
            raise ConfigError("ERP database (SQL): a SQLite URL is sqlite:///absolute/path.db")
        path = urllib.parse.unquote(rest[2:].partition("?")[0])
        if path.startswith("//"):  # sqlite:////abs/path, as SQLAlchemy spells it
            path = path[1:]
        if not path.startswith("/"):
            raise ConfigError(f"ERP database (SQL): the SQLite path must be absolute "
                              f"(sqlite:///absolute/path.db), not {path!r}")
        return _SQLite(Path(path))
    if scheme in ("postgresql", "postgres"):
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            raise ConfigError("ERP database (SQL): the PostgreSQL URL is malformed "
                              "(postgresql://user:password@host:port/database)") from None
        return _PostgreSQL(url, parts)
    # Only the scheme is shown: the rest of an unknown URL may hold a password.
    shown = scheme if re.fullmatch(r"[a-z][a-z0-9+.-]{0,19}", scheme) else "(none)"
    raise ConfigError(f"ERP database (SQL): unsupported URL scheme {shown!r}: use "
                      "sqlite:///absolute/path.db or postgresql://user:password@host:port/db")


# --- Streams --------------------------------------------------------------------------------

def _column(columns: Sequence[str], name: str, spec: StreamSpec, setting: str) -> int:
    """Where ``name`` is in the result: exact, else the one matching whatever its case
    (PostgreSQL folds unquoted names to lower case)."""
    if name in columns:
        return list(columns).index(name)
    folded = [i for i, c in enumerate(columns) if c.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    raise ConfigError(f"Stream {spec.name}: the query has no column {name!r} for {setting} "
                      f"(columns: {', '.join(columns) or 'none'})")


class SqlStream(Stream):
    """The rows of one query, page after page in keyset order."""

    def __init__(self, connector: SqlConnector, spec: StreamSpec) -> None:
        self.connector = connector
        self.spec = spec
        self.name = spec.name

    def page_sql(self, after: list[Any] | None) -> tuple[str, list[Any]]:
        db = self.connector.db
        order = self.spec.order
        where, params = ("", []) if after is None else keyset_after(order, after, db.mark)
        sql = (f"SELECT * FROM (\n{db.sql(self.spec.query)}\n) AS q"
               + (f" WHERE {where}" if where else "")
               + " ORDER BY " + ", ".join(f"q.{c} NULLS FIRST" for c in order)
               + f" LIMIT {int(self.connector.page_size)}")
        return sql, params

    def read(self, cursor: str | None) -> Iterator[Record]:
        spec = self.spec
        order = spec.order
        after = decode_cursor(cursor, len(order))
        db = self.connector.db
        size = self.connector.page_size
        what = f"stream {spec.name}"
        pending: Record | None = None
        first_page = True
        while True:
            sql, params = self.page_sql(after)
            columns, rows = db.fetch(sql, params, what=what)
            if not rows and first_page and after is not None and not spec.cursor:
                # A stopped pass whose remaining rows are all gone: no record would carry
                # END_OF_PASS, and every later run would resume here reading nothing.
                after = None
                first_page = False
                continue
            first_page = False
            if not rows:
                break
            key_at = _column(columns, spec.key, spec, "key")
            order_at = [_column(columns, c, spec, s) for c, s in
                        zip(order, ("cursor", "cursor_tiebreak") if spec.cursor else ("key",),
                            strict=True)]
            for row in rows:
                raw_key = row[key_at]
                key = "" if raw_key is None else str(raw_key)
                after = [row[i] for i in order_at]
                record = Record(key=key, data=dict(zip(columns, row, strict=True)),
                                cursor=encode_cursor(after), position=f"{spec.name} {key}")
                if spec.cursor:
                    yield record
                    continue
                # Without a cursor column each record is held back one step, so the last
                # one of the pass can carry END_OF_PASS instead of its key.
                if pending is not None:
                    yield pending
                pending = record
            if len(rows) < size:
                break
        if pending is not None:
            pending.cursor = END_OF_PASS
            yield pending

    def existing_keys(self) -> Iterable[str] | None:
        """The first column of ``deleted_query``; None without one, or when it returns no
        row at all (more likely a wrong database than an ERP with nothing left)."""
        if not self.spec.deleted_query:
            return None
        db = self.connector.db
        keys = {str(row[0]) for row in db.iterate(db.sql(self.spec.deleted_query),
                                                   what=f"stream {self.name}, deleted_query",
                                                   size=self.connector.page_size)
                if row and row[0] is not None}
        return keys or None


@register
class SqlConnector(Connector):
    """A closed ERP read from its database: one SELECT per stream, keyset-paginated."""

    name = "sql"
    label = "ERP database (SQL)"
    parameters = {
        "url": Parameter("Database URL", kind="secret",
                         help="sqlite:///absolute/path.db (opened read-only) or "
                              "postgresql://user:password@host:port/database. Use a user "
                              "that can only read."),
        "streams": Parameter("Streams",
                             help='JSON: stream name → {"query": "SELECT …", "key": "id", '
                                  '"cursor": "changed_at", "cursor_tiebreak": "id", '
                                  '"deleted_query": "SELECT id FROM …"}. The cursor should '
                                  "never be NULL: COALESCE(write_date, create_date)."),
        "page_size": Parameter("Rows per query", required=False, default=DEFAULT_PAGE_SIZE,
                               kind="int"),
    }
    sensitive_parameters = frozenset({"url"})

    @classmethod
    def validate_parameters(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """Also the streams and the page size, so a connection is refused when saved rather
        than at its first run. (The URL is checked when used: here it may be a placeholder
        for a secret.)"""
        out = super().validate_parameters(params)
        parse_streams(out["streams"])
        _page_size(out["page_size"])
        return out

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.specs = parse_streams(self.params["streams"])
        self.page_size = _page_size(self.params["page_size"])
        self.db = open_database(str(self.params["url"]))

    def check(self) -> None:
        """Connect, then run every query with LIMIT 0 and look for the columns it names."""
        db = self.db
        db.connect()
        for spec in self.specs.values():
            columns, _rows = db.fetch(f"SELECT * FROM (\n{db.sql(spec.query)}\n) AS q LIMIT 0",
                                      [], what=f"stream {spec.name}")
            _column(columns, spec.key, spec, "key")
            if spec.cursor:
                _column(columns, spec.cursor, spec, "cursor")
                _column(columns, spec.tiebreak or spec.key, spec, "cursor_tiebreak")
            if spec.deleted_query:
                db.fetch(f"SELECT * FROM (\n{db.sql(spec.deleted_query)}\n) AS q LIMIT 0", [],
                         what=f"stream {spec.name}, deleted_query")

    def streams(self) -> dict[str, Stream]:
        return {name: SqlStream(self, spec) for name, spec in self.specs.items()}

    def close(self) -> None:
        self.db.close()
