"""Sync throughput: an ERP's CSV extract of accounts through ``comptoir sync`` (files mode),
then a real Tryton 8 server through the ``tryton`` connector.

    python bench/sync.py                # 1,000,000 accounts, then Tryton's bench profile
    python bench/sync.py --quick        # 20,000 accounts, then Tryton's small profile
    python bench/sync.py --tryton-only  # Tryton only (--no-tryton: the CSV part only)
    python bench/sync.py --tryton-only --tryton-profile messy   # the real-world-dirty data set

CSV part, in one fresh SQLite database: the initial load (every record mapped, checked against
the account rules, written with its reference, audit entry and event), the re-sync of the same
extract (every record recognised unchanged by its content hash), the peak memory of the sync
process, and the raw SQLite insert rate of the same rows into a bare table, as the ceiling.

Tryton part (skipped with a note when Tryton is not installed: ``make tryton``): a trytond on a
copy of the cached ``bench`` template (10,000 parties, 5,000 customer invoices of 10 lines) is
synced with the shipped mapping into a fresh database, then synced again with nothing changed.
The connector counts the time spent waiting for Tryton's answers, so the run splits into
Tryton's share and Comptoir's own. Per-stream times run from one stream's last commit to the
next's (a stream's deletion check counts in the next one).

The last line is one JSON object (the Tryton figures under ``"tryton"``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PY, comptoir, env_for, run_measured

MAPPING = """
system = "erp"

[streams.clients]
stream = "rows"
target = "account"
key = "Code client"
[streams.clients.fields]
legal_name = "Raison sociale"
siren = { source = "SIREN", transforms = ["digits"] }
siret = { source = "SIRET", transforms = ["digits"] }
naf_code = "Code NAF"
billing_street = "Adresse"
billing_postcode = "Code postal"
billing_city = "Ville"
phone = "Téléphone"
email = "E-mail"
credit_limit = { source = "Encours autorisé", transforms = ["fr_number"] }
payment_terms = { source = "Conditions", map = { "30J" = "net_30", "45JFM" = "eom_45" } }
[streams.clients.fields.status]
source = "Statut"
map = { Client = "customer", Prospect = "prospect", Ancien = "former" }
"""

TRYTON_BATCH = 1000

# Run in a data dir's environment after a sync: the last run as the database recorded it. A
# stream's StreamState is saved with each of its batches, so its ``updated_at`` is the time of
# the stream's last commit: the streams' times are the gaps between those.
RUN_REPORT = """
import json

import django

django.setup()
from comptoir.integration.models import QuarantinedRecord, StreamState, SyncRun

run = SyncRun.objects.order_by("-id").first()
marks = sorted((state.updated_at, state.stream) for state in StreamState.objects.filter(
    connection=run.connection, updated_at__gte=run.started_at))
windows, last = {}, run.started_at
for moment, stream in marks:
    windows[stream] = (moment - last).total_seconds()
    last = moment
print(json.dumps({
    "status": run.status, "run_seconds": run.duration_seconds,
    "after_last_commit_seconds": (run.finished_at - last).total_seconds(),
    **{name: getattr(run, name) for name in
       ("read", "created", "updated", "unchanged", "deleted", "quarantined", "dropped")},
    "streams": run.details.get("streams", {}), "source": run.details.get("source", {}),
    "stream_seconds": windows,
    "quarantine": [f"{q.stream} {q.position}: {q.reason}" for q in
                   QuarantinedRecord.objects.filter(run=run).order_by("id")[:5]],
}))
"""

HEADER = ["Code client", "Raison sociale", "SIREN", "SIRET", "Code NAF", "Adresse",
          "Code postal", "Ville", "Téléphone", "E-mail", "Encours autorisé", "Conditions",
          "Statut"]
CITIES = [("75008", "Paris"), ("69002", "Lyon"), ("13001", "Marseille"), ("31000", "Toulouse"),
          ("33000", "Bordeaux"), ("59000", "Lille"), ("44000", "Nantes"), ("67000", "Strasbourg")]


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def write_extract(path: Path, n: int) -> None:
    rnd = random.Random(5)
    with path.open("w", encoding="cp1252", newline="") as f:
        f.write(";".join(HEADER) + "\r\n")
        for i in range(n):
            siren = f"{40000000 + i:08d}"
            siren += luhn_digit(siren)
            nic = "0001"
            siret = siren + nic
            siret += luhn_digit(siret)
            postcode, city = CITIES[i % len(CITIES)]
            f.write(";".join([
                f"CLI{i:07d}", f"Établissements Dupré & Fils {i}", siren, siret, "25.62B",
                f"{rnd.randint(1, 200)} rue de la Gare", postcode, city,
                f"01 {rnd.randint(40, 49)} {rnd.randint(10, 99)} {rnd.randint(10, 99)} "
                f"{rnd.randint(10, 99)}", f"compta@client{i}.fr",
                f"{rnd.randint(1, 90)} 000,00", "30J", "Client",
            ]) + "\r\n")


def timed_sync(data_dir: Path) -> tuple[float, dict[str, int], float]:
    """(seconds, counts, peak RSS of the sync process in MB)."""
    done = run_measured([PY, "-m", "comptoir", "sync", "bench", "--no-progress"],
                        env_for(data_dir))
    if done.returncode != 0:
        raise SystemExit(f"sync failed:\n{done.stdout}\n{done.stderr}")
    counts = {m.group(1): int(m.group(2).replace(",", "")) for m in
              re.finditer(r"^\s+(read|created|updated|unchanged|deleted|quarantined)\s+([\d,]+)$",
                          done.stdout, re.MULTILINE)}
    return done.seconds, counts, done.peak_rss_mb


def raw_sqlite_rate(path: Path, extract: Path) -> float:
    """Rows per second of a bare ``executemany`` INSERT of the same rows: the ceiling."""
    rows = []
    with extract.open(encoding="cp1252") as f:
        next(f)
        for line in f:
            rows.append(line.rstrip("\r\n").split(";"))
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    columns = ", ".join(f"c{i}" for i in range(len(HEADER)))
    db.execute(f"CREATE TABLE ceiling (id INTEGER PRIMARY KEY, {columns}, "
               "UNIQUE (c0))")
    sql = f"INSERT INTO ceiling VALUES (NULL, {', '.join('?' for _ in HEADER)})"
    start = time.perf_counter()
    for i in range(0, len(rows), 5000):
        with db:
            db.executemany(sql, rows[i:i + 5000])
    rate = len(rows) / (time.perf_counter() - start)
    db.close()
    return rate


def csv_part(args: argparse.Namespace) -> dict[str, Any]:
    n = args.records or (20_000 if args.quick else 1_000_000)
    work = Path(tempfile.mkdtemp(prefix="comptoir-bench-sync-"))
    try:
        data_dir, inbox = work / "data", work / "inbox"
        inbox.mkdir()
        comptoir(data_dir, "migrate", "-v0")
        extract = work / "clients.csv"
        write_extract(extract, n)
        (work / "mapping.toml").write_text(MAPPING, encoding="utf-8")
        comptoir(data_dir, "connection", "bench", "--connector", "files", "--mapping",
                 str(work / "mapping.toml"), "--param", f"path={inbox}",
                 "--param", "key_field=Code client", "--batch-size", str(args.batch))
        shutil.copy(extract, inbox / "clients-1.csv")
        first, counts1, rss1 = timed_sync(data_dir)
        shutil.copy(extract, inbox / "clients-2.csv")
        again, counts2, rss2 = timed_sync(data_dir)
        if counts1.get("created") != n or counts2.get("unchanged") != n:
            raise SystemExit(f"unexpected counts: {counts1} then {counts2}")
        ceiling = raw_sqlite_rate(work / "ceiling.sqlite3", extract)
        result = {
            "records": n, "batch": args.batch,
            "initial_load_records_per_s": round(n / first),
            "resync_unchanged_records_per_s": round(n / again),
            "peak_rss_mb": round(max(rss1, rss2)),
            "raw_sqlite_insert_records_per_s": round(ceiling),
            "initial_vs_ceiling": round(n / first / ceiling, 3),
            "targets": {"initial_records_per_s": 50_000, "resync_records_per_s": 200_000,
                        "peak_rss_mb": 300},
        }
        print(f"initial load : {result['initial_load_records_per_s']:>9,} records/s "
              f"({n:,} accounts in {first:.1f} s; {counts1})")
        print(f"re-sync      : {result['resync_unchanged_records_per_s']:>9,} records/s "
              f"({again:.1f} s; {counts2})")
        print(f"peak memory  : {result['peak_rss_mb']} MB (sync process)")
        print(f"raw SQLite   : {result['raw_sqlite_insert_records_per_s']:>9,} rows/s "
              "(bare executemany of the same rows: the ceiling)")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- Tryton --------------------------------------------------------------------------------------

def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a running process so far (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def tryton_source(server: Any) -> dict[str, int]:
    """What the sync should find, counted in Tryton itself."""
    # a benchmark, not a domain app: the layering rule does not apply
    from comptoir.integration.connectors.tryton_rpc import TrytonClient  # noqa: TID251

    with TrytonClient(server.url, server.database, server.username, server.password,
                      extra_context={"active_test": False}) as client:
        own = [c["party"] for c in client.search_read("company.company", [], ["party"])]
        counts = {  # the company's own party is never a customer: not read
            "parties": client.search_count("party.party", [["id", "not in", own]]),
            "products": client.search_count("product.product", []),
            "sales": client.search_count("sale.sale", []),
            "invoices": client.search_count("account.invoice", [["type", "=", "out"]]),
            "invoice_lines": client.search_count(
                "account.invoice.line", [["invoice.type", "=", "out"], ["type", "=", "line"]]),
        }
        client.logout()
    return counts


def tryton_sync(data_dir: Path, server_pid: int | None) -> dict[str, Any]:
    """One ``comptoir sync tryton`` in its own process, and the run it recorded."""
    cpu_before = cpu_seconds(server_pid)
    done = run_measured([PY, "-m", "comptoir", "sync", "tryton", "--no-progress"],
                        env_for(data_dir))
    cpu_after = cpu_seconds(server_pid)
    if done.returncode != 0:
        raise SystemExit(f"tryton sync failed:\n{done.stdout}\n{done.stderr}")
    report = subprocess.run([PY, "-c", RUN_REPORT], env=env_for(data_dir), capture_output=True,
                            text=True, check=True)
    run: dict[str, Any] = json.loads(report.stdout.strip().splitlines()[-1])
    run["seconds"] = done.seconds
    run["peak_rss_mb"] = done.peak_rss_mb
    run["tryton_cpu_seconds"] = (None if cpu_before is None or cpu_after is None
                                 else cpu_after - cpu_before)
    return run


def _rate(count: int, seconds: float | None) -> int | None:
    return round(count / seconds) if seconds else None


def _share(run: dict[str, Any]) -> dict[str, Any]:
    """The run's time split between Tryton answering and Comptoir itself."""
    source = run.get("source") or {}
    answering = float(source.get("seconds", 0.0))
    cpu = run["tryton_cpu_seconds"]
    # the connector's own work: the time spent producing records, minus waiting for Tryton
    reading = float(source.get("read_seconds", answering))
    connector = max(reading - (answering - float(source.get("setup_seconds", 0.0))), 0.0)
    return {
        "read_seconds": round(reading, 2),
        "connector_seconds": round(connector, 2),
        "connector_share": round(connector / run["seconds"], 3) if run["seconds"] else None,
        "seconds": round(run["seconds"], 2), "run_seconds": round(run["run_seconds"], 2),
        "records_read": run["read"], "records_per_s": _rate(run["read"], run["seconds"]),
        "tryton_calls": int(source.get("calls", 0)),
        "tryton_seconds": round(answering, 2),
        "tryton_decode_seconds": round(float(source.get("decode_seconds", 0.0)), 2),
        "tryton_bytes_received": int(source.get("bytes_received", 0)),
        "trytond_cpu_seconds": None if cpu is None else round(cpu, 1),
        "comptoir_seconds": round(run["seconds"] - answering, 2),
        "comptoir_in_run_seconds": round(run["run_seconds"] - answering, 2),
        "process_start_and_exit_seconds": round(run["seconds"] - run["run_seconds"], 2),
        "tryton_share": round(answering / run["seconds"], 3),
        "peak_rss_mb": round(run["peak_rss_mb"]),
    }


def _size(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB"


def _print_split(figures: dict[str, Any]) -> None:
    cpu = figures["trytond_cpu_seconds"]
    print(f"  Tryton     : {figures['tryton_seconds']:.1f} s answering "
          f"({figures['tryton_share']:.0%} of {figures['seconds']:.1f} s) over "
          f"{figures['tryton_calls']:,} calls, {_size(figures['tryton_bytes_received'])} received "
          f"({figures['tryton_decode_seconds']:.1f} s of it decoding JSON here)"
          + ("" if cpu is None else f"; trytond used {cpu:.1f} s of CPU"))
    print(f"  connector  : {figures['connector_seconds']:.1f} s of its own (reading and "
          f"flattening Tryton's answers, {figures['connector_share']:.0%} of the run)")
    print(f"  Comptoir   : {figures['comptoir_seconds']:.1f} s = "
          f"{figures['comptoir_in_run_seconds']:.1f} s in the run (connector, mapping, checks, "
          f"database) + {figures['process_start_and_exit_seconds']:.1f} s process start and exit")


def tryton_part(quick: bool, batch: int, profile: str | None = None) -> dict[str, Any]:
    from comptoir.integration.mappings import builtin_mapping  # noqa: TID251  (a benchmark)
    from comptoir.testing.tryton import (
        SKIP_REASON,
        TrytonServer,
        build_template,
        tryton_available,
    )

    if not tryton_available():
        print(f"tryton       : skipped ({SKIP_REASON})")
        return {"skipped": SKIP_REASON}
    profile = profile or ("small" if quick else "bench")
    template = build_template(profile=profile)  # cached; the first build takes minutes
    work = Path(tempfile.mkdtemp(prefix="comptoir-bench-tryton-"))
    try:
        with TrytonServer(template, workdir=work / "tryton") as server:
            source = tryton_source(server)
            data_dir = work / "data"
            comptoir(data_dir, "migrate", "-v0")
            (work / "tryton.toml").write_text(builtin_mapping("tryton"), encoding="utf-8")
            comptoir(data_dir, "connection", "tryton", "--connector", "tryton",
                     "--mapping", str(work / "tryton.toml"), "--param", f"url={server.url}",
                     "--param", f"database={server.database}",
                     "--param", f"username={server.username}",
                     "--secret", f"password={server.password}", "--batch-size", str(batch))
            first = tryton_sync(data_dir, server.pid)
            again = tryton_sync(data_dir, server.pid)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    read = {name: counts["read"] for name, counts in first["streams"].items()}
    windows = first["stream_seconds"]
    initial = _share(first)
    initial.update({
        "streams_read": read, "created": first["created"], "quarantined": first["quarantined"],
        "stream_seconds": {name: round(s, 2) for name, s in windows.items()},
        "parties_per_s": _rate(read.get("parties", 0), windows.get("parties")),
        "invoices_per_s": _rate(read.get("invoices", 0), windows.get("invoices")),
        "invoice_lines_per_s": _rate(source["invoice_lines"], windows.get("invoices")),
    })
    resync = _share(again)
    problems = []
    if read.get("parties") != source["parties"]:
        problems.append(f"parties read {read.get('parties')}, Tryton has {source['parties']}")
    if read.get("invoices") != source["invoices"]:
        problems.append(f"invoices read {read.get('invoices')}, Tryton has {source['invoices']}")
    if profile != "messy" and (first["quarantined"] or again["quarantined"]):
        problems.append(f"{first['quarantined'] + again['quarantined']} quarantined")
    if again["read"]:
        problems.append(f"the re-sync with nothing changed read {again['read']} records")
    result = {"profile": profile, "batch": batch, "source": source, "initial": initial,
              "resync_unchanged": resync, "quarantine_sample": first["quarantine"],
              "problems": problems}

    print(f"tryton       : profile {profile!r}, batch {batch:,}; at the source "
          f"{source['parties']:,} parties, {source['products']:,} products, "
          f"{source['sales']:,} sales, {source['invoices']:,} customer invoices with "
          f"{source['invoice_lines']:,} lines")
    print(f"initial sync : {initial['records_per_s']:>9,} records/s ({first['read']:,} records "
          f"read in {initial['seconds']:.1f} s, the run itself {initial['run_seconds']:.1f} s; "
          f"{first['created']:,} created; peak {initial['peak_rss_mb']} MB)")
    print("  read       : " + ", ".join(f"{name} {n:,}" for name, n in read.items()))
    print("  per stream : " + ", ".join(f"{name} {s:.1f} s" for name, s in windows.items())
          + f", then {first['after_last_commit_seconds']:.1f} s to the end of the run")
    print(f"  parties    : {initial['parties_per_s'] or 0:>9,} records/s "
          f"({read.get('parties', 0):,} in {windows.get('parties', 0):.1f} s)")
    print(f"  invoices   : {initial['invoice_lines_per_s'] or 0:>9,} invoice lines/s "
          f"({read.get('invoices', 0):,} invoices, {initial['invoices_per_s'] or 0:,}/s, "
          f"with {source['invoice_lines']:,} lines in {windows.get('invoices', 0):.1f} s)")
    _print_split(initial)
    print(f"re-sync      : nothing changed in Tryton: {again['read']:,} records read in "
          f"{resync['seconds']:.1f} s (the run itself {resync['run_seconds']:.1f} s)")
    _print_split(resync)
    print(f"quarantined  : {first['quarantined']:,} (initial), {again['quarantined']:,} "
          f"(re-sync); values left out {first['dropped']:,}")
    for reason in first["quarantine"]:
        print(f"  {reason}")
    for problem in problems:
        print(f"PROBLEM      : {problem}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="20,000 accounts and Tryton's small profile (under a minute)")
    parser.add_argument("--records", type=int, help="accounts in the CSV extract")
    parser.add_argument("--batch", type=int, default=5000, help="CSV part's batch size")
    parser.add_argument("--tryton-batch", type=int, default=TRYTON_BATCH)
    parser.add_argument("--tryton-profile", choices=["small", "bench", "messy"],
                        help="Tryton data set (default: bench, small with --quick)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--tryton-only", action="store_true", help="skip the CSV part")
    only.add_argument("--no-tryton", action="store_true", help="skip the Tryton part")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    if not args.tryton_only:
        result.update(csv_part(args))
    problems = False
    if not args.no_tryton:
        result["tryton"] = tryton_part(args.quick, args.tryton_batch, args.tryton_profile)
        problems = bool(result["tryton"].get("problems"))
    print(json.dumps(result))
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
