"""Global search latency (search as you type) with a large customer file, and reindex rate.

    python bench/search.py            # 1,000,000 accounts and 2,000,000 contacts
    python bench/search.py --quick    # 20,000 accounts

Loads the demo data set once into a data directory kept between runs (``--data-dir``; the demo
builds the search index), then times ``comptoir.search.services.search()`` in this process (the
server time of an answer, without HTTP) for two users: an administrator, who sees everything,
and the sales rep who sees the smallest part of the accounts. The queries come from records
each user may see: names typed letter by letter (2 letters onwards), whole names, names with a
typo, first and last name, e-mail starts, phone numbers and SIRENs. Then a record is created
through the service and searched at once (the catch-up on the outbox included), and the index
is rebuilt (``--reindex``) to give its rate. Prints p50/p95; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, comptoir, peak_rss_mb, percentiles, setup_django


def typo(word: str, rnd: random.Random) -> str:
    """One edit a hurried typist makes: two letters swapped, one dropped or doubled."""
    i = rnd.randrange(1, len(word) - 1)
    kind = rnd.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


def queries_for(user: Any, rnd: random.Random, count: int) -> list[tuple[str, str]]:
    """(kind, query) pairs built from records ``user`` may see."""
    from comptoir.access.policy import restrict
    from comptoir.crm.models import Account, Contact

    accounts = list(restrict(Account.objects.all(), user).order_by("?")
                    .values_list("legal_name", "siren", "phone", "email")[:count])
    contacts = list(restrict(Contact.objects.all(), user).order_by("?")
                    .values_list("first_name", "last_name", "email")[:count])
    out: list[tuple[str, str]] = []
    for n in range(count):
        first, last, email = contacts[n % len(contacts)]
        legal_name, siren, phone, account_email = accounts[n % len(accounts)]
        word = last if len(last) >= 5 else legal_name.split()[0]
        for end in range(2, len(word) + 1):  # typed letter by letter
            out.append(("typing", word[:end]))
        out.append(("exact_name", f"{legal_name} "))
        if len(word) >= 5:
            out.append(("typo", typo(word, rnd)))
        out.append(("first_last", f"{first} {last[:max(2, len(last) - 2)]}"))
        if email:
            out.append(("email", email.split("@")[0][:8]))
        if phone:
            out.append(("phone", f"0{phone[3:4]} {phone[4:6]} {phone[6:8]}"))
        out.append(("siren", siren))
        if account_email:
            out.append(("account_email", account_email.split("@")[1][:10]))
    return out


def measure(user: Any, queries: list[tuple[str, str]], limit: int) -> dict[str, Any]:
    from comptoir.search.services import search

    for _kind, q in queries[:30]:  # warm the caches (vocabulary, pages)
        search(user, q, limit=limit)
    by_kind: dict[str, list[float]] = defaultdict(list)
    times: list[float] = []
    empty = 0
    for kind, q in queries:
        start = time.perf_counter()
        hits = search(user, q, limit=limit)
        seconds = time.perf_counter() - start
        times.append(seconds)
        by_kind[kind].append(seconds)
        empty += not hits
    worst = sorted(zip(times, (q for _k, q in queries), strict=True), reverse=True)[:5]
    return {"all": percentiles(times), "by_kind": {k: percentiles(v)
                                                   for k, v in sorted(by_kind.items())},
            "no_hit_share": round(empty / len(queries), 3),
            "slowest": [[q, round(s * 1000, 1)] for s, q in worst]}


def write_then_search(user: Any, rounds: int) -> dict[str, float | int]:
    """Create an account through the service, then search it at once (catch-up included)."""
    from django.db import transaction

    from comptoir.crm.services import account_create, account_delete
    from comptoir.search.services import search

    times, misses = [], 0
    for n in range(rounds):
        with transaction.atomic():
            account = account_create(user=user, data={"legal_name": f"Benchmarque Xylo{n}"})
        start = time.perf_counter()
        hits = search(user, f"xylo{n}")
        times.append(time.perf_counter() - start)
        misses += not any(h.object_id == account.pk for h in hits)
        with transaction.atomic():
            account_delete(account=account, user=user)
    search(user, "xylo")  # read the deletions
    return {**percentiles(times), "misses": misses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--accounts", type=int)
    parser.add_argument("--records", type=int,
                        help="Records per user the queries are built from (about 12 queries "
                             "each); default 40, 25 with --quick.")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--reindex", choices=("none", "some", "full"),
                        help="Rebuild timed after the queries: none, some types in place "
                             "(lead, opportunity, case), or everything in bulk. Default: full "
                             "with --quick, some otherwise.")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    n = args.accounts or (20_000 if args.quick else 1_000_000)
    records = args.records or (25 if args.quick else 40)
    reindex_mode = args.reindex or ("full" if args.quick else "some")
    data_dir = args.data_dir or ROOT / "bench" / "out" / f"search-{n}"
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "static").mkdir(exist_ok=True)
    comptoir(data_dir, "migrate", "-v0")
    setup_django(data_dir)
    from django.db.models import Count

    from comptoir.access.models import Role, User
    from comptoir.access.policy import restrict
    from comptoir.crm.models import Account, Contact
    from comptoir.search import indexing
    from comptoir.search.models import SearchEntry

    load_seconds = None
    if Account.objects.count() < n:
        start = time.perf_counter()
        comptoir(data_dir, "demo", "--accounts", str(n))
        load_seconds = round(time.perf_counter() - start, 1)
    if indexing.needs_rebuild() or not SearchEntry.objects.exists():
        indexing.rebuild(clear=True)
    accounts, contacts = Account.objects.count(), Contact.objects.count()
    entries = SearchEntry.objects.count()
    admin = User.objects.filter(role=Role.ADMIN).order_by("pk").first()
    reps = (User.objects.filter(role=Role.REP).annotate(n=Count("accounts"))
            .filter(n__gt=0).order_by("n"))
    rep = reps.first()
    if admin is None or rep is None:
        raise SystemExit("the demo data set has no administrator or sales rep")
    rep_visible = restrict(Account.objects.all(), rep).count()
    rnd = random.Random(7)
    users = {"admin": admin, "rep": rep}
    results: dict[str, Any] = {}
    for label, user in users.items():
        queries = queries_for(user, rnd, records)
        results[label] = measure(user, queries, args.limit)
    after_write = write_then_search(rep, 20)
    reindex: dict[str, Any] = {"mode": reindex_mode}
    if reindex_mode != "none":
        types = None if reindex_mode == "full" else ["lead", "opportunity", "case"]
        built = indexing.rebuild(types=types, clear=reindex_mode == "full")
        reindex.update(rows=built.total, seconds=round(built.seconds, 1),
                       rows_per_s=round(built.rate))
    result = {
        "accounts": accounts, "contacts": contacts, "index_rows": entries,
        "rep": rep.username, "rep_visible_accounts": rep_visible,
        "demo_load_seconds": load_seconds, "limit": args.limit,
        "admin": results["admin"], "rep_results": results["rep"],
        "write_then_search": after_write, "reindex": reindex,
        "peak_rss_mb": round(peak_rss_mb()), "target_p95_ms": 50,
    }
    print(f"{accounts:,} accounts, {contacts:,} contacts, {entries:,} index rows; "
          f"rep {rep.username} sees {rep_visible:,} accounts")
    for label in users:
        figures = results[label]
        print(f"{label:<6} all queries   : p50 {figures['all']['p50_ms']} ms, "
              f"p95 {figures['all']['p95_ms']} ms (n={figures['all']['n']}, "
              f"no hit {figures['no_hit_share']:.0%})")
        for kind, f in figures["by_kind"].items():
            print(f"  {kind:<14}: p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms (n={f['n']})")
        print(f"  slowest: {figures['slowest']}")
    print(f"write then search (rep): p50 {after_write['p50_ms']} ms, "
          f"p95 {after_write['p95_ms']} ms, misses {after_write['misses']}")
    if "rows" in reindex:
        print(f"reindex ({reindex_mode}): {reindex['rows']:,} rows in {reindex['seconds']} s "
              f"({reindex['rows_per_s']:,} rows/s)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
