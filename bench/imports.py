"""The import wizard's service on a large accounts file: audit + dry run, then the import.

    python bench/imports.py              # 100,000 accounts
    python bench/imports.py --rows 20000
    python bench/imports.py --no-pages   # the import alone (no one browsing meanwhile)

Runs in a throwaway data directory on SQLite, in this process, the way the worker runs the
wizard's tasks (upload, automatic mapping, audit and dry run, then the real run). Prints the
time of each step, records/s and the process's peak memory.

Meanwhile a second process, as a web worker would, serves the pages the person (and a
colleague) ask for, through Django's whole middleware stack on the same database file: the
import's status part (the htmx poll), the import's page and the accounts list, one request
after another, and a sign-in (a write: the session and ``last_login``) every few seconds.
Their latency is printed per step (idle before the audit, audit, dry run, import) as median,
p95 and count, with the answers that were not a 2xx/3xx. Figures only, nothing asserted: the
machine may be shared. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PY, comptoir, env_for, peak_rss_mb, percentiles, setup_django

PASSWORD = "bench-imports-password"  # a throwaway database
IDLE_SECONDS = 3.0  # page latency measured before the audit starts, for comparison

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
    parser.add_argument("--no-pages", action="store_true",
                        help="no page requests during the import")
    parser.add_argument("--interval", type=float, default=0.2,
                        help="seconds between two page requests (default 0.2)")
    parser.add_argument("--login-every", type=float, default=5.0,
                        help="seconds between two sign-ins (default 5)")
    # the page-measuring process (started by the benchmark itself)
    parser.add_argument("--pages-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--job", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--user", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pages_child:
        pages_child(Path(args.data_dir), args.job, args.user, args.interval, args.login_every)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="comptoir-bench-imports-"))
    try:
        comptoir(data_dir, "migrate", "--verbosity", "0")
        setup_django(data_dir)
        pages = None if args.no_pages else (data_dir, args.interval, args.login_every)
        figures = run(args.rows, pages=pages)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(figures))


# --- Page requests while the import runs ------------------------------------------------------

def pages_child(data_dir: Path, job_pk: int, username: str, interval: float,
                login_every: float) -> None:
    """Request pages until the stop file appears; print ``ready``, then one JSON list of
    ``[wall time, kind, seconds, status]``."""
    setup_django(data_dir)
    from django.test import Client

    from comptoir.access.models import User

    stop = data_dir / "pages.stop"
    samples: list[tuple[float, str, float, int]] = []
    lock = threading.Lock()

    def timed(kind: str, call: Any) -> None:
        asked, started = time.time(), time.perf_counter()  # a sample counts when asked
        try:
            status = call().status_code
        except Exception:  # counted as a failure, the benchmark goes on
            status = 0
        with lock:
            samples.append((asked, kind, time.perf_counter() - started, status))

    def sign_ins() -> None:
        from django.db import connection

        def sign_in() -> Any:  # a new browser: a new session, ``last_login`` saved
            return Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en").post(
                "/login/", {"username": username, "password": PASSWORD})

        while not stop.exists():
            timed("sign_in", sign_in)
            deadline = time.time() + login_every
            while time.time() < deadline and not stop.exists():
                time.sleep(0.05)
        connection.close()

    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(User.objects.get(username=username))
    page = f"/imports/{job_pk}/"
    for _n in range(3):  # templates and caches warm, as in a running server
        client.get(page)
        client.get("/accounts/")
    print("ready", flush=True)
    writer = threading.Thread(target=sign_ins, daemon=True)
    writer.start()
    cycle = 0
    while not stop.exists():
        timed("import_status", lambda: client.get(page, HTTP_HX_REQUEST="true"))
        timed("accounts_list", lambda: client.get("/accounts/"))
        if cycle % 5 == 0:
            timed("import_page", lambda: client.get(page))
        cycle += 1
        time.sleep(interval)
    writer.join(timeout=60)
    with lock:
        print(json.dumps(samples), flush=True)


class Pages:
    """The page-measuring process, and the steps' time windows to sort its samples by."""

    def __init__(self, data_dir: Path, job_pk: int, username: str, interval: float,
                 login_every: float) -> None:
        self.data_dir = data_dir
        (data_dir / "pages.stop").unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [PY, __file__, "--pages-child", "--data-dir", str(data_dir), "--job", str(job_pk),
             "--user", username, "--interval", str(interval), "--login-every",
             str(login_every)], env=env_for(data_dir), stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the page process did not start: {line!r}")
        self.steps: list[tuple[str, float, float]] = []

    def step(self, name: str, started: float) -> None:
        self.steps.append((name, started, time.time()))

    def stop(self) -> dict[str, Any]:
        (self.data_dir / "pages.stop").touch()
        out, _err = self.proc.communicate(timeout=120)
        samples = json.loads(out.strip().splitlines()[-1])
        figures: dict[str, Any] = {}
        for name, start, end in self.steps:
            by_kind: dict[str, list[tuple[float, int]]] = {}
            for at, kind, seconds, status in samples:
                if start <= at <= end:
                    by_kind.setdefault(kind, []).append((seconds, status))
            figures[name] = {kind: {
                **percentiles([s for s, _st in found]),
                "max_ms": round(max(s for s, _st in found) * 1000, 1),
                "failed": sum(1 for _s, st in found if not 200 <= st < 400),
            } for kind, found in sorted(by_kind.items())}
        return figures


def print_pages(figures: dict[str, Any]) -> None:
    print(f"\npage latency while the import runs (ms; failed = not 2xx/3xx)\n"
          f"{'step':<10}{'request':<16}{'n':>6}{'median':>9}{'p95':>9}{'max':>9}{'failed':>8}")
    for step, kinds in figures.items():
        for kind, f in kinds.items():
            print(f"{step:<10}{kind:<16}{f['n']:>6}{f['p50_ms']:>9.1f}{f['p95_ms']:>9.1f}"
                  f"{f['max_ms']:>9.1f}{f['failed']:>8}")


def run(rows: int, pages: tuple[Path, float, float] | None = None) -> dict[str, Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from comptoir.access.models import Role, User
    from comptoir.crm.models import Account
    from comptoir.integration import imports  # noqa: TID251  (a benchmark)
    from comptoir.integration.models import SyncRun  # noqa: TID251

    user = User.objects.create_user("bench.data", password=PASSWORD, role=Role.DATA_MANAGER)
    content = accounts_csv(rows)
    print(f"file: {rows:,} rows, {len(content) / 1e6:.1f} MB")
    started = time.perf_counter()
    job = imports.import_create(user=user, object_type="account",
                                upload=SimpleUploadedFile("comptes.csv", content))
    job = imports.import_set_mapping(job, user=user, mapping=job.mapping)
    read = time.perf_counter() - started
    del content
    watcher = Pages(pages[0], job.pk, user.username, pages[1], pages[2]) if pages else None
    if watcher is not None:
        wall = time.time()
        time.sleep(IDLE_SECONDS)
        watcher.step("idle", wall)
    wall, started = time.time(), time.perf_counter()
    run = imports.import_dry_run_start(job, user=user)
    audit = time.perf_counter() - started
    if watcher is not None:
        watcher.step("audit", wall)
    wall, started = time.time(), time.perf_counter()
    imports.execute_import_dry_run.call(run.pk)
    dry = time.perf_counter() - started
    if watcher is not None:
        watcher.step("dry_run", wall)
    run = SyncRun.objects.get(pk=run.pk)
    job.refresh_from_db()
    wall, started = time.time(), time.perf_counter()
    real = imports.import_run_start(job, user=user)
    imports.execute_import_run.call(real.pk)
    seconds = time.perf_counter() - started
    if watcher is not None:
        watcher.step("import", wall)
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
    if watcher is not None:
        pages_figures = watcher.stop()
        print_pages(pages_figures)
        figures["pages"] = pages_figures
    return figures


if __name__ == "__main__":
    main()
