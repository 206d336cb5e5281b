"""Server time of the web application's heaviest pages with a large customer file.

    python bench/ui.py            # 1,000,000 accounts and 2,000,000 contacts
    python bench/ui.py --quick    # 20,000 accounts (under a minute once loaded)

Loads the demo data set once into a data directory kept between runs (``--data-dir``; the
API benchmark's directory of the same size is reused when it exists), builds the search index,
then measures, in process through Django's whole middleware stack (session, language, access
policy, templates), for a sales rep (visibility applied) and for the data manager (sees all):

* the account 360° page of random accounts the user may see;
* filtered list pages (status + postcode prefix, "my accounts" by last change, a page further
  down, a filtered deals list);
* search-as-you-type answers (the htmx popup): prefixes, exact names, names with a typo.

Server time is the time Django takes to answer (no network, no browser). Prints p50/p95 per
page and user; targets: 360° page and filtered list p95 < 150 ms, search p95 < 50 ms. The last
line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, comptoir, percentiles, setup_django

TARGETS_MS = {"account_page": 150, "list_page": 150, "search": 50}


def typo(word: str, rng: random.Random) -> str:
    """One swap of two neighbouring inner letters: the most common typing slip."""
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def timed(client: Any, url: str, **headers: str) -> float:
    """Seconds Django takes to answer ``url`` (it must answer 200)."""
    start = time.perf_counter()
    response = client.get(url, **headers)
    seconds = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--accounts", type=int)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = args.accounts or (20_000 if args.quick else 1_000_000)
    requests = 40 if args.quick and args.requests == 100 else args.requests
    data_dir = args.data_dir
    if data_dir is None:
        shared = ROOT / "bench" / "out" / f"api-{n}"
        data_dir = shared if shared.exists() else ROOT / "bench" / "out" / f"ui-{n}"
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "static").mkdir(exist_ok=True)
    comptoir(data_dir, "migrate", "-v0")
    setup_django(data_dir)
    from django.db.models import Count
    from django.test import Client

    from comptoir.access.models import Role, User
    from comptoir.access.policy import restrict
    from comptoir.crm.models import Account, Contact
    from comptoir.search.models import SearchEntry  # type: ignore[attr-defined]

    load_seconds = index_seconds = None
    if Account.objects.count() < n:
        start = time.perf_counter()
        comptoir(data_dir, "demo", "--accounts", str(n))
        load_seconds = round(time.perf_counter() - start, 1)
    if not SearchEntry.objects.exists():
        start = time.perf_counter()
        comptoir(data_dir, "reindex")
        index_seconds = round(time.perf_counter() - start, 1)
    accounts, contacts = Account.objects.count(), Contact.objects.count()
    rep = (User.objects.filter(role=Role.REP).annotate(n=Count("accounts"))
           .order_by("-n").first())
    manager = User.objects.filter(role=Role.DATA_MANAGER).first()
    if rep is None or manager is None:
        raise SystemExit("the demo data set has no sales rep or data manager")
    rng = random.Random(args.seed)
    print(f"{accounts:,} accounts, {contacts:,} contacts; rep {rep.username}, "
          f"data manager {manager.username}; {requests} requests per page and user")
    results: dict[str, Any] = {}
    for label, user in (("rep", rep), ("data_manager", manager)):
        visible = restrict(Account.objects.all(), user)
        ids = list(visible.order_by("?").values_list("id", flat=True)[: requests])
        rows = list(visible.exclude(billing_postcode="").order_by("?")
                    .values_list("legal_name", "billing_postcode")[: requests])
        client = Client()
        client.force_login(user)
        user.language = "fr"
        user.save(update_fields=["language"])
        timed(client, "/accounts/")  # warm-up: templates, translations, connection
        pages = [timed(client, f"/accounts/{pk}/") for pk in ids]
        list_urls = []
        for i, (_name, postcode) in enumerate(rows):
            list_urls.append([
                f"/accounts/?status=customer&postcode={postcode[:2]}",
                "/accounts/?owner=me&sort=-updated_at",
                f"/accounts/?postcode={postcode[:3]}&page=2",
                "/deals/list/?status=open&close=quarter",
            ][i % 4])
        lists = [timed(client, url) for url in list_urls]
        queries = []
        for i, (name, _pc) in enumerate(rows):
            word = max(name.split(), key=len)
            queries.append([word[:3], name, typo(word, rng), word[:5]][i % 4])
        hx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "search-popup"}
        searches = [timed(client, f"/search/?q={q}", **hx) for q in queries]
        results[label] = {
            "visible_accounts": visible.count() if label == "rep" else accounts,
            "account_page_ms": percentiles(pages),
            "list_page_ms": percentiles(lists),
            "search_ms": percentiles(searches),
        }
        for key, values in (("account_page", pages), ("list_page", lists),
                            ("search", searches)):
            p = percentiles(values)
            verdict = "met" if p["p95_ms"] < TARGETS_MS[key] else \
                f"missed by {p['p95_ms'] / TARGETS_MS[key]:.1f}x"
            print(f"{label:>12} {key:<13} p50 {p['p50_ms']:7.1f} ms  p95 {p['p95_ms']:7.1f} ms  "
                  f"(target p95 < {TARGETS_MS[key]} ms: {verdict})")
    print(json.dumps({"accounts": accounts, "contacts": contacts, "requests": requests,
                      "load_seconds": load_seconds, "index_seconds": index_seconds,
                      "targets_ms": TARGETS_MS, **results}))


if __name__ == "__main__":
    main()
