"""Bulk upsert throughput through the real HTTP API, against plain one-save-at-a-time ORM.

    python bench/bulk.py            # 100,000 accounts in calls of 10,000
    python bench/bulk.py --quick    # 20,000 accounts

Prints the figures; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Http, comptoir, server, setup_django

CITIES = [("75008", "Paris"), ("69002", "Lyon"), ("13001", "Marseille"), ("31000", "Toulouse"),
          ("33000", "Bordeaux"), ("59000", "Lille"), ("44000", "Nantes"), ("67000", "Strasbourg"),
          ("35000", "Rennes"), ("92100", "Boulogne-Billancourt")]
FORMS = ["SAS", "SARL", "SA", "EURL", "SASU"]
WORDS = ["Atelier", "Groupe", "Industries", "Services", "Conseil", "Bâtiment", "Logistique",
         "Métallerie", "Boulangerie", "Transports", "Informatique", "Menuiserie"]


def records(n: int, seed: int = 7) -> list[dict[str, Any]]:
    from comptoir.quality.identifiers import siren_with_check_digit, siret_with_check_digit

    rnd = random.Random(seed)
    out = []
    for i in range(n):
        siren = siren_with_check_digit(f"{30000000 + i:08d}")
        postcode, city = rnd.choice(CITIES)
        name = f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {i}"
        out.append({
            "external_id": f"ERP-C{i:07d}", "legal_name": f"{name} {rnd.choice(FORMS)}",
            "status": "customer", "siren": siren,
            "siret": siret_with_check_digit(siren, "0001"),
            "naf_code": rnd.choice(["62.01Z", "43.21A", "25.62B", "10.71C", "49.41A"]),
            "billing_street": f"{rnd.randint(1, 120)} rue de la République",
            "billing_postcode": postcode, "billing_city": city,
            "phone": f"+33 1 {rnd.randint(10, 99)} {rnd.randint(10, 99)} "
                     f"{rnd.randint(10, 99)} {rnd.randint(10, 99)}",
            "email": f"contact@entreprise{i}.fr", "payment_terms": "net_30",
            "credit_limit": f"{rnd.randint(1, 500) * 100}.00",
        })
    return out


def send_all(http: Http, recs: list[dict[str, Any]], batch: int) -> tuple[float, dict[str, int]]:
    totals: dict[str, int] = {}
    start = time.perf_counter()
    for i in range(0, len(recs), batch):
        status, _s, body = http.request("POST", "/api/v1/accounts/bulk",
                                        {"system": "erp", "records": recs[i:i + batch]})
        if status != 200:
            raise SystemExit(f"bulk call failed: {status} {body}")
        for k, v in body["counts"].items():
            totals[k] = totals.get(k, 0) + v
    return time.perf_counter() - start, totals


def orm_baseline(recs: list[dict[str, Any]]) -> tuple[float, float]:
    """The naive path: one ``save()`` per account and per reference, then a re-send that
    loads and saves each record again. Returns (create rate, re-send rate)."""
    from django.db import transaction

    from comptoir.core.models import ExternalRef
    from comptoir.crm.models import Account

    start = time.perf_counter()
    with transaction.atomic():
        for rec in recs:
            data = {k: v for k, v in rec.items() if k != "external_id"}
            account = Account(**data)
            account.save()
            ExternalRef(system="orm", object_type="account", external_id=rec["external_id"],
                        object_id=account.pk).save()
    create = len(recs) / (time.perf_counter() - start)
    start = time.perf_counter()
    with transaction.atomic():
        for rec in recs:
            ref = ExternalRef.objects.get(system="orm", object_type="account",
                                          external_id=rec["external_id"])
            account = Account.objects.get(pk=ref.object_id)
            for k, v in rec.items():
                if k != "external_id":
                    setattr(account, k, v)
            account.save()
    resend = len(recs) / (time.perf_counter() - start)
    return create, resend


def validation_cost(recs: list[dict[str, Any]]) -> float:
    """µs per record spent in the account field rules (identifiers, e-mail, phone)."""
    from comptoir.crm.services import clean_account_data

    start = time.perf_counter()
    for rec in recs:
        clean_account_data(rec)
    return round((time.perf_counter() - start) / len(recs) * 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--records", type=int)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--orm-records", type=int)
    args = parser.parse_args()
    n = args.records or (20_000 if args.quick else 100_000)
    orm_n = args.orm_records or (2_000 if args.quick else 10_000)

    data_dir = Path(tempfile.mkdtemp(prefix="comptoir-bench-bulk-"))
    try:
        comptoir(data_dir, "migrate", "-v0")
        setup_django(data_dir)
        from comptoir.access.models import Role, User
        from comptoir.api.auth import issue_token

        admin = User.objects.create_user("bench-admin", role=Role.ADMIN, password=None)
        _t, token = issue_token(admin, "bench")
        recs = records(n)
        with server(data_dir) as port:
            http = Http(port, token)
            first, counts1 = send_all(http, recs, args.batch)
            again, counts2 = send_all(http, recs, args.batch)
            changed = [dict(r, credit_limit="999.00") for r in recs[: n // 10]]
            upd, counts3 = send_all(http, changed, args.batch)
        assert counts1.get("created") == n, counts1
        assert counts2.get("unchanged") == n, counts2
        orm_create, orm_resend = orm_baseline(records(orm_n, seed=99))
        validation_us = validation_cost(recs[: min(n, 10_000)])
        result = {
            "records": n, "batch": args.batch,
            "create_records_per_s": round(n / first),
            "resend_unchanged_records_per_s": round(n / again),
            "update_10pct_records_per_s": round(len(changed) / upd),
            "orm_one_save_create_records_per_s": round(orm_create),
            "orm_one_save_resend_records_per_s": round(orm_resend),
            "ratio_create_vs_orm": round(n / first / orm_create, 2),
            "ratio_resend_vs_orm": round(n / again / orm_resend, 2),
            "domain_validation_us_per_record": validation_us,
            "targets": {"create_records_per_s": 20_000, "resend_records_per_s": 50_000},
        }
        print(f"bulk API create : {result['create_records_per_s']:>8} records/s "
              f"({n} records, calls of {args.batch}; {counts1})")
        print(f"bulk API re-send: {result['resend_unchanged_records_per_s']:>8} records/s "
              f"(all unchanged: {counts2})")
        print(f"bulk API 10% changed: {result['update_10pct_records_per_s']:>8} records/s "
              f"({counts3})")
        print(f"ORM one save each: create {result['orm_one_save_create_records_per_s']}/s, "
              f"re-send {result['orm_one_save_resend_records_per_s']}/s ({orm_n} records)")
        print(f"domain field rules alone (SIREN/SIRET/VAT/NAF, e-mail, phone): "
              f"{validation_us} µs per record")
        print(json.dumps(result))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
