"""The search index: one row per searchable record, its words, and who may see it.

The index is derived data, rebuilt from the domain tables at will (``comptoir reindex``) and kept
current by reading the outbox. Rows carry plain ids, not foreign keys: an index row must never
block or cascade a domain write, and the ids it keeps (owner, account, account owner and
territory) are exactly what the visibility policy needs, so a query filters without joins.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

# An entry's primary key is ``type code << TYPE_SHIFT | (OBJECT_ID_MASK - object id)``: one id
# range per object type, newest records first within it. The full-text engine walks one type's
# matches in ascending id order (its cheapest direction), which is then newest first, without
# reading the other types'; an upsert needs no lookup. Object ids stay below 2**40.
TYPE_SHIFT = 40
OBJECT_ID_MASK = (1 << TYPE_SHIFT) - 1


class RowIdField(models.BigIntegerField):
    """A 64-bit primary key given by the application, stored on SQLite as ``integer primary
    key``: the table's own rowid. (Django's ``bigint primary key`` is a separate unique
    index beside a hidden rowid, which doubles every lookup the full-text join makes.)"""

    def db_type(self, connection: Any) -> str | None:
        return "integer" if connection.vendor == "sqlite" else super().db_type(connection)


class SearchEntry(models.Model):
    id = RowIdField(primary_key=True)
    object_type = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    title = models.CharField(max_length=300)
    subtitle = models.CharField(max_length=300, blank=True, default="")
    # Normalised words (lower case, no accents, one space between words): what the full-text
    # index reads (SQLite FTS5 external content, PostgreSQL tsvector) and what ranking compares.
    text = models.TextField(default="")
    owner_id = models.BigIntegerField(null=True)
    account_id = models.BigIntegerField(null=True)
    account_owner_id = models.BigIntegerField(null=True)
    account_territory_id = models.BigIntegerField(null=True)

    class Meta:
        verbose_name = _("search entry")
        verbose_name_plural = _("search entries")
        indexes = [
            models.Index(fields=["account_id"], name="search_entry_account"),
            # What the visibility filter reads, by id: SQLite checks it in this narrow index
            # and reads the (wide) row only for the entries the user may see.
            models.Index(fields=["id", "owner_id", "account_owner_id", "account_territory_id"],
                         name="search_entry_access"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type}:{self.object_id} {self.title}"


class SearchTerm(models.Model):
    """Every alphabetic word the index has seen: the vocabulary typos are corrected against.

    Append-only (a word whose records are gone only costs a useless alternative in a query), so
    each process keeps a copy in memory and reads only the rows added since its last look.
    """

    term = models.CharField(max_length=100, unique=True)
    # Index rows holding the word at the last full rebuild (0 for words seen since): lets
    # the query planner tell a rare word from a common one without counting.
    rows = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("search term")
        verbose_name_plural = _("search terms")

    def __str__(self) -> str:
        return self.term


class SearchCursor(models.Model):
    """How far the index has read the outbox (one row).

    ``gaps`` lists event ids skipped while a lower id was still missing: on PostgreSQL a
    transaction may commit its event after a later one was read. They are looked for again for a
    while (see ``indexing.GAP_TTL``) so a late commit is not lost. No row means nothing read yet.
    """

    name = models.CharField(max_length=40, primary_key=True)
    last_event_id = models.BigIntegerField(default=0)
    gaps = models.JSONField(default=dict, blank=True)  # {event id: first seen (epoch seconds)}
    # Set by the migration on a database that already holds records: the worker's periodic job
    # then builds the index once (``comptoir reindex`` does it at once).
    needs_rebuild = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("search index cursor")
        verbose_name_plural = _("search index cursors")

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_event_id}"
