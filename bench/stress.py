"""Never lose data: concurrent writers on the real ``comptoir serve``, then check every write.

    python bench/stress.py --accounts 2000 --seconds 15 --clients 8     # smoke test
    python bench/stress.py --rounds 10                                   # >= 500 MB SQLite base
    python bench/stress.py --kill-rounds 5                               # SIGKILL rounds
    python bench/stress.py --postgres postgres://postgres@127.0.0.1:55432/stress --accounts 50000

Builds the demo base once in ``--data-dir`` (kept between invocations), then per round: starts
``comptoir serve --workers 2`` (with its worker, periodic jobs every 5 s), runs ``--clients``
keep-alive HTTP clients for ``--seconds`` (each standard-field client owns one account field on
a shared set of accounts, each custom-field client one custom key, others create contacts or
bulk-upsert accounts by external id; all read detail and list pages), while a ``comptoir sync``
of a *files* connection imports a CSV of ``--import-rows`` accounts and a scheduled *files*
connection is run by the worker. Then serve is stopped (SIGTERM), ``comptoir doctor --json
--full`` checks integrity, and a Django-configured subprocess reads back every acknowledged
write: the last acknowledged value of each (account, field), every created contact with its
name, every acknowledged bulk record, the import's external ids (all rows, no duplicates).

``--kill-rounds N``: N more rounds during which a gunicorn worker, the ``comptoir worker`` or
the running import is killed with SIGKILL at random moments; the import is restarted until it
completes, then the same CSV is sent again and must converge exactly (nothing created).

Prints figures per round and a summary table; the last line is JSON. No pass/fail on timings.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PY, ROOT, env_for, free_port, percentiles

STD_FIELDS = ["trade_name", "billing_street", "billing_city", "shipping_street",
              "shipping_city", "website", "email", "credit_limit"]
CUSTOM_KEYS = [f"stress{i}" for i in range(8)]
ROLES = ["std", "custom", "contact", "std", "custom", "bulk", "contact", "std", "custom", "reader"]
REQUEST_TIMEOUT = 120.0
BULK_SYSTEM = "stress"
IMPORT = "stressimp"       # the files connection run by this script as a separate process
SCHEDULED = "stresssched"  # the files connection the worker runs on its schedule

MAPPING = """
system = "{system}"

[streams.clients]
stream = "rows"
target = "account"
key = "Code"
[streams.clients.fields]
legal_name = "Raison sociale"
billing_postcode = "CP"
billing_city = "Ville"
credit_limit = {{ source = "Encours", transforms = ["fr_number"] }}
[streams.clients.fields.status]
source = "Statut"
map = {{ Client = "customer", Prospect = "prospect" }}
unknown = "error"
"""
HEADER = "Code;Raison sociale;Statut;CP;Ville;Encours\n"


def csv_text(prefix: str, rows: int) -> str:
    return HEADER + "".join(
        f"{prefix}-{i:06d};Stress Import {prefix} {i} SAS;{'Client' if i % 3 else 'Prospect'};"
        f"{75001 + i % 20};Paris;{i % 900} 000,50\n" for i in range(rows))


# --- processes ----------------------------------------------------------------------------


def site_env(data_dir: Path, pg_url: str | None) -> dict[str, str]:
    env = env_for(data_dir)
    env["COMPTOIR_SCHEDULER_INTERVAL"] = "5"
    if pg_url:
        env["DATABASE_URL"] = pg_url
    return env


def comptoir(env: dict[str, str], *args: str, check: bool = True
             ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([PY, "-m", "comptoir", *args], env=env, cwd=str(ROOT),
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"comptoir {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc


def internal(env: dict[str, str], task: str, payload: Any = None) -> Any:
    """Run ``task`` in a Django-configured child process (the bundled SQLite, the site's
    settings) and return its JSON answer."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(payload, f)
        path = f.name
    try:
        proc = subprocess.run([PY, __file__, "--internal", task, path], env=env,
                              capture_output=True, text=True)
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise SystemExit(f"internal {task} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def children_of(pid: int) -> list[tuple[int, str]]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
                out.append((int(entry), cmd.decode(errors="replace")))
        except (OSError, ValueError, IndexError):
            continue
    return out


def ensure_pg_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created PostgreSQL database {name}")


def sqlite_size(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("comptoir.sqlite3*"))


def mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


class Serve:
    """``comptoir serve --port P --workers 2`` as the README runs it, output to a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [PY, "-m", "comptoir", "serve", "--port", str(self.port), "--workers", "2"],
            env=env, cwd=str(ROOT), stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, token: str) -> None:
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"serve exited ({self.proc.returncode}), see {self.log.name}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/v1/accounts?limit=1",
                             headers={"Authorization": f"Bearer {token}"})
                if conn.getresponse().status == 200:
                    return
            time.sleep(0.3)
        raise SystemExit("serve did not answer within 180 s")

    def stop(self) -> tuple[int | None, float]:
        start = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self.log.close()
        return code, time.perf_counter() - start

    def gunicorn_workers(self) -> list[int]:
        masters = [p for p, cmd in children_of(self.proc.pid) if "gunicorn" in cmd]
        return [p for m in masters for p, _c in children_of(m)]

    def task_worker(self) -> int | None:
        found = [p for p, cmd in children_of(self.proc.pid)
                 if "comptoir worker" in cmd and "gunicorn" not in cmd]
        return found[0] if found else None


class Importer:
    """``comptoir sync IMPORT`` in its own process; restarted after a kill until it succeeds."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs: list[int] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.finished = threading.Event()

    def start(self, delay: float) -> None:
        self.delay = delay
        self.thread.start()

    def _loop(self) -> None:
        time.sleep(self.delay)
        with self.log.open("ab") as out:
            while True:
                with self.lock:
                    self.proc = subprocess.Popen(
                        [PY, "-m", "comptoir", "sync", IMPORT, "--no-progress"],
                        env=self.env, cwd=str(ROOT), stdout=out, stderr=subprocess.STDOUT)
                code = self.proc.wait()
                self.runs.append(code)
                if code != -signal.SIGKILL or len(self.runs) > 30:
                    break
                time.sleep(1.0)
        self.finished.set()

    def kill(self) -> int | None:
        with self.lock:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                return self.proc.pid
        return None


# --- the load -----------------------------------------------------------------------------


class Client:
    """One keep-alive connection; a request that gets no answer is status ``"EXC"``."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                        "Accept-Language": "en"}
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
             ) -> tuple[int | str, float, bytes, dict[str, str]]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                   timeout=REQUEST_TIMEOUT)
        data = json.dumps(body) if body is not None else None
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers={**self.headers, **(headers or {})})
            response = self.conn.getresponse()
            raw = response.read()
            return (response.status, time.perf_counter() - start, raw,
                    {k.lower(): v for k, v in response.getheaders()})
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = None
            return "EXC", time.perf_counter() - start, repr(exc).encode(), {}


@dataclass
class Ledger:
    """Acknowledged writes of one round, filled by the client threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    codes: Counter[tuple[str, int | str]] = field(default_factory=Counter)
    problems: list[tuple[float, str, int | str, str]] = field(default_factory=list)
    # (account, field kind, field) -> {"ack": value, "ack_at": t, "after": [[value, status]]}
    fields: dict[tuple[int, str, str], dict[str, Any]] = field(default_factory=dict)
    contacts: list[tuple[int, str]] = field(default_factory=list)
    bulk_own: dict[str, dict[str, Any]] = field(default_factory=dict)
    bulk_shared: set[tuple[str, int]] = field(default_factory=set)
    bulk_item_errors: int = 0

    def note(self, kind: str, status: int | str, seconds: float, body: bytes, t0: float) -> None:
        with self.lock:
            self.codes[(kind, status)] += 1
            if status != "EXC":
                self.samples[kind].append(seconds)
            if status == "EXC" or (isinstance(status, int) and status >= 400 and status != 412):
                self.problems.append((round(time.time() - t0, 1), kind, status,
                                      body[:300].decode(errors="replace")))

    def write(self, key: tuple[int, str, str], value: Any, status: int | str) -> None:
        entry = self.fields.setdefault(key, {"ack": None, "acked": False, "after": []})
        if isinstance(status, int) and 200 <= status < 300:
            entry.update(ack=value, acked=True, after=[])
        else:
            entry["after"].append([value, status])


def field_value(fname: str, k: int, tag: str, seq: int) -> str:
    if fname == "website":
        return f"https://w{k}-{seq}.{tag.lower()}.example.fr"
    if fname == "email":
        return f"c{k}-{seq}@{tag.lower()}.example.fr"
    if fname == "credit_limit":
        return f"{seq * 10 + k}.50"
    return f"{fname} {tag} {k} {seq}"


def run_clients(port: int, token: str, n: int, seconds: float, accounts: list[int], tag: str,
                ledger: Ledger, t0: float) -> None:
    deadline = time.time() + seconds
    std_owner = iter(STD_FIELDS)
    custom_owner = iter(CUSTOM_KEYS)
    plans = []
    for k in range(n):
        role = ROLES[k % len(ROLES)]
        owned = None
        if role == "std":
            owned = next(std_owner, None)
        elif role == "custom":
            owned = next(custom_owner, None)
        plans.append((k, role if owned or role not in ("std", "custom") else "reader", owned))

    def client(k: int, role: str, owned: str | None) -> None:
        rnd = random.Random(f"{tag}-{k}")
        http = Client(port, token)
        seq = 0
        own: list[str] = []  # this bulk client's external ids, re-sent with a new city

        def req(kind: str, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int | str, bytes, dict[str, str]]:
            status, secs, raw, hdrs = http.call(method, path, body, headers)
            ledger.note(kind, status, secs, raw, t0)
            return status, raw, hdrs

        while time.time() < deadline:
            seq += 1
            acc = rnd.choice(accounts)
            if role == "std" and owned:
                value = field_value(owned, k, tag, seq)
                headers = None
                kind = "patch_std"
                if seq % 4 == 0:  # optimistic: If-Match with the ETag just read
                    status, _raw, hdrs = req("get_detail", "GET", f"/api/v1/accounts/{acc}")
                    if status == 200 and hdrs.get("etag"):
                        headers, kind = {"If-Match": hdrs["etag"]}, "patch_if_match"
                status, _raw, _h = req(kind, "PATCH", f"/api/v1/accounts/{acc}",
                                       {owned: value}, headers)
                ledger.write((acc, "std", owned), value, status)
            elif role == "custom" and owned:
                value = f"{owned} {tag} {k} {seq}"
                status, _raw, _h = req("patch_custom", "PATCH", f"/api/v1/accounts/{acc}",
                                       {"custom": {owned: value}})
                ledger.write((acc, "custom", owned), value, status)
            elif role == "contact":
                name = f"Stress {tag} {k} {seq}"
                status, raw, _h = req("create_contact", "POST", "/api/v1/contacts",
                                      {"account_id": acc, "first_name": "Charge",
                                       "last_name": name})
                if status == 201:
                    with ledger.lock:
                        ledger.contacts.append((json.loads(raw)["id"], name))
            elif role == "bulk":
                records, sent = [], {}
                for j in range(40):
                    ext = f"{tag}-b{k}-{seq}-{j}"
                    rec = {"external_id": ext, "legal_name": f"Stress Bulk {tag} {k} {seq} {j}",
                           "billing_postcode": "75002", "billing_city": f"City {k} {seq}"}
                    records.append(rec)
                    sent[ext] = rec
                for ext in rnd.sample(own, min(10, len(own))):
                    rec = {"external_id": ext, "billing_city": f"Again {k} {seq}"}
                    records.append(rec)
                    sent[ext] = rec
                for j in range(10):
                    records.append({"external_id": f"{tag}-shared-{j}",
                                    "legal_name": f"Stress Shared {tag} {j}",
                                    "billing_city": f"Shared {k} {seq}"})
                status, raw, _h = req("bulk_60", "POST", "/api/v1/accounts/bulk?match=off",
                                      {"system": BULK_SYSTEM, "records": records})
                results = json.loads(raw)["results"] if status == 200 else []
                done = {r["external_id"]: r for r in results}
                with ledger.lock:
                    for ext, rec in sent.items():
                        entry = ledger.bulk_own.setdefault(
                            ext, {"owner": k, "id": None, "legal_name": rec.get("legal_name"),
                                  "city": None, "acked": False, "after": []})
                        r = done.get(ext)
                        if r is not None and r["status"] != "error":
                            if not entry["acked"]:
                                own.append(ext)
                            entry.update(id=r["id"], city=rec["billing_city"], acked=True,
                                         after=[])
                        else:
                            entry["after"].append([rec["billing_city"],
                                                   status if r is None else "item-error"])
                            ledger.bulk_item_errors += r is not None
                    for r in results:
                        if r["external_id"] not in sent and r["status"] != "error":
                            ledger.bulk_shared.add((r["external_id"], r["id"]))
            req("get_detail", "GET", f"/api/v1/accounts/{acc}")
            if role == "reader" or seq % 3 == 0:
                choice = rnd.randrange(4)
                if choice == 0:
                    req("get_list", "GET", "/api/v1/accounts?billing_postcode=75001&limit=50")
                elif choice == 1:
                    req("get_list", "GET", "/api/v1/accounts?ordering=-updated_at&limit=50")
                elif choice == 2:
                    req("get_overview", "GET", f"/api/v1/accounts/{acc}/overview")
                else:
                    req("get_list", "GET", f"/api/v1/accounts/{acc}/contacts?limit=50")

    threads = [threading.Thread(target=client, args=plan, daemon=True) for plan in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + REQUEST_TIMEOUT + 30)


def killer(serve: Serve, importer: Importer, stop: threading.Event, t0: float,
           rnd: random.Random, kills: list[tuple[float, str, int | None]]) -> None:
    worker_kills = 0
    while not stop.wait(rnd.uniform(3.0, 8.0)):
        targets = ["web", "web"]
        if worker_kills < 3:  # serve gives up on a worker dying 5 times in 5 minutes
            targets.append("worker")
        if importer.proc is not None and importer.proc.poll() is None:
            targets += ["sync", "sync"]
        target = rnd.choice(targets)
        pid: int | None = None
        if target == "web":
            workers = serve.gunicorn_workers()
            pid = rnd.choice(workers) if workers else None
        elif target == "worker":
            pid = serve.task_worker()
            worker_kills += pid is not None
        if target == "sync":
            pid = importer.kill()
        elif pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        kills.append((round(time.time() - t0, 1), target, pid))


# --- one round ----------------------------------------------------------------------------


SYNC_COUNTS = re.compile(r"^\s+(read|created|updated|unchanged|quarantined)\s+([\d,]+)$", re.M)


def sync_counts(text: str) -> dict[str, int]:
    return {k: int(v.replace(",", "")) for k, v in SYNC_COUNTS.findall(text)}


def ensure_custom_fields(http: Client) -> None:
    status, _s, raw, _h = http.call("GET", "/api/v1/custom-fields?object_type=account")
    have = {f["name"] for f in json.loads(raw)} if status == 200 else set()
    for key in CUSTOM_KEYS:
        if key not in have:
            status, _s, raw, _h = http.call("POST", "/api/v1/custom-fields", {
                "object_type": "account", "name": key, "label": key.title(), "type": "text"})
            if status != 201:
                raise SystemExit(f"cannot create custom field {key}: {status} {raw[:300]!r}")


def one_round(args: argparse.Namespace, env: dict[str, str], token: str, number: int,
              kill: bool, run_tag: str) -> dict[str, Any]:
    tag = f"{run_tag}{'K' if kill else 'R'}{number}"
    data_dir: Path = args.data_dir
    logs = data_dir / "stress-logs"
    logs.mkdir(exist_ok=True)
    # the worker's scheduled sync has a small extract waiting; the import a big one
    (data_dir / "stress-sched").joinpath(f"{tag}.csv").write_text(
        csv_text(f"{tag}s", args.sched_rows), encoding="utf-8")
    import_csv = csv_text(f"{tag}i", args.import_rows)
    (data_dir / "stress-inbox").joinpath(f"{tag}.csv").write_text(import_csv, encoding="utf-8")

    print(f"\n== round {tag}: {args.clients} clients, {args.seconds:.0f} s"
          f"{', SIGKILL at random moments' if kill else ''}", flush=True)
    serve = Serve(env, logs / f"serve-{tag}.log")
    serve.wait_ready(token)
    setup = Client(serve.port, token)
    ensure_custom_fields(setup)
    accounts = []
    for i in range(args.targets):
        status, _s, raw, _h = setup.call("POST", "/api/v1/accounts", {
            "legal_name": f"Cible {tag} numéro {i} {random.Random(i).randrange(10**6)}",
            "billing_postcode": f"{75001 + i}", "billing_city": "Paris"})
        if status != 201:
            raise SystemExit(f"cannot create a target account: {status} {raw[:300]!r}")
        accounts.append(json.loads(raw)["id"])
    status, _s, raw, _h = setup.call("GET", "/api/v1/accounts?ordering=-updated_at&limit=200")
    existing = [a["id"] for a in json.loads(raw)["items"] if a["id"] not in accounts]
    accounts += random.Random(tag).sample(existing, min(args.targets, len(existing)))

    ledger = Ledger()
    t0 = time.time()
    importer = Importer(env, logs / f"import-{tag}.log")
    importer.start(args.import_delay)
    stop, kills = threading.Event(), []
    kthread = None
    if kill:
        kthread = threading.Thread(target=killer, args=(serve, importer, stop, t0,
                                                        random.Random(tag), kills), daemon=True)
        kthread.start()
    run_clients(serve.port, token, args.clients, args.seconds, accounts, tag, ledger, t0)
    load_seconds = time.time() - t0
    stop.set()
    if kthread is not None:
        kthread.join()
    importer.finished.wait(args.import_timeout)
    import_wait = time.time() - t0 - load_seconds
    serve_code, stop_seconds = serve.stop()

    import_log = (logs / f"import-{tag}.log").read_text(errors="replace")
    resend: dict[str, Any] | None = None
    if kill:  # exact convergence on re-send: the same extract again creates nothing
        (data_dir / "stress-inbox").joinpath(f"{tag}-again.csv").write_text(
            import_csv, encoding="utf-8")
        proc = comptoir(env, "sync", IMPORT, "--no-progress", check=False)
        resend = {"code": proc.returncode, **sync_counts(proc.stdout),
                  "error": (proc.stderr.strip().splitlines() or [""])[-1][:300]}

    doctor = comptoir(env, "doctor", "--json", "--full", check=False)
    try:
        checks = json.loads(doctor.stdout)
    except json.JSONDecodeError:
        checks = [{"name": "doctor", "level": "error",
                   "value": (doctor.stdout + doctor.stderr)[-500:]}]
    integrity = [c for c in checks if "integr" in c["name"].lower() or "intégr" in
                 c["name"].lower()]
    doctor_errors = [f"{c['name']}: {c['value']}" for c in checks if c["level"] == "error"]

    expect = {
        "fields": [{"account": a, "kind": kd, "field": f, **e}
                   for (a, kd, f), e in ledger.fields.items() if e["acked"]],
        "contacts": ledger.contacts,
        "bulk_own": [{"external_id": x, **e} for x, e in ledger.bulk_own.items() if e["acked"]],
        "bulk_shared": sorted(ledger.bulk_shared),
        "import": {"system": IMPORT, "prefix": f"{tag}i-", "rows": args.import_rows},
        "sched": {"system": SCHEDULED, "prefix": f"{tag}s-", "rows": args.sched_rows},
    }
    check = internal(env, "verify", expect)

    all_samples = [s for v in ledger.samples.values() for s in v]
    status_counts = Counter()
    for (_kind, status), n in ledger.codes.items():
        status_counts[str(status)] += n
    five = sum(n for (_k, s), n in ledger.codes.items() if isinstance(s, int) and s >= 500)
    exc = sum(n for (_k, s), n in ledger.codes.items() if s == "EXC")
    result = {
        "round": tag, "kill": kill, "seconds": round(load_seconds, 1),
        "requests": sum(ledger.codes.values()),
        "overall": percentiles(all_samples) if all_samples else None,
        "by_kind": {k: percentiles(v) for k, v in sorted(ledger.samples.items()) if v},
        "status": dict(sorted(status_counts.items())), "5xx": five, "no_answer": exc,
        "acked_fields": len(expect["fields"]), "lost": len(check["lost"]),
        "unknown": len(check["unknown"]), "refused_but_applied": len(check["refused_applied"]),
        "acked_contacts": len(ledger.contacts), "missing_contacts": len(check["missing_contacts"]),
        "acked_bulk": len(expect["bulk_own"]) + len(expect["bulk_shared"]),
        "bulk_missing": len(check["bulk_missing"]), "bulk_stale": len(check["bulk_stale"]),
        "bulk_unknown": check["bulk_unknown"], "bulk_item_errors": ledger.bulk_item_errors,
        "import": {**check["import"], "runs": importer.runs,
                   "last": sync_counts(import_log.rsplit("Run ", 1)[-1]),
                   "waited_s": round(import_wait, 1)},
        "resend": resend, "sched": check["sched"],
        "integrity": "; ".join(f"{c['name']}: {c['value']}" for c in integrity) or
                     "n/a (PostgreSQL)",
        "doctor_errors": doctor_errors,
        "db_bytes": check.get("db_bytes") or sqlite_size(data_dir),
        "accounts_total": check["accounts"],
        "serve_exit": serve_code, "serve_log": str(logs / f"serve-{tag}.log"),
        "serve_stop_s": round(stop_seconds, 1),
        "kills": kills, "details": {k: check[k][:10] for k in
                                    ("lost", "unknown", "refused_applied", "missing_contacts",
                                     "bulk_missing", "bulk_stale")},
    }
    report(result, ledger)
    return result


def report(r: dict[str, Any], ledger: Ledger) -> None:
    o = r["overall"] or {"p50_ms": "-", "p95_ms": "-"}
    print(f"requests {r['requests']} in {r['seconds']} s; overall p50 {o['p50_ms']} ms, "
          f"p95 {o['p95_ms']} ms")
    for kind, p in r["by_kind"].items():
        print(f"  {kind:<15} n={p['n']:<6} p50 {p['p50_ms']:>8} ms  p95 {p['p95_ms']:>8} ms")
    print(f"status codes {r['status']}; 5xx {r['5xx']}; no answer {r['no_answer']}"
          + (f" (tracebacks in {r['serve_log']})" if r["5xx"] else ""))
    grouped = Counter((kind, status, body[:160]) for _t, kind, status, body in ledger.problems)
    for (kind, status, body), n in grouped.most_common(12):
        print(f"  {n:>5} x {kind} {status}: {body}")
    print(f"acknowledged field writes {r['acked_fields']}: lost {r['lost']}, unknown (an "
          f"unanswered later write applied) {r['unknown']}, refused but applied "
          f"{r['refused_but_applied']}")
    print(f"acknowledged contacts {r['acked_contacts']}: missing {r['missing_contacts']}")
    print(f"acknowledged bulk records {r['acked_bulk']}: missing {r['bulk_missing']}, stale "
          f"{r['bulk_stale']}, unknown {r['bulk_unknown']}, item errors "
          f"{r['bulk_item_errors']}")
    imp = r["import"]
    print(f"import: {imp['refs']}/{imp['rows']} external ids, {imp['accounts']} accounts "
          f"({imp['duplicates']} duplicates), runs exit codes {imp['runs']}, last run "
          f"{imp['last']}, finished {imp['waited_s']} s after the load")
    if r["resend"] is not None:
        print(f"re-send of the same extract: {r['resend']}")
    s = r["sched"]
    print(f"scheduled sync (worker): {s['refs']}/{s['rows']} rows landed, "
          f"{s['duplicates']} duplicates")
    if r["kills"]:
        print(f"SIGKILLs: {Counter(k[1] for k in r['kills'] if k[2])} at "
              f"{[k[0] for k in r['kills'] if k[2]]} s")
    print(f"integrity: {r['integrity']}; doctor errors {r['doctor_errors'] or 'none'}")
    print(f"database {mb(r['db_bytes'])}, {r['accounts_total']:,} accounts; serve exit "
          f"{r['serve_exit']} after {r['serve_stop_s']} s")
    for name, items in r["details"].items():
        if items:
            print(f"  {name}: {items}")


# --- the check, in a Django-configured child process -------------------------------------


def _same(fname: str, got: Any, want: Any) -> bool:
    if fname == "credit_limit":
        try:
            return got is not None and Decimal(str(got)) == Decimal(str(want))
        except InvalidOperation:
            return False
    return got == want


def verify(expect: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection

    from comptoir.core.models import ExternalRef
    from comptoir.crm.models import Account, Contact

    def chunks(items: list[Any], size: int = 500) -> Any:
        for i in range(0, len(items), size):
            yield items[i:i + size]

    out: dict[str, Any] = {"lost": [], "unknown": [], "refused_applied": []}
    ids = sorted({f["account"] for f in expect["fields"]})
    rows = {a["id"]: a for a in Account.objects.filter(id__in=ids).values("id", *STD_FIELDS,
                                                                          "custom")}
    for f in expect["fields"]:
        row = rows.get(f["account"])
        if row is None:
            got = "<account missing>"
        elif f["kind"] == "custom":
            got = (row["custom"] or {}).get(f["field"])
        else:
            got = row[f["field"]]
        if _same(f["field"], got, f["ack"]):
            continue
        later = [s for v, s in f["after"] if _same(f["field"], got, v)]
        item = [f["account"], f["field"], "acked", f["ack"], "stored", str(got), later]
        if "EXC" in later:
            out["unknown"].append(item)
        elif later:
            out["refused_applied"].append(item)
        else:
            out["lost"].append(item)

    missing = []
    for chunk in chunks(expect["contacts"]):
        found = dict(Contact.objects.filter(id__in=[c[0] for c in chunk])
                     .values_list("id", "last_name"))
        missing += [[i, name, found.get(i)] for i, name in chunk if found.get(i) != name]
    out["missing_contacts"] = missing

    bulk_missing, bulk_stale, bulk_unknown = [], [], 0
    for chunk in chunks(expect["bulk_own"]):
        refs = dict(ExternalRef.objects.filter(
            system=BULK_SYSTEM, object_type="account",
            external_id__in=[b["external_id"] for b in chunk]).values_list("external_id",
                                                                           "object_id"))
        accs = {a["id"]: a for a in Account.objects.filter(id__in=refs.values())
                .values("id", "legal_name", "billing_city")}
        for b in chunk:
            acc = accs.get(refs.get(b["external_id"], -1))
            if acc is None or refs[b["external_id"]] != b["id"]:
                bulk_missing.append([b["external_id"], b["id"], refs.get(b["external_id"])])
            elif acc["billing_city"] != b["city"] or (b["legal_name"] and
                                                     acc["legal_name"] != b["legal_name"]):
                later = [s for v, s in b["after"] if v == acc["billing_city"]]
                if "EXC" in later:
                    bulk_unknown += 1
                else:
                    bulk_stale.append([b["external_id"], b["city"], acc["billing_city"], later])
    shared = expect["bulk_shared"]
    refs = set(ExternalRef.objects.filter(
        system=BULK_SYSTEM, object_type="account",
        external_id__in=sorted({s[0] for s in shared})).values_list("external_id", "object_id"))
    bulk_missing += [s for s in shared if tuple(s) not in refs]
    out.update(bulk_missing=bulk_missing, bulk_stale=bulk_stale, bulk_unknown=bulk_unknown)

    for name in ("import", "sched"):
        spec = expect[name]
        refs_qs = ExternalRef.objects.filter(system=spec["system"], object_type="account",
                                             external_id__startswith=spec["prefix"])
        objects = sorted(set(refs_qs.values_list("object_id", flat=True)))
        named = Account.objects.filter(legal_name__startswith=f"Stress Import "
                                                              f"{spec['prefix'][:-1]} ").count()
        present = sum(Account.objects.filter(id__in=chunk).count() for chunk in chunks(objects))
        # duplicates: accounts of the extract beyond one per external id
        out[name] = {"rows": spec["rows"], "refs": refs_qs.count(), "accounts": present,
                     "duplicates": named - len(objects)}
    out["accounts"] = Account.objects.count()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            out["db_bytes"] = int(cursor.fetchone()[0])
    return out


def internal_main(task: str, path: str) -> None:
    import django

    django.setup()
    payload = json.loads(Path(path).read_text())
    if task == "count":
        from comptoir.access.models import User
        from comptoir.crm.models import Account

        print(json.dumps({"accounts": Account.objects.count(),
                          "admin": User.objects.filter(username="admin").exists()}))
    elif task == "verify":
        print(json.dumps(verify(payload), default=str))
    else:
        raise SystemExit(f"unknown task {task}")


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path,
                        help="kept between invocations (default /tmp/comptoir-stress/"
                             "<engine>-<accounts>)")
    parser.add_argument("--accounts", type=int, default=300_000,
                        help="demo size of the base (300,000 gives about 600 MB on SQLite)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="load time per round")
    parser.add_argument("--rounds", type=int, default=1, help="normal rounds")
    parser.add_argument("--kill-rounds", type=int, default=0,
                        help="rounds with SIGKILL of a web worker, the worker or the import")
    parser.add_argument("--postgres", metavar="URL",
                        help="run on PostgreSQL (the database is created if needed)")
    parser.add_argument("--targets", type=int, default=5,
                        help="accounts created per round for the writers (plus as many "
                             "existing ones)")
    parser.add_argument("--import-rows", type=int, default=50_000)
    parser.add_argument("--import-delay", type=float, default=5.0,
                        help="seconds into the load when the import starts")
    parser.add_argument("--import-timeout", type=float, default=900.0,
                        help="seconds to wait after the load for the import to finish")
    parser.add_argument("--sched-rows", type=int, default=2_000,
                        help="rows of the extract the worker's scheduled sync loads per round")
    parser.add_argument("--internal", nargs=2, metavar=("TASK", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.internal:
        internal_main(*args.internal)
        return

    engine = "pg" if args.postgres else "sqlite"
    args.data_dir = args.data_dir or Path(f"/tmp/comptoir-stress/{engine}-{args.accounts}")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("stress-inbox", "stress-sched", "static"):
        (args.data_dir / sub).mkdir(exist_ok=True)
    if args.postgres:
        ensure_pg_database(args.postgres)
    env = site_env(args.data_dir, args.postgres)

    comptoir(env, "migrate", "-v0")
    state = internal(env, "count")
    build_seconds = None
    if state["accounts"] == 0:
        print(f"building the base: comptoir demo --accounts {args.accounts} --seed 42 …",
              flush=True)
        start = time.perf_counter()
        comptoir(env, "demo", "--accounts", str(args.accounts), "--seed", "42")
        build_seconds = round(time.perf_counter() - start, 1)
        state = internal(env, "count")
    base = {"accounts": state["accounts"], "build_seconds": build_seconds}
    if not args.postgres:
        base["sqlite_bytes"] = sqlite_size(args.data_dir)
    print(f"base: {state['accounts']:,} accounts in {args.data_dir}"
          + (f", {mb(base['sqlite_bytes'])}" if "sqlite_bytes" in base else "")
          + (f", built in {build_seconds} s" if build_seconds else ", reused"), flush=True)
    if state["accounts"] < args.accounts:
        print(f"note: the base holds fewer accounts than --accounts {args.accounts}")

    token = comptoir(env, "createtoken", "admin", "--name", "stress", "--days", "2"
                     ).stdout.strip().splitlines()[-1]
    for name, inbox, extra in ((IMPORT, "stress-inbox", []),
                               (SCHEDULED, "stress-sched", ["--schedule", "1"])):
        mapping = args.data_dir / f"{name}.toml"
        mapping.write_text(MAPPING.format(system=name), encoding="utf-8")
        comptoir(env, "connection", name, "--connector", "files", "--mapping", str(mapping),
                 "--param", f"path={args.data_dir / inbox}", "--param", "key_field=Code",
                 "--batch-size", "500", *extra)

    run_tag = "S" + format(int(time.time()) % 36**5, "x")
    results = []
    plan = [False] * args.rounds + [True] * args.kill_rounds
    for number, kill in enumerate(plan, 1):
        results.append(one_round(args, env, token, number, kill, run_tag))

    print("\n== summary")
    head = (f"{'round':<10}{'kill':>5}{'reqs':>7}{'p50ms':>8}{'p95ms':>9}{'5xx':>5}{'noans':>6}"
            f"{'lost':>5}{'unkn':>5}{'miss.c':>7}{'bulk-':>6}{'import':>14}{'dups':>5}"
            f"  {'integrity':<12}{'size':>10}  re-send")
    print(head)
    for r in results:
        o = r["overall"] or {"p50_ms": 0, "p95_ms": 0}
        imp = r["import"]
        integ = r["integrity"].split(": ", 1)[-1][:12]
        rs = r["resend"]
        resend = ("-" if rs is None else f"refused: {rs['error'][-70:]}" if rs["code"] else
                  f"created {rs.get('created')}, unchanged {rs.get('unchanged')}")
        print(f"{r['round']:<10}{'yes' if r['kill'] else 'no':>5}{r['requests']:>7}"
              f"{o['p50_ms']:>8}{o['p95_ms']:>9}{r['5xx']:>5}{r['no_answer']:>6}{r['lost']:>5}"
              f"{r['unknown']:>5}{r['missing_contacts']:>7}{r['bulk_missing']:>6}"
              f"{imp['refs']:>7}/{imp['rows']:<6}{imp['duplicates']:>5}  {integ:<12}"
              f"{mb(r['db_bytes']):>10}  {resend}")
    print(json.dumps({"engine": engine, "base": base, "rounds": [
        {k: v for k, v in r.items() if k not in ("details",)} for r in results]}, default=str))


if __name__ == "__main__":
    main()
