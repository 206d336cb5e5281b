"""Sync throughput: an ERP's CSV extract of accounts through ``comptoir sync`` (files mode).

    python bench/sync.py            # 1,000,000 accounts
    python bench/sync.py --quick    # 20,000 accounts

Measures, in one run and one fresh SQLite database: the initial load (every record mapped,
checked against the account rules, written with its reference, audit entry and event), the
re-sync of the same extract (every record recognised unchanged by its content hash), the peak
memory of the sync process, and the raw SQLite insert rate of the same rows into a bare table,
as the ceiling. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PY, comptoir, env_for

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
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run([PY, "-m", "comptoir", "sync", "bench", "--no-progress"],
                          env=env_for(data_dir), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sync failed:\n{done.stdout}\n{done.stderr}")
    counts = {m.group(1): int(m.group(2).replace(",", "")) for m in
              re.finditer(r"^\s+(read|created|updated|unchanged|deleted|quarantined)\s+([\d,]+)$",
                          done.stdout, re.MULTILINE)}
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, counts, max(peak, before) / 1024


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--records", type=int)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
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
        print(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
