"""Keeping the index current: an outbox consumer, and a streamed rebuild from the tables.

The consumer reads ``OutboxEvent`` rows after its cursor and, for every record they name, reads
the record again and writes its index row (or deletes it when the record is gone). Reading the
current state instead of replaying the events makes it idempotent: reading an event twice, or
after a rebuild, changes nothing. An account whose name, owner or territory changed, or that was
deleted, has its children's rows written again (they repeat those), since its deletion's
cascade or a bulk territory reassignment writes no event for them. The cursor moves in the
transaction that wrote the rows.

The rebuild reads each table in primary-key order, in batches, writes rows with an upsert that
leaves unchanged rows alone, and drops the rows of records no longer there: memory stays flat
and the index stays searchable while it runs.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import Max

from comptoir.core.forked import can_fork, produced_in_fork
from comptoir.core.models import ObjectType, OutboxEvent
from comptoir.core.sql import sqlite_pragmas

from .backends import TABLE, backend
from .models import SearchCursor, SearchEntry, SearchTerm
from .sources import ACCOUNT_FIELDS_IN_CHILDREN, CHILD_SOURCES, ENTRY_COLUMNS, SOURCES, Row, Source
from .vocabulary import forget as forget_vocabulary
from .vocabulary import vocabulary

log = logging.getLogger(__name__)

CURSOR = "outbox"
BATCH_EVENTS = 1000
CATCH_UP_EVENTS = 500  # read before a query: a burst larger than this waits for the worker
JOB_EVENTS = 100_000  # read by one run of the periodic job
GAP_TTL = 120.0  # seconds a missing event id is looked for again
MAX_GAPS = 1000
CATCH_UP_LOCK_MS = 200  # how long a query waits for SQLite's write lock before searching as is
_CHUNK = 500


# --- Writing rows ----------------------------------------------------------------------------

def _upsert_sql() -> str:
    quote = connection.ops.quote_name
    cols = ", ".join(quote(c) for c in ENTRY_COLUMNS)
    values = ", ".join(["%s"] * len(ENTRY_COLUMNS))
    changing = [quote(c) for c in ENTRY_COLUMNS[1:]]
    sets = ", ".join(f"{c} = excluded.{c}" for c in changing)
    distinct = backend().distinct
    differs = " OR ".join(f"{TABLE}.{c} {distinct} excluded.{c}" for c in changing)
    return (f"INSERT INTO {TABLE} ({cols}) VALUES ({values}) "
            f"ON CONFLICT ({quote('id')}) DO UPDATE SET {sets} WHERE {differs}")


def _alpha_words(texts: Iterable[str]) -> set[str]:
    words: set[str] = set()
    for text in texts:
        words.update(text.split())
    return {w for w in words if w.isalpha() and len(w) <= 100}


def _add_terms(words: Iterable[str]) -> None:
    fresh = sorted(words)
    if fresh:
        SearchTerm.objects.bulk_create([SearchTerm(term=w) for w in fresh],
                                       ignore_conflicts=True, batch_size=2000)


def _count_words(rows: Sequence[Row], known: set[str], counts: Counter[str] | None
                 ) -> set[str]:
    """The alphabetic words of ``rows`` not in ``known`` (then added to it), each word's rows
    added to ``counts``."""
    if counts is None:
        fresh = _alpha_words(r[5] for r in rows) - known
    else:
        fresh = set()
        for word, n in Counter(chain.from_iterable(r[5].split() for r in rows)).items():
            if word.isalpha() and len(word) <= 100:
                counts[word] += n
                if word not in known:
                    fresh.add(word)
    known |= fresh
    return fresh


def write_rows(rows: Sequence[Row], *, known_terms: set[str] | None = None,
               counts: Counter[str] | None = None) -> None:
    """Insert or update index rows, and record their new words in the vocabulary.

    ``known_terms`` is the caller's own record of the words already stored (a rebuild, which
    also counts them in ``counts``); else the process vocabulary says which words are new.
    """
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(_upsert_sql(), rows)
    if known_terms is None:
        _add_terms(_alpha_words(r[5] for r in rows) - vocabulary().terms)
    else:
        _add_terms(_count_words(rows, known_terms, counts))


def _store_counts(counts: Counter[str]) -> None:
    """Each word's rows, as counted by a full rebuild: the query planner's statistics."""
    with transaction.atomic(), connection.cursor() as cursor:
        SearchTerm.objects.exclude(rows=0).update(rows=0)
        cursor.executemany(
            f"UPDATE {SearchTerm._meta.db_table} SET rows = %s WHERE term = %s",
            [(n, w) for w, n in counts.items()])
    forget_vocabulary()


def delete_entries(entry_ids: Iterable[int]) -> int:
    ids = list(entry_ids)
    deleted = 0
    for start in range(0, len(ids), _CHUNK):
        deleted += SearchEntry.objects.filter(id__in=ids[start:start + _CHUNK])._raw_delete(
            connection.alias)
    return deleted


def _read(source: Source, **lookup: Any) -> list[Row]:
    data = list(source.model._default_manager.filter(**lookup).order_by().values(*source.values))
    return [source.row(d) for d in source.with_related(data)]


def index_objects(source: Source, object_ids: Iterable[int]) -> tuple[int, int]:
    """Write the rows of these records as they are now; drop those of records gone.
    Returns (written, deleted)."""
    ids = sorted(set(object_ids))
    written = deleted = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        rows = _read(source, pk__in=chunk)
        write_rows(rows)
        found = {r[2] for r in rows}
        deleted += delete_entries(source.entry_id(i) for i in chunk if i not in found)
        written += len(rows)
    return written, deleted


def refresh_children(account_ids: Iterable[int]) -> tuple[int, int]:
    """Write again the rows of the records attached to these accounts (contacts, deals,
    cases, documents), which repeat the account's name, owner and territory; drop the rows of
    children gone with them."""
    ids = sorted(set(account_ids))
    written = deleted = 0
    for source in CHILD_SOURCES:
        low, high = source.id_range
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            rows = _read(source, account_id__in=chunk)
            write_rows(rows)
            written += len(rows)
            fresh = {r[0] for r in rows}
            stale = (SearchEntry.objects.filter(id__gte=low, id__lte=high, account_id__in=chunk)
                     .values_list("id", flat=True))
            deleted += delete_entries(i for i in stale if i not in fresh)
    return written, deleted


# --- The outbox consumer -----------------------------------------------------------------------

@dataclass
class Consumed:
    events: int = 0
    written: int = 0
    deleted: int = 0

    def add(self, other: Consumed) -> None:
        self.events += other.events
        self.written += other.written
        self.deleted += other.deleted


def _apply(events: Sequence[dict[str, Any]]) -> Consumed:
    by_source: dict[str, set[int]] = defaultdict(set)
    accounts: set[int] = set()
    for event in events:
        source = SOURCES.get(event["object_type"])
        if source is None:
            continue
        by_source[source.object_type].add(event["object_id"])
        if source.object_type == ObjectType.ACCOUNT.value:
            action = event["topic"].rsplit(".", 1)[-1]
            changes = (event["payload"] or {}).get("changes") or {}
            if action == "deleted" or (action != "created"
                                       and ACCOUNT_FIELDS_IN_CHILDREN & set(changes)):
                accounts.add(event["object_id"])
    done = Consumed(events=len(events))
    for object_type, ids in by_source.items():
        written, deleted = index_objects(SOURCES[object_type], ids)
        done.written += written
        done.deleted += deleted
    if accounts:
        written, deleted = refresh_children(accounts)
        done.written += written
        done.deleted += deleted
    return done


def _cursor_for_update(*, wait: bool = True) -> SearchCursor | None:
    """The cursor row, locked (PostgreSQL: consumers take turns; SQLite: the transaction's
    write lock does it). ``None`` when another consumer holds it and ``wait`` is false."""
    cursor = SearchCursor.objects.select_for_update(skip_locked=not wait).filter(
        pk=CURSOR).first()
    if cursor is None:
        if not wait and SearchCursor.objects.filter(pk=CURSOR).exists():
            return None
        cursor, _created = SearchCursor.objects.get_or_create(pk=CURSOR)
    return cursor


_EVENT_FIELDS = ("id", "topic", "object_type", "object_id", "payload")


def _consume_batch(limit: int, *, wait: bool = True) -> Consumed:
    with transaction.atomic():
        cursor = _cursor_for_update(wait=wait)
        if cursor is None:
            return Consumed()
        start = cursor.last_event_id
        events = list(OutboxEvent.objects.filter(id__gt=start).order_by("id")
                      .values(*_EVENT_FIELDS)[:limit])
        gaps: dict[str, float] = dict(cursor.gaps or {})
        late = (list(OutboxEvent.objects.filter(id__in=[int(i) for i in gaps])
                     .values(*_EVENT_FIELDS)) if gaps else [])
        if not events and not late and not gaps:
            return Consumed()
        done = _apply(events + late)
        now = time.time()
        for event in late:
            gaps.pop(str(event["id"]), None)
        gaps = {k: v for k, v in gaps.items() if now - v < GAP_TTL}
        if events and events[-1]["id"] - start - len(events) <= MAX_GAPS - len(gaps):
            # On PostgreSQL ids are taken when a transaction inserts, not when it commits: an
            # id missing below the newest one read may still arrive. (SQLite commits one
            # writer at a time: no gap there. Many missing ids mean events were deleted.)
            seen = {e["id"] for e in events}
            gaps.update((str(i), now) for i in range(start + 1, events[-1]["id"])
                        if i not in seen)
        cursor.last_event_id = events[-1]["id"] if events else start
        cursor.gaps = gaps
        cursor.save(update_fields=["last_event_id", "gaps", "updated_at"])
        return done


def consume(max_events: int | None = None, *, batch: int = BATCH_EVENTS,
            wait: bool = True) -> Consumed:
    """Apply the outbox events after the cursor (up to ``JOB_EVENTS``), ``batch`` per
    transaction. Without ``wait``, give up when another consumer is at it."""
    max_events = max_events or JOB_EVENTS
    total = Consumed()
    while total.events < max_events:
        done = _consume_batch(min(batch, max_events - total.events), wait=wait)
        total.add(done)
        if done.events == 0:
            break
    return total


def pending() -> bool:
    """Whether events wait to be read (two indexed reads, no lock)."""
    row = SearchCursor.objects.filter(pk=CURSOR).values_list("last_event_id", "gaps").first()
    last, gaps = row if row is not None else (0, {})
    if OutboxEvent.objects.filter(id__gt=last).exists():
        return True
    return bool(gaps) and OutboxEvent.objects.filter(id__in=[int(i) for i in gaps]).exists()


def catch_up(max_events: int | None = None) -> int:
    """Read the last events before a query, so a record saved a moment ago is found.

    Bounded, and it does not queue behind another consumer (PostgreSQL) nor wait more than
    ``CATCH_UP_LOCK_MS`` for SQLite's write lock: a query never waits for a long import; it
    searches the index as it is and the worker catches up.
    """
    if not pending():
        return 0
    max_events = max_events or CATCH_UP_EVENTS
    try:
        if connection.vendor == "sqlite" and not connection.in_atomic_block:
            with sqlite_pragmas(busy_timeout=CATCH_UP_LOCK_MS):
                return consume(max_events, wait=False).events
        return consume(max_events, wait=False).events
    except OperationalError as exc:
        if connection.vendor != "sqlite" or "locked" not in str(exc):
            raise
        log.info("search index catch-up skipped: the database is busy")
        return 0


# --- Rebuild -----------------------------------------------------------------------------------

Progress = Callable[[str, int, int, float], None]  # object type, rows done, rows total, seconds


@dataclass
class Rebuilt:
    rows: dict[str, int] = field(default_factory=dict)
    deleted: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0


def _insert_sql() -> str:
    quote = connection.ops.quote_name
    return (f"INSERT INTO {TABLE} ({', '.join(quote(c) for c in ENTRY_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(ENTRY_COLUMNS))})")


def _batches(source: Source, batch_size: int) -> Iterator[list[Row]]:
    """The source's rows, newest record first (ascending entry ids: the order the index is
    best written in), ``batch_size`` at a time (keyset paging on the primary key)."""
    names = source.values
    manager = source.model._default_manager
    query = manager.order_by("-pk").values_list(*names)
    batch = list(query[:batch_size])
    while batch:
        data = source.with_related([dict(zip(names, values, strict=True)) for values in batch])
        yield [source.row(d) for d in data]
        batch = list(query.filter(pk__lt=batch[-1][0])[:batch_size])


def _in_process(sources: Sequence[Source], batch_size: int
                ) -> Iterator[tuple[str, list[Row]]]:
    for source in sources:
        for rows in _batches(source, batch_size):
            yield source.object_type, rows


def _in_background(sources: Sequence[Source], batch_size: int
                   ) -> Iterator[tuple[str, list[Row]]]:
    """``_in_process`` run in a forked process, at most two batches ahead.

    Reading and building rows is Python; inserting them and building the full-text index is
    the database's work: on two cores they overlap. The child opens its own connection (the
    parent's is in the middle of a transaction) and reads only the domain tables.
    """

    def produce() -> Iterator[tuple[str, list[Row]]]:
        connection.connection = None  # never touch the parent's; a new one opens
        yield from _in_process(sources, batch_size)

    return produced_in_fork(produce, name="search index builder", depth=2)


BACKGROUND_FROM = 50_000  # rows; below, building them here is as fast as forking


def rebuild(*, types: Sequence[str] | None = None, batch_size: int = 5000, clear: bool = False,
            progress: Progress | None = None) -> Rebuilt:
    """Write every index row again from the tables (all types, or ``types``).

    In place by default: one transaction per batch, unchanged rows left alone, rows of
    vanished records dropped; searches and writes go on meanwhile. ``clear`` with every type
    is a bulk load instead: the index is emptied and refilled in one transaction, rows built
    in a forked process while this one writes, the full-text index built once at the end
    (several times faster; on SQLite it holds the write lock throughout, so it is meant for a
    fresh or quiet database: the demo, a restore).
    """
    started = time.monotonic()
    sources = [SOURCES[t] for t in (types or SOURCES)]
    everything = {s.object_type for s in sources} == set(SOURCES)
    last_event = OutboxEvent.objects.aggregate(m=Max("id"))["m"] or 0
    known = set(SearchTerm.objects.values_list("term", flat=True))
    counts: Counter[str] | None = Counter() if everything else None
    totals = {s.object_type: s.model._default_manager.count() for s in sources}
    result = Rebuilt(rows=dict.fromkeys(totals, 0))

    def report(object_type: str) -> None:
        if progress is not None:
            progress(object_type, result.rows[object_type], totals[object_type],
                     time.monotonic() - started)

    if clear and everything:
        engine = backend()
        insert = _insert_sql()
        background = (sum(totals.values()) >= BACKGROUND_FROM
                      and can_fork())
        with transaction.atomic(), connection.cursor() as cursor:
            engine.begin_bulk_load(cursor)
            cursor.execute(f"DELETE FROM {TABLE}")
            produced = (_in_background(sources, batch_size) if background
                        else _in_process(sources, batch_size))
            for object_type, rows in produced:
                cursor.executemany(insert, rows)
                _add_terms(_count_words(rows, known, counts))
                result.rows[object_type] += len(rows)
                report(object_type)
            engine.end_bulk_load(cursor)
    else:
        for source in sources:
            _rebuild_in_place(source, batch_size, clear, known, counts, result, report)
    with connection.cursor() as cursor:
        backend().optimize(cursor)
    if counts is not None:
        _store_counts(counts)
    if everything:
        with transaction.atomic():
            cursor_row = _cursor_for_update()
            assert cursor_row is not None
            cursor_row.last_event_id = max(cursor_row.last_event_id, last_event)
            cursor_row.needs_rebuild = False
            cursor_row.save(update_fields=["last_event_id", "needs_rebuild", "updated_at"])
    result.seconds = time.monotonic() - started
    return result


def _rebuild_in_place(source: Source, batch_size: int, clear: bool, known: set[str],
                      counts: Counter[str] | None, result: Rebuilt,
                      report: Callable[[str], None]) -> None:
    low, high = source.id_range
    if clear:
        with transaction.atomic():
            SearchEntry.objects.filter(id__gte=low, id__lte=high)._raw_delete(connection.alias)
    last = low - 1
    batches = _batches(source, batch_size)
    while True:
        with transaction.atomic():  # read and written together: no write slips in between
            rows = next(batches, [])
            upper = rows[-1][0] if rows else high
            if not clear:  # rows of records gone since the index was written
                fresh = {r[0] for r in rows}
                result.deleted += delete_entries(
                    i for i in SearchEntry.objects.filter(id__gt=last, id__lte=upper)
                    .values_list("id", flat=True) if i not in fresh)
            write_rows(rows, known_terms=known, counts=counts)
        if not rows:
            return
        last = upper
        result.rows[source.object_type] += len(rows)
        report(source.object_type)


def needs_rebuild() -> bool:
    return SearchCursor.objects.filter(pk=CURSOR, needs_rebuild=True).exists()
