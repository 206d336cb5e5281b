"""Reconciliation: is the CRM's copy exactly what the other system holds, and if not, why?

Each stream is read whole and every record goes through the same mapping and loader as a sync,
in a transaction rolled back after each batch: the loader's own comparison (the values as they
would be stored against the values stored, lines included, without the content-hash shortcut)
says for each record whether the CRM holds the same thing. Nothing is written but the
reconciliation's own run, which keeps the report.

Differences, each with its reason:

* ``missing`` — in the source, not in the CRM (never synced, or not linked yet);
* ``different`` — in both, with fields that differ (CRM value, source value);
* ``extra`` — linked in the CRM to a source record the source no longer has and not marked
  deleted (a tombstone pass has not run);
* explained ones: ``quarantined`` (the record waits in quarantine, with its reason) and
  ``dropped`` (a value left out as invalid, with the source value and the reason).

Totals of the amounts (document totals, amounts due) are added up on both sides per stream.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from comptoir.core.models import AuditEntry, ExternalRef

from .engine.core import Connector, Record, batched
from .engine.errors import ConfigError, SyncError
from .engine.mapping import StreamMapping
from .loader import Loader, json_safe
from .models import Connection, QuarantinedRecord, SyncRun

log = logging.getLogger(__name__)

UNEXPLAINED = ("missing", "different", "extra")
EXPLAINED = ("quarantined", "dropped")
AMOUNTS = ("total_excl_tax", "total_tax", "total_incl_tax", "amount_due")
LIST_LIMIT = 500  # differences listed per stream (all are counted)


@dataclass
class StreamReport:
    name: str
    target: str
    source: int = 0  # records the source holds for this mapping
    crm: int = 0  # records the CRM links to this source (marked deleted ones excluded)
    same: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        (*UNEXPLAINED, *EXPLAINED), 0))
    differences: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, dict[str, str]] = field(default_factory=dict)  # field: source, crm
    deleted: int = 0  # marked deleted at the source, kept in the CRM

    def add(self, kind: str, **item: Any) -> None:
        self.counts[kind] += 1
        if len(self.differences) < LIST_LIMIT:
            self.differences.append({"kind": kind, **item})

    @property
    def unexplained(self) -> int:
        return sum(self.counts[k] for k in UNEXPLAINED)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "target": self.target, "source": self.source,
                "crm": self.crm, "same": self.same, "counts": self.counts,
                "deleted": self.deleted, "totals": self.totals,
                "differences": self.differences, "unexplained": self.unexplained}


class _Rollback(Exception):
    pass


def _number(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def reconcile(connection: Connection, connector: Connector, mapping_streams: Iterable[
        StreamMapping], system: str, run: SyncRun,
        progress: Callable[[str, int], None] | None = None) -> list[StreamReport]:
    """Compare every mapped stream with the CRM; see the module docstring."""
    groups: dict[str, list[StreamMapping]] = {}
    for stream_mapping in mapping_streams:
        groups.setdefault(stream_mapping.stream, []).append(stream_mapping)
    streams = connector.streams()
    missing = sorted(set(groups) - set(streams))
    if missing:
        raise ConfigError(f"The mapping names streams the connector does not offer: "
                          f"{', '.join(missing)}.")
    reports: list[StreamReport] = []
    for name, mappings in groups.items():
        stream = streams[name]
        loaders = [Loader(run, connection, system, m, compare=True) for m in mappings]
        mine = [StreamReport(m.name, m.target) for m in mappings]
        seen: list[set[str]] = [set() for _m in mappings]
        sums: list[dict[str, Decimal]] = [dict.fromkeys(AMOUNTS, Decimal(0)) for _m in mappings]
        read = 0
        for batch in batched(stream.read(None), connection.batch_size, name):
            live = [r for r in batch.records if not r.deleted]
            read += len(batch.records)
            for index, loader in enumerate(loaders):
                records = [r for r in live if (r.error is not None and index == 0)
                           or (r.error is None and loader.mapping.matches(r))]
                if records:
                    _compare_batch(loader, records, mine[index], seen[index], sums[index])
            if progress is not None:
                progress(name, read)
        prefix = getattr(stream, "key_prefix", "")
        # Mappings splitting one stream (invoices and credit notes) share its references:
        # a reference is extra when no mapping of the stream saw its record, said once.
        said: set[str] = set()
        for index, loader in enumerate(loaders):
            object_type = loader.spec.object_type
            everyone = set().union(*(seen[n] for n, other in enumerate(loaders)
                                     if other.spec.object_type == object_type))
            _extras_and_totals(loader, mine[index], seen[index], everyone, sums[index],
                               prefix, extras=object_type not in said)
            said.add(object_type)
        reports.extend(mine)
    return reports


def _compare_batch(loader: Loader, records: list[Record], report: StreamReport,
                   seen: set[str], sums: dict[str, Decimal]) -> None:
    loader.outcomes = []
    try:
        with transaction.atomic():
            marker = AuditEntry.objects.aggregate(last=Max("id"))["last"] or 0
            loader.apply(records, [])
            diffs = {row["object_id"]: row["changes"] for row in AuditEntry.objects.filter(
                id__gt=marker, object_type=loader.spec.object_type,
                action=AuditEntry.Action.UPDATE).values("object_id", "changes")}
            raise _Rollback
    except _Rollback:
        pass
    open_rows = set(QuarantinedRecord.objects.filter(
        connection_id=loader.connection.pk, stream=loader.name,
        status=QuarantinedRecord.Status.OPEN,
        external_id__in=[o["external_id"] for o in loader.outcomes
                         if o["status"] == "quarantined"]).values_list("external_id", flat=True))
    targets = set(AMOUNTS) & set(loader.spec.fields)
    for outcome in loader.outcomes:
        ext = str(outcome["external_id"])
        report.source += 1
        seen.add(ext)
        data = outcome.get("data") or {}
        status = outcome["status"]
        for name in targets:
            amount = _number(data.get(name))
            sums[name] += amount
            if status == "quarantined":  # the CRM cannot hold it: said apart in the totals
                sums[f"{name}:held"] = sums.get(f"{name}:held", Decimal(0)) + amount
        if status == "quarantined":
            if ext in open_rows:
                report.add("quarantined", external_id=ext, field=outcome.get("field", ""),
                           reason=outcome["reason"])
            else:  # changed since the last sync, or never read: not explained by a row
                report.add("missing", external_id=ext,
                           reason=f"not in quarantine, and refused now: {outcome['reason']}")
            continue
        for name, (raw, reason) in (outcome.get("dropped") or {}).items():
            report.add("dropped", external_id=ext, object_id=outcome.get("object_id"),
                       field=name, value=json_safe(raw), reason=reason)
        if status == "created":
            report.add("missing", external_id=ext, reason="not in the CRM")
        elif outcome.get("matched") is not None:
            report.add("missing", external_id=ext, object_id=outcome.get("object_id"),
                       reason="not linked; a sync would link it to this duplicate")
        elif status == "updated":
            changes = {k: v for k, v in (diffs.get(outcome["object_id"]) or {}).items()
                       if k != "matched"}
            report.add("different", external_id=ext, object_id=outcome["object_id"],
                       fields={k: {"crm": v[0], "source": v[1]} for k, v in changes.items()})
        else:
            report.same += 1


def _extras_and_totals(loader: Loader, report: StreamReport, seen: set[str],
                       everyone: set[str], sums: dict[str, Decimal], prefix: str, *,
                       extras: bool) -> None:
    refs = ExternalRef.objects.filter(system=loader.system, object_type=loader.spec.object_type,
                                      external_id__startswith=prefix)
    linked: list[int] = []
    for ext, obj_id, deleted_at in refs.values_list("external_id", "object_id",
                                                     "deleted_at").iterator(chunk_size=5000):
        if deleted_at is not None:
            if ext in seen:  # back at the source (Tryton cannot undelete: a reused key)
                report.add("different", external_id=ext, object_id=obj_id,
                           fields={"deleted": {"crm": True, "source": False}})
            else:
                report.deleted += 1
            continue
        if ext in seen:
            linked.append(obj_id)
        elif extras and ext not in everyone:
            report.add("extra", external_id=ext, object_id=obj_id,
                       reason="not in the source any more (no deletion pass yet)")
    report.crm = len(linked)
    amounts = [n for n in AMOUNTS if n in loader.spec.fields]
    if amounts:
        crm = {n: Decimal(0) for n in amounts}
        for start in range(0, len(linked), 5000):
            chunk = loader.spec.model._default_manager.filter(pk__in=linked[start:start + 5000])
            for name, value in chunk.aggregate(**{n: Sum(n) for n in amounts}).items():
                crm[name] += value or Decimal(0)
        meta = loader.spec.model._meta
        places = {n: Decimal(1).scaleb(-getattr(meta.get_field(n), "decimal_places", 2))
                  for n in amounts}
        report.totals = {n: {"source": str(sums[n].quantize(places[n])),
                             "held": str(sums.get(f"{n}:held", Decimal(0)).quantize(places[n])),
                             "crm": str(crm[n].quantize(places[n]))} for n in amounts}


def reconcile_execute(run: SyncRun, *, progress: Callable[[str, int], None] | None = None
                      ) -> SyncRun:
    """Execute a pending reconciliation run (trigger ``reconcile``, started with
    ``sync_run_start`` so it never overlaps a sync of the connection); its report goes to
    ``details["reconcile"]``. A failure is on the run, never raised."""
    from .services import claim_run, connection_connector, connection_mapping

    run = claim_run(run)
    connection = run.connection
    connector = None
    try:
        mapping = connection_mapping(connection)
        connector = connection_connector(connection)
        connector.check()
        reports = reconcile(connection, connector, mapping.streams.values(), mapping.system,
                            run, progress)
    except Exception as exc:  # on the run, like a sync's failure; the log has the trace
        if not isinstance(exc, SyncError):
            log.exception("reconciliation %s of %s crashed", run.pk, connection.name)
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.FAILED, finished_at=timezone.now(),
            error_category=getattr(exc, "category", "permanent"),
            error_message=getattr(exc, "message", None) or str(exc))
        run.refresh_from_db()
        return run
    finally:
        if connector is not None:
            connector.close()
    unexplained = sum(r.unexplained for r in reports)
    details = {"reconcile": {"streams": [r.as_dict() for r in reports],
                             "unexplained": unexplained,
                             "explained": sum(r.counts[k] for r in reports for k in EXPLAINED)}}
    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.SUCCEEDED, finished_at=timezone.now(), details=details,
        read=sum(r.source for r in reports), unchanged=sum(r.same for r in reports),
        quarantined=sum(r.counts["quarantined"] for r in reports),
        dropped=sum(r.counts["dropped"] for r in reports))
    run.refresh_from_db()
    return run


def reconcile_connection(connection: Connection, *, user: Any = None,
                         progress: Callable[[str, int], None] | None = None) -> SyncRun:
    """Start and execute a reconciliation in this process (CLI, tests)."""
    from .services import sync_run_start

    run = sync_run_start(connection, trigger=SyncRun.Trigger.RECONCILE, user=user,
                         full=True, dry_run=True)
    return reconcile_execute(run, progress=progress)


def _said(item: dict[str, Any]) -> str:
    where = item["external_id"] + (f" (#{item['object_id']})" if item.get("object_id") else "")
    kind = item["kind"]
    if kind == "different":
        fields = "; ".join(f"{name}: CRM {json.dumps(v['crm'], ensure_ascii=False)} ≠ source "
                           f"{json.dumps(v['source'], ensure_ascii=False)}"
                           for name, v in item["fields"].items())
        return f"{where}: {fields}"
    if kind == "dropped":
        return (f"{where}: {item['field']} {json.dumps(item['value'], ensure_ascii=False)} "
                f"left out: {item['reason']}")
    if kind == "quarantined" and item.get("field"):
        return f"{where}: {item['field']}: {item.get('reason', '')}"
    return f"{where}: {item.get('reason', '')}"


def reconcile_lines(report: dict[str, Any], *, limit: int = 50) -> list[str]:
    """The report as text: per stream its counts and totals, then each difference."""
    lines = []
    for stream in report["streams"]:
        counts = stream["counts"]
        lines.append(f"{stream['name']} → {stream['target']}: source {stream['source']:,}, "
                     f"CRM {stream['crm']:,}, same {stream['same']:,}, "
                     + ", ".join(f"{k} {counts[k]:,}" for k in (*UNEXPLAINED, *EXPLAINED))
                     + (f", deleted at the source {stream['deleted']:,}"
                        if stream["deleted"] else ""))
        for name, total in stream["totals"].items():
            held = Decimal(total.get("held") or 0)
            mark = "" if Decimal(total["source"]) - held == Decimal(total["crm"]) else "  ≠"
            of_which = f" (of which {total['held']} in quarantine)" if held else ""
            lines.append(f"  total {name}: source {total['source']}{of_which}, "
                         f"CRM {total['crm']}{mark}")
        for item in stream["differences"][:limit]:
            lines.append(f"  {item['kind']:<12}{_said(item)}")
        hidden = sum(counts.values()) - min(len(stream["differences"]), limit)
        if hidden > 0:
            lines.append(f"  … and {hidden:,} more")
    unexplained, explained = report["unexplained"], report["explained"]
    summary = f"{unexplained:,} difference{'' if unexplained == 1 else 's'}"
    if explained:
        summary += (f"; {explained:,} explained (values left out as invalid, records in "
                    "quarantine), each listed with its reason")
    lines.append(summary)
    return lines
