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
or column, syntax) are configuration errors naming the stream (and the child). The URL is
never shown with its password.

**Shaping the records.** A record's data is its row, column by column; three optional settings
of a stream shape it:

* ``key_prefix``: text put before each key (and each key of ``deleted_query``), so two streams
  feeding the same CRM object keep apart (``"sale.sale,"`` and ``"account.invoice,"``: their
  deletion passes then never see each other's records). The key column itself stays as read.
* ``omit``: columns the query needs (the cursor, a key built for the prefix) but the records
  should not carry.
* ``types``: column → ``decimal``, ``date``, ``datetime``, ``int``, ``float``, ``bool`` or
  ``text``, for databases that do not keep the type: SQLite returns dates as text, decimals as
  text or bytes, booleans as 0/1. A value that cannot be read as its type makes the record an
  error record (quarantined with the reason), never a silent wrong value.

**Child queries.** A record may carry rows of other tables as a list (a sale and its lines, a
party and its addresses)::

    "sales": {"query": "SELECT s.id, s.number, … FROM sale_sale s", "key": "id",
              "cursor": "changed_at", "omit": ["changed_at"],
              "children": {"lines": {
                  "query": "SELECT l.sale AS parent, l.id, l.description, l.quantity "
                           "FROM sale_line l WHERE l.type = 'line'",
                  "parent": "parent", "order": ["sequence", "id"], "omit": ["sequence"],
                  "types": {"quantity": "float"}}}}

For each page of records, each child query runs once (per chunk of 500 keys), wrapped like the
stream query::

    SELECT * FROM (<child query>) AS c WHERE c.<parent> IN (<the page's keys, bound>)
    ORDER BY c.<parent>, c.<order>…

and each record gets ``data[<child name>]``: the rows whose ``parent`` equals its key (the key
column's value, before ``key_prefix``), as dicts without the ``parent`` column nor the child's
``omit`` columns, in ``order`` (default ``id``; NULLs where the database puts them: first in
SQLite, last in PostgreSQL); an empty list when there is none. ``parent``, ``order`` and
``omit`` are plain column names, as ``key`` is; a child named like a column the record carries
is a configuration error.

**The cursor must see the children.** A change to a child row alone (an address edited, a line
added) usually leaves its parent's own modification date as it was, so a cursor on the parent's
date would never bring the record back. Give the stream query a cursor that is the greatest
change time of the record *and* its children::

    MAX(COALESCE(p.write_date, p.create_date),                          -- SQLite: scalar MAX
        COALESCE((SELECT MAX(COALESCE(a.write_date, a.create_date))
                    FROM party_address a WHERE a.party = p.id), '1970-01-01'),
        …) AS changed_at

PostgreSQL spells the scalar maximum ``GREATEST(…)`` (which skips NULLs, where SQLite's ``MAX``
of a NULL is NULL: hence the ``COALESCE``). ``tryton_sql.tryton_streams`` builds such queries
for a Tryton database.

**Deleted child rows** leave no date behind. Without more, their record is read again at its
next change, or by a ``--full`` run. With ``"census": true`` (the child queries' parent and
``order`` columns) or ``"census": ["SELECT party, id FROM party_address", …]`` (a parent key,
then what identifies a child row), each run first digests every child row into 128 buckets of
records (by key) and keeps the digests in the cursor (``[<cursor>, <tiebreak>, "<census>"]``,
about 1 KB): the records of a bucket whose digest moved are read again first, at the old
position and with the old census, so a run stopped among them does them again. That costs a
scan of the child rows' keys per run, and of the stream's keys (``deleted_query`` when given)
when a bucket moved.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import sqlite3
import urllib.parse
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
_STREAM_KEYS = frozenset({"query", "key", "key_prefix", "cursor", "cursor_tiebreak",
                          "deleted_query", "children", "census", "omit", "types"})
_CHILD_KEYS = frozenset({"query", "parent", "order", "omit", "types"})
_DETAIL_LIMIT = 2000
# Keys bound in one child query: under SQLite's oldest limit of 999 variables (32766 since
# 3.32) and PostgreSQL's 65535.
CHILD_CHUNK = 500
CENSUS_BUCKETS = 128  # a deleted child row makes 1/128 of the records be read again
CENSUS_BYTES = 4


# --- Parameters -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ChildSpec:
    """A query whose rows a record carries as a list, matched on ``parent`` = its key."""

    name: str
    query: str
    parent: str
    order: tuple[str, ...] = ("id",)
    omit: frozenset[str] = frozenset()
    types: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamSpec:
    """One stream's query and the columns that identify and order its rows."""

    name: str
    query: str
    key: str
    cursor: str | None = None
    tiebreak: str | None = None  # None: the key
    deleted_query: str | None = None
    key_prefix: str = ""
    children: tuple[ChildSpec, ...] = ()
    census: bool = False
    census_queries: tuple[str, ...] = ()  # empty: the child queries
    omit: frozenset[str] = frozenset()
    types: Mapping[str, str] = field(default_factory=dict)

    @property
    def order(self) -> tuple[str, ...]:
        """The columns of the keyset, in order: (cursor, tiebreak) or (key,)."""
        if self.cursor is None:
            return (self.key,)
        return (self.cursor, self.tiebreak or self.key)


def _clean_query(query: str) -> str:
    """Trailing semicolons and spaces off, so the query can be wrapped as a subquery."""
    return query.strip().rstrip(";").rstrip()


def _columns(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    """A column name or a list of them, each a plain identifier."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names:
        problems.append(f"{where}: a column name or a list of column names")
        return ()
    bad = [n for n in names if not isinstance(n, str) or not _IDENTIFIER.fullmatch(n)]
    if bad:
        problems.append(f"{where}: {', '.join(map(repr, bad))} is not a plain column name "
                        "(letters, digits and _; alias an expression in the query)")
        return ()
    return tuple(names)


def _types(value: Any, where: str, problems: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f'{where}: an object of column → type ({", ".join(sorted(TYPES))})')
        return {}
    out: dict[str, str] = {}
    for column, kind in value.items():
        if not isinstance(column, str) or not _IDENTIFIER.fullmatch(column):
            problems.append(f"{where}: {column!r} is not a plain column name")
        elif kind not in TYPES:
            problems.append(f"{where}.{column}: unknown type {kind!r} "
                            f"(known: {', '.join(sorted(TYPES))})")
        else:
            out[column] = kind
    return out


def _parse_children(value: Any, where: str, problems: list[str]) -> tuple[ChildSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping) or not value:
        problems.append(f'{where}: an object of child name → {{"query": …, "parent": …}}')
        return ()
    children: list[ChildSpec] = []
    for name, raw in value.items():
        at = f"{where}.{name}"
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
            problems.append(f"{where}: child name {name!r} is not a plain name (letters, "
                            "digits and _)")
            continue
        if not isinstance(raw, Mapping):
            problems.append(f'{at}: must be an object {{"query": …, "parent": …}}')
            continue
        unknown = sorted(set(raw) - _CHILD_KEYS)
        if unknown:
            problems.append(f"{at}: unknown setting(s) {', '.join(map(repr, unknown))} "
                            f"(known: {', '.join(sorted(_CHILD_KEYS))})")
        query = raw.get("query")
        if not isinstance(query, str) or not _clean_query(query):
            problems.append(f"{at}.query: a SELECT is required")
            query = ""
        parent = raw.get("parent")
        if parent in (None, ""):
            problems.append(f"{at}.parent: required (the column holding the record's key)")
            parent = ""
        elif not isinstance(parent, str) or not _IDENTIFIER.fullmatch(parent):
            problems.append(f"{at}.parent: {parent!r} is not a plain column name (letters, "
                            "digits and _; alias an expression in the query)")
            parent = ""
        order = _columns(raw.get("order", "id"), f"{at}.order", problems)
        omit = _columns(raw["omit"], f"{at}.omit", problems) if "omit" in raw else ()
        children.append(ChildSpec(name=name, query=_clean_query(query), parent=parent,
                                  order=order, omit=frozenset(omit),
                                  types=_types(raw.get("types"), f"{at}.types", problems)))
    return tuple(children)


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
        prefix = raw.get("key_prefix") or ""
        if not isinstance(prefix, str):
            problems.append(f"{where}.key_prefix: must be text")
            prefix = ""
        omit = _columns(raw["omit"], f"{where}.omit", problems) if "omit" in raw else ()
        census = raw.get("census", False)
        census_queries: tuple[str, ...] = ()
        if isinstance(census, list):
            census_queries = tuple(_clean_query(q) for q in census if isinstance(q, str))
            if not census or len(census_queries) != len(census) or not all(census_queries):
                problems.append(f"{where}.census: a list of SELECTs (parent key, then what "
                                "identifies a child row)")
            census = True
        if not isinstance(census, bool):
            problems.append(f"{where}.census: true, or a list of SELECTs")
        elif census and not columns["cursor"]:
            problems.append(f"{where}.census: only for a stream with a cursor")
        elif census and not (census_queries or raw.get("children")):
            problems.append(f"{where}.census: true needs children (or give the SELECTs)")
        specs[name] = StreamSpec(name=name, query=_clean_query(query or ""),
                                 key=columns["key"] or "id", cursor=columns["cursor"],
                                 tiebreak=columns["cursor_tiebreak"],
                                 deleted_query=_clean_query(deleted) if deleted else None,
                                 key_prefix=prefix,
                                 children=_parse_children(raw.get("children"),
                                                          f"{where}.children", problems),
                                 census=census is True, census_queries=census_queries,
                                 omit=frozenset(omit),
                                 types=_types(raw.get("types"), f"{where}.types", problems))
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


# --- Column types ---------------------------------------------------------------------------

def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    return str(value)


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | float):
        return Decimal(str(value))  # a float's shortest repr: 0.1 stays 0.1
    return Decimal(_text(value).strip())


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(_text(value).strip())


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return dt.datetime.fromisoformat(_text(value).strip())


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool | int):
        return bool(value)
    text = _text(value).strip().lower()
    if text in ("1", "t", "true", "y", "yes", "on"):
        return True
    if text in ("0", "f", "false", "n", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a boolean")


def _as_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    number = _as_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


TYPES: dict[str, Callable[[Any], Any]] = {
    "decimal": _as_decimal, "date": _as_date, "datetime": _as_datetime, "bool": _as_bool,
    "int": _as_int, "float": lambda v: float(_as_decimal(v)), "text": _text,
}


def _shape(columns: Sequence[str], row: Sequence[Any], omit: frozenset[str],
           types: Mapping[str, str], skip: int | None = None) -> tuple[dict[str, Any], str | None]:
    """A row as the dict a record carries: ``omit`` columns (and column ``skip``) left out,
    ``types`` applied. The second value says what could not be read, if anything."""
    folded_omit = {c.lower() for c in omit}
    folded_types = {c.lower(): k for c, k in types.items()}
    data: dict[str, Any] = {}
    problem = None
    for index, (column, value) in enumerate(zip(columns, row, strict=True)):
        if index == skip or column in omit or column.lower() in folded_omit:
            continue
        kind = types.get(column) or folded_types.get(column.lower())
        if kind is not None and value is not None:
            try:
                value = TYPES[kind](value)
            except (ValueError, TypeError, ArithmeticError):  # decimal.InvalidOperation too
                problem = problem or f"column {column}: {value!r} is not a {kind}"
        data[column] = value
    return data, problem


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

def _column(columns: Sequence[str], name: str, spec: StreamSpec, setting: str,
            child: ChildSpec | None = None) -> int:
    """Where ``name`` is in the result: exact, else the one matching whatever its case
    (PostgreSQL folds unquoted names to lower case)."""
    if name in columns:
        return list(columns).index(name)
    folded = [i for i, c in enumerate(columns) if c.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    where = f"Stream {spec.name}" + (f", child {child.name}" if child else "")
    raise ConfigError(f"{where}: the query has no column {name!r} for {setting} "
                      f"(columns: {', '.join(columns) or 'none'})")


def _key_text(value: Any) -> str:
    return "" if value is None else str(value)


def _bucket(key: str) -> int:
    """A record's census bucket, from its key as text: a whole number modulo the number of
    buckets (ids spread evenly), any other key by its hash."""
    if key.isascii() and key.isdigit():
        return int(key) % CENSUS_BUCKETS
    return hashlib.blake2b(key.encode(), digest_size=2).digest()[0] % CENSUS_BUCKETS


class SqlStream(Stream):
    """The rows of one query, page after page in keyset order."""

    def __init__(self, connector: SqlConnector, spec: StreamSpec) -> None:
        self.connector = connector
        self.spec = spec
        self.name = spec.name
        self.key_prefix = spec.key_prefix

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
        if not spec.census:
            yield from self._pass(decode_cursor(cursor, len(spec.order)), None)
            return
        # The cursor is the keyset position and the census it was read with.
        decoded = decode_cursor(cursor, len(spec.order) + 1)
        after, old = (decoded[:-1], decoded[-1]) if decoded else (None, None)
        census = self.census()
        moved: list[Any] = []
        if after is not None and isinstance(old, str) and len(old) == len(census):
            moved = self._keys_in_moved_buckets(old, census)
        # The records of the buckets whose children changed come first, at the old position
        # with the old census (a run stopped among them does them again); the last one
        # records the new census when nothing else follows.
        held: Record | None = None
        if moved and after is not None:
            position = encode_cursor([*after, old])
            for record in self._records_at_or_before(moved, after, position):
                if held is not None:
                    yield held
                held = record
        for record in self._pass(after, census):
            if held is not None:
                yield held
                held = None
            yield record
        if held is not None and after is not None:
            held.cursor = encode_cursor([*after, census])
            yield held

    def _pass(self, after: list[Any] | None, census: str | None) -> Iterator[Record]:
        """The records after ``after`` in keyset order, page by page."""
        spec = self.spec
        db = self.connector.db
        size = self.connector.page_size
        what = f"stream {spec.name}"
        tail = [] if census is None else [census]
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
            for record, values in self._records(columns, rows):
                after = values
                record.cursor = encode_cursor([*values, *tail])
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

    def _records(self, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
                 ) -> Iterator[tuple[Record, list[Any]]]:
        """The records of a page of rows (children attached), each with its keyset values."""
        spec = self.spec
        key_at = _column(columns, spec.key, spec, "key")
        order_at = [_column(columns, c, spec, s) for c, s in
                    zip(spec.order, ("cursor", "cursor_tiebreak") if spec.cursor else ("key",),
                        strict=True)]
        children = self.children(columns, [row[key_at] for row in rows])
        for row in rows:
            raw_key = row[key_at]
            key = spec.key_prefix + _key_text(raw_key)
            data, problem = _shape(columns, row, spec.omit, spec.types)
            for child, found in children:
                lists = found.get(_key_text(raw_key), ([], None))
                data[child.name] = list(lists[0])
                problem = problem or (lists[1] and f"{child.name}: {lists[1]}")
            yield (Record(key=key, data=data, position=f"{spec.name} {key}",
                          error=problem or None), [row[i] for i in order_at])

    # --- Census: deleted child rows leave no date behind ------------------------------------

    def census(self) -> str:
        """Per bucket of records (by key), a digest of their child rows' identities (the
        ``census`` queries' rows, else each child's parent and ``order`` columns), order-free:
        a child row deleted moves its bucket's digest."""
        db = self.connector.db
        spec = self.spec
        sums = [0] * CENSUS_BUCKETS
        modulo = 1 << (8 * CENSUS_BYTES)
        if spec.census_queries:
            queries = [(db.sql(q), f"stream {spec.name}, census") for q in spec.census_queries]
        else:
            queries = []
            for child in spec.children:
                columns = ", ".join(f"c.{column}" for column in (child.parent, *child.order))
                queries.append((f"SELECT {columns} FROM (\n{db.sql(child.query)}\n) AS c",
                                f"stream {spec.name}, child {child.name}"))
        for n, (sql, what) in enumerate(queries):
            for row in db.iterate(sql, what=what, size=self.connector.page_size):
                parent = _key_text(row[0])
                identity = json.dumps([n, parent, *map(_typed, row[1:])], default=str)
                digest = hashlib.blake2b(identity.encode(), digest_size=CENSUS_BYTES).digest()
                bucket = _bucket(parent)
                sums[bucket] = (sums[bucket] + int.from_bytes(digest, "big")) % modulo
        return "".join(f"{value:0{2 * CENSUS_BYTES}x}" for value in sums)

    def _keys_in_moved_buckets(self, old: str, new: str) -> list[Any]:
        """The keys (as the query gives them) of the buckets whose census moved: from
        ``deleted_query`` when there is one (cheaper), else from the stream query."""
        width = 2 * CENSUS_BYTES
        moved = {n for n in range(CENSUS_BUCKETS)
                 if old[n * width:(n + 1) * width] != new[n * width:(n + 1) * width]}
        if not moved:
            return []
        db = self.connector.db
        spec = self.spec
        sql = (db.sql(spec.deleted_query) if spec.deleted_query else
               f"SELECT q.{spec.key} FROM (\n{db.sql(spec.query)}\n) AS q")
        keys = {_key_text(row[0]): row[0]
                for row in db.iterate(sql, what=f"stream {spec.name}, census",
                                      size=self.connector.page_size)
                if row and row[0] is not None and _bucket(_key_text(row[0])) in moved}
        return [keys[k] for k in sorted(keys)]

    def _records_at_or_before(self, keys: Sequence[Any], after: list[Any], position: str
                              ) -> Iterator[Record]:
        """The records of ``keys`` the keyset pass will not read (at or before ``after``)."""
        db = self.connector.db
        spec = self.spec
        later, later_params = keyset_after(spec.order, after, db.mark)
        for start in range(0, len(keys), CHILD_CHUNK):
            chunk = list(keys[start:start + CHILD_CHUNK])
            sql = (f"SELECT * FROM (\n{db.sql(spec.query)}\n) AS q WHERE q.{spec.key} IN "
                   f"({', '.join([db.mark] * len(chunk))}) AND NOT COALESCE({later}, FALSE) "
                   f"ORDER BY q.{spec.key}")
            columns, rows = db.fetch(sql, [*chunk, *later_params],
                                     what=f"stream {spec.name}")
            for record, _values in self._records(columns, rows):
                record.cursor = position
                yield record

    def children(self, columns: Sequence[str], keys: Sequence[Any]
                 ) -> list[tuple[ChildSpec, dict[str, tuple[list[dict[str, Any]], str | None]]]]:
        """For each child query, its rows by parent key (as text) for the keys of a page,
        with what could not be read among them."""
        spec = self.spec
        if not spec.children:
            return []
        carried = {c.lower() for c in columns} - {c.lower() for c in spec.omit}
        clash = [c.name for c in spec.children if c.name.lower() in carried]
        if clash:
            raise ConfigError(f"Stream {spec.name}: child {clash[0]!r} has the name of a "
                              "column of the query (rename one, or omit the column)")
        distinct = list({_key_text(k): k for k in keys if k is not None}.values())
        return [(child, self._child_rows(child, distinct)) for child in spec.children]

    def _child_rows(self, child: ChildSpec, keys: Sequence[Any]
                    ) -> dict[str, tuple[list[dict[str, Any]], str | None]]:
        db = self.connector.db
        what = f"stream {self.spec.name}, child {child.name}"
        found: dict[str, tuple[list[dict[str, Any]], str | None]] = {}
        order = ", ".join(f"c.{c}" for c in (child.parent, *child.order))
        for start in range(0, len(keys), CHILD_CHUNK):
            chunk = keys[start:start + CHILD_CHUNK]
            sql = (f"SELECT * FROM (\n{db.sql(child.query)}\n) AS c WHERE c.{child.parent} "
                   f"IN ({', '.join([db.mark] * len(chunk))}) ORDER BY {order}")
            columns, rows = db.fetch(sql, chunk, what=what)
            parent_at = _column(columns, child.parent, self.spec, "parent", child)
            for row in rows:
                data, problem = _shape(columns, row, child.omit, child.types, skip=parent_at)
                parent = _key_text(row[parent_at])
                rows_of, first_problem = found.get(parent, ([], None))
                rows_of.append(data)
                found[parent] = (rows_of, first_problem or problem)
        return found

    def existing_keys(self) -> Iterable[str] | None:
        """The first column of ``deleted_query``; None without one, or when it returns no
        row at all (more likely a wrong database than an ERP with nothing left)."""
        if not self.spec.deleted_query:
            return None
        db = self.connector.db
        prefix = self.spec.key_prefix
        keys = {prefix + str(row[0]) for row in db.iterate(
                    db.sql(self.spec.deleted_query), what=f"stream {self.name}, deleted_query",
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
                                  '"deleted_query": "SELECT id FROM …", "children": {"lines": '
                                  '{"query": "SELECT sale AS parent, … FROM sale_line", '
                                  '"parent": "parent", "order": "id"}}}. The cursor should '
                                  "never be NULL: COALESCE(write_date, create_date), and "
                                  "should be the latest change of the record and its "
                                  "children."),
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
        self.specs = parse_streams(self.stream_settings())
        self.page_size = _page_size(self.params["page_size"])
        self.db = open_database(str(self.params["url"]))

    def stream_settings(self) -> Any:
        """The ``streams`` setting (a subclass may build it: ``tryton-sql``)."""
        return self.params["streams"]

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
            for child in spec.children:
                columns, _rows = db.fetch(
                    f"SELECT * FROM (\n{db.sql(child.query)}\n) AS c LIMIT 0", [],
                    what=f"stream {spec.name}, child {child.name}")
                for column in (child.parent, *child.order):
                    _column(columns, column, spec, "parent" if column == child.parent
                            else "order", child)
            for query in spec.census_queries:
                db.fetch(f"SELECT * FROM (\n{db.sql(query)}\n) AS c LIMIT 0", [],
                         what=f"stream {spec.name}, census")

    def streams(self) -> dict[str, Stream]:
        return {name: SqlStream(self, spec) for name, spec in self.specs.items()}

    def close(self) -> None:
        self.db.close()
