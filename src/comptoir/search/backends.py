"""The two full-text engines behind one small interface; all backend-specific SQL is here.

* **SQLite**: an FTS5 table over ``search_searchentry.text`` (external content, kept in step by
  triggers), ``detail=none`` (no positions: words and prefixes are all a query needs, and the
  index is much smaller), prefix indexes for 2 and 3 characters so that the first letters
  typed stay fast. FTS5 intersects words by stepping through their row lists, so a word found
  in a large share of the rows ("sarl", "et", "paris") is not given to it: it is tested on the
  text of the rows the rarer words found. Visibility is checked in a narrow index before the
  row itself is read.
* **PostgreSQL**: a GIN index on a stored ``to_tsvector('simple', text)`` column. The text is
  normalised before it is stored, so the ``simple`` configuration only splits it into words,
  as FTS5 does.

A query is a conjunction of groups (one per query word), each group a disjunction of exact words
and word starts. Both engines walk one object type's id range newest first, with the visibility
filter in the same statement, and stop at ``limit``: a rep who sees 1 % of a million accounts
gets their matches without the engine reading everybody's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection
from django.db.models import Q
from django.db.utils import NotSupportedError

from .models import TYPE_SHIFT, SearchEntry

TABLE = SearchEntry._meta.db_table
FTS_TABLE = "search_fts"

FetchedRow = tuple[int, str, str, str]  # entry id, title, subtitle, text
Filter = tuple[str, list[Any]]  # SQL and its parameters
Scope = tuple[tuple[int, int], Filter | None, int]  # a type's id range, its filter, a limit
COMMON = 100_000  # rows: a word in more is tested on the rows found, not intersected by FTS5
PG_RARE = 20_000  # rows: a word in fewer is looked up in the GIN index, not checked row by row


@dataclass(frozen=True)
class Group:
    """One query word's acceptable forms: exact words, or starts of words."""

    terms: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    rows: int = 0  # about how many index rows match it (0: few or unknown)

    def __bool__(self) -> bool:
        return bool(self.terms or self.prefixes)


class Nothing(Exception):
    """The visibility filter excludes every row."""


def compile_filter(q: Q | None) -> tuple[str, list[Any]] | None:
    """SQL for a filter on ``SearchEntry``'s columns (``None``: no restriction)."""
    if q is None:
        return None
    query = SearchEntry.objects.filter(q).query
    compiler = query.get_compiler(connection=connection)
    try:
        sql, params = query.where.as_sql(compiler, connection)
    except EmptyResultSet as exc:
        raise Nothing from exc
    except FullResultSet:
        return None
    return sql, list(params)


class Backend:
    vendor = ""
    # null-safe "differs from", for the upsert that leaves unchanged rows alone
    distinct = "IS DISTINCT FROM"

    def selective(self, groups: Sequence[Group]) -> list[Group]:
        """The groups the full-text engine itself should evaluate; ``match`` tests the others
        on each row's words (cheaper than making the engine intersect very common words)."""
        return list(groups)

    def match(self, *, id_range: tuple[int, int], groups: Sequence[Group],
              where: tuple[str, list[Any]] | None, limit: int) -> list[FetchedRow]:
        """Up to ``limit`` rows of one type's id range matching every group, newest first."""
        raise NotImplementedError

    def match_many(self, *, scopes: Sequence[Scope], groups: Sequence[Group]
                   ) -> list[FetchedRow]:
        """``match`` for several types, each with its own filter and limit."""
        rows: list[FetchedRow] = []
        for id_range, where, limit in scopes:
            rows += self.match(id_range=id_range, groups=groups, where=where, limit=limit)
        return rows

    def begin_bulk_load(self, cursor: Any) -> None:
        """Before the index is emptied and refilled in one transaction: stop maintaining the
        full-text index row by row."""

    def end_bulk_load(self, cursor: Any) -> None:
        """After it: build the full-text index in one pass."""

    def optimize(self, cursor: Any) -> None:
        """Compact the index after a rebuild."""


class SQLiteBackend(Backend):
    vendor = "sqlite"
    distinct = "IS NOT"

    # As created by migration 0002 (dropped and recreated around a bulk clear).
    _TRIGGERS = (
        f"""CREATE TRIGGER search_entry_ai AFTER INSERT ON {TABLE} BEGIN
              INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text);
            END""",
        f"""CREATE TRIGGER search_entry_ad AFTER DELETE ON {TABLE} BEGIN
              INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
            END""",
        f"""CREATE TRIGGER search_entry_au AFTER UPDATE OF text ON {TABLE}
            WHEN old.text IS NOT new.text BEGIN
              INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
              INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text);
            END""",
    )

    def _create_triggers(self, cursor: Any) -> None:
        for sql in self._TRIGGERS:
            cursor.execute(sql)

    def _drop_triggers(self, cursor: Any) -> None:
        for name in ("search_entry_ai", "search_entry_ad", "search_entry_au"):
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")

    def begin_bulk_load(self, cursor: Any) -> None:
        # FTS5 indexes a whole table ('rebuild') about four times faster than row by row
        # through the triggers. All of it happens in the caller's transaction, so the
        # triggers cannot stay dropped.
        self._drop_triggers(cursor)
        cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('delete-all')")

    def end_bulk_load(self, cursor: Any) -> None:
        cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
        self._create_triggers(cursor)

    def optimize(self, cursor: Any) -> None:
        cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")

    @staticmethod
    def expression(groups: Sequence[Group]) -> str:
        parts = []
        for group in groups:
            alternatives = [f'"{t}"' for t in group.terms] + [f'"{p}"*' for p in group.prefixes]
            parts.append(alternatives[0] if len(alternatives) == 1
                         else "(" + " OR ".join(alternatives) + ")")
        return " AND ".join(parts)

    def selective(self, groups: Sequence[Group]) -> list[Group]:
        # FTS5 intersects by stepping through the doclists of every word: a word in one row
        # out of ten ("sarl", "et", "paris") costs tens of milliseconds in a query of several
        # words. Such words are left out of the MATCH (but for the rarest group) and tested on
        # the text of the rows the others found.
        rated = sorted(groups, key=lambda g: g.rows)
        return rated[:1] + [g for g in rated[1:] if g.rows < COMMON]

    @staticmethod
    def _contains(group: Group) -> tuple[str, list[str]]:
        """SQL testing ``group`` on a row's words (single spaces, see ``text``)."""
        tests = [f"instr(' ' || {TABLE}.text || ' ', %s) > 0" for _t in group.terms]
        tests += [f"instr(' ' || {TABLE}.text, %s) > 0" for _p in group.prefixes]
        params = [f" {t} " for t in group.terms] + [f" {p}" for p in group.prefixes]
        return "(" + " OR ".join(tests) + ")", params

    def match(self, *, id_range: tuple[int, int], groups: Sequence[Group],
              where: tuple[str, list[Any]] | None, limit: int) -> list[FetchedRow]:
        # CROSS JOIN keeps FTS5 as the outer loop: it hands rowids over in ascending order
        # (newest first, see ``models``) within the type's range, each row is looked up by
        # primary key and filtered, and the statement stops at ``limit``. Common words are
        # tested on the row's text, not intersected by FTS5 (``selective``).
        engine = self.selective(groups)
        # With a visibility filter, the narrow index ``search_entry_access`` answers it and
        # the row itself is read only for what the user may see (SQLite defers the seek).
        access = " INDEXED BY search_entry_access" if where is not None else ""
        sql = (f"SELECT {TABLE}.id, {TABLE}.title, {TABLE}.subtitle, {TABLE}.text "
               f"FROM {FTS_TABLE} CROSS JOIN {TABLE}{access} ON {TABLE}.id = {FTS_TABLE}.rowid "
               f"WHERE {FTS_TABLE} MATCH %s AND {FTS_TABLE}.rowid BETWEEN %s AND %s")
        params: list[Any] = [self.expression(engine), *id_range]
        if where is not None:
            sql += f" AND ({where[0]})"
            params += where[1]
        for group in groups:
            if group not in engine:
                test, test_params = self._contains(group)
                sql += f" AND {test}"
                params += test_params
        sql += f" ORDER BY {FTS_TABLE}.rowid LIMIT %s"
        params.append(limit)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [tuple(r) for r in cursor.fetchall()]  # type: ignore[misc]


class PostgreSQLBackend(Backend):
    vendor = "postgresql"
    VECTOR = "words"  # tsvector of ``text``, a stored generated column (migration 0002)

    def begin_bulk_load(self, cursor: Any) -> None:
        cursor.execute("DROP INDEX IF EXISTS search_entry_words")

    def end_bulk_load(self, cursor: Any) -> None:
        cursor.execute(f"CREATE INDEX search_entry_words ON {TABLE} USING gin ({self.VECTOR})")

    def optimize(self, cursor: Any) -> None:
        cursor.execute(f"ANALYZE {TABLE}")

    @staticmethod
    def expression(groups: Sequence[Group]) -> str:
        parts = []
        for group in groups:
            alternatives = [f"'{t}'" for t in group.terms] + [f"'{p}':*" for p in group.prefixes]
            parts.append("(" + " | ".join(alternatives) + ")")
        return " & ".join(parts)

    def match(self, *, id_range: tuple[int, int], groups: Sequence[Group],
              where: tuple[str, list[Any]] | None, limit: int) -> list[FetchedRow]:
        # Walks the type's ids in order and checks each row: right when many rows match (see
        # ``match_many`` for the other case).
        sql = (f"SELECT id, title, subtitle, text FROM {TABLE} "
               f"WHERE {self.VECTOR} @@ to_tsquery('simple'::regconfig, %s) "
               f"AND id BETWEEN %s AND %s")
        params: list[Any] = [self.expression(groups), *id_range]
        if where is not None:
            sql += f" AND ({where[0]})"
            params += where[1]
        sql += " ORDER BY id LIMIT %s"
        params.append(limit)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [tuple(r) for r in cursor.fetchall()]  # type: ignore[misc]

    def match_many(self, *, scopes: Sequence[Scope], groups: Sequence[Group]
                   ) -> list[FetchedRow]:
        # Given "ORDER BY id LIMIT n" the planner walks the ids in order and checks each row,
        # which is slow when few rows match. When the rarest word is known to be rare (the
        # counts of the last rebuild), one statement takes every type's matches from the
        # GIN index (a materialised CTE the planner cannot fold in, the type an expression no
        # index tempts it with) and keeps each type's first rows.
        if min(g.rows for g in groups) >= PG_RARE or len(scopes) < 2:
            return super().match_many(scopes=scopes, groups=groups)
        tests: list[str] = []
        params: list[Any] = [self.expression(groups)]
        for id_range, where, _limit in scopes:
            test = f"({TABLE}.id >> {TYPE_SHIFT}) = %s"
            params.append(id_range[0] >> TYPE_SHIFT)
            if where is not None:
                test += f" AND ({where[0]})"
                params += where[1]
            tests.append(f"({test})")
        params.append(max(limit for _r, _w, limit in scopes))
        sql = (f"WITH found AS MATERIALIZED (SELECT id, title, subtitle, text FROM {TABLE} "
               f"WHERE {self.VECTOR} @@ to_tsquery('simple'::regconfig, %s) "
               f"AND ({' OR '.join(tests)})) "
               f"SELECT id, title, subtitle, text FROM (SELECT *, row_number() OVER "
               f"(PARTITION BY id >> {TYPE_SHIFT} ORDER BY id) AS n FROM found) AS ranked "
               f"WHERE n <= %s ORDER BY id")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [tuple(r) for r in cursor.fetchall()]  # type: ignore[misc]


_BACKENDS: dict[str, Backend] = {b.vendor: b for b in (SQLiteBackend(), PostgreSQLBackend())}


def backend(vendor: str | None = None) -> Backend:
    name = vendor or connection.vendor
    try:
        return _BACKENDS[name]
    except KeyError as exc:
        raise NotSupportedError(f"Search has no backend for {name}.") from exc
