"""API read latency with a large customer file, through the real HTTP server.

    python bench/api.py            # 1,000,000 accounts and 2,000,000 contacts
    python bench/api.py --quick    # 20,000 accounts

Loads the demo data set once into a data directory kept between runs (``--data-dir``), then
measures, as a sales rep (visibility applied), 200 requests of filtered account lists and 200
account 360° views (detail with its nested lists). Prints p50/p95; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Http, comptoir, percentiles, server, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--accounts", type=int)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    n = args.accounts or (20_000 if args.quick else 1_000_000)
    data_dir = args.data_dir or ROOT / "bench" / "out" / f"api-{n}"
    data_dir.mkdir(parents=True, exist_ok=True)

    (data_dir / "static").mkdir(exist_ok=True)
    comptoir(data_dir, "migrate", "-v0")
    setup_django(data_dir)
    from django.db.models import Count

    from comptoir.access.models import Role, User
    from comptoir.access.policy import restrict
    from comptoir.api.auth import issue_token
    from comptoir.crm.models import Account, Contact

    load_seconds = None
    if Account.objects.count() < n:
        start = time.perf_counter()
        comptoir(data_dir, "demo", "--accounts", str(n))
        load_seconds = round(time.perf_counter() - start, 1)
    accounts, contacts = Account.objects.count(), Contact.objects.count()
    rep = (User.objects.filter(role=Role.REP).annotate(n=Count("accounts"))
           .order_by("-n").first())
    if rep is None:
        raise SystemExit("the demo data set has no sales rep")
    visible = restrict(Account.objects.all(), rep)
    visible_count = visible.count()
    sample_ids = list(visible.order_by("?").values_list("id", flat=True)[:500])
    postcodes = list(visible.exclude(billing_postcode="").values_list("billing_postcode",
                                                                        flat=True)[:200])
    _t, token = issue_token(rep, "bench")
    rnd = random.Random(1)

    def list_path() -> tuple[str, str]:
        choice = rnd.randrange(4)
        if choice == 0:
            return "status", "/api/v1/accounts?status=customer&limit=50"
        if choice == 1:
            return "postcode", ("/api/v1/accounts?billing_postcode__startswith="
                                f"{rnd.choice(postcodes)[:2]}&limit=50")
        if choice == 2:
            return "owner", f"/api/v1/accounts?owner_id={rep.pk}&ordering=-updated_at&limit=50"
        return "name", "/api/v1/accounts?status=prospect,customer&ordering=legal_name&limit=50"

    with server(data_dir) as port:
        http = Http(port, token)
        for _ in range(10):  # warm both workers
            http.request("GET", list_path()[1])
            http.request("GET", f"/api/v1/accounts/{rnd.choice(sample_ids)}/overview")
        list_times, detail_times, page2_times = [], [], []
        by_kind: dict[str, list[float]] = {}
        for _ in range(args.requests):
            kind, path = list_path()
            status, seconds, body = http.request("GET", path)
            assert status == 200, (status, body)
            list_times.append(seconds)
            by_kind.setdefault(kind, []).append(seconds)
            if body["next_cursor"] and len(page2_times) < args.requests // 4:
                path = f"{path}&cursor={body['next_cursor']}"
                status, seconds, _b = http.request("GET", path)
                page2_times.append(seconds)
        for _ in range(args.requests):
            status, seconds, body = http.request(
                "GET", f"/api/v1/accounts/{rnd.choice(sample_ids)}/overview")
            assert status == 200, (status, body)
            detail_times.append(seconds)
    result = {
        "accounts": accounts, "contacts": contacts, "rep_visible_accounts": visible_count,
        "demo_load_seconds": load_seconds,
        "filtered_list": percentiles(list_times),
        "filtered_list_by_filter": {k: percentiles(v) for k, v in sorted(by_kind.items())},
        "next_page": percentiles(page2_times) if page2_times else None,
        "account_overview": percentiles(detail_times),
        "target_p95_ms": 50,
    }
    print(f"{accounts} accounts, {contacts} contacts; rep {rep.username} sees {visible_count}")
    print(f"filtered account list : p50 {result['filtered_list']['p50_ms']} ms, "
          f"p95 {result['filtered_list']['p95_ms']} ms")
    for kind, figures in result["filtered_list_by_filter"].items():
        print(f"  {kind:<9}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms")
    print(f"account 360° overview : p50 {result['account_overview']['p50_ms']} ms, "
          f"p95 {result['account_overview']['p95_ms']} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
