"""Hardening of the web application: Content-Security-Policy, HTTPS cookies and HSTS, private
files on disk (data directory 0700, database and secret key 0600)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from comptoir.web.middleware import API_DOCS_POLICY, CONTENT_SECURITY_POLICY

COMPTOIR = str(Path(sys.executable).with_name("comptoir"))
SRC = Path(__file__).resolve().parents[2] / "src" / "comptoir"
# A report written to a file and downloaded (Content-Disposition: attachment), opened from disk.
STANDALONE = {"quality/templates/quality/audit_report.html"}


def directives(policy: str) -> dict[str, list[str]]:
    parts = (p.split() for p in policy.split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


# --- Content-Security-Policy ----------------------------------------------------------------

def test_the_policy_allows_nothing_inline_nor_foreign() -> None:
    policy = directives(CONTENT_SECURITY_POLICY)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]
    assert not [v for values in policy.values() for v in values
                if "unsafe" in v or v in ("*", "data:", "http:", "https:")]


@pytest.mark.django_db
def test_pages_carry_the_policy_and_the_other_headers(client_for: Any, owner: Any) -> None:
    anonymous = Client()
    login = anonymous.get("/login/")
    client = client_for(owner)
    for response in (login, client.get("/"), client.get("/accounts/"),
                     client.get("/accounts/", HTTP_HX_REQUEST="true"),
                     client.get("/no-such-page/"), anonymous.get("/admin/login/")):
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"
    # htmx is told not to eval nor add its own <style>
    meta = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'>', login.content.decode())
    assert meta, "htmx-config meta missing"
    assert json.loads(meta.group(1)) == {"allowEval": False, "includeIndicatorStyles": False}


@pytest.mark.django_db
def test_debug_error_pages_keep_their_inline_styles() -> None:
    with override_settings(DEBUG=True):
        assert "Content-Security-Policy" not in Client().get("/no-such-page/")
    assert "Content-Security-Policy" in Client().get("/no-such-page/")


@pytest.mark.django_db
def test_the_api_docs_keep_a_policy_without_inline_script(client_for: Any, owner: Any) -> None:
    response = client_for(owner).get("/api/v1/docs")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == API_DOCS_POLICY
    policy = directives(API_DOCS_POLICY)
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    # its scripts are static files, not inline code
    for tag in re.findall(r"<script\b[^>]*>", response.content.decode()):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def _templates() -> list[Path]:
    return sorted(p for p in SRC.glob("*/templates/**/*.html")
                  if str(p.relative_to(SRC)) not in STANDALONE)


INLINE = [
    (re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I),
     "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> block"),
    (re.compile(r"\sstyle=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on… event handler attribute"),
    (re.compile(r"\shx-on", re.I), "hx-on (needs eval)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"hx-trigger=\"[^\"]*\[", re.I), "htmx trigger filter (needs eval)"),
    (re.compile(r"hx-(vals|vars|headers)=['\"]\s*js:", re.I), "htmx js: value (needs eval)"),
]


def test_templates_have_nothing_the_policy_would_block() -> None:
    templates = _templates()
    assert len(templates) > 50
    found = [f"{path.relative_to(SRC)}:{text[:m.start()].count(chr(10)) + 1}: {what}"
             for path in templates for text in [path.read_text(encoding="utf-8")]
             for pattern, what in INLINE for m in pattern.finditer(text)]
    assert not found, "\n".join(found)


# --- HTTPS: secure cookies, HSTS ------------------------------------------------------------

SECURITY_SETTINGS = (
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "LANGUAGE_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SAMESITE", "SECURE_CONTENT_TYPE_NOSNIFF", "SECURE_REFERRER_POLICY",
)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COMPTOIR_HTTPS", "COMPTOIR_BEHIND_PROXY", "COMPTOIR_HSTS",
                                "COMPTOIR_SSL_REDIRECT"))}
    env["COMPTOIR_DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return env


def _settings(env: dict[str, str]) -> dict[str, Any]:
    script = ("import json, django; django.setup(); from django.conf import settings as s; "
              f"print(json.dumps({{n: getattr(s, n) for n in {SECURITY_SETTINGS!r}}}))")
    out = subprocess.run([sys.executable, "-c", script], env={
        **env, "DJANGO_SETTINGS_MODULE": "comptoir.config.settings"},
        capture_output=True, text=True, timeout=120, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_https_flag_turns_on_secure_cookies_and_hsts(tmp_path: Path) -> None:
    plain = _settings(_env(tmp_path))
    assert plain["SESSION_COOKIE_SECURE"] is False
    assert plain["CSRF_COOKIE_SECURE"] is False
    assert plain["SECURE_HSTS_SECONDS"] == 0
    assert plain["SECURE_PROXY_SSL_HEADER"] is None
    https = _settings(_env(tmp_path, COMPTOIR_HTTPS="true", COMPTOIR_BEHIND_PROXY="true"))
    assert https["SESSION_COOKIE_SECURE"] is True
    assert https["CSRF_COOKIE_SECURE"] is True
    assert https["LANGUAGE_COOKIE_SECURE"] is True
    assert https["SECURE_HSTS_SECONDS"] == 31_536_000
    assert https["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert https["SECURE_SSL_REDIRECT"] is False  # optional: COMPTOIR_SSL_REDIRECT
    for both in (plain, https):
        assert both["SESSION_COOKIE_HTTPONLY"] is True
        assert both["SESSION_COOKIE_SAMESITE"] == "Lax" == both["CSRF_COOKIE_SAMESITE"]
        assert both["SECURE_CONTENT_TYPE_NOSNIFF"] is True
        assert both["SECURE_REFERRER_POLICY"] == "same-origin"
    tuned = _settings(_env(tmp_path, COMPTOIR_HTTPS="1", COMPTOIR_HSTS_SECONDS="600",
                           COMPTOIR_SSL_REDIRECT="1"))
    assert tuned["SECURE_HSTS_SECONDS"] == 600
    assert tuned["SECURE_SSL_REDIRECT"] is True


def _deploy_warnings(env: dict[str, str]) -> set[str]:
    result = subprocess.run([COMPTOIR, "check", "--deploy"], env={
        **env, "COMPTOIR_SECRET_KEY": "k" * 20 + "Zq8#xW!2vL0pR7@mN4$tY6^bC9&dF1*gH3",
        "COMPTOIR_ALLOWED_HOSTS": "crm.example.com"},
        capture_output=True, text=True, timeout=120)
    return set(re.findall(r"\(security\.W\d+\)", result.stdout + result.stderr))


def test_check_deploy_is_satisfied_with_the_https_flag(tmp_path: Path) -> None:
    cookies_and_hsts = {"(security.W004)", "(security.W012)", "(security.W016)"}
    assert cookies_and_hsts <= _deploy_warnings(_env(tmp_path))
    warnings = _deploy_warnings(_env(tmp_path, COMPTOIR_HTTPS="true"))
    assert not cookies_and_hsts & warnings, warnings
    # always on: nosniff (W006), X-Frame-Options DENY (W019), Referrer-Policy (W022)
    assert not {"(security.W006)", "(security.W019)", "(security.W022)"} & warnings


@pytest.mark.django_db
@override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True,
                   SECURE_HSTS_SECONDS=31_536_000,
                   SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_over_https_cookies_are_secure_and_hsts_is_sent(owner: Any) -> None:
    owner.set_password("correct horse battery")
    owner.save()
    client = Client(HTTP_X_FORWARDED_PROTO="https")
    page = client.get("/login/")
    assert page["Strict-Transport-Security"] == "max-age=31536000"
    csrf = client.cookies["csrftoken"]
    assert csrf["secure"]
    assert csrf["samesite"] == "Lax"
    response = client.post("/login/", {"username": "owner", "password": "correct horse battery"})
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"]
    assert session["httponly"]
    assert session["samesite"] == "Lax"
    # plain HTTP (no forwarded https) gets no HSTS: browsers ignore it there anyway
    assert "Strict-Transport-Security" not in Client().get("/login/")


# --- Private files --------------------------------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


SHOW_FILES = """
import os, stat
from pathlib import Path
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("UPDATE django_migrations SET applied = applied WHERE id = 1")
    db = Path(settings.DATABASES["default"]["NAME"])
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        print("MODE", path.name, oct(stat.S_IMODE(os.stat(path).st_mode)))
default_storage.save("attachments/2026/a.txt", ContentFile(b"x"))
"""


def test_a_fresh_data_directory_is_private(tmp_path: Path) -> None:
    env = {k: v for k, v in _env(tmp_path).items()
           if k not in ("DATABASE_URL", "COMPTOIR_SECRET_KEY", "COMPTOIR_MEDIA_ROOT")}
    old_umask = os.umask(0o022)  # the usual umask, which would give 0755 and 0644
    try:
        subprocess.run([COMPTOIR, "migrate", "-v0"], env=env, check=True, timeout=300)
        shown = subprocess.run([COMPTOIR, "shell", "-c", SHOW_FILES], env=env, check=True,
                               capture_output=True, text=True, timeout=120).stdout
    finally:
        os.umask(old_umask)
    data = tmp_path / "data"
    assert _mode(data) == 0o700
    assert _mode(data / "comptoir.sqlite3") == 0o600
    assert _mode(data / "secret_key") == 0o600
    # while a connection is open, the WAL and shared-memory files exist, with the same mode
    modes = dict(line.split()[1:] for line in shown.splitlines() if line.startswith("MODE "))
    assert modes == {"comptoir.sqlite3": "0o600", "comptoir.sqlite3-wal": "0o600",
                     "comptoir.sqlite3-shm": "0o600"}, shown
    media = data / "media"
    assert _mode(media) == 0o700
    assert _mode(media / "attachments") == 0o700
    assert _mode(media / "attachments" / "2026" / "a.txt") == 0o600


def test_an_existing_loose_data_directory_is_tightened(tmp_path: Path) -> None:
    env = {k: v for k, v in _env(tmp_path).items() if k != "DATABASE_URL"}
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "comptoir.sqlite3").touch(mode=0o644)
    (data / "comptoir.sqlite3").chmod(0o644)
    subprocess.run([COMPTOIR, "migrate", "-v0"], env=env, check=True, timeout=300)
    assert _mode(data) == 0o700
    assert _mode(data / "comptoir.sqlite3") == 0o600
