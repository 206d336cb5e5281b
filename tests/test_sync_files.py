"""The *files* mode end to end: extracts dropped in an inbox, synced once, archived.

Includes the crash test: ``comptoir sync`` killed with SIGKILL in the middle of a run, then run
again, must leave every record exactly once with the counts adding up.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from comptoir.crm.models import Account
from comptoir.integration.models import Connection, QuarantinedRecord, SyncRun
from comptoir.integration.services import sync_run

COMPTOIR = str(Path(sys.executable).with_name("comptoir"))

MAPPING = """
system = "erp"

[streams.clients]
stream = "rows"
target = "account"
key = "Code"
[streams.clients.fields]
legal_name = "Raison sociale"
siren = { source = "SIREN", transforms = ["digits"] }
billing_postcode = "CP"
billing_city = "Ville"
credit_limit = { source = "Encours", transforms = ["fr_number"] }
[streams.clients.fields.status]
source = "Statut"
map = { Client = "customer", Prospect = "prospect" }
unknown = "error"
"""

HEADER = "Code;Raison sociale;SIREN;Statut;CP;Ville;Encours\n"


def _rows(n: int, start: int = 0) -> str:
    return "".join(f"C{i:06d};Société Générale d'Équipement {i};;Client;{75001 + i % 20};"
                   f"Paris;{i % 900} 000,50\n" for i in range(start, start + n))


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    path = tmp_path / "inbox"
    path.mkdir()
    return path


@pytest.fixture
def connection(db: None, inbox: Path) -> Connection:
    return Connection.objects.create(name="erp-files", connector="files", mapping=MAPPING,
                                     parameters={"path": str(inbox), "key_field": "Code"},
                                     batch_size=50)


def test_windows_1252_extract_lands_once_and_is_archived(connection: Connection, inbox: Path
                                                         ) -> None:
    (inbox / "clients.csv").write_bytes((HEADER + _rows(120)).encode("cp1252"))
    run = sync_run(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert (run.read, run.created, run.quarantined) == (120, 120, 0)
    assert Account.objects.filter(legal_name="Société Générale d'Équipement 7").exists()
    assert not (inbox / "clients.csv").exists()
    assert (inbox / "archive" / "clients.csv").exists()
    assert sync_run(connection).read == 0  # nothing new in the inbox

    # The same extract dropped again: read, recognised unchanged, nothing rewritten.
    (inbox / "clients-again.csv").write_bytes((HEADER + _rows(120)).encode("cp1252"))
    updated_at = set(Account.objects.values_list("updated_at", flat=True))
    again = sync_run(connection)
    assert (again.read, again.unchanged, again.created, again.updated) == (120, 120, 0, 0)
    assert set(Account.objects.values_list("updated_at", flat=True)) == updated_at


def test_broken_rows_are_quarantined_with_their_line(connection: Connection, inbox: Path
                                                     ) -> None:
    text = (HEADER + _rows(3)
            + "C900001;Trop de colonnes;;Client;75001;Paris;10;en trop\n"
            + "C900002;Statut inconnu;;Partenaire;75001;Paris;10\n"
            + "C900003;Encours faux;;Client;75001;Paris;beaucoup\n"
            + "C000001;Doublon dans le fichier;;Client;75001;Paris;10\n"
            + "C900004;SIREN faux;123456789;Client;75001;Paris;10\n"
            + "C900005;Octet invalide;;Client;75001;Par@is;10\n"
            + _rows(2, start=10))
    data = text.encode("utf-8").replace(b"Par@is", b"Par\xffis")  # not UTF-8, not cp1252
    (inbox / "clients.csv").write_bytes(data)
    run = sync_run(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert run.read == 11
    assert run.created == 6  # the one with a bad SIREN lands without it
    assert (run.quarantined, run.dropped) == (5, 1)
    by_line = {q.position: q.reason for q in QuarantinedRecord.objects.all()}
    assert any("line 5" in p for p in by_line), by_line  # wrong column count
    reasons = " | ".join(by_line.values())
    assert "Partenaire" in reasons
    assert "beaucoup" in reasons
    assert "C000001" in reasons or "duplicate" in reasons.lower()
    assert Account.objects.count() == 6
    assert Account.objects.get(legal_name="SIREN faux").siren == ""


def test_missing_inbox_is_a_config_failure(connection: Connection, inbox: Path) -> None:
    inbox.rmdir()
    run = sync_run(connection)
    assert (run.status, run.error_category) == (SyncRun.Status.FAILED, "config")
    assert str(inbox) in run.error_message


def test_sync_command_dry_run_and_report(connection: Connection, inbox: Path) -> None:
    (inbox / "clients.csv").write_text(HEADER + _rows(4), encoding="utf-8")
    out = StringIO()
    call_command("sync", "erp-files", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "Dry run" in text
    assert "would create account" in text
    assert Account.objects.count() == 0
    assert (inbox / "clients.csv").exists()  # not archived by a dry run
    out = StringIO()
    call_command("sync", "erp-files", stdout=out)
    assert "created" in out.getvalue()
    assert Account.objects.count() == 4
    with pytest.raises(CommandError):
        call_command("sync", "nope", stdout=StringIO())


# --- the crash test ------------------------------------------------------------------------

def _site(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["COMPTOIR_DATA_DIR"] = str(tmp_path / "site")
    subprocess.run([COMPTOIR, "migrate", "-v0"], env=env, check=True, timeout=300)
    return env


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_sigkill_mid_run_then_rerun_gives_every_record_once(tmp_path: Path) -> None:
    env = _site(tmp_path)
    db = Path(env["COMPTOIR_DATA_DIR"]) / "comptoir.sqlite3"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    total = 30_000
    (inbox / "clients.csv").write_text(HEADER + _rows(total), encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    subprocess.run([COMPTOIR, "connection", "erp-files", "--connector", "files",
                    "--mapping", str(mapping), "--param", f"path={inbox}",
                    "--param", "key_field=Code", "--batch-size", "1000"],
                   env=env, check=True, timeout=120)

    process = subprocess.Popen([COMPTOIR, "sync", "erp-files", "--no-progress"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            done = _count(db, "SELECT COUNT(*) FROM crm_account")
        except sqlite3.OperationalError:  # locked for a moment by the writer
            done = 0
        if done >= 3000:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    killed_at = _count(db, "SELECT COUNT(*) FROM crm_account")
    assert 0 < killed_at < total
    assert killed_at % 1000 == 0  # whole batches only: no half-written batch is visible
    assert _count(db, "SELECT COUNT(*) FROM core_externalref") == killed_at

    # The killed run still says "running", but its process is gone: the next run sees it at
    # once (same machine), marks it interrupted and resumes from the last committed batch.
    rerun = subprocess.run([COMPTOIR, "sync", "erp-files", "--no-progress"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert _count(db, "SELECT COUNT(*) FROM crm_account") == total
    assert _count(db, "SELECT COUNT(DISTINCT external_id) FROM core_externalref") == total
    assert _count(db, "SELECT COUNT(*) FROM core_externalref") == total
    with sqlite3.connect(db) as conn:
        runs = conn.execute("SELECT status, read, created, unchanged, error_message FROM "
                            "integration_syncrun ORDER BY id").fetchall()
    (first, second) = runs
    assert first[0] == "failed"
    assert first[4].startswith("Interr")  # Interrupted / Interrompue
    assert second[0] == "succeeded"
    # What the first run committed plus what the second created is the whole file, once.
    assert first[2] == killed_at
    assert second[2] == total - killed_at
    assert first[2] + second[1] == total
    assert (inbox / "archive" / "clients.csv").exists()
    # Run again: nothing to read, nothing written.
    last = subprocess.run([COMPTOIR, "sync", "erp-files", "--no-progress"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert last.returncode == 0, last.stderr
    assert re.search(r"^\s+read\s+0$", last.stdout, re.MULTILINE), last.stdout
    assert re.search(r"^\s+created\s+0$", last.stdout, re.MULTILINE), last.stdout
