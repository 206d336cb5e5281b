"""Global search (R9): find any record the user may see, as they type, despite typos.

``search`` is the one read entry point (the API and the web UI call it); ``index_outbox`` is the
periodic job that keeps the index current (``COMPTOIR_PERIODIC_JOBS``); ``reindex`` rebuilds
it. How rows are matched and ranked: ``query``; how the index follows the data: ``indexing``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from comptoir.access import policy

from . import indexing
from .backends import Nothing, backend, compile_filter
from .query import KIND_NAMES, Ranked, plan, rank
from .sources import SOURCES, Source, source_of_entry
from .text import parse_query
from .vocabulary import vocabulary

MIN_QUERY_LENGTH = 2
MAX_LIMIT = 100
SEARCHABLE_TYPES: tuple[str, ...] = tuple(SOURCES)
_SPARE = 5  # ranked hits beyond ``limit``, in case the final visibility check drops some


@dataclass(frozen=True)
class Hit:
    object_type: str
    object_id: int
    title: str
    subtitle: str
    score: float  # higher is better: hundreds for the match kind, then similarity
    match: str  # "exact", "prefix" or "fuzzy": the weakest over the query's words
    matched: tuple[str, ...]  # the record's words that matched, for highlighting


_NONE_VISIBLE: tuple[str, list[Any]] = ("", [])  # cached: the user sees no row of the type
_filters: dict[tuple[Any, ...], tuple[str, list[Any]] | None] = {}


def _visibility(source: Source, user: Any) -> tuple[str, list[Any]] | None:
    """The policy's filter for ``source``'s rows in SQL, compiled once per scope (raises
    ``Nothing`` when the user may see none)."""
    key = (policy.scope_of(user), source.object_type, connection.vendor)
    if key not in _filters:
        if len(_filters) > 1000:
            _filters.clear()
        try:
            _filters[key] = compile_filter(policy.index_visibility_q(
                source.model, user, owner="owner_id", account_owner="account_owner_id",
                account_territory="account_territory_id"))
        except Nothing:
            _filters[key] = _NONE_VISIBLE
    compiled = _filters[key]
    if compiled is _NONE_VISIBLE:
        raise Nothing
    return compiled


def _visible_ids(user: Any, ranked: Sequence[Ranked]) -> set[int]:
    """Defence in depth: the records behind the hits, through the policy on their models.
    Drops a row the index still holds for a record deleted or moved a moment ago."""
    by_source: dict[Source, list[int]] = defaultdict(list)
    for r in ranked:
        source = source_of_entry(r.entry_id)
        by_source[source].append(source.object_id(r.entry_id))
    visible: set[int] = set()
    for source, ids in by_source.items():
        qs = policy.restrict(source.model._default_manager.filter(pk__in=ids), user)
        visible.update(source.entry_id(pk) for pk in qs.values_list("pk", flat=True))
    return visible


def search(user: Any, q: str, *, types: list[str] | None = None, limit: int = 20) -> list[Hit]:
    """The best ``limit`` records ``user`` may see for ``q``, best first.

    ``types`` restricts the object types (unknown ones are ignored). The last word of ``q`` is
    matched as a prefix unless ``q`` ends with a space. Fewer than two letters or digits find
    nothing (every word would match).
    """
    words = parse_query(q or "")
    limit = max(1, min(int(limit), MAX_LIMIT))
    sources = [SOURCES[t] for t in (types or SEARCHABLE_TYPES) if t in SOURCES]
    too_short = sum(len(w.text) for w in words) < MIN_QUERY_LENGTH
    if too_short or not sources or not getattr(user, "is_authenticated", False):
        return []
    indexing.catch_up()
    engine = backend()
    query_plan = plan(words, vocabulary(), exact_vocabulary=engine.vendor == "sqlite")
    filters: dict[str, tuple[str, list[Any]] | None] = {}
    for source in sources:
        try:
            filters[source.object_type] = _visibility(source, user)
        except Nothing:
            continue
    pool = limit + _SPARE
    found: dict[int, tuple[int, str, str, str]] = {}
    per_type: dict[str, int] = defaultdict(int)
    for _kind, groups in query_plan.stages:
        scopes = [(s.id_range, filters[s.object_type], pool + per_type[s.object_type])
                  for s in sources if s.object_type in filters and per_type[s.object_type] < pool]
        for row in engine.match_many(scopes=scopes, groups=groups) if scopes else ():
            object_type = source_of_entry(row[0]).object_type
            if row[0] not in found and per_type[object_type] < pool:
                found[row[0]] = row
                per_type[object_type] += 1
        if len(found) >= pool:
            break  # a later stage only finds weaker matches
    order = {s.object_type: i for i, s in enumerate(SOURCES.values())}
    ranked = sorted(
        (rank(query_plan, *row) for row in found.values()),
        key=lambda r: (-r.score, order[source_of_entry(r.entry_id).object_type], r.entry_id))
    ranked = ranked[:limit + _SPARE]
    visible = _visible_ids(user, ranked)
    hits = []
    for r in ranked:
        if r.entry_id not in visible:
            continue
        source = source_of_entry(r.entry_id)
        hits.append(Hit(source.object_type, source.object_id(r.entry_id), r.title,
                        r.subtitle, r.score, KIND_NAMES[r.kind], r.matched))
        if len(hits) == limit:
            break
    return hits


def index_outbox() -> dict[str, int]:
    """The periodic job: read the outbox into the index (or build the index once when the
    migration found records and no index). Returns what it did, empty when nothing."""
    if indexing.needs_rebuild():
        built = indexing.rebuild()
        return {"rebuilt": built.total}
    done = indexing.consume()
    return {"events": done.events, "written": done.written,
            "deleted": done.deleted} if done.events else {}


def reindex(*, types: Sequence[str] | None = None, batch_size: int = 5000, clear: bool = False,
            progress: indexing.Progress | None = None) -> indexing.Rebuilt:
    """Rebuild the index (all types, or ``types``) from the tables."""
    unknown = [t for t in types or () if t not in SOURCES]
    if unknown:
        raise ValueError(f"Unknown object types: {', '.join(unknown)}")
    return indexing.rebuild(types=types, batch_size=batch_size, clear=clear, progress=progress)
