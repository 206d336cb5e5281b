"""Settings, all from the environment (12-factor).

``COMPTOIR_DATA_DIR`` holds the embedded SQLite database and uploaded files; ``DATABASE_URL``
switches to PostgreSQL (``postgres://user:pass@host:5432/name``).
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from comptoir.core.files import create_private_file, private_dir, private_sqlite_database, tighten

from . import sqlite
from .env import env_bool, env_int, env_list, env_str

# Before anything imports Django's SQLite backend: the bundled, current SQLite (see sqlite.py).
SQLITE = sqlite.install()

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("COMPTOIR_DATA_DIR", str(Path.cwd() / "data"))).resolve()

DEBUG = env_bool("COMPTOIR_DEBUG", False)
SECRET_KEY = env_str("COMPTOIR_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and not env_bool("COMPTOIR_INSECURE_DEV_KEY", True):
        raise ImproperlyConfigured("COMPTOIR_SECRET_KEY is required")
    # A local, per-data-directory key: good for a laptop, never shared through the repository.
    private_dir(DATA_DIR)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        create_private_file(key_file, secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text(encoding="utf-8").strip()

ALLOWED_HOSTS = env_list("COMPTOIR_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("COMPTOIR_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "comptoir.core",
    "comptoir.access",
    "comptoir.crm",
    "comptoir.activities",
    "comptoir.service",
    "comptoir.sales",
    "comptoir.documents",
    "comptoir.integration",
    "comptoir.quality",
    "comptoir.sirene",
    "comptoir.search",
    "comptoir.feeds",
    "comptoir.mail",
    "comptoir.mailbox",
    "comptoir.caldav",
    "comptoir.web",
    "django_htmx",
    "ninja",  # the API docs' Swagger UI from the package's static files, not from a CDN
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "comptoir.web.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "comptoir.api.middleware.ApiErrorMiddleware",  # JSON errors on every /api/ path
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "comptoir.web.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "comptoir.web.middleware.BusyDatabaseMiddleware",
]

ROOT_URLCONF = "comptoir.config.urls"
WSGI_APPLICATION = "comptoir.config.wsgi.application"
AUTH_USER_MODEL = "access.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "comptoir.web.context.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
_database_url = env_str("DATABASE_URL")
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not sqlite.is_safe(SQLITE) and not env_bool("COMPTOIR_ALLOW_UNSAFE_SQLITE", False):
        raise ImproperlyConfigured(sqlite.unsafe_message(SQLITE))
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "comptoir.sqlite3"),
            "OPTIONS": {
                # WAL lets readers run while one writer writes; IMMEDIATE avoids the
                # "database is locked" upgrade deadlock between concurrent writers.
                "transaction_mode": "IMMEDIATE",
                # seconds a write waits for another's to end (then a 503 "try again")
                "timeout": 30,
                # No mmap: SQLite advises against it with several writing processes (the web
                # workers, the worker, imports). The WAL is truncated back to 64 MB after a
                # checkpoint so a burst of writes does not leave a huge file behind.
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA temp_store=MEMORY;"
                    "PRAGMA mmap_size=0;"
                    "PRAGMA journal_size_limit=67108864;"
                    "PRAGMA cache_size=-32768;"
                ),
            },
            # Tests on a real file too (not a shared in-memory database): the live server's
            # threads then each have their own connection, as the web workers do.
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# --- Security -------------------------------------------------------------------------------
# Sign-in throttling (comptoir.access.throttle): this many failures for one user name, or from
# one address, within the window lock it for the lockout time; 0 turns a counter off.
COMPTOIR_LOGIN_MAX_FAILURES = env_int("COMPTOIR_LOGIN_MAX_FAILURES", 5)
COMPTOIR_LOGIN_IP_MAX_FAILURES = env_int("COMPTOIR_LOGIN_IP_MAX_FAILURES", 20)
COMPTOIR_LOGIN_WINDOW_MINUTES = env_int("COMPTOIR_LOGIN_WINDOW_MINUTES", 15)
COMPTOIR_LOGIN_LOCKOUT_MINUTES = env_int("COMPTOIR_LOGIN_LOCKOUT_MINUTES", 15)
# Served over HTTPS: cookies never sent over plain HTTP, browsers told to always use HTTPS.
COMPTOIR_HTTPS = env_bool("COMPTOIR_HTTPS", False)
# Behind one reverse proxy that sets X-Forwarded-Proto and appends the client to
# X-Forwarded-For (the proxy must overwrite X-Forwarded-Proto sent by clients).
COMPTOIR_BEHIND_PROXY = env_bool("COMPTOIR_BEHIND_PROXY", False)
if COMPTOIR_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = COMPTOIR_HTTPS
CSRF_COOKIE_SECURE = COMPTOIR_HTTPS
LANGUAGE_COOKIE_SECURE = COMPTOIR_HTTPS
SECURE_HSTS_SECONDS = env_int("COMPTOIR_HSTS_SECONDS", 31_536_000) if COMPTOIR_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("COMPTOIR_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_SSL_REDIRECT = env_bool("COMPTOIR_SSL_REDIRECT", False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy: comptoir.web.middleware.ContentSecurityPolicyMiddleware.

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = env_str("COMPTOIR_LANGUAGE", "fr")
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = env_str("COMPTOIR_TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

# --- Files ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("COMPTOIR_MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# The data directory, the SQLite database (and its -wal/-shm) and uploaded files are readable
# by this account only.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
if DATA_DIR.exists():
    private_dir(DATA_DIR)
    # Large uploads (a SIRENE stock file is up to 2 GB) are spooled beside the data, not in a
    # small system /tmp.
    (DATA_DIR / "uploading").mkdir(mode=0o700, exist_ok=True)
    FILE_UPLOAD_TEMP_DIR = str(DATA_DIR / "uploading")
tighten(MEDIA_ROOT)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    private_sqlite_database(str(DATABASES["default"]["NAME"]))
# Attachments: limits enforced by the documents service (API and UI alike).
COMPTOIR_ATTACHMENT_MAX_BYTES = env_int("COMPTOIR_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024)
COMPTOIR_ATTACHMENT_TYPES = env_list(
    "COMPTOIR_ATTACHMENT_TYPES",
    "application/pdf,image/png,image/jpeg,image/gif,image/webp,image/svg+xml,text/plain,text/csv,"
    "application/zip,application/vnd.openxmlformats-officedocument.wordprocessingml.document,"
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/msword,"
    "application/vnd.ms-excel,application/vnd.oasis.opendocument.text,"
    "application/vnd.oasis.opendocument.spreadsheet,application/dxf,image/vnd.dxf",
)
# Bulk API bodies carry up to 10,000 records.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("COMPTOIR_MAX_BODY_BYTES", 64 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
COMPTOIR_BULK_MAX_RECORDS = 10_000
# Bounds on what one document or file may hold ("never lose data", never hang):
# lines of one sales document (services, bulk, PDF);
COMPTOIR_MAX_DOCUMENT_LINES = env_int("COMPTOIR_MAX_DOCUMENT_LINES", 2_000)
# data rows a pre-import audit reads (the rest of a longer file is not audited, and it says so);
COMPTOIR_AUDIT_MAX_ROWS = env_int("COMPTOIR_AUDIT_MAX_ROWS", 200_000)
# an XLSX workbook (a zip) unpacked: in all, and per member compared with its packed size.
COMPTOIR_IMPORT_MAX_UNCOMPRESSED_BYTES = env_int("COMPTOIR_IMPORT_MAX_UNCOMPRESSED_BYTES",
                                                 256 * 1024 * 1024)
COMPTOIR_IMPORT_MAX_COMPRESSION_RATIO = env_int("COMPTOIR_IMPORT_MAX_COMPRESSION_RATIO", 100)

# --- Backups (comptoir backup / restore; the worker makes one every interval) ----------------
COMPTOIR_BACKUP_DIR = Path(env_str("COMPTOIR_BACKUP_DIR", str(DATA_DIR / "backups")))
COMPTOIR_BACKUP_KEEP = env_int("COMPTOIR_BACKUP_KEEP", 14)
COMPTOIR_BACKUP_INTERVAL_HOURS = env_int("COMPTOIR_BACKUP_INTERVAL_HOURS", 24)  # 0: never

# --- Background tasks -----------------------------------------------------------------------
# Called every 20 s by each `comptoir worker` (unless --no-scheduler).
COMPTOIR_PERIODIC_JOBS = [
    "comptoir.integration.services.schedule_due_runs",
    "comptoir.integration.outbound.outbound_due",
    "comptoir.feeds.services.notifications_due",
    "comptoir.feeds.reminders.reminders_due",
    "comptoir.core.recycle.purge_due",
    "comptoir.search.services.index_outbox",
    "comptoir.quality.dedupe.refresh_all_indexes",
    "comptoir.quality.promotion.promotions_due",
    "comptoir.core.backup.backup_due",
    "comptoir.core.health.integrity_due",
    "comptoir.mailbox.services.mailboxes_due",
]
# Mailbox logging: minutes between two fetches of a mailbox, and the address people put in
# BCC (or forward to) so a message sent from any mail client is logged too.
COMPTOIR_MAILBOX_INTERVAL = env_int("COMPTOIR_MAILBOX_INTERVAL", 5)
COMPTOIR_LOG_ADDRESS = env_str("COMPTOIR_LOG_ADDRESS", "")
COMPTOIR_PERIODIC_JOBS += ["comptoir.caldav.services.accounts_due"]  # agenda sync (CalDAV)

# Seconds between two rounds of the periodic jobs in `comptoir worker`.
COMPTOIR_SCHEDULER_INTERVAL = env_int("COMPTOIR_SCHEDULER_INTERVAL", 20)

TASKS = {
    "default": {
        "BACKEND": env_str("COMPTOIR_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# --- Outgoing mail (comptoir.mail) -------------------------------------------------------------
# The company's SMTP relay. An empty COMPTOIR_SMTP_HOST means mail is not configured: composing
# says so, and `comptoir doctor` warns. USE_TLS is STARTTLS (port 587), USE_SSL implicit TLS
# (port 465). Mail goes out From "<the user's name> <DEFAULT_FROM_EMAIL>", Reply-To the user.
EMAIL_BACKEND = env_str("COMPTOIR_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("COMPTOIR_SMTP_HOST", "")
EMAIL_PORT = env_int("COMPTOIR_SMTP_PORT", 587)
EMAIL_HOST_USER = env_str("COMPTOIR_SMTP_USER", "")
EMAIL_HOST_PASSWORD = env_str("COMPTOIR_SMTP_PASSWORD", "")
EMAIL_USE_TLS = env_bool("COMPTOIR_SMTP_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("COMPTOIR_SMTP_USE_SSL", EMAIL_PORT == 465)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("COMPTOIR_SMTP_USE_TLS and COMPTOIR_SMTP_USE_SSL exclude each other")
EMAIL_TIMEOUT = env_int("COMPTOIR_SMTP_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("COMPTOIR_SMTP_FROM", "comptoir@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# One message's attachments (files and the quote PDF) in all; send attempts before giving up.
COMPTOIR_MAIL_MAX_ATTACHMENT_BYTES = env_int("COMPTOIR_MAIL_MAX_ATTACHMENT_BYTES",
                                             20 * 1024 * 1024)
COMPTOIR_MAIL_MAX_ATTEMPTS = env_int("COMPTOIR_MAIL_MAX_ATTEMPTS", 8)
COMPTOIR_PERIODIC_JOBS += ["comptoir.mail.services.mail_due"]  # lost or stuck sends
COMPTOIR_PERIODIC_JOBS += ["comptoir.feeds.emails.notification_emails_due"]  # e-mails, digests
COMPTOIR_BASE_URL = env_str("COMPTOIR_BASE_URL", "http://localhost:8000")  # links in e-mails

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("COMPTOIR_LOG_LEVEL", "WARNING")},
}
