"""Set-based writes in portable SQL (SQLite >= 3.35 and PostgreSQL both speak these).

The bulk loader uses these instead of one ORM save per record: multi-row ``INSERT … RETURNING``
for new rows, ``executemany`` for updates. Values go through each field's own
``get_db_prep_save`` so types are stored exactly as the ORM would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.db import connection, models

Converter = Callable[[Any], Any]

_PLAIN = (models.CharField, models.TextField, models.IntegerField, models.BooleanField,
          models.BigAutoField, models.AutoField)


def converters(model: type[models.Model], columns: Sequence[str]) -> list[Converter]:
    """One value converter per column (identity for plain types: the hot path stays cheap)."""
    out: list[Converter] = []
    for column in columns:
        field = next(f for f in model._meta.concrete_fields if f.column == column)
        if isinstance(field, models.ForeignKey):
            field = field.target_field
        if isinstance(field, _PLAIN) and not isinstance(field, models.JSONField):
            out.append(_identity)
        elif isinstance(field, models.DateTimeField):
            out.append(_memo(_prep(field)))
        else:
            out.append(_prep(field))
    return out


def _identity(value: Any) -> Any:
    return value


def _prep(field: Any) -> Converter:
    def convert(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    return convert


def _memo(fn: Converter) -> Converter:
    """Remember the last conversion: a batch stamps the same ``now`` on every row."""
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, fn(value)
        return last[1]

    return convert


def _max_rows(n_columns: int) -> int:
    # SQLite caps bound variables (32766 since 3.32); stay well below on every backend.
    return max(1, 30000 // max(1, n_columns))


def insert_returning(model: type[models.Model], columns: Sequence[str],
                     rows: Sequence[Sequence[Any]]) -> list[int]:
    """Insert ``rows`` and return their new primary keys, in order."""
    if not rows:
        return []
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    pk = connection.ops.quote_name(model._meta.pk.column)
    conv = converters(model, columns)
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    ids: list[int] = []
    step = _max_rows(len(columns))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), step):
            chunk = rows[start:start + step]
            params = [c(v) for row in chunk for c, v in zip(conv, row, strict=True)]
            sql = f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * len(chunk))} " \
                  f"RETURNING {pk}"
            cursor.execute(sql, params)
            ids.extend(r[0] for r in cursor.fetchall())
    return ids


def insert_many(model: type[models.Model], columns: Sequence[str],
                rows: Iterable[Sequence[Any]]) -> None:
    """Insert rows when their ids are not needed (audit, events, references)."""
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    conv = converters(model, columns)
    sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})"
    data = [[c(v) for c, v in zip(conv, row, strict=True)] for row in rows]
    if data:
        with connection.cursor() as cursor:
            cursor.executemany(sql, data)


def update_many(model: type[models.Model], columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """``UPDATE … SET columns WHERE pk = last value`` for each row (same columns for all)."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    sets = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
    if _versioned(model) and "version" not in columns:  # a stale If-Match must see the change
        sets += f", {connection.ops.quote_name('version')} = " \
                f"{connection.ops.quote_name('version')} + 1"
    pk = connection.ops.quote_name(model._meta.pk.column)
    conv = [*converters(model, columns), _identity]
    sql = f"UPDATE {table} SET {sets} WHERE {pk} = %s"
    data = [[c(v) for c, v in zip(conv, row, strict=True)] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, data)


def _versioned(model: type[models.Model]) -> bool:
    return any(f.name == "version" for f in model._meta.concrete_fields)


@contextlib.contextmanager
def sqlite_pragmas(**values: int) -> Iterator[None]:
    """Set SQLite pragmas on this connection for a block, then restore them. No-op elsewhere.

    A pragma that does not apply (``mmap_size`` on an in-memory database) is left alone.
    """
    previous: dict[str, Any] = {}
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for name, value in values.items():
                cursor.execute(f"PRAGMA {name}")
                row = cursor.fetchone()
                if row is not None:
                    previous[name] = row[0]
                    cursor.execute(f"PRAGMA {name}={int(value)}")
    try:
        yield
    finally:
        if previous:
            with connection.cursor() as cursor:
                for name, value in previous.items():
                    cursor.execute(f"PRAGMA {name}={int(value)}")


def sqlite_bulk_mode() -> contextlib.AbstractContextManager[None]:
    """For a long write-mostly job on SQLite: a small page cache.

    The web settings cache 32 MB of pages to serve reads fast; a bulk job gains nothing from
    them and they would count in its memory.
    """
    return sqlite_pragmas(cache_size=-16384)
