"""Data quality at import time: the pre-import audit, the SIRENE load, matching on import.

    python bench/quality.py             # audit 50,000 rows against 30,000 accounts; SIRENE
                                        # 100,000 units + 200,000 establishments; 5,000
                                        # records imported into 20,000 accounts
    python bench/quality.py --quick     # 5,000 vs 5,000; 10,000 + 20,000; 1,000 into 5,000
                                        # (under a minute)
    python bench/quality.py --audit-rows 20000 --base 10000 --keep

One fresh SQLite database, migrated once in a temporary data directory; each part starts from
a copy of the empty database. Companies are drawn as in bench/dedupe.py (its ``Generator``: the
demo data set's names, places, streets, SIREN/SIRET/VAT with valid check digits, phones,
e-mails, websites; a fifth of them prospects without SIREN).

1. **Pre-import audit** (``comptoir audit FILE --object account --format json``). A base of
   ``--base`` accounts, loaded with plain inserts, its key index built by the dedupe batch.
   A file of ``--audit-rows`` rows (cp1252, ``;``, French headers such as raison_sociale,
   siren, code_postal, ville, telephone, email; phones in national format): 20 % are companies
   of the base, 5 % duplicate another row of the file, the rest are new companies (3 % of
   them with an invalid SIREN or e-mail). Each duplicate is of one kind, in equal shares:
   ``exact`` (the same company as another system exports it: trade name dropped, name
   sometimes in capitals) or one of bench/dedupe.py's kinds (typo, legal form, swapped words,
   missing fields, other SIRET). The file is audited in its own process (wall time and peak
   memory of that process), once as CSV and once as XLSX (openpyxl, write-only); printed:
   the report's own timings (read, checks, in_file, base, total), rows/s, the pairs found in
   the file and the rows matched in the base, and the recall of the injected duplicates (an
   in-file pair is found when the report lists it, a base row when its original is among the
   row's candidates).
2. **SIRENE load** (``comptoir sirene load``). ``--units`` legal units and
   ``--establishments`` establishments (a head office per unit first, then other
   establishments), written with the official headers in the official order (those of
   tests/sirene/files.py when it imports without pytest, else the loader's columns in the
   official order), the establishments zipped as INSEE ships them. Loaded in a process each:
   establishments first, then units (which name the establishments already there), then both
   again (a reload). Printed: rows/s as the loader measures them, wall time and peak memory.
3. **Matching on import** (``core.bulk.bulk_upsert`` with ``match=batch_candidates``, as the
   bulk API and syncs call it). A base of ``--match-base`` accounts with its key index, then
   ``--match-records`` new records of a new system, ``--dup-share`` of them sure duplicates of
   base accounts (same name, e-mail and phone, and place; a new external id). Each run starts
   from a copy of the same database; median of ``--runs`` runs with matching off and on
   (interleaved); printed: seconds, the ratio, and how many duplicates were linked to their
   original (all of them expected; none of the new companies).

Commands run in their own process, started by ``/usr/bin/time -v`` (else by a small Python
wrapper reading ``RUSAGE_CHILDREN``), so the peak memory printed is that command's alone. The
last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    PY,
    ROOT,
    Measured,
    comptoir,
    env_for,
    peak_rss_mb,
    run_measured,
    setup_django,
)
from dedupe import KINDS, Generator, load

DUP_KINDS = ("exact", *KINDS)
# The file's columns, as a French export names them, and the fields they hold.
FILE_COLUMNS = (
    ("raison_sociale", "legal_name"), ("nom_commercial", "trade_name"), ("siren", "siren"),
    ("siret", "siret"), ("tva_intracom", "vat_number"), ("adresse", "billing_street"),
    ("code_postal", "billing_postcode"), ("ville", "billing_city"), ("pays", ""),
    ("telephone", "phone"), ("email", "email"), ("site_web", "website"), ("commentaire", ""),
)
BULK_FIELDS = ("legal_name", "trade_name", "status", "siren", "siret", "vat_number", "email",
               "phone", "website", "billing_street", "billing_postcode", "billing_city",
               "billing_country")

# The loader's columns in the official order: the header written when tests/sirene/files.py
# (every official column) cannot be imported.
UNIT_HEADER_MIN = [
    "siren", "statutDiffusionUniteLegale", "dateCreationUniteLegale", "sigleUniteLegale",
    "prenom1UniteLegale", "trancheEffectifsUniteLegale", "etatAdministratifUniteLegale",
    "nomUniteLegale", "nomUsageUniteLegale", "denominationUniteLegale",
    "categorieJuridiqueUniteLegale", "activitePrincipaleUniteLegale", "nicSiegeUniteLegale",
]
ESTABLISHMENT_HEADER_MIN = [
    "siren", "nic", "siret", "statutDiffusionEtablissement", "dateCreationEtablissement",
    "trancheEffectifsEtablissement", "etablissementSiege", "complementAdresseEtablissement",
    "numeroVoieEtablissement", "indiceRepetitionEtablissement", "typeVoieEtablissement",
    "libelleVoieEtablissement", "codePostalEtablissement", "libelleCommuneEtablissement",
    "etatAdministratifEtablissement", "enseigne1Etablissement",
    "denominationUsuelleEtablissement", "activitePrincipaleEtablissement",
]
STREET_TYPES = {"rue": "RUE", "avenue": "AV", "boulevard": "BD", "allée": "ALL",
                "chemin": "CHE", "impasse": "IMP", "quai": "QUAI", "cours": "CRS",
                "route": "RTE"}


# --- The database: one migrated file, copied for each part ---------------------------------

def db_path(data_dir: Path) -> Path:
    return data_dir / "comptoir.sqlite3"


def save_db(data_dir: Path, to: Path) -> None:
    """Copy the database (checkpointed, every connection of this process closed)."""
    from django.db import connection, connections

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connections.close_all()
    shutil.copyfile(db_path(data_dir), to)


def restore_db(data_dir: Path, copy: Path) -> None:
    """Put ``copy`` back as the database; the next query reconnects."""
    from django.db import connections

    connections.close_all()
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path(data_dir)}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(copy, db_path(data_dir))


def measured(data_dir: Path, *args: str) -> Measured:
    """``comptoir ARGS`` run to its end (wall time, the peak RSS of that process alone)."""
    done = run_measured([PY, "-m", "comptoir", *args], env_for(data_dir))
    if done.returncode != 0:
        raise SystemExit(f"comptoir {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def base_accounts(gen: Generator, count: int) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """``count`` accounts (ids 1..count) loaded, and the key index built by the batch."""
    from comptoir.quality.dedupe import dedupe_run

    t = time.perf_counter()
    rows = [gen.base(i + 1) for i in range(count)]
    built = time.perf_counter() - t
    loaded = load(rows)
    t = time.perf_counter()
    dedupe_run("account")
    return rows, {"built": built, "loaded": loaded, "indexed": time.perf_counter() - t}


# --- 1. The pre-import audit ----------------------------------------------------------------

def national(phone: str) -> str:
    """``+33472123456`` → ``04 72 12 34 56``, as a French spreadsheet holds it."""
    if not phone.startswith("+33"):
        return phone
    digits = "0" + phone[3:]
    return " ".join(digits[i:i + 2] for i in range(0, len(digits), 2))


def variant(gen: Generator, orig: dict[str, Any], kind: str) -> dict[str, Any]:
    """A row for the same company as ``orig``, of one duplicate kind."""
    if kind != "exact":
        return gen.duplicate(orig, kind, orig["id"])
    row = dict(orig, trade_name="")
    if gen.rng.random() < 0.5:
        row["legal_name"] = row["legal_name"].upper()
    return row


def pick(gen: Generator, pool: Sequence[dict[str, Any]], kind: str, used: set[int]) -> int:
    """A position in ``pool`` not used yet whose row can take a duplicate of ``kind``."""
    while True:
        k = gen.rng.randrange(len(pool))
        row = pool[k]
        if k in used or (kind == "other_siret" and not row["siren"]) \
                or (kind == "swapped" and len(row["_name"].split()) < 2):
            continue
        used.add(k)
        return k


def spoil(gen: Generator, row: dict[str, Any]) -> None:
    """An invalid SIREN (wrong check digit) or e-mail, as old files have."""
    if row["siren"] and gen.rng.random() < 0.5:
        row["siren"] = row["siren"][:8] + str((int(row["siren"][8]) + 1) % 10)
    elif row["email"]:
        row["email"] = row["email"].replace("@", " at ")
    else:
        row["email"] = "pas-d-email"


def audit_rows(gen: Generator, base: list[dict[str, Any]], total: int
               ) -> tuple[list[list[str]], dict[tuple[int, int], str],
                          dict[int, tuple[int, str]], int]:
    """The file's rows (cells), the injected in-file pairs {(row, row): kind}, the rows
    already in the base {row: (account id, kind)}, by spreadsheet row number (header = 1),
    and how many rows were given an invalid value."""
    n_base = min(int(total * 0.20), len(base) // 2)
    n_dup = min(int(total * 0.05), (total - n_base) // 3)
    n_new = total - n_base - n_dup
    new = [gen.base(len(base) + 1 + k) for k in range(n_new)]  # SIRENs, phones, domains: new
    tags: list[tuple[str, int, str]] = [("new", k, "") for k in range(n_new)]
    rows = list(new)
    used: set[int] = set()
    for k in range(n_dup):
        kind = DUP_KINDS[k % len(DUP_KINDS)]
        orig = pick(gen, new, kind, used)
        rows.append(variant(gen, new[orig], kind))
        tags.append(("dup", orig, kind))
    spoiled = 0
    for k in range(n_new):  # invalid values, on rows no duplicate was made from
        if k not in used and gen.rng.random() < 0.03:
            spoil(gen, new[k])
            spoiled += 1
    used = set()
    for k in range(n_base):
        kind = DUP_KINDS[k % len(DUP_KINDS)]
        orig = pick(gen, base, kind, used)
        rows.append(variant(gen, base[orig], kind))
        tags.append(("base", base[orig]["id"], kind))
    order = list(range(len(rows)))
    gen.rng.shuffle(order)
    number = {}  # position in ``rows`` → row number in the file
    for at, position in enumerate(order):
        number[position] = at + 2
    cells: list[list[str]] = []
    for position in order:
        row = rows[position]
        cells.append([national(row["phone"]) if name == "phone" else
                      "France" if column == "pays" else str(row.get(name, "")) if name else ""
                      for column, name in FILE_COLUMNS])
    in_file: dict[tuple[int, int], str] = {}
    in_base: dict[int, tuple[int, str]] = {}
    for position, (what, ref, kind) in enumerate(tags):
        if what == "dup":
            pair = sorted((number[ref], number[position]))
            in_file[(pair[0], pair[1])] = kind
        elif what == "base":
            in_base[number[position]] = (ref, kind)
    return cells, in_file, in_base, spoiled


def write_files(folder: Path, cells: list[list[str]]) -> tuple[Path, Path]:
    import openpyxl

    header = [column for column, _name in FILE_COLUMNS]
    path_csv = folder / "export_clients.csv"
    with open(path_csv, "w", encoding="cp1252", errors="replace", newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(cells)
    path_xlsx = folder / "export_clients.xlsx"
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Clients")
    sheet.append(header)
    for row in cells:
        sheet.append(row)
    book.save(path_xlsx)
    return path_csv, path_xlsx


def recall(truth: dict[Any, str], hits: set[Any]) -> tuple[float, dict[str, float]]:
    by_kind = Counter(truth.values())
    hit_kind = Counter(kind for key, kind in truth.items() if key in hits)
    overall = sum(hit_kind.values()) / max(1, len(truth))
    return round(overall, 4), {k: round(hit_kind[k] / by_kind[k], 4)
                               for k in DUP_KINDS if by_kind[k]}


def audit_once(data_dir: Path, path: Path, in_file: dict[tuple[int, int], str],
               in_base: dict[int, tuple[int, str]]) -> dict[str, Any]:
    out = path.with_suffix(path.suffix + ".json")
    done = measured(data_dir, "audit", str(path), "--object", "account", "--format", "json",
                    "--output", str(out))
    report = json.loads(out.read_text(encoding="utf-8"))
    dup_file, dup_base = report["duplicates_in_file"], report["duplicates_in_base"]
    pairs = {tuple(sorted(item["rows"])) for item in dup_file["items"]}
    found = {item["row"]: {c["id"] for c in item["candidates"]} for item in dup_base["items"]}
    hits_base = {row for row, (account, _k) in in_base.items() if account in found.get(row, ())}
    recall_file, recall_file_kind = recall(in_file, pairs)
    recall_base, recall_base_kind = recall({r: kind for r, (_a, kind) in in_base.items()},
                                           hits_base)
    timings = report["timings"]
    return {
        "rows": report["rows"], "wall_seconds": round(done.seconds, 2),
        "peak_rss_mb": round(done.peak_rss_mb), "timings": timings,
        "rows_per_second": round(report["rows"] / max(timings["total"], 1e-9)),
        "rows_per_second_wall": round(report["rows"] / done.seconds),
        "pairs": dup_file["pairs"], "pair_rows": dup_file["rows"],
        "pairs_not_injected": len(pairs - set(in_file)),
        "base_rows": dup_base["rows"], "base_sure_rows": dup_base["sure_rows"],
        "base_rows_not_injected": len(set(found) - set(in_base)),
        "invalid_values": sum(inv["count"] for inv in report["invalid"]),
        "recall_in_file": recall_file, "recall_in_file_by_kind": recall_file_kind,
        "recall_base": recall_base, "recall_base_by_kind": recall_base_kind,
    }


def part_audit(args: argparse.Namespace, work: Path, data_dir: Path) -> dict[str, Any]:
    gen = Generator(args.seed)
    base, steps = base_accounts(gen, args.base)
    print(f"audit base   : {len(base):,} accounts built in {steps['built']:.1f} s, loaded in "
          f"{steps['loaded']:.1f} s, key index built in {steps['indexed']:.1f} s")
    t = time.perf_counter()
    cells, in_file, in_base, spoiled = audit_rows(gen, base, args.audit_rows)
    path_csv, path_xlsx = write_files(work, cells)
    print(f"audit file   : {len(cells):,} rows ({len(in_base):,} already in the base, "
          f"{len(in_file):,} duplicating another row, {spoiled:,} with an invalid value), "
          f"written as CSV "
          f"({path_csv.stat().st_size / 1e6:.1f} MB, cp1252) and XLSX "
          f"({path_xlsx.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s")
    out: dict[str, Any] = {"base": len(base), "rows": len(cells),
                           "injected_in_file": len(in_file), "injected_base": len(in_base),
                           "injected_invalid": spoiled}
    for label, path in (("csv", path_csv), ("xlsx", path_xlsx)):
        r = out[label] = audit_once(data_dir, path, in_file, in_base)
        tm = r["timings"]
        print(f"audit {label:<7}: {r['rows']:,} rows in {r['wall_seconds']:.1f} s wall "
              f"({r['rows_per_second_wall']:,} rows/s), peak {r['peak_rss_mb']} MB; report: "
              f"read {tm['read']} s, checks {tm['checks']} s, in_file {tm['in_file']} s, "
              f"base {tm['base']} s, total {tm['total']} s ({r['rows_per_second']:,} rows/s)")
        print(f"  found      : {r['pairs']:,} pairs in the file ({r['pairs_not_injected']:,} "
              f"not injected), {r['base_rows']:,} rows matching the base "
              f"({r['base_sure_rows']:,} sure, {r['base_rows_not_injected']:,} not injected), "
              f"{r['invalid_values']:,} invalid values")
        print(f"  recall     : in the file {r['recall_in_file']:.4f} of {len(in_file):,} "
              f"{r['recall_in_file_by_kind']}; base {r['recall_base']:.4f} of "
              f"{len(in_base):,} {r['recall_base_by_kind']}")
    return out


# --- 2. The SIRENE load ---------------------------------------------------------------------

def official_headers() -> tuple[list[str], list[str], str]:
    """(units header, establishments header, where from): tests/sirene/files.py's, imported
    with pytest unavailable (so a writer that needs it falls back), else the minimal ones."""
    path = ROOT / "tests" / "sirene" / "files.py"
    spec = importlib.util.spec_from_file_location("_bench_sirene_files", path)
    saved = sys.modules.get("pytest")
    sys.modules["pytest"] = None  # type: ignore[assignment]  # ``import pytest`` now fails
    try:
        if spec is None or spec.loader is None:
            raise ImportError(path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return list(module.UNIT_HEADER), list(module.ESTABLISHMENT_HEADER), \
            "tests/sirene/files.py"
    except (ImportError, OSError, AttributeError):
        return UNIT_HEADER_MIN, ESTABLISHMENT_HEADER_MIN, "the loader's columns"
    finally:
        if saved is None:
            del sys.modules["pytest"]
        else:
            sys.modules["pytest"] = saved


def _upper(text: str) -> str:
    """As INSEE writes names: capitals, no accents."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()


def _write(path: Path, header: list[str], rows: Any) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([row.get(c, "") for c in header] for row in rows)


def sirene_files(folder: Path, n_units: int, n_etabs: int, seed: int
                 ) -> tuple[Path, Path, str]:
    """(units CSV, establishments zip, header source)."""
    from comptoir.demo import data
    from comptoir.demo.generator import company_name
    from comptoir.quality.identifiers import siren_with_check_digit, siret_with_check_digit

    unit_header, etab_header, source = official_headers()
    rng = random.Random(seed)
    units: list[dict[str, str]] = []
    for i in range(n_units):
        siren = siren_with_check_digit(f"{40_000_000 + i:08d}")
        city, postcode, _zone, _w = rng.choice(data.CITIES)
        naf, words = rng.choice(data.NAF_CODES)
        unit = {"siren": siren, "statutDiffusionUniteLegale": "O",
                "dateCreationUniteLegale": f"{rng.randint(1970, 2024)}-{rng.randint(1, 12):02d}-"
                                           f"{rng.randint(1, 28):02d}",
                "trancheEffectifsUniteLegale": rng.choice(data.HEADCOUNT_BANDS)[0],
                "dateDernierTraitementUniteLegale": "2024-03-22T09:51:25",
                "etatAdministratifUniteLegale": "C" if rng.random() < 0.08 else "A",
                "activitePrincipaleUniteLegale": naf,
                "nomenclatureActivitePrincipaleUniteLegale": "NAFRev2",
                "nicSiegeUniteLegale": siret_with_check_digit(siren, "0001")[9:],
                "caractereEmployeurUniteLegale": "O", "_city": city, "_postcode": postcode}
        if rng.random() < 0.15:  # a sole trader: a person's name, no denomination
            unit.update(nomUniteLegale=_upper(rng.choice(data.LAST_NAMES)),
                        prenom1UniteLegale=_upper(rng.choice(data.FEMALE_FIRST_NAMES
                                                             + data.MALE_FIRST_NAMES)),
                        categorieJuridiqueUniteLegale="1000")
        else:
            unit.update(denominationUniteLegale=_upper(company_name(rng, words, postcode)),
                        categorieJuridiqueUniteLegale=rng.choice(("5499", "5710", "5720",
                                                                  "5599")))
            if rng.random() < 0.1:
                unit["sigleUniteLegale"] = "".join(
                    w[0] for w in unit["denominationUniteLegale"].split())
        units.append(unit)

    def establishments() -> Any:
        for i in range(n_etabs):
            unit = units[i % n_units]
            nth = i // n_units + 1
            siret = siret_with_check_digit(unit["siren"], f"{nth:04d}")
            city, postcode = (unit["_city"], unit["_postcode"]) if nth == 1 \
                else rng.choice(data.CITIES)[:2]
            kind, _sep, name = rng.choice(data.STREETS).partition(" ")
            yield {"siren": unit["siren"], "nic": siret[9:], "siret": siret,
                   "statutDiffusionEtablissement": "O",
                   "dateCreationEtablissement": unit["dateCreationUniteLegale"],
                   "trancheEffectifsEtablissement": unit["trancheEffectifsUniteLegale"],
                   "etablissementSiege": "true" if nth == 1 else "false",
                   "numeroVoieEtablissement": str(rng.randint(1, 180)),
                   "indiceRepetitionEtablissement": "B" if rng.random() < 0.03 else "",
                   "typeVoieEtablissement": STREET_TYPES.get(kind, "RUE"),
                   "libelleVoieEtablissement": _upper(name),
                   "codePostalEtablissement": postcode, "libelleCommuneEtablissement":
                   _upper(city),
                   "etatAdministratifEtablissement": "C" if unit[
                       "etatAdministratifUniteLegale"] == "C" or rng.random() < 0.05 else "A",
                   "enseigne1Etablissement": _upper(company_name(rng, ("Agence",), postcode))
                   if rng.random() < 0.1 else "",
                   "activitePrincipaleEtablissement": unit["activitePrincipaleUniteLegale"],
                   "nomenclatureActivitePrincipaleEtablissement": "NAFRev2"}

    units_path = folder / "StockUniteLegale_utf8.csv"
    _write(units_path, unit_header, units)
    etabs_csv = folder / "StockEtablissement_utf8.csv"
    _write(etabs_csv, etab_header, establishments())
    etabs_zip = etabs_csv.with_suffix(".zip")
    with zipfile.ZipFile(etabs_zip, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(etabs_csv, arcname=etabs_csv.name)
    etabs_csv.unlink()
    return units_path, etabs_zip, source


def sirene_step(data_dir: Path, label: str, *files: Path) -> dict[str, Any]:
    from comptoir.sirene.models import SireneLoad

    last = SireneLoad.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    done = measured(data_dir, "sirene", "load", *map(str, files))
    loads = list(SireneLoad.objects.filter(pk__gt=last).order_by("pk"))
    rows, seconds = sum(x.rows for x in loads), sum(x.seconds for x in loads)
    out = {"rows": rows, "bad_rows": sum(x.bad_rows for x in loads),
           "seconds": round(seconds, 2), "rows_per_second": round(rows / max(seconds, 1e-9)),
           "wall_seconds": round(done.seconds, 2), "peak_rss_mb": round(done.peak_rss_mb),
           "files": {x.file_name: {"rows": x.rows, "seconds": round(x.seconds, 2)}
                     for x in loads}}
    print(f"sirene {label:<6}: {rows:,} rows in {seconds:.1f} s ({out['rows_per_second']:,} "
          f"rows/s; {', '.join(f'{x.kind} {x.rows / max(x.seconds, 1e-9):,.0f}/s' for x in loads)}"
          f"), {done.seconds:.1f} s wall, peak {done.peak_rss_mb:.0f} MB, "
          f"{out['bad_rows']:,} bad rows")
    return out


def part_sirene(args: argparse.Namespace, work: Path, data_dir: Path) -> dict[str, Any]:
    from comptoir.sirene.models import SireneEstablishment, SireneUnit

    t = time.perf_counter()
    units, etabs, source = sirene_files(work, args.units, args.establishments, args.seed)
    print(f"sirene files : {args.units:,} units (CSV, {units.stat().st_size / 1e6:.1f} MB) and "
          f"{args.establishments:,} establishments (zip, {etabs.stat().st_size / 1e6:.1f} MB), "
          f"headers of {source}, written in {time.perf_counter() - t:.1f} s")
    out: dict[str, Any] = {"units": args.units, "establishments": args.establishments,
                           "headers": source}
    out["establishments_first"] = sirene_step(data_dir, "etabs", etabs)
    out["units_then"] = sirene_step(data_dir, "units", units)
    out["reload"] = sirene_step(data_dir, "reload", etabs, units)
    out["units_stored"] = SireneUnit.objects.count()
    out["establishments_stored"] = SireneEstablishment.objects.count()
    out["establishments_unnamed"] = SireneEstablishment.objects.filter(name_key="").count()
    print(f"sirene check : {out['units_stored']:,} units and {out['establishments_stored']:,} "
          f"establishments stored, {out['establishments_unnamed']:,} establishments without "
          f"their unit's name")
    return out


# --- 3. Matching on import ------------------------------------------------------------------

def import_records(gen: Generator, base: list[dict[str, Any]], count: int, share: float
                   ) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """``count`` records of a new system and {position: account id} of the sure duplicates."""
    n_dup = min(round(count * share), len(base))
    fresh = [gen.base(len(base) + 1 + k) for k in range(count - n_dup)]
    records = [{"external_id": f"ERP-{k:07d}", **{f: row[f] for f in BULK_FIELDS}}
               for k, row in enumerate(fresh)]
    usable = [row for row in base if row["email"] and row["phone"]]
    dups = [{"external_id": f"ERP-{count - n_dup + k:07d}", "legal_name": row["legal_name"],
             "email": row["email"], "phone": row["phone"],
             "billing_postcode": row["billing_postcode"], "billing_city": row["billing_city"],
             "_id": row["id"]}
            for k, row in enumerate(gen.rng.sample(usable, min(n_dup, len(usable))))]
    records += dups
    gen.rng.shuffle(records)
    expected = {i: r.pop("_id") for i, r in enumerate(records) if "_id" in r}
    return records, expected


def part_matching(args: argparse.Namespace, work: Path, data_dir: Path) -> dict[str, Any]:
    from comptoir.access.models import Role, User
    from comptoir.core.bulk import bulk_upsert
    from comptoir.crm.bulk import ACCOUNT_BULK
    from comptoir.quality.dedupe import batch_candidates

    gen = Generator(args.seed + 1)
    base, steps = base_accounts(gen, args.match_base)
    user = User.objects.create_user("bench-data-manager", role=Role.DATA_MANAGER, password=None)
    records, expected = import_records(gen, base, args.match_records, args.dup_share)
    snapshot = work / "matching.sqlite3"
    save_db(data_dir, snapshot)
    print(f"match base   : {len(base):,} accounts built in {steps['built']:.1f} s, loaded in "
          f"{steps['loaded']:.1f} s, key index built in {steps['indexed']:.1f} s; "
          f"{len(records):,} records to import, {len(expected):,} of them sure duplicates")
    matchers: dict[str, Callable[..., Any] | None] = {
        "off": None, "sure": partial(batch_candidates, "account")}
    times: dict[str, list[float]] = {"off": [], "sure": []}
    restore_db(data_dir, snapshot)  # warm-up, not timed: imports, caches, prepared statements
    bulk_upsert(ACCOUNT_BULK, system="warm-up", records=records[:50], user=user,
                match=matchers["sure"])
    statuses: dict[str, Counter[str]] = {}
    links: Counter[str] = Counter()
    for _run in range(args.runs):
        for mode, match in matchers.items():
            restore_db(data_dir, snapshot)
            t = time.perf_counter()
            results = bulk_upsert(ACCOUNT_BULK, system="erp", records=records, user=user,
                                  source="bulk:erp", match=match)
            times[mode].append(time.perf_counter() - t)
            statuses[mode] = Counter(r.status for r in results)
            if match is None:
                continue
            links = Counter()  # the last run's
            for i, r in enumerate(results):
                if r.matched is not None:
                    links["linked" if expected.get(i) == r.matched["id"] else
                          "linked_wrong" if i in expected else "new_linked"] += 1
    off, sure = (statistics.median(times[m]) for m in ("off", "sure"))
    out = {
        "base": len(base), "records": len(records), "duplicates": len(expected),
        "runs": args.runs, "off_seconds": round(off, 3), "sure_seconds": round(sure, 3),
        "ratio": round(sure / off, 3), "off_runs": [round(x, 3) for x in times["off"]],
        "sure_runs": [round(x, 3) for x in times["sure"]],
        "off_records_per_second": round(len(records) / off),
        "sure_records_per_second": round(len(records) / sure),
        "linked": links["linked"], "linked_wrong": links["linked_wrong"],
        "new_linked": links["new_linked"],
        "status_off": dict(statuses["off"]), "status_sure": dict(statuses["sure"]),
    }
    print(f"match import : {len(records):,} records, median of {args.runs}: without matching "
          f"{off:.2f} s ({out['off_records_per_second']:,}/s), with matching {sure:.2f} s "
          f"({out['sure_records_per_second']:,}/s), ratio {out['ratio']:.2f} (runs: off "
          f"{out['off_runs']}, with {out['sure_runs']})")
    print(f"match linked : {out['linked']:,} of {len(expected):,} duplicates linked to their "
          f"original ({out['linked_wrong']} to another, {out['new_linked']} new companies "
          f"linked); statuses off {out['status_off']}, with matching {out['status_sure']}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (under a minute)")
    parser.add_argument("--base", type=int, help="accounts in the audit's base (30,000)")
    parser.add_argument("--audit-rows", type=int, help="rows of the audited file (50,000)")
    parser.add_argument("--units", type=int, help="SIRENE legal units (100,000)")
    parser.add_argument("--establishments", type=int, help="SIRENE establishments (200,000)")
    parser.add_argument("--match-base", type=int, help="accounts before the import (20,000)")
    parser.add_argument("--match-records", type=int, help="records imported (5,000)")
    parser.add_argument("--dup-share", type=float, default=0.02,
                        help="share of the imported records that duplicate the base")
    parser.add_argument("--runs", type=int, default=3, help="runs per matching mode")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    q = args.quick
    for name, full, quick in (("base", 30_000, 5_000), ("audit_rows", 50_000, 5_000),
                              ("units", 100_000, 10_000), ("establishments", 200_000, 20_000),
                              ("match_base", 20_000, 5_000), ("match_records", 5_000, 1_000)):
        if getattr(args, name) is None:
            setattr(args, name, quick if q else full)
    # SQLite only: the parts copy database files
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("BENCH_KEEP_DATABASE_URL", None)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="comptoir-bench-quality-"))
    data_dir = work / "data"
    try:
        comptoir(data_dir, "migrate", "-v0")
        empty = work / "empty.sqlite3"
        shutil.copyfile(db_path(data_dir), empty)
        setup_django(data_dir)
        result: dict[str, Any] = {}
        for name, part in (("audit", part_audit), ("sirene", part_sirene),
                           ("matching", part_matching)):
            restore_db(data_dir, empty)
            result[name] = part(args, work, data_dir)
        result["bench_peak_rss_mb"] = round(peak_rss_mb())
        result["bench_seconds"] = round(time.perf_counter() - started, 1)
        print(f"bench        : {result['bench_seconds']:.1f} s in all, peak "
              f"{result['bench_peak_rss_mb']} MB in this process")
        if args.keep:
            print(f"kept in {work}")
        print(json.dumps(result))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
