"""The ``comptoir`` command line: its own verbs, and ``serve`` run for real as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from comptoir.access.models import ApiToken
from comptoir.testing import factories

COMPTOIR = str(Path(sys.executable).with_name("comptoir"))


def test_createtoken_prints_a_working_token_alone(db: None) -> None:
    user = factories.user(username="ana")
    out, err = StringIO(), StringIO()
    call_command("createtoken", "ana", "--name", "script", "--days", "7", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert "\n" not in raw
    assert len(raw) > 30
    assert "script" in err.getvalue()
    token = ApiToken.objects.get(user=user)
    assert raw not in (token.token_hash, token.prefix)  # stored hashed
    response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json()["username"] == "ana"


@pytest.mark.parametrize("args", [["ghost"], ["ana", "--days", "0"]])
def test_createtoken_refuses_bad_input(db: None, args: list[str]) -> None:
    factories.user(username="ana")
    with pytest.raises(CommandError):
        call_command("createtoken", *args, stdout=StringIO(), stderr=StringIO())
    assert not ApiToken.objects.exists()


def test_createtoken_refuses_an_inactive_user(db: None) -> None:
    user = factories.user(username="gone")
    user.is_active = False
    user.save()
    with pytest.raises(CommandError, match="inactive"):
        call_command("createtoken", "gone", stdout=StringIO(), stderr=StringIO())


@pytest.fixture(scope="module")
def site_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a separate, migrated SQLite site: commands run as a user runs them.

    A subprocess cannot see the test database (it lives in the test's transaction), and the
    worker closes its connections when done, which must not happen to the test's own.
    """
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["COMPTOIR_DATA_DIR"] = str(tmp_path_factory.mktemp("site") / "data")
    subprocess.run([COMPTOIR, "migrate", "-v0"], env=env, check=True, timeout=300)
    return env


def test_worker_batch_runs_and_exits(site_env: dict[str, str]) -> None:
    done = subprocess.run([COMPTOIR, "worker", "--batch", "--interval", "0"], env=site_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("args", [["--interval", "-1"], ["--max-tasks", "0"]])
def test_worker_refuses_bad_options(db: None, args: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("worker", *args, stdout=StringIO(), stderr=StringIO())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _children(pid: int) -> list[int]:
    """Child process ids, read from /proc (no dependency on procps)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_serve_runs_web_and_worker_and_stops_cleanly(site_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    """``comptoir serve`` as ``make run`` starts it: real gunicorn, real worker, SIGTERM."""
    env = site_env
    port = _free_port()
    # Its output goes to a file, not a pipe nobody reads while it starts: a full pipe would
    # block serve's writes (a slow start under load logs more) and it would never answer.
    log = tmp_path / "serve.log"
    sink = log.open("wb")
    process = subprocess.Popen(
        [COMPTOIR, "serve", "--port", str(port), "--workers", "1"], env=env,
        stdout=sink, stderr=subprocess.STDOUT,
    )
    sink.close()
    try:
        # Generous: a loaded CI machine may take long to start; a healthy one answers in seconds.
        deadline = time.monotonic() + 300
        status: int | None = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/api/v1/openapi.json")
                break
            except OSError:
                time.sleep(0.3)
        assert status == 200, (f"serve did not answer (exit {process.poll()}):\n"
                               + log.read_text(errors="replace")[-3000:])
        assert "/api/v1/accounts" in json.loads(body)["paths"]
        status, _ = _get(f"http://127.0.0.1:{port}/api/v1/accounts")
        assert status == 401
        status, body = _get(f"http://127.0.0.1:{port}/admin/login/")
        assert status == 200
        # Static files are collected and served (the admin's stylesheet).
        status, _ = _get(f"http://127.0.0.1:{port}/static/admin/css/base.css")
        assert status == 200
        children = _children(process.pid)
        assert len(children) == 2, "gunicorn and the task worker both run"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_bytes()
    assert process.returncode == 0, output.decode(errors="replace")
    assert b"Comptoir stopped." in output
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or \
            "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


SCHEDULED_MAPPING = """
system = "erp"

[streams.clients]
stream = "rows"
target = "account"
key = "Code"
[streams.clients.fields]
legal_name = "Raison sociale"
billing_city = "Ville"
"""


def _site_rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    import sqlite3  # the bundled SQLite, as the site uses (comptoir.config.sqlite)

    conn = sqlite3.connect(db, timeout=30)
    try:
        return list(conn.execute(sql).fetchall())
    finally:
        conn.close()


def test_serve_runs_the_scheduled_syncs(tmp_path: Path) -> None:
    """The worker ``serve`` starts is ``comptoir worker``: a connection scheduled every minute
    gets its run (it used to start plain ``db_worker``, which never ran the schedules)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["COMPTOIR_DATA_DIR"] = str(tmp_path / "site")
    env["COMPTOIR_SCHEDULER_INTERVAL"] = "2"
    subprocess.run([COMPTOIR, "migrate", "-v0"], env=env, check=True, timeout=300)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "clients.csv").write_text("Code;Raison sociale;Ville\nC1;Scheduled SARL;Lyon\n",
                                       encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(SCHEDULED_MAPPING, encoding="utf-8")
    subprocess.run([COMPTOIR, "connection", "erp", "--connector", "files", "--mapping",
                    str(mapping), "--param", f"path={inbox}", "--param", "key_field=Code",
                    "--schedule", "1"], env=env, check=True, timeout=120)
    db = tmp_path / "site" / "comptoir.sqlite3"
    port = _free_port()
    process = subprocess.Popen([COMPTOIR, "serve", "--port", str(port), "--workers", "1"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    runs: list[tuple[object, ...]] = []
    try:
        # Waits on the condition; the bound only stops a broken worker from hanging the suite.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            runs = _site_rows(db, "SELECT trigger, status FROM integration_syncrun")
            if any(status == "succeeded" for _t, status in runs):
                break
            time.sleep(0.5)
        alive = process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert alive, output.decode(errors="replace")
    assert ("schedule", "succeeded") in runs, (runs, output.decode(errors="replace")[-3000:])
    names = _site_rows(db, "SELECT legal_name FROM crm_account")
    assert names == [("Scheduled SARL",)]
