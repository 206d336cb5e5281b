"""Duplicate detection against the base (I8, I11): one record on create, the whole base in batch.

* :func:`candidates` checks one record (being created, imported or edited) against the base:
  its blocking keys are looked up in the key index (``AccountKey``…), records changed since the
  index was last refreshed are searched directly, and the few records found are scored with
  their reasons. Only records the user may see are read (``policy.restrict``).
* :func:`dedupe_run` scores the whole base in one pass (see ``matching.find_pairs``), rebuilds
  the key index on the way, and feeds the review queue (:class:`DuplicatePair`): new pairs are
  added, open pairs rescored, pairs that no longer match removed; decisions (dismissed,
  merged) are kept, so a dismissed pair never comes back.

Thresholds and weights per object type come from ``matching.DEFAULTS``, overridable in the
``COMPTOIR_DEDUPE`` setting, e.g. ``{"account": {"review": 65, "points": {"phone": 20}}}``.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from django import db
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.access import policy
from comptoir.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from comptoir.crm.models import Account, Contact, Lead

from . import identifiers as ids
from .matching import (
    DEFAULTS,
    SPECS,
    Blocks,
    Features,
    MatchConfig,
    PairStats,
    Reason,
    assign_frequencies,
    explain_pair,
    find_pairs,
    key_hash,
    key_kind,
    record_hashes,
)
from .models import AccountKey, ContactKey, DuplicatePair, LeadKey, MatchIndexState, MatchKey

OBJECT_TYPES = ("account", "contact", "lead")
MAX_SCORED = 100  # records scored for one check, those sharing the most keys first
DELTA_LIMIT = 500  # recently changed records read for one check


# --- What is read, per object type ----------------------------------------------------------

def _account_delta(f: Features, data: Mapping[str, Any]) -> Q | None:
    q = Q(pk__in=[])
    if f.siren:
        q |= Q(siren=f.siren) | Q(siret__startswith=f.siren)
    for email in f.emails:
        q |= Q(email__iexact=email)
    if f.phones:
        q |= Q(phone__in=f.phones)
    if f.domain:
        q |= Q(website__icontains=f.domain) | Q(email__iendswith=f"@{f.domain}")
    names = {ids.normalize_name(str(data.get(k) or "")) for k in ("legal_name", "trade_name")}
    names.discard("")
    if names:
        q |= Q(normalized_name__in=names)
    if f.postcode:
        q |= Q(billing_postcode=f.postcode)
    return q


def _contact_delta(f: Features, data: Mapping[str, Any]) -> Q | None:
    q = Q(pk__in=[])
    for email in f.emails:
        q |= Q(email__iexact=email) | Q(email_secondary__iexact=email)
    if f.phones:
        q |= Q(phone__in=f.phones) | Q(mobile__in=f.phones)
    if f.parent:
        q |= Q(account_id=f.parent)
    return q


def _lead_delta(f: Features, data: Mapping[str, Any]) -> Q | None:
    q = Q(pk__in=[])
    for email in f.emails:
        q |= Q(email__iexact=email)
    if f.phones:
        q |= Q(phone__in=f.phones)
    if f.siren:
        q |= Q(siren=f.siren)
    last = str(data.get("last_name") or "").strip()
    if last:
        q |= Q(last_name__iexact=last)
    return q


@dataclass(frozen=True)
class Source:
    """Where one object type's records are read from and what a candidate shows."""

    object_type: str
    model: type[models.Model]
    key_model: type[MatchKey]
    fields: tuple[str, ...]  # what the features are computed from
    display: tuple[str, ...]  # what a candidate carries for the user
    delta_q: Callable[[Features, Mapping[str, Any]], Q | None]
    freq_field: str | None = None  # a stored, indexed normalised name, counted for rarity

    def freq_value(self, data: Mapping[str, Any]) -> str:
        if self.freq_field == "normalized_name":
            stored = data.get("normalized_name")
            return str(stored) if stored else ids.normalize_name(str(data.get("legal_name") or ""))
        return ""


SOURCES: dict[str, Source] = {
    "account": Source(
        "account", Account, AccountKey,
        ("id", "legal_name", "trade_name", "siren", "siret", "vat_number", "email", "phone",
         "website", "billing_street", "billing_postcode", "billing_city", "billing_country"),
        ("id", "legal_name", "trade_name", "status", "siren", "billing_postcode",
         "billing_city", "owner_id"),
        _account_delta, freq_field="normalized_name"),
    "contact": Source(
        "contact", Contact, ContactKey,
        ("id", "account_id", "first_name", "last_name", "email", "email_secondary", "phone",
         "mobile"),
        ("id", "first_name", "last_name", "email", "account_id", "owner_id"),
        _contact_delta),
    "lead": Source(
        "lead", Lead, LeadKey,
        ("id", "company_name", "siren", "first_name", "last_name", "email", "phone", "website",
         "postcode", "city", "country"),
        ("id", "first_name", "last_name", "company_name", "email", "status", "owner_id"),
        _lead_delta),
}


def source_for(object_type: str) -> Source:
    try:
        return SOURCES[object_type]
    except KeyError as exc:
        raise ValidationFailed(
            _("Duplicates are detected for accounts, contacts and leads only."),
            fields={"object": [_("Choose account, contact or lead.")]}) from exc


def match_config(object_type: str) -> MatchConfig:
    """The thresholds and weights in force: the defaults, then ``COMPTOIR_DEDUPE``."""
    base = DEFAULTS[object_type]
    override: Mapping[str, Any] = (getattr(settings, "COMPTOIR_DEDUPE", None) or {}).get(
        object_type) or {}
    points = {**base.points, **(override.get("points") or {})}
    tunables = {k: override[k] for k in ("review", "sure", "block_cap", "window", "index_cap",
                                         "small_cap") if k in override}
    return replace(base, points=points, **tunables)


# --- One record against the base ------------------------------------------------------------

@dataclass
class Candidate:
    """An existing record that may be the same as the one checked, and why."""

    object_type: str
    id: int
    score: float
    sure: bool
    keys: list[str]
    reasons: list[Reason]
    record: dict[str, Any] = field(default_factory=dict)


def _freq_counts(source: Source, names: set[str]) -> dict[str, int]:
    names.discard("")
    if not source.freq_field or not names:
        return {}
    ff = source.freq_field
    rows = (source.model._default_manager.filter(**{f"{ff}__in": names}).values(ff)
            .annotate(n=Count("id")).values_list(ff, "n"))
    return dict(rows)


def _as_id(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def candidates(object_type: str, data: Mapping[str, Any], *, user: Any = None, limit: int = 5,
               exclude_ids: Sequence[int] = (), min_score: float | None = None
               ) -> list[Candidate]:
    """Existing records that may duplicate ``data`` (field names of the model), best first.

    With a ``user``, only records that user may see are considered: a rep is never told about
    a record hidden from them. Without one (imports, syncs run by the system), the whole base.
    ``data["id"]``, when given, is the record itself and never its own candidate.
    ``min_score`` lowers the bar for a warning shown while someone types (an identical name
    alone is worth telling a person about; a batch would not queue it for review).
    """
    source = source_for(object_type)
    spec, config = SPECS[object_type], match_config(object_type)
    record = spec.features(data)
    keys = spec.keys(record)
    own_keys = set(keys)
    found: dict[int, int] = {}
    if keys:
        lookups = {key_hash(k) for k in keys}
        for object_id in source.key_model._default_manager.filter(key__in=lookups).values_list(
                "object_id", flat=True):
            found[object_id] = found.get(object_id, 0) + 1
    state = MatchIndexState.objects.filter(object_type=object_type).first()
    delta_q = source.delta_q(record, data)
    if delta_q is not None:
        delta = source.model._default_manager.filter(delta_q)
        if state is not None and state.watermark is not None:
            delta = delta.filter(updated_at__gt=state.watermark)
        for object_id in delta.order_by("-updated_at").values_list("id", flat=True)[
                :DELTA_LIMIT]:
            found.setdefault(object_id, 1)
    skip = {int(i) for i in exclude_ids}
    own_id = _as_id(data.get("id"))
    if own_id is not None:
        skip.add(own_id)
    ranked = sorted((i for i in found if i not in skip), key=lambda i: (-found[i], i))
    ranked = ranked[:MAX_SCORED]
    if not ranked:
        return []
    qs = source.model._default_manager.filter(pk__in=ranked)
    if user is not None:
        qs = policy.restrict(qs, user)
    columns = tuple(dict.fromkeys(source.fields + source.display
                                  + ((source.freq_field,) if source.freq_field else ())))
    rows = list(qs.values(*columns))
    own_name = source.freq_value(data)
    counts = _freq_counts(source, {own_name} | {source.freq_value(r) for r in rows})
    if source.freq_field:
        record.freq = counts.get(own_name, 0) + (0 if own_id is not None else 1)
    out: list[Candidate] = []
    for row in rows:
        other = spec.features(row)
        if source.freq_field:
            other.freq = counts.get(source.freq_value(row), 0)
        score, reasons = explain_pair(spec, config, record, other)
        if score < (config.review if min_score is None else min_score):
            continue
        matched = sorted({key_kind(k) for k in spec.keys(other) if k in own_keys})
        out.append(Candidate(object_type, int(row["id"]), score, score >= config.sure, matched,
                             reasons, {k: row[k] for k in source.display}))
    out.sort(key=lambda c: (-c.score, c.id))
    return out[:limit]


# --- The whole base -------------------------------------------------------------------------

@dataclass
class DedupeResult:
    object_type: str
    records: int = 0
    pairs_found: int = 0
    pairs_new: int = 0
    pairs_rescored: int = 0
    pairs_removed: int = 0
    index_keys: int = 0
    stats: PairStats = field(default_factory=PairStats)
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object_type, "records": self.records, "pairs": self.pairs_found,
            "new": self.pairs_new, "rescored": self.pairs_rescored,
            "removed": self.pairs_removed, "index_keys": self.index_keys,
            "compared": self.stats.compared, "blocks": self.stats.blocks,
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
        }


# The batch reads and prepares records in id ranges, in worker processes when the base is
# large (features are the costly part: normalising names, addresses, phones…). Workers are
# *spawned*, never forked: a forked child inherits the parent's SQLite library state (lock
# counts, shared-memory locks of connections other threads hold open), and a connection it
# opens then believes it holds locks it does not — SQLite documents this as a corruption risk.
# Each worker sets Django up, points it at the parent's database and opens its own connection;
# it sends back the prepared features and their hashed keys.
_JOB: dict[str, Any] = {}
PARALLEL_MIN = 100_000  # fewer records: one process is quicker than starting others
RANGE_SIZE = 25_000


@dataclass
class _Prepared:
    feats: list[Features]
    names: list[str]
    hashes: array  # every key hash of the part…
    owners: array  # …and the position in ``feats`` of the record it belongs to


def _prepare(object_type: str, queryset: models.QuerySet[Any]) -> _Prepared:
    source, spec = SOURCES[object_type], SPECS[object_type]
    columns = source.fields + ((source.freq_field,) if source.freq_field else ())
    freq_at = len(source.fields) if source.freq_field else -1
    out = _Prepared([], [], array("q"), array("I"))
    rows = queryset.order_by("id").values_list(*columns).iterator(chunk_size=5000)
    for position, values in enumerate(rows):
        f = spec.features(dict(zip(columns, values, strict=True)))
        out.feats.append(f)
        if freq_at >= 0:
            out.names.append(values[freq_at] or "")
        hashes = record_hashes(spec, f)
        out.hashes.extend(hashes)
        out.owners.extend([position] * len(hashes))
    return out


def _prepare_range(bounds: tuple[int, int]) -> _Prepared:
    """In a worker process: one id range of the job's object type."""
    return _prepare_range_for(_JOB["object_type"], bounds)


def _worker_start(object_type: str, database: dict[str, Any]) -> None:
    """In a spawned worker: Django set up on the parent's database (a test database too)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comptoir.config.settings")
    import django

    django.setup()
    db.connections["default"].settings_dict.update(database)
    _JOB["object_type"] = object_type
    gc.disable()


def _ranges(model: type[models.Model]) -> tuple[int, list[tuple[int, int]]]:
    agg = model._default_manager.aggregate(lo=Min("id"), hi=Max("id"), n=Count("id"))
    if not agg["n"]:
        return 0, []
    lo, hi, n = int(agg["lo"]), int(agg["hi"]) + 1, int(agg["n"])
    step = max(1000, (hi - lo) * RANGE_SIZE // n)
    return n, [(start, min(hi, start + step)) for start in range(lo, hi, step)]


def _workers() -> int:
    configured = getattr(settings, "COMPTOIR_DEDUPE_WORKERS", None)
    if configured is not None:
        return max(1, int(configured))
    return max(1, min(2, os.cpu_count() or 1))


def _read_all(object_type: str, stats: PairStats) -> tuple[list[Features], list[str], Blocks]:
    """Every record's features (in id order), stored names, and the blocks of their keys."""
    model = SOURCES[object_type].model
    count, ranges = _ranges(model)
    workers = _workers()
    parallel = (workers > 1 and count >= PARALLEL_MIN and not connection.in_atomic_block
                and not (connection.vendor == "sqlite"
                         and connection.is_in_memory_db()))  # type: ignore[attr-defined]
    feats: list[Features] = []
    names: list[str] = []
    blocks: Blocks = {}

    def absorb(part: _Prepared) -> None:
        base = len(feats)
        feats.extend(part.feats)
        names.extend(part.names)
        stats.keys += len(part.hashes)
        get = blocks.get
        for h, owner in zip(part.hashes, part.owners, strict=True):
            i = base + owner
            found = get(h)
            if found is None:
                blocks[h] = i
            elif type(found) is int:
                if found != i:
                    blocks[h] = [found, i]
            elif found[-1] != i:
                found.append(i)

    if not parallel:
        for bounds in ranges:
            absorb(_prepare_range_for(object_type, bounds))
        return feats, names, blocks
    context = multiprocessing.get_context("spawn")
    database = dict(connection.settings_dict)
    with context.Pool(workers, initializer=_worker_start,
                      initargs=(object_type, database)) as pool:
        for part in pool.imap(_prepare_range, ranges):
            absorb(part)
    return feats, names, blocks


def _prepare_range_for(object_type: str, bounds: tuple[int, int]) -> _Prepared:
    model = SOURCES[object_type].model
    return _prepare(object_type, model._default_manager.filter(id__gte=bounds[0], id__lt=bounds[1]))


class _KeyWriter:
    """Writes the key index in the order ``find_pairs`` gives blocks (ascending hash), which
    makes each insert an append to the primary-key B-tree; multi-row ``INSERT``s keep the
    round trips few on PostgreSQL as on SQLite."""

    ROWS_PER_STATEMENT = 1000  # 2,000 parameters: far below either backend's limit

    def __init__(self, key_model: type[MatchKey], ids_by_position: Sequence[Any],
                 cap: int) -> None:
        quote = connection.ops.quote_name
        self.table = quote(key_model._meta.db_table)
        self.head = f"INSERT INTO {self.table} ({quote('key')}, {quote('object_id')}) VALUES "
        self.full_sql = self.head + ", ".join(["(%s, %s)"] * self.ROWS_PER_STATEMENT)
        self.ids = ids_by_position
        self.cap = cap
        self.buffer: list[int] = []  # flat: key, object id, key, object id…
        self.written = 0
        self.seconds = 0.0

    def empty(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {self.table}")

    def add(self, h: int, members: int | list[int]) -> None:
        ids_, buffer = self.ids, self.buffer
        if isinstance(members, int):
            buffer.append(h)
            buffer.append(ids_[members])
        elif len(members) <= self.cap:
            for p in sorted(members, key=ids_.__getitem__):
                buffer.append(h)
                buffer.append(ids_[p])
        if len(buffer) >= 100_000:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        start = time.perf_counter()
        buffer, step = self.buffer, 2 * self.ROWS_PER_STATEMENT
        whole = len(buffer) - len(buffer) % step
        with connection.cursor() as cursor:
            if whole:
                cursor.executemany(self.full_sql, [buffer[i:i + step]
                                                   for i in range(0, whole, step)])
            if whole < len(buffer):
                rest = (len(buffer) - whole) // 2
                cursor.execute(self.head + ", ".join(["(%s, %s)"] * rest), buffer[whole:])
        self.written += len(buffer) // 2
        self.buffer = []
        self.seconds += time.perf_counter() - start


def _pair_keys(spec: Any, a: Features, b: Features) -> list[str]:
    shared = set(spec.keys(a)) & set(spec.keys(b))
    return sorted({key_kind(k) for k in shared})


def dedupe_run(object_type: str, *, write_index: bool = True,
               progress: Callable[[str], None] | None = None) -> DedupeResult:
    """Score the whole base of ``object_type`` and update the review queue (and the index).

    Memory holds the comparable form of every record (about 1 KB each); the database is read
    once, in id order. Runs with the garbage collector paused: the job allocates millions of
    long-lived objects and has no reference cycles to collect.
    """
    source = source_for(object_type)
    spec, config = SPECS[object_type], match_config(object_type)
    result = DedupeResult(object_type)
    say = progress or (lambda message: None)
    # Records changed while the job reads are caught by the next refresh / check.
    started = timezone.now() - timedelta(seconds=1)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0, cpu0 = time.perf_counter(), time.process_time()
        feats, names, blocks = _read_all(object_type, result.stats)
        if source.freq_field:
            assign_frequencies(feats, names)
        del names
        result.records = len(feats)
        result.timings["read"] = time.perf_counter() - t0
        say(f"{len(feats):,} {object_type}s read in {result.timings['read']:.1f} s")
        t1 = time.perf_counter()
        with transaction.atomic():
            writer = _KeyWriter(source.key_model, [f.id for f in feats], config.index_cap) \
                if write_index else None
            if writer is not None:
                writer.empty()
            pairs = find_pairs(spec, config, feats, result.stats, blocks=blocks,
                               key_sink=writer.add if writer is not None else None)
            del blocks
            if writer is not None:
                writer.flush()
                result.index_keys = writer.written
                result.timings["index_writes"] = writer.seconds
                MatchIndexState.objects.update_or_create(
                    object_type=object_type,
                    defaults={"built_at": timezone.now(), "watermark": started,
                              "records": len(feats), "keys": writer.written})
        result.pairs_found = len(pairs)
        result.timings["match"] = time.perf_counter() - t1
        say(f"{len(pairs):,} pairs found ({result.stats.compared:,} compared) in "
            f"{result.timings['match']:.1f} s")
        t2 = time.perf_counter()
        _store_pairs(object_type, spec, config, feats, pairs, result)
        result.timings["queue"] = time.perf_counter() - t2
        result.timings["total"] = time.perf_counter() - t0
        result.timings["cpu"] = time.process_time() - cpu0
    finally:
        if gc_was_enabled:
            gc.enable()
    return result


def _store_pairs(object_type: str, spec: Any, config: MatchConfig, feats: list[Features],
                 pairs: Mapping[tuple[int, int], float], result: DedupeResult) -> None:
    existing = {
        (left, right): (pk, status, score)
        for pk, left, right, status, score in DuplicatePair.objects.filter(
            object_type=object_type).values_list("id", "left_id", "right_id", "status", "score")
    }
    # pairs another system proposed (see pair_propose): the batch neither rescores them (it
    # would drop their reason) nor removes them (the fields alone may not match)
    pinned = set(DuplicatePair.objects.filter(
        object_type=object_type, status=DuplicatePair.Status.OPEN,
        keys__icontains=SAME_EXTERNAL).values_list("id", flat=True))
    now = timezone.now()
    new: list[DuplicatePair] = []
    rescored: list[DuplicatePair] = []
    for i, j in pairs:
        a, b = feats[i], feats[j]
        if a.id > b.id:
            a, b = b, a
        score, reasons = explain_pair(spec, config, a, b)
        known = existing.pop((a.id, b.id), None)
        if known is None:
            new.append(DuplicatePair(
                object_type=object_type, left_id=a.id, right_id=b.id, score=score,
                reasons=[r.as_dict() for r in reasons], keys=_pair_keys(spec, a, b)))
        elif (known[1] == DuplicatePair.Status.OPEN and known[0] not in pinned
              and abs(known[2] - score) >= 0.05):
            rescored.append(DuplicatePair(
                pk=known[0], score=score, reasons=[r.as_dict() for r in reasons],
                keys=_pair_keys(spec, a, b), scored_at=now))
    stale = [pk for pk, status, _score in existing.values()
             if status == DuplicatePair.Status.OPEN and pk not in pinned]
    with transaction.atomic():
        DuplicatePair.objects.bulk_create(new, batch_size=2000)
        DuplicatePair.objects.bulk_update(rescored, ["score", "reasons", "keys", "scored_at"],
                                          batch_size=2000)
        for start in range(0, len(stale), 5000):
            DuplicatePair.objects.filter(pk__in=stale[start:start + 5000]).delete()
    result.pairs_new, result.pairs_rescored, result.pairs_removed = \
        len(new), len(rescored), len(stale)


def match_index_refresh(object_type: str) -> int:
    """Add the keys of records changed since the index's watermark; returns how many records.

    Old keys of a changed record are left in place: they only make a check score that record
    once more, against its current values. The next batch run rebuilds the index clean.
    """
    source = source_for(object_type)
    spec = SPECS[object_type]
    state = MatchIndexState.objects.filter(object_type=object_type).first()
    if state is None or state.watermark is None:
        return 0  # no index yet: checks read the table directly until the first batch run
    started = timezone.now() - timedelta(seconds=1)
    changed = source.model._default_manager.filter(updated_at__gt=state.watermark)
    feats = _prepare(object_type, changed).feats
    rows = sorted({(key_hash(k), f.id) for f in feats for k in spec.keys(f)})
    # Short transactions: after a large import this is hundreds of thousands of keys, and one
    # transaction would hold SQLite's write lock long enough to time out users' saves. A key
    # written twice (a run stopped before the watermark moved) is ignored.
    for start in range(0, len(rows), REFRESH_CHUNK):
        with transaction.atomic():
            source.key_model._default_manager.bulk_create(
                [source.key_model(key=h, object_id=oid)
                 for h, oid in rows[start:start + REFRESH_CHUNK]],
                batch_size=5000, ignore_conflicts=True)
    MatchIndexState.objects.filter(pk=state.pk).update(
        watermark=started, keys=models.F("keys") + len(rows))
    return len(feats)


REFRESH_CHUNK = 5000


def refresh_all_indexes() -> None:
    """Periodic job: keep every built index close to the base (cheap when nothing changed)."""
    for object_type in OBJECT_TYPES:
        match_index_refresh(object_type)


# --- The review queue -----------------------------------------------------------------------

def _visible_ids(object_type: str, user: Any) -> models.QuerySet[Any] | None:
    source = source_for(object_type)
    if policy.sees_all(user):
        return None
    return policy.restrict(source.model._default_manager.all(), user).values("id")


def pairs_visible(user: Any, object_type: str, *, status: str | None = None
                  ) -> models.QuerySet[DuplicatePair]:
    """Pairs of the queue whose two records the user may see (best first)."""
    source = source_for(object_type)
    qs = DuplicatePair.objects.filter(object_type=object_type)
    if status:
        qs = qs.filter(status=status)
    # records deleted since the batch run (merged away…) drop out, as do hidden ones
    visible = _visible_ids(object_type, user)
    if visible is None:
        visible = source.model._default_manager.values("id")
    if status == DuplicatePair.Status.MERGED:  # the history: the survivor is what remains
        qs = qs.filter(Q(left_id__in=visible) | Q(right_id__in=visible))
    else:
        qs = qs.filter(left_id__in=visible, right_id__in=visible)
    return qs.order_by("-score", "id")


def pair_get(user: Any, pk: int) -> DuplicatePair:
    pair = DuplicatePair.objects.filter(pk=pk).first()
    if pair is None or not pairs_visible(user, pair.object_type).filter(pk=pk).exists():
        raise NotFound(_("Not found, or you cannot see it."))
    return pair


def _require_change_both(user: Any, pair: DuplicatePair) -> None:
    model = source_for(pair.object_type).model
    both = model._default_manager.filter(pk__in=[pair.left_id, pair.right_id])
    allowed = policy.restrict(both, user, "change").count()
    if allowed < 2:
        raise Forbidden(_("You may decide on a pair only when you can change both records."))


@transaction.atomic
def pair_dismiss(*, pair: DuplicatePair, user: Any) -> DuplicatePair:
    """"Not duplicates": the pair leaves the queue and the batch never proposes it again."""
    _require_change_both(user, pair)
    pair.status = DuplicatePair.Status.DISMISSED
    pair.decided_by = user if getattr(user, "is_authenticated", False) else None
    pair.decided_at = timezone.now()
    pair.save(update_fields=["status", "decided_by", "decided_at"])
    return pair


@transaction.atomic
def pair_reopen(*, pair: DuplicatePair, user: Any) -> DuplicatePair:
    """Undo a dismissal (a merged pair is undone by undoing its merge)."""
    _require_change_both(user, pair)
    if pair.status == DuplicatePair.Status.MERGED:
        raise Conflict(_("This pair was merged: undo the merge instead."))
    pair.status = DuplicatePair.Status.OPEN
    pair.decided_by = None
    pair.decided_at = None
    pair.save(update_fields=["status", "decided_by", "decided_at"])
    return pair


# Added for the outbound connector (I5, I8): an ERP that answers a new customer with a party
# another account is already linked to says the two accounts are one company; the pair goes to
# the same queue, where the data manager merges or dismisses it like any other.
SAME_EXTERNAL = "erp_party"  # the reason's field and the key kind of such a pair


@transaction.atomic
def pair_propose(*, object_type: str, first_id: int, second_id: int, system: str,
                 external_id: str) -> DuplicatePair:
    """Open (or reopen) the review pair of two records another system holds as one.

    The score is the fields' own, raised to the "sure" threshold by a "same ERP party"
    reason: the other system has matched them, so they head the queue. A pair dismissed
    while it already carried that reason stays dismissed (the decision was made knowing
    it); a pair dismissed on the fields alone is reopened, since this is new evidence.
    """
    source = source_for(object_type)
    left, right = sorted((int(first_id), int(second_id)))
    if left == right:
        raise ValidationFailed(_("A record cannot be its own duplicate."))
    spec, config = SPECS[object_type], match_config(object_type)
    rows = {int(r["id"]): r for r in source.model._default_manager.filter(
        pk__in=[left, right]).values(*source.fields, *((source.freq_field,)
                                                         if source.freq_field else ()))}
    if len(rows) != 2:
        raise NotFound(_("Not found, or you cannot see it."))
    a, b = spec.features(rows[left]), spec.features(rows[right])
    if source.freq_field:
        counts = _freq_counts(source, {source.freq_value(r) for r in rows.values()})
        a.freq = counts.get(source.freq_value(rows[left]), 0)
        b.freq = counts.get(source.freq_value(rows[right]), 0)
    score, reasons = explain_pair(spec, config, a, b)
    stated = {"field": SAME_EXTERNAL, "verdict": "equal",
              "points": round(max(config.sure - score, 0.0), 1),
              "system": system, "external_id": str(external_id)}
    values = {"score": max(score, config.sure),
              "reasons": [stated, *(r.as_dict() for r in reasons)],
              "keys": sorted({SAME_EXTERNAL, *_pair_keys(spec, a, b)})}
    pair = DuplicatePair.objects.select_for_update().filter(
        object_type=object_type, left_id=left, right_id=right).first()
    if pair is None:
        return DuplicatePair.objects.create(object_type=object_type, left_id=left,
                                            right_id=right, **values)
    if pair.status != DuplicatePair.Status.OPEN and SAME_EXTERNAL in (pair.keys or []):
        return pair
    for name, value in values.items():
        setattr(pair, name, value)
    pair.status = DuplicatePair.Status.OPEN
    pair.decided_by = None
    pair.decided_at = None
    pair.save(update_fields=[*values, "status", "decided_by", "decided_at", "scored_at"])
    return pair


# --- Many incoming records against the base (imports, syncs) ---------------------------------
# Added for the bulk loader's "match on import" (I8, I11): the same index, delta and scores as
# :func:`candidates`, for a whole batch in a handful of queries instead of five per record.

BATCH_CHUNK = 2000  # values per ``IN (…)``: well under SQLite's and PostgreSQL's limits


def _batch_lookups(object_type: str, feats: Sequence[Features],
                   records: Sequence[Mapping[str, Any]]) -> dict[str, set[Any]]:
    """Column → values worth an equality lookup among records not indexed yet: the strong
    keys (identifiers, e-mails, phones, names); the same fields ``delta_q`` reads, minus those
    only a per-record ``LIKE`` could find (domains, postcodes)."""
    out: dict[str, set[Any]] = {}

    def add(column: str, *values: Any) -> None:
        out.setdefault(column, set()).update(v for v in values if v not in (None, ""))

    for f, data in zip(feats, records, strict=True):
        # e-mails as sent and as normalised: stored ones keep the case of their local part
        emails = [*f.emails, *(str(data.get(k) or "").strip()
                               for k in ("email", "email_secondary"))]
        if object_type == "account":
            add("siren", f.siren)
            add("email", *emails)
            add("phone", *f.phones)
            add("normalized_name", *(ids.normalize_name(str(data.get(k) or ""))
                                     for k in ("legal_name", "trade_name")))
        elif object_type == "contact":
            add("email", *emails)
            add("email_secondary", *emails)
            add("phone", *f.phones)
            add("mobile", *f.phones)
            add("account_id", _as_id(f.parent))
        else:
            add("email", *emails)
            add("phone", *f.phones)
            add("siren", f.siren)
            last = str(data.get("last_name") or "").strip()
            add("last_name", last, last.upper(), last.title())
    return out


def _most_shared(item: tuple[int, int]) -> tuple[int, int]:
    return -item[1], item[0]


def batch_candidates(object_type: str, records: Sequence[Mapping[str, Any]], *,
                     min_score: float | None = None, limit: int = 5,
                     user: Any = None) -> list[list[Candidate]]:
    """For each of ``records`` (field names of the model, not saved), the existing records
    scoring at least ``min_score`` (default: the object's ``sure`` threshold), best first.

    Set-based so an import of thousands of rows stays fast: the records' blocking keys are
    looked up in the key index at once; records changed since the index was refreshed (the
    whole table when there is no index yet) are read by equality on their strong keys; each
    record is then scored against the existing records sharing one of its keys, exactly as
    :func:`candidates` scores them. Imports and syncs search the whole base (``user=None``:
    they run for the system); the pre-import audit passes its user, who gets only the records
    they may see.
    """
    if not records:
        return []
    source = source_for(object_type)
    spec, config = SPECS[object_type], match_config(object_type)
    bar = config.sure if min_score is None else min_score
    feats = [spec.features(r) for r in records]
    keys = [spec.keys(f) for f in feats]
    found: list[dict[int, int]] = [{} for _r in records]  # existing id -> keys shared
    model = source.model._default_manager
    # 1. the key index
    hashes = [[key_hash(k) for k in ks] for ks in keys]
    wanted = sorted({h for hs in hashes for h in hs})
    holders: dict[int, list[int]] = {}
    for start in range(0, len(wanted), BATCH_CHUNK):
        for h, object_id in source.key_model._default_manager.filter(
                key__in=wanted[start:start + BATCH_CHUNK]).values_list("key", "object_id"):
            holders.setdefault(h, []).append(object_id)
    for i, hs in enumerate(hashes):
        for h in hs:
            for object_id in holders.get(h, ()):
                found[i][object_id] = found[i].get(object_id, 0) + 1
    # 2. records not in the index yet, read whole, paired with the batch by shared key
    columns = tuple(dict.fromkeys(source.fields + source.display
                                  + ((source.freq_field,) if source.freq_field else ())))
    rows: dict[int, dict[str, Any]] = {}
    state = MatchIndexState.objects.filter(object_type=object_type).first()
    watermark = state.watermark if state is not None else None
    for column, values in _batch_lookups(object_type, feats, records).items():
        ordered = sorted(values, key=str)
        for start in range(0, len(ordered), BATCH_CHUNK):
            qs = model.filter(**{f"{column}__in": ordered[start:start + BATCH_CHUNK]})
            if watermark is not None:
                qs = qs.filter(updated_at__gt=watermark)
            for row in qs.values(*columns):
                rows[row["id"]] = row
    other_feats: dict[int, Features] = {}
    if rows:
        by_key: dict[str, list[int]] = {}
        for i, ks in enumerate(keys):
            for k in ks:
                by_key.setdefault(k, []).append(i)
        for object_id, row in rows.items():
            other_feats[object_id] = f = spec.features(row)
            for k in spec.keys(f):
                for i in by_key.get(k, ()):
                    found[i].setdefault(object_id, 1)
    # 3. the few records found, read once, scored per incoming record
    ranked = [sorted(fd.items(), key=_most_shared)[:MAX_SCORED] for fd in found]
    missing = sorted({oid for r in ranked for oid, _n in r} - set(rows))
    for start in range(0, len(missing), BATCH_CHUNK):
        for row in model.filter(pk__in=missing[start:start + BATCH_CHUNK]).values(*columns):
            rows[row["id"]] = row
            other_feats[row["id"]] = spec.features(row)
    if source.freq_field:
        names = {source.freq_value(r) for r in records} | {source.freq_value(r)
                                                           for r in rows.values()}
        names.discard("")
        ordered_names = sorted(names)
        counts: dict[str, int] = {}
        for start in range(0, len(ordered_names), BATCH_CHUNK):
            counts.update(_freq_counts(source, set(ordered_names[start:start + BATCH_CHUNK])))
        for f, data in zip(feats, records, strict=True):
            f.freq = counts.get(source.freq_value(data), 0) + 1  # itself, once created
        for object_id, row in rows.items():
            other_feats[object_id].freq = counts.get(source.freq_value(row), 0)
    hidden: set[int] = set()
    if user is not None and not policy.sees_all(user):
        found_ids = sorted(rows)
        allowed: set[int] = set()
        for start in range(0, len(found_ids), BATCH_CHUNK):
            allowed.update(policy.restrict(model.filter(
                pk__in=found_ids[start:start + BATCH_CHUNK]), user).values_list("id", flat=True))
        hidden = set(found_ids) - allowed
    out: list[list[Candidate]] = []
    for i, record in enumerate(feats):
        own_keys = set(keys[i])
        mine: list[Candidate] = []
        for object_id, _n in ranked[i]:
            got, other = rows.get(object_id), other_feats.get(object_id)
            if got is None or other is None or object_id in hidden:  # deleted, or not yours
                continue
            row = got
            # the fast path first (may stop early), the explanation only for those kept
            if spec.score(record, other, config.points, None, bar) < bar - 0.05:
                continue
            score, reasons = explain_pair(spec, config, record, other)
            if score < bar:
                continue
            matched = sorted({key_kind(k) for k in spec.keys(other) if k in own_keys})
            mine.append(Candidate(object_type, int(object_id), score, score >= config.sure,
                                  matched, reasons, {k: row[k] for k in source.display}))
        mine.sort(key=lambda c: (-c.score, c.id))
        out.append(mine[:limit])
    return out
