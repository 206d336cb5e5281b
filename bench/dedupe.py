"""Duplicate detection: the batch over a whole base, and one new record checked against it.

    python bench/dedupe.py              # 1,000,000 accounts, 5 % of them injected duplicates
    python bench/dedupe.py --quick      # 50,000 accounts (under a minute)
    python bench/dedupe.py --records 200000 --checks 500

The base is built here, in a fresh SQLite database: French companies drawn like the demo data
set (names from last names, trades and brands, legal forms, real postcodes and cities, streets,
SIREN/SIRET/VAT with valid check digits, phones, e-mails and websites; a fifth of them
prospects without SIREN). Then 5 % of the rows are replaced by duplicates of other rows, each
of one kind, in equal shares:

* ``typo``: one or two letters wrong in the name (missing, swapped, replaced, doubled);
* ``legal_form``: another legal form, none, dotted (``S.A.R.L.``), in front, or in capitals;
* ``swapped``: the words of the name in another order;
* ``missing``: most identifiers and contact fields left out, sometimes the postcode or city;
* ``other_siret``: another establishment of the same company (same SIREN, another SIRET,
  often another town, another phone).

Every duplicate also loses each of its identifiers, phone, e-mail, website and street with
probability 0.1. The truth is the set of (original, duplicate) pairs.

Measured: ``comptoir dedupe --object account`` in its own process (wall time, CPU time, peak
memory; the lookup index is rebuilt on the way), precision and recall of the review queue
against the truth (and recall per kind), then ``candidates()`` — the check of one new record
on create — for duplicates (the original must come back) and for new unrelated records:
p50/p95 latency. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import re
import shutil
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PY, comptoir, env_for, peak_rss_mb, percentiles, run_measured, setup_django

KINDS = ("typo", "legal_form", "swapped", "missing", "other_siret")
_SIREN_SPAN = 60_000_000


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")


class Generator:
    """Seeded rows of ``crm_account`` (as dicts of field values) and their duplicates."""

    def __init__(self, seed: int) -> None:
        from comptoir.demo import data

        self.data = data
        self.rng = random.Random(seed)
        self.city_cum = list(itertools.accumulate(c[3] for c in data.CITIES))
        self.form_cum = list(itertools.accumulate(w for _f, w in data.LEGAL_FORMS))
        while True:  # SIRENs: a permutation of ids, unique and random-looking
            a = self.rng.randrange(1_000_003, _SIREN_SPAN, 2)
            if math.gcd(a, _SIREN_SPAN) == 1:
                break
        self.a, self.b = a, self.rng.randrange(_SIREN_SPAN)
        self.domains: dict[str, int] = {}
        self.phones: set[str] = set()

    def siren(self, n: int) -> str:
        from comptoir.quality.identifiers import siren_with_check_digit

        return siren_with_check_digit(f"{30_000_000 + (self.a * n + self.b) % _SIREN_SPAN:08d}")

    def company(self, postcode: str) -> str:
        from comptoir.demo.generator import company_name

        return company_name(self.rng, self.rng.choice(self.data.NAF_CODES)[1], postcode)

    def street(self) -> str:
        rng = self.rng
        if rng.random() < 0.15:
            return f"{rng.randint(1, 40)} {rng.choice(self.data.BUSINESS_PARKS)}"
        return f"{rng.randint(1, 180)} {rng.choice(self.data.STREETS)}"

    def phone(self, zone: str) -> str:
        while True:
            value = f"+33{zone}{self.rng.choice('1234578')}" \
                    f"{self.rng.randrange(1_000_000, 10_000_000)}"
            if value not in self.phones:
                self.phones.add(value)
                return value

    def domain(self, name: str) -> str:
        slug = _slug(name) or "entreprise"
        n = self.domains.get(slug, 0) + 1
        self.domains[slug] = n
        return f"{slug}{'' if n == 1 else n}.{'fr' if self.rng.random() < 0.75 else 'com'}"

    def place(self) -> tuple[str, str, str]:
        city, postcode, zone, _weight = self.rng.choices(self.data.CITIES,
                                                         cum_weights=self.city_cum)[0]
        return city, postcode, zone

    def base(self, n: int) -> dict[str, Any]:
        from comptoir.quality.identifiers import siret_with_check_digit

        rng = self.rng
        city, postcode, zone = self.place()
        name = self.company(postcode)
        form = rng.choices(self.data.LEGAL_FORMS, cum_weights=self.form_cum)[0][0]
        with_ids = rng.random() < 0.8
        siren = self.siren(n) if with_ids else ""
        domain = self.domain(name)
        return {
            "id": n, "legal_name": f"{name} {form}",
            "trade_name": name if rng.random() < 0.5 else "",
            "status": "customer" if with_ids and rng.random() < 0.6 else "prospect",
            "siren": siren,
            "siret": siret_with_check_digit(siren, f"{rng.randint(1, 3):04d}") if with_ids else "",
            "vat_number": f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"
            if with_ids and rng.random() < 0.7 else "",
            "email": f"{rng.choice(('contact', 'accueil', 'info', 'commercial'))}@{domain}"
            if rng.random() < 0.8 else "",
            "phone": self.phone(zone) if rng.random() < 0.9 else "",
            "website": f"https://www.{domain}" if rng.random() < 0.85 else "",
            "billing_street": self.street() if rng.random() < 0.95 else "",
            "billing_postcode": postcode, "billing_city": city, "billing_country": "FR",
            "_name": name, "_form": form,
        }

    def typo(self, text: str) -> str:
        rng = self.rng
        i = rng.choice([k for k, c in enumerate(text) if c.isalpha()])
        op = rng.random()
        if op < 0.3:
            return text[:i] + text[i + 1:]
        if op < 0.55 and i + 1 < len(text):
            return text[:i] + text[i + 1] + text[i] + text[i + 2:]
        if op < 0.8:
            return text[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + text[i + 1:]
        return text[:i] + text[i] + text[i:]

    def drop(self, row: dict[str, Any], p: float) -> None:
        if self.rng.random() < p:
            row["siren"] = row["siret"] = row["vat_number"] = ""
        for name in ("phone", "email", "website", "billing_street"):
            if self.rng.random() < p:
                row[name] = ""

    def duplicate(self, orig: dict[str, Any], kind: str, n: int) -> dict[str, Any]:
        from comptoir.quality.identifiers import siret_with_check_digit

        rng = self.rng
        row = dict(orig, id=n, status="prospect")
        name, form = orig["_name"], orig["_form"]
        if kind == "typo":
            row["legal_name"] = f"{self.typo(name)} {form}" if rng.random() < 0.8 \
                else self.typo(f"{name} {form}")
            if rng.random() < 0.3:
                row["legal_name"] = self.typo(row["legal_name"])
            self.drop(row, 0.1)
        elif kind == "legal_form":
            others = [f for f, _w in self.data.LEGAL_FORMS if f != form]
            p = rng.random()
            new = (f"{name} {rng.choice(others)}" if p < 0.35 else name if p < 0.6
                   else f"{name} {'.'.join(form)}." if p < 0.8 else f"{form} {name}")
            row["legal_name"] = new.upper() if rng.random() < 0.4 else new
            self.drop(row, 0.1)
        elif kind == "swapped":
            words = name.split()
            k = rng.randrange(1, len(words))
            row["legal_name"] = f"{' '.join(words[k:] + words[:k])} {form}"
            self.drop(row, 0.1)
        elif kind == "missing":
            self.drop(row, 0.6)
            if rng.random() < 0.3:
                row["billing_postcode" if rng.random() < 0.5 else "billing_city"] = ""
            if rng.random() < 0.3:
                row["legal_name"] = name
        elif kind == "other_siret":
            row["siret"] = siret_with_check_digit(row["siren"], f"{rng.randint(4, 99):04d}")
            row["vat_number"] = orig["vat_number"] if rng.random() < 0.5 else ""
            city, postcode, zone = self.place()
            if rng.random() < 0.7:
                row.update(billing_city=city, billing_postcode=postcode)
            row["billing_street"] = self.street()
            row["phone"] = self.phone(zone) if rng.random() < 0.8 else ""
            domain = orig["email"].split("@")[1] if orig["email"] else ""
            row["email"] = f"agence@{domain}" if domain and rng.random() < 0.5 else ""
            if rng.random() < 0.3:
                row["legal_name"] = f"{name} {row['billing_city']} {form}"
            self.drop(row, 0.1)
        if rng.random() < 0.7:
            row["trade_name"] = ""
        return row


def build(total: int, share: float, seed: int
          ) -> tuple[list[dict[str, Any]], dict[tuple[int, int], str], Generator]:
    """Rows (ids 1..total, shuffled positions irrelevant) and the truth {(orig, dup): kind}."""
    gen = Generator(seed)
    n_dup = int(total * share)
    n_base = total - n_dup
    rows = [gen.base(i + 1) for i in range(n_base)]
    picks = iter(gen.rng.sample(range(n_base), min(n_base, n_dup * 3)))
    truth: dict[tuple[int, int], str] = {}
    for k in range(n_dup):
        kind = KINDS[k % len(KINDS)]
        while True:
            orig = rows[next(picks)]
            if kind == "other_siret" and not orig["siren"]:
                continue
            if kind == "swapped" and len(orig["_name"].split()) < 2:
                continue
            break
        dup = gen.duplicate(orig, kind, n_base + k + 1)
        rows.append(dup)
        truth[(orig["id"], dup["id"])] = kind
    return rows, truth, gen


def load(rows: list[dict[str, Any]]) -> float:
    """Write the rows into ``crm_account`` with plain multi-row inserts (a seed, like the
    demo loader: no audit, no events). Returns the seconds taken."""
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from comptoir.core.sql import insert_many, sqlite_bulk_mode
    from comptoir.crm.models import Account
    from comptoir.quality.identifiers import normalize_name

    start = time.perf_counter()
    fields = list(Account._meta.concrete_fields)
    columns = [f.attname for f in fields]
    defaults = {f.attname: f.get_default() for f in fields}
    now = timezone.now() - dt.timedelta(days=1)
    with sqlite_bulk_mode():
        for at in range(0, len(rows), 20_000):
            chunk = []
            for row in rows[at:at + 20_000]:
                values = dict(defaults)
                values.update({k: v for k, v in row.items() if not k.startswith("_")})
                values.update(created_at=now, updated_at=now, custom={},
                              normalized_name=normalize_name(row["legal_name"]))
                chunk.append([values[c] for c in columns])
            with transaction.atomic():
                insert_many(Account, columns, chunk)
    return time.perf_counter() - start


def fresh_record(gen: Generator, n: int) -> dict[str, Any]:
    """A new company unrelated to the base (its own SIREN range, phone and domain)."""
    row = gen.base(n)
    row["siren"] = row["siret"] = row["vat_number"] = ""
    return row


def single_checks(rows: list[dict[str, Any]], truth: dict[tuple[int, int], str],
                  gen: Generator, count: int) -> dict[str, Any]:
    from comptoir.quality.dedupe import candidates

    by_id = {row["id"]: row for row in rows}
    dup_pairs = gen.rng.sample(sorted(truth), min(count // 2, len(truth)))
    checks: list[tuple[dict[str, Any], int | None, int | None]] = []  # data, dup, original
    for orig, dup in dup_pairs:
        # the duplicate, checked as when it is saved: the original must come back
        data = {k: v for k, v in by_id[dup].items() if not k.startswith("_")}
        checks.append((data, dup, orig))
    for k in range(count - len(checks)):
        data = {k2: v for k2, v in fresh_record(gen, 10_000_000 + k).items()
                if not k2.startswith("_") and k2 != "id"}
        checks.append((data, None, None))
    gen.rng.shuffle(checks)
    for data, _dup, _expected in checks[:20]:  # warm the caches
        candidates("account", data)
    times_dup, times_new, hits, empty_new = [], [], 0, 0
    for data, _dup, expected in checks:
        start = time.perf_counter()
        found = candidates("account", data)
        elapsed = time.perf_counter() - start
        if expected is not None:
            times_dup.append(elapsed)
            hits += any(c.id == expected for c in found)
        else:
            times_new.append(elapsed)
            empty_new += not found
    return {
        "all": percentiles(times_dup + times_new),
        "duplicates": percentiles(times_dup), "new_records": percentiles(times_new),
        "original_found": round(hits / max(1, len(times_dup)), 4),
        "new_without_candidates": round(empty_new / max(1, len(times_new)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50,000 accounts")
    parser.add_argument("--records", type=int, help="accounts in the base (duplicates included)")
    parser.add_argument("--share", type=float, default=0.05, help="share of duplicates")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--checks", type=int, help="single-record checks timed")
    parser.add_argument("--keep", action="store_true", help="keep the database (path printed)")
    args = parser.parse_args()
    total = args.records or (50_000 if args.quick else 1_000_000)
    checks = args.checks or (200 if args.quick else 1000)
    work = Path(tempfile.mkdtemp(prefix="comptoir-bench-dedupe-"))
    data_dir = work / "data"
    try:
        comptoir(data_dir, "migrate", "-v0")
        setup_django(data_dir)
        t = time.perf_counter()
        rows, truth, gen = build(total, args.share, args.seed)
        built = time.perf_counter() - t
        loaded = load(rows)
        print(f"base         : {total:,} accounts, {len(truth):,} injected duplicates "
              f"({Counter(truth.values())}); built in {built:.1f} s, loaded in {loaded:.1f} s")

        done = run_measured([PY, "-m", "comptoir", "dedupe", "--object", "account",
                             "--format", "json"], env_for(data_dir))
        if done.returncode != 0:
            raise SystemExit(f"dedupe failed:\n{done.stdout}\n{done.stderr}")
        run = json.loads(done.stdout.strip().splitlines()[-1])

        from comptoir.quality.models import DuplicatePair

        found = set(DuplicatePair.objects.filter(object_type="account")
                    .values_list("left_id", "right_id"))
        right = found & set(truth)
        precision = len(right) / max(1, len(found))
        recall = len(right) / max(1, len(truth))
        by_kind = Counter(truth.values())
        hit_kind = Counter(truth[p] for p in right)
        recall_by_kind = {k: round(hit_kind[k] / by_kind[k], 4) for k in KINDS if by_kind[k]}
        print(f"batch        : {done.seconds:.1f} s wall, {run['timings'].get('cpu', 0):.1f} s "
              f"CPU, peak {done.peak_rss_mb:.0f} MB; {run['pairs']:,} pairs, "
              f"{run['compared']:,} compared, {run['index_keys']:,} index keys; "
              f"steps {run['timings']}")
        print(f"quality      : precision {precision:.4f}, recall {recall:.4f} "
              f"({len(right):,} of {len(truth):,}; {len(found) - len(right):,} pairs not "
              f"injected); recall by kind {recall_by_kind}")

        single = single_checks(rows, truth, gen, checks)
        print(f"single check : p50 {single['all']['p50_ms']} ms, p95 {single['all']['p95_ms']} ms "
              f"over {single['all']['n']} checks (duplicates p95 "
              f"{single['duplicates']['p95_ms']} ms, new records p95 "
              f"{single['new_records']['p95_ms']} ms); original found for "
              f"{single['original_found']:.1%} of duplicates")
        result = {
            "records": total, "duplicates": len(truth),
            "batch_seconds": round(done.seconds, 1),
            "batch_cpu_seconds": run["timings"].get("cpu"),
            "batch_peak_rss_mb": round(done.peak_rss_mb),
            "batch_steps": run["timings"], "pairs": run["pairs"], "compared": run["compared"],
            "index_keys": run["index_keys"],
            "precision": round(precision, 4), "recall": round(recall, 4),
            "recall_by_kind": recall_by_kind,
            "check_p50_ms": single["all"]["p50_ms"], "check_p95_ms": single["all"]["p95_ms"],
            "check": single, "bench_peak_rss_mb": round(peak_rss_mb()),
            "targets": {"batch_seconds": 120, "precision": 0.95, "recall": 0.90,
                        "check_p95_ms": 20},
        }
        if args.keep:
            print(f"database kept in {data_dir}")
        print(json.dumps(result))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
