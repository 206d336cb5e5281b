"""The import wizard's service on a large accounts file: audit + dry run, then the import.

    python bench/imports.py              # 100,000 accounts
    python bench/imports.py --rows 20000

Runs in a throwaway data directory on SQLite, in this process, the way the worker runs the
wizard's tasks (upload, automatic mapping, audit and dry run, then the real run). Prints the
time of each step, records/s and the process's peak memory; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import comptoir, peak_rss_mb, setup_django

CITIES = [("75008", "Paris"), ("69002", "Lyon"), ("13001", "Marseille"), ("31000", "Toulouse"),
          ("33000", "Bordeaux"), ("59000", "Lille"), ("44000", "Nantes")]
WORDS = ["Atelier", "Groupe", "Industries", "Services", "Conseil", "Bâtiment", "Logistique",
         "Métallerie", "Boulangerie", "Transports", "Informatique", "Menuiserie"]


def accounts_csv(rows: int, seed: int = 11) -> bytes:
    """A French spreadsheet export: ``;`` separated, Windows-1252, a few bad values."""
    from comptoir.quality.identifiers import siren_with_check_digit

    rnd = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Raison sociale", "N° SIREN", "Adresse", "Code postal", "Ville",
                     "Téléphone", "E-mail", "Encours"])
    for i in range(rows):
        postcode, city = rnd.choice(CITIES)
        siren = siren_with_check_digit(f"{40000000 + i:08d}")
        if i % 97 == 0:
            siren = "12345678"  # a wrong SIREN: the row lands without it, or is refused
        writer.writerow([f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {i}", siren,
                         f"{i % 300 + 1} rue de la Gare", postcode, city,
                         f"04 72 {i % 100:02d} {i % 89:02d} {i % 71:02d}",
                         f"contact{i}@exemple.fr" if i % 13 else "pas-un-email",
                         f"{rnd.randint(0, 50000)},{rnd.randint(0, 99):02d}"])
    return out.getvalue().encode("cp1252")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="comptoir-bench-imports-"))
    try:
        comptoir(data_dir, "migrate", "--verbosity", "0")
        setup_django(data_dir)
        figures = run(args.rows)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(figures))


def run(rows: int) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from comptoir.access.models import Role, User
    from comptoir.crm.models import Account
    from comptoir.integration import imports  # noqa: TID251  (a benchmark)
    from comptoir.integration.models import SyncRun  # noqa: TID251

    user = User.objects.create_user("bench.data", role=Role.DATA_MANAGER)
    content = accounts_csv(rows)
    print(f"file: {rows:,} rows, {len(content) / 1e6:.1f} MB")
    started = time.perf_counter()
    job = imports.import_create(user=user, object_type="account",
                                upload=SimpleUploadedFile("comptes.csv", content))
    job = imports.import_set_mapping(job, user=user, mapping=job.mapping)
    read = time.perf_counter() - started
    started = time.perf_counter()
    run = imports.import_dry_run_start(job, user=user)
    audit = time.perf_counter() - started
    started = time.perf_counter()
    imports.execute_import_dry_run.call(run.pk)
    dry = time.perf_counter() - started
    run = SyncRun.objects.get(pk=run.pk)
    job.refresh_from_db()
    started = time.perf_counter()
    real = imports.import_run_start(job, user=user)
    imports.execute_import_run.call(real.pk)
    seconds = time.perf_counter() - started
    real = SyncRun.objects.get(pk=real.pk)
    figures = {
        "rows": rows, "upload_and_mapping_s": round(read, 2), "audit_s": round(audit, 2),
        "dry_run_s": round(dry, 2), "dry_run_records_s": round(rows / dry),
        "import_s": round(seconds, 2), "import_records_s": round(rows / seconds),
        "created": real.created, "quarantined": real.quarantined, "status": real.status,
        "accounts": Account.objects.count(), "peak_rss_mb": round(peak_rss_mb()),
    }
    for key, value in figures.items():
        print(f"{key:<22}{value:>14,}" if isinstance(value, int | float) else
              f"{key:<22}{value:>14}")
    return figures


if __name__ == "__main__":
    main()
