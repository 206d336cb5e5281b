"""``comptoir doctor`` on a real site: the database it finds, and a damaged one refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

COMPTOIR = str(Path(sys.executable).with_name("comptoir"))


def _site(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["COMPTOIR_DATA_DIR"] = str(tmp_path / "site")
    subprocess.run([COMPTOIR, "migrate", "-v0"], env=env, check=True, timeout=300)
    return env


def _doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COMPTOIR, "doctor", "--json", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_doctor_reports_a_safe_sqlite_site(tmp_path: Path) -> None:
    env = _site(tmp_path)
    done = _doctor(env, "--full")
    assert done.returncode == 0, done.stderr
    checks = {c["key"]: c for c in json.loads(done.stdout)}
    version = checks["sqlite_version"]["value"]
    assert tuple(int(p) for p in version.split()[0].split(".")) >= (3, 51, 3)
    assert checks["sqlite_version"]["level"] == "ok"
    assert checks["journal_mode"]["value"] == "wal"
    assert checks["mmap"]["level"] == "ok"
    assert checks["integrity"]["value"] == "ok"
    assert checks["last_backup"]["level"] == "warning"  # none made yet
    assert checks["free_disk"]["level"] == "ok"
    # the result is kept for the administrator's home, which never reads the whole base
    recorded = json.loads((Path(env["COMPTOIR_DATA_DIR"]) / "integrity.json").read_text())
    assert recorded["ok"] is True
    assert recorded["full"] is True


def test_doctor_fails_on_a_damaged_database(tmp_path: Path) -> None:
    env = _site(tmp_path)
    db = Path(env["COMPTOIR_DATA_DIR"]) / "comptoir.sqlite3"
    script = (
        "import sqlite3, sys\n"
        "import comptoir.config.sqlite as s; m = s.install()\n"
        "c = m.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=DELETE')\n"
        "c.execute('PRAGMA writable_schema=ON')\n"
        "c.execute(\"UPDATE sqlite_schema SET rootpage = 9999999 WHERE name = 'crm_account'\")\n"
        "c.commit(); c.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(db)], env=env, check=True, timeout=60)
    done = _doctor(env)
    assert done.returncode == 1, done.stdout
    assert "FAIL" not in done.stdout  # JSON output
    checks = {c["key"]: c for c in json.loads(done.stdout)}
    assert checks["database"]["level"] == "error"
    assert "malformed" in checks["database"]["value"]
