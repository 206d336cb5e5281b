"""Sync runs: start one (one at a time per connection), execute it, record how it ended."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import importlib
import importlib.util
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from comptoir.core.errors import Conflict, Forbidden, TooLarge, ValidationFailed
from comptoir.core.sql import sqlite_bulk_mode

from .engine.core import Batch, Connector, Record, batched, connector_class
from .engine.errors import Category, ConfigError, SyncError
from .engine.mapping import ConnectionMapping, StreamMapping, load_mapping
from .loader import Counts, Loader, apply_batch, target_fields
from .models import Connection, PushReceipt, QuarantinedRecord, StreamState, SyncRun

log = logging.getLogger(__name__)

# A running run whose heartbeat is older than this was killed: the next run may start.
STALE_AFTER = timedelta(minutes=10)

Progress = Callable[[str, Counts], None]


class _DryRunRollback(Exception):
    """Raised at the end of a dry run to undo everything it wrote."""


def connection_mapping(connection: Connection) -> ConnectionMapping:
    return load_mapping(connection.mapping, targets=target_fields(),
                        source=f"connection {connection.name}")


BUILTIN_CONNECTORS = ("files", "tryton", "sql", "tryton_sql", "push")


def load_connectors() -> None:
    """Import the built-in connector modules, which register themselves."""
    for name in BUILTIN_CONNECTORS:
        module = f"comptoir.integration.connectors.{name}"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def connection_connector(connection: Connection) -> Connector:
    load_connectors()
    cls = connector_class(connection.connector)
    params = dict(connection.parameters)
    for name, value in connection.secrets.items():
        params[name] = _secret(value)
    return cls(params)


def connection_validate(c: Connection) -> None:
    """Connector, parameters and mapping checked before saving, every problem at once."""
    errors: dict[str, list[str]] = {}
    load_connectors()
    try:
        cls = connector_class(c.connector)
        secrets = dict.fromkeys(c.secrets, "x")
        cls.validate_parameters({**c.parameters, **secrets})
        misplaced = sorted(set(c.parameters) & cls.sensitive_parameters)
        if misplaced:
            errors["parameters"] = [_("Put %(names)s in secrets, not in parameters.")
                                    % {"names": ", ".join(misplaced)}]
    except SyncError as exc:
        errors.setdefault("connector" if "Unknown connector" in exc.message else "parameters",
                          []).append(exc.message)
    try:
        connection_mapping(c)
    except SyncError as exc:
        errors["mapping"] = list(getattr(exc, "problems", None) or [exc.message])
    if errors:
        raise ValidationFailed(_("The connection is not valid."), fields=errors)


# --- Connections set up from the web: create, update, test, preview -----------------------

# What the web and the API may change on an existing connection (its name and connector are
# fixed once created: runs, cursors and external references hang on them).
CONNECTION_EDITABLE = ("label", "direction", "parameters", "mapping", "owned_fields",
                       "schedule_minutes", "batch_size", "enabled")

admin_log = logging.getLogger("comptoir.admin")


def _require_integrator(user: Any) -> None:
    from comptoir.access import policy

    if not policy.sees_all(user):
        raise Forbidden(_("Integration is reserved to data managers and administrators."))


def _kept_secrets(current: dict[str, Any], given: Any) -> dict[str, Any]:
    """Secrets are write-only: an empty value keeps the stored one, a value replaces it."""
    out = dict(current)
    for key, value in dict(given or {}).items():
        if value not in (None, ""):
            out[str(key)] = value
    return out


@transaction.atomic
def connection_create(*, user: Any, data: dict[str, Any]) -> Connection:
    """A new connection, validated whole (connector, parameters, mapping) before it is saved;
    logged with who made it, never with a secret."""
    _require_integrator(user)
    name = str(data.get("name") or "").strip()
    if Connection.objects.filter(name=name).exists():
        raise ValidationFailed(_("This name is taken."), fields={"name": [
            _("Another connection already has this name.")]})
    c = Connection(name=name, connector=str(data.get("connector") or ""))
    for key in CONNECTION_EDITABLE:
        if key in data:
            setattr(c, key, data[key])
    c.secrets = _kept_secrets({}, data.get("secrets"))
    if data.get("push_secret"):
        c.push_secret = str(data["push_secret"])
    connection_validate(c)
    c.save()
    admin_log.info("%s created connection %s (%s; secrets set: %s)",
                   getattr(user, "username", "?"), c.name, c.connector,
                   ", ".join(sorted(c.secrets)) or "none")
    return c


@transaction.atomic
def connection_update(*, user: Any, connection: Connection, data: dict[str, Any]
                      ) -> Connection:
    """Change a connection; secrets left empty are kept. The log names what changed (for a
    secret, only that it was replaced)."""
    _require_integrator(user)
    c = Connection.objects.select_for_update().get(pk=connection.pk)
    changed: list[str] = []
    for key in CONNECTION_EDITABLE:
        if key in data and data[key] != getattr(c, key):
            setattr(c, key, data[key])
            changed.append(key)
    secrets = _kept_secrets(c.secrets, data.get("secrets"))
    changed += [f"secret {k}" for k in sorted(secrets) if secrets[k] != c.secrets.get(k)]
    c.secrets = secrets
    if data.get("push_secret") and data["push_secret"] != c.push_secret:
        c.push_secret = str(data["push_secret"])
        changed.append("push signing key")
    connection_validate(c)
    c.save()
    admin_log.info("%s updated connection %s: %s", getattr(user, "username", "?"), c.name,
                   ", ".join(changed) or "nothing changed")
    return c


@dataclass
class ConnectionCheck:
    """What "Test connection" found: ``ok``, one sentence for the user (translated, never a
    traceback), further facts in ``notes``, and what kind of problem it was (``unreachable``,
    ``credentials``, ``database``, ``module``, ``path``, ``url``, ``mapping``, ``config``)."""

    ok: bool
    message: str
    notes: list[str] = field(default_factory=list)
    problem: str = ""


# Tryton models of the streams the ``tryton`` connector offers, and the module providing each:
# a model Tryton does not know means its module is not activated there.
TRYTON_STREAM_MODELS = {"parties": ("party.party", "party"),
                        "contacts": ("party.contact_mechanism", "party"),
                        "products": ("product.product", "product"),
                        "price_lists": ("product.template", "product"),
                        "sales": ("sale.sale", "sale"),
                        "invoices": ("account.invoice", "account_invoice")}


def _number(n: int) -> str:
    from django.utils.formats import number_format

    return number_format(n, 0, use_l10n=True, force_grouping=True)


def _between(text: str, start: str = "(", end: str = ")") -> str:
    """The last parenthesised part of an engine message (e.g. the OS's reason)."""
    _head, sep, tail = text.rpartition(start)
    return tail.rsplit(end, 1)[0] if sep else text


def _explain(connection: Connection, exc: SyncError) -> ConnectionCheck:
    """An engine error told in the user's words: what failed and what to check."""
    text = exc.message
    low = text.lower()
    params = connection.parameters
    if "environment variable" in low:
        name = text.split("variable ", 1)[-1].split(" ", 1)[0]
        return ConnectionCheck(False, _("The environment variable %(name)s, which should hold "
                                        "a secret, is not set on the server.")
                               % {"name": name}, problem="config")
    if connection.connector == "tryton":
        url = params.get("url", "")
        if "url must be" in low:
            return ConnectionCheck(False, _("The server URL must look like "
                                            "http://erp.example.com:8000."), problem="url")
        if "too many attempts" in low:
            return ConnectionCheck(False, _("Tryton refuses more logins for now (too many "
                                            "attempts): wait a few minutes and try again."),
                                   problem="credentials")
        if "unreachable" in low:
            return ConnectionCheck(False, _("Tryton cannot be reached at %(url)s (%(reason)s). "
                                            "Check the address and the port, and that the "
                                            "server is running.")
                                   % {"url": url, "reason": _between(text)},
                                   problem="unreachable")
        if "no database" in low:
            return ConnectionCheck(False, _("Tryton at %(url)s has no database named "
                                            "“%(database)s” (or this is not a Tryton server).")
                                   % {"url": url, "database": params.get("database", "")},
                                   problem="database")
        if "refused the login" in low or "refused the session" in low:
            return ConnectionCheck(False, _("Tryton refused the user name or password of "
                                            "“%(user)s” (or this user is inactive).")
                                   % {"user": params.get("username", "")},
                                   problem="credentials")
    if connection.connector == "files" and "no such file or folder" in low:
        return ConnectionCheck(False, _("The file or folder %(path)s does not exist on the "
                                        "server running Comptoir.")
                               % {"path": text.split(": no such file", 1)[0]}, problem="path")
    if connection.connector in ("sql", "tryton-sql"):
        if "sqlite database" in low and "no such file" in low:
            path = text.removeprefix("SQLite database ").split(": no such file", 1)[0]
            return ConnectionCheck(False, _("The SQLite database %(path)s does not exist.")
                                   % {"path": path}, problem="path")
        if any(s in low for s in ("url scheme", "sqlite url", "must be absolute",
                                  "url is malformed")):
            return ConnectionCheck(False, _("The database URL is not valid: write "
                                            "sqlite:///absolute/path.db or "
                                            "postgresql://user:password@host:port/database."),
                                   problem="url")
        if any(s in low for s in ("password authentication failed", "no password supplied",
                                  "authentication")):
            return ConnectionCheck(False, _("The database server refused the user name or "
                                            "password."), problem="credentials")
        if "cannot connect" in low and "does not exist" in low:
            return ConnectionCheck(False, _("The database server has no such database: "
                                            "%(reason)s") % {"reason": text.split(": ")[-1]},
                                   problem="database")
        if "cannot connect" in low:
            return ConnectionCheck(False, _("The database server cannot be reached: "
                                            "%(reason)s") % {"reason": text.split(": ")[-1]},
                                   problem="unreachable")
    return ConnectionCheck(False, _("The test failed: %(reason)s") % {"reason": text},
                           problem="config")


def connection_test(connection: Connection) -> ConnectionCheck:
    """Connect to the other system and read one record, without writing anything: the
    answer says what works, or exactly what failed, in words (never raises)."""
    try:
        mapping = connection_mapping(connection)
    except SyncError as exc:
        problems = getattr(exc, "problems", None) or [exc.message]
        return ConnectionCheck(False, _("The mapping is not valid: fix it before testing."),
                               notes=list(problems), problem="mapping")
    if connection.connector == "push":
        return ConnectionCheck(
            True, _("A push connection has nothing to connect to: the ERP's plugin sends its "
                    "changes to Comptoir."),
            notes=[_("Its signing key is set.") if connection.push_secret else
                   _("Its signing key is not set yet: the plugin's requests will be refused.")])
    connector: Connector | None = None
    try:
        connector = connection_connector(connection)
        if connection.connector == "tryton":
            return _test_tryton(connection, connector, mapping)
        return _test_generic(connection, connector, mapping)
    except SyncError as exc:
        log.info("connection test %s failed: %s %s", connection.name, exc.message, exc.detail)
        return _explain(connection, exc)
    except OSError as exc:  # a file or folder we may not read
        return ConnectionCheck(False, _("Comptoir may not read this: %(reason)s")
                               % {"reason": exc.strerror or exc}, problem="path")
    except Exception as exc:  # a bug or an unexpected answer: said, and logged in full
        log.exception("connection test %s crashed", connection.name)
        return ConnectionCheck(False, _("The test failed on an unexpected error "
                                        "(%(kind)s); the server log has the details.")
                               % {"kind": type(exc).__name__}, problem="config")
    finally:
        if connector is not None:
            with contextlib.suppress(Exception):
                connector.close()


def _test_tryton(connection: Connection, connector: Connector,
                 mapping: ConnectionMapping) -> ConnectionCheck:
    from .engine.errors import PermanentError

    client = connector.client  # type: ignore[attr-defined]
    client.login()
    version = client.server_version()
    notes: list[str] = []
    for stream in dict.fromkeys(m.stream for m in mapping.streams.values()):
        model, module = TRYTON_STREAM_MODELS.get(stream, ("", ""))
        if not model:
            continue
        try:
            count = client.search_count(model, [])
        except PermanentError:
            return ConnectionCheck(False, _("Tryton has no model %(model)s: activate the module "
                                            "“%(module)s” in Tryton, or remove the stream "
                                            "“%(stream)s” from the mapping.")
                                   % {"model": model, "module": module, "stream": stream},
                                   problem="module")
        notes.append(_("Stream %(stream)s: %(count)s records in %(model)s.")
                     % {"stream": stream, "count": _number(count), "model": model})
    parties = client.search_count("party.party", [])
    first = client.search_read("party.party", [], ["rec_name"], 0, 1, [["id", "ASC"]])
    if first:
        notes.insert(0, _("First party read: %(name)s.") % {"name": first[0].get("rec_name")})
    return ConnectionCheck(True, _("Connected to Tryton %(version)s, database %(database)s: "
                                   "%(count)s parties.")
                           % {"version": version, "database": connection.parameters.get(
                               "database", ""), "count": _number(parties)}, notes=notes)


def _test_generic(connection: Connection, connector: Connector,
                  mapping: ConnectionMapping) -> ConnectionCheck:
    """Check the connector, then read the first record of the first stream mapped."""
    connector.check()
    streams = connector.streams()
    wanted = list(dict.fromkeys(m.stream for m in mapping.streams.values()))
    missing = [s for s in wanted if s not in streams]
    if missing:
        return ConnectionCheck(False, _("The mapping reads streams this connection does not "
                                        "offer: %(missing)s (offered: %(offered)s).")
                               % {"missing": ", ".join(missing),
                                  "offered": ", ".join(sorted(streams)) or "—"},
                               problem="mapping")
    notes: list[str] = []
    files = getattr(streams[wanted[0]], "files", None)
    if connection.connector == "files" and callable(files):
        found = files()
        path = connection.parameters.get("path", "")
        if not found:
            return ConnectionCheck(True, _("The folder %(path)s exists but holds no file to "
                                           "read yet.") % {"path": path})
        notes.append(ngettext("%(n)s file to read: %(names)s.",
                              "%(n)s files to read: %(names)s.", len(found))
                     % {"n": len(found), "names": ", ".join(p.name for p in found[:5])})
    record = next(iter(streams[wanted[0]].read(None)), None)
    if record is None:
        return ConnectionCheck(True, _("Connected: the stream %(stream)s has no record to "
                                       "read yet.") % {"stream": wanted[0]}, notes=notes)
    if record.error:
        return ConnectionCheck(False, _("The first record (%(where)s) could not be read: "
                                        "%(reason)s") % {"where": record.position,
                                                         "reason": record.error},
                               notes=notes, problem="path")
    for stream_mapping in mapping.for_stream(wanted[0]):
        notes += stream_mapping.check_headers(record.data.keys())
    columns = list(record.data)
    return ConnectionCheck(True, _("Connected: first record read (%(where)s), %(n)s fields: "
                                   "%(columns)s.")
                           % {"where": record.position or record.key, "n": len(columns),
                              "columns": ", ".join(map(str, columns[:8]))
                              + (", …" if len(columns) > 8 else "")}, notes=notes)


@dataclass
class PreviewRecord:
    """One source record beside what the mapping makes of it (nothing is written)."""

    key: str
    position: str
    source: dict[str, Any]
    fields: list[tuple[str, Any, tuple[str, ...]]]  # (CRM field, value, source fields)
    errors: dict[str, str]


@dataclass
class PreviewStream:
    name: str
    stream: str
    target: str
    records: list[PreviewRecord] = field(default_factory=list)


def _sample(stream: Any, limit: int) -> Iterator[Record]:
    """The first records of a stream. A Tryton stream's ``read`` lists every changed record
    first (the whole base on a first run): for a preview its first ids are read directly."""
    from .connectors.tryton import ALL, _TrytonStream

    if isinstance(stream, _TrytonStream) and type(stream).read is _TrytonStream.read:
        ids = []
        for record_id in stream._all_ids():
            ids.append(record_id)
            if len(ids) >= limit:
                break
        if not ids:
            return
        rows = {row["id"]: row for row in stream.client.read(stream.model, ids, stream.fields,
                                                             context=ALL)}
        extra = stream.details(list(rows))
        for record_id in ids:
            if record_id in rows:
                yield Record(key=stream.key_of(record_id),
                             data=stream.flatten(rows[record_id], extra),
                             position=f"{stream.model} {record_id}")
        return
    yield from stream.read(None)


def connection_preview(connection: Connection, *, limit: int = 5, scan: int = 200
                       ) -> tuple[list[PreviewStream], ConnectionCheck | None]:
    """The first ``limit`` records of each mapped stream, mapped to CRM fields without
    writing anything (lookups and duplicate matching happen only in a run). On failure the
    streams read so far and what failed, in words."""
    out: list[PreviewStream] = []
    connector: Connector | None = None
    try:
        mapping = connection_mapping(connection)
        if connection.connector == "push":
            return out, ConnectionCheck(False, _("A push connection has no source to read: "
                                                 "records arrive when the ERP sends them."))
        connector = connection_connector(connection)
        streams = connector.streams()
        for stream_mapping in mapping.streams.values():
            preview = PreviewStream(stream_mapping.name, stream_mapping.stream,
                                    stream_mapping.target)
            out.append(preview)
            source = streams.get(stream_mapping.stream)
            if source is None:
                continue
            for n, record in enumerate(_sample(source, max(limit, scan)), start=1):
                if n > scan or len(preview.records) >= limit:
                    break
                if record.error is None and not stream_mapping.matches(record):
                    continue
                key, data, errors = stream_mapping.apply(record)
                fields = [(name, value, stream_mapping.fields[name].sources
                           if name in stream_mapping.fields else ())
                          for name, value in data.items()]
                preview.records.append(PreviewRecord(key, record.position, dict(record.data),
                                                     fields, errors))
    except SyncError as exc:
        if isinstance(getattr(exc, "problems", None), list):
            return out, ConnectionCheck(False, _("The mapping is not valid: fix it first."),
                                        notes=list(exc.problems),  # type: ignore[attr-defined]
                                        problem="mapping")
        return out, _explain(connection, exc)
    except OSError as exc:
        return out, ConnectionCheck(False, _("Comptoir may not read this: %(reason)s")
                                    % {"reason": exc.strerror or exc}, problem="path")
    except Exception as exc:
        log.exception("connection preview %s crashed", connection.name)
        return out, ConnectionCheck(False, _("The preview failed on an unexpected error "
                                             "(%(kind)s); the server log has the details.")
                                    % {"kind": type(exc).__name__}, problem="config")
    finally:
        if connector is not None:
            with contextlib.suppress(Exception):
                connector.close()
    return out, None


def _secret(value: Any) -> Any:
    """``env:NAME`` reads the secret from the environment, so it need not live in the DB."""
    from comptoir.core.secrets import MissingSecret, resolve_secret

    try:
        return resolve_secret(value)
    except MissingSecret as exc:
        raise ConfigError(f"The environment variable {exc.name} holding a secret is not "
                          "set.") from None


def _process_gone(run: SyncRun) -> bool:
    """Whether the process that claimed ``run`` is known to be dead (same machine only)."""
    if run.status != SyncRun.Status.RUNNING or not run.pid or run.host != socket.gethostname():
        return False
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sync_run_start(connection: Connection, *, trigger: str = SyncRun.Trigger.MANUAL,
                   user: Any = None, full: bool = False, dry_run: bool = False) -> SyncRun:
    """Create a pending run; refuse while another run of the connection is alive."""
    if not connection.enabled:
        raise ValidationFailed(_("The connection %(name)s is disabled.")
                               % {"name": connection.name})
    with transaction.atomic():
        alive = SyncRun.objects.select_for_update().filter(
            connection=connection, status__in=(SyncRun.Status.PENDING, SyncRun.Status.RUNNING))
        now = timezone.now()
        for other in alive:
            beat = other.heartbeat_at or other.started_at or other.created_at
            if now - beat < STALE_AFTER and not _process_gone(other):
                raise Conflict(_("A run of %(name)s is already in progress (run %(id)s).")
                               % {"name": connection.name, "id": other.pk})
            SyncRun.objects.filter(pk=other.pk, status=other.status).update(
                status=SyncRun.Status.FAILED, finished_at=now,
                error_category=Category.TRANSIENT,
                error_message=_("Interrupted: the process stopped during the run; the next "
                                "run resumed from the last committed batch."))
        return SyncRun.objects.create(
            connection=connection, trigger=trigger, full=full, dry_run=dry_run,
            requested_by=user if getattr(user, "is_authenticated", False) else None)


def claim_run(run: SyncRun) -> SyncRun:
    """Mark a pending run as running in this process (once: a second worker is refused), so
    a run whose process dies is seen at once."""
    now = timezone.now()
    claimed = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.PENDING).update(
        status=SyncRun.Status.RUNNING, started_at=now, heartbeat_at=now,
        host=socket.gethostname(), pid=os.getpid())
    if claimed != 1:
        raise Conflict(_("Run %(id)s is not pending.") % {"id": run.pk})
    run.refresh_from_db()
    return run


def sync_run_execute(run: SyncRun, *, user: Any = None, progress: Progress | None = None
                     ) -> SyncRun:
    """Run a pending run to its end; never raises for a sync failure (it is on the run)."""
    run = claim_run(run)
    now = run.started_at or timezone.now()
    connection = run.connection
    previous = (SyncRun.objects.filter(connection=connection, status=SyncRun.Status.SUCCEEDED,
                                       dry_run=False).exclude(pk=run.pk)
                .order_by("-finished_at").values_list("finished_at", flat=True).first())
    lag = (now - previous).total_seconds() if previous else None
    total = Counts()
    per_stream: dict[str, dict[str, int]] = {}
    # seconds spent reading the streams (the other system + the connector), and the other
    # system's answering time before the first read (logging in)
    reading = [0.0, 0.0]
    started = time.monotonic()
    connector: Connector | None = None
    try:
        mapping = connection_mapping(connection)
        connector = connection_connector(connection)
        try:
            connector.check()
            reading[1] = float(_source_stats(connector).get("seconds", 0.0))
            streams = connector.streams()
            missing = sorted({m.stream for m in mapping.streams.values()
                              if m.stream not in streams})
            if missing:
                raise ConfigError(
                    f"The mapping names streams the connector does not offer: "
                    f"{', '.join(missing)} (offered: {', '.join(sorted(streams)) or 'none'}).")
            if run.dry_run:
                try:
                    with transaction.atomic():
                        _run_streams(run, connection, mapping, streams, user, total,
                                     per_stream, progress, reading)
                        raise _DryRunRollback
                except _DryRunRollback:
                    pass
            else:
                with sqlite_bulk_mode():
                    _run_streams(run, connection, mapping, streams, user, total, per_stream,
                                 progress, reading)
        finally:
            connector.close()
    except SyncError as exc:
        log.warning("sync %s run %s failed (%s): %s %s", connection.name, run.pk,
                    exc.category, exc.message, exc.detail)
        _finish(run, SyncRun.Status.FAILED, total, per_stream, lag,
                category=exc.category, message=exc.message,
                source=_source_stats(connector, reading))
    except Exception as exc:  # a bug or an unexpected answer: the run says so, the log has more
        log.exception("sync %s run %s crashed", connection.name, run.pk)
        _finish(run, SyncRun.Status.FAILED, total, per_stream, lag,
                category=Category.PERMANENT, message=f"Unexpected error: {exc}",
                source=_source_stats(connector, reading))
    else:
        _finish(run, SyncRun.Status.SUCCEEDED, total, per_stream, lag,
                source=_source_stats(connector, reading))
    log.info("sync %s run %s: %s in %.1f s", connection.name, run.pk, run.status,
             time.monotonic() - started)
    return run


def _run_streams(run: SyncRun, connection: Connection, mapping: ConnectionMapping,
                 streams: dict[str, Any], user: Any, total: Counts,
                 per_stream: dict[str, dict[str, int]], progress: Progress | None,
                 reading: list[float]) -> None:
    """Each connector stream is read once and feeds every mapping that reads it."""
    groups: dict[str, list[StreamMapping]] = {}
    for stream_mapping in mapping.streams.values():
        groups.setdefault(stream_mapping.stream, []).append(stream_mapping)
    for name, mappings in groups.items():
        stream = streams[name]
        state = StreamState.objects.filter(connection=connection, stream=name).first()
        cursor = None if run.full or state is None or not state.cursor else state.cursor
        loaders = [Loader(run, connection, mapping.system, m, user=user, dry_run=run.dry_run)
                   for m in mappings]
        counts = Counts()
        for batch in batched(_timed(stream.read(cursor), reading), connection.batch_size,
                             name):
            batch_counts = apply_batch(run, connection, name, loaders, batch)
            counts.add(batch_counts)
            total.add(batch_counts)
            if not run.dry_run:
                stream.committed(batch.cursor)
            if progress is not None:
                progress(name, total)
            _yield_the_write_lock()
        start = time.perf_counter()
        keys = stream.existing_keys()
        reading[0] += time.perf_counter() - start
        if keys is not None:
            present = set(keys)
            for loader in loaders:
                gone = _tombstone_missing(loader, present, stream.key_prefix)
                counts.deleted += gone
                total.deleted += gone
        per_stream[name] = counts.as_dict()


# SQLite has one writer: between two batches of a long sync, others waiting to write (a sign-in,
# a record saved, the worker) get the lock before the next batch takes it again. Their busy
# handler retries every few tens of milliseconds, so a short pause is enough.
WRITE_LOCK_PAUSE = 0.1  # seconds, after each committed batch, on SQLite only


def _yield_the_write_lock() -> None:
    from django.db import connection as db

    if db.vendor == "sqlite" and not db.in_atomic_block and WRITE_LOCK_PAUSE:
        time.sleep(WRITE_LOCK_PAUSE)


def _tombstone_missing(loader: Loader, present_raw: set[str], prefix: str = "") -> int:
    """Records known from this system and type (and this stream's ``key_prefix``) but gone
    from the source become tombstones."""
    from comptoir.core.models import ExternalRef

    present = set()
    for raw in present_raw:
        try:
            present.add(loader.mapping.normalise_key(raw))
        except ValueError:
            continue
    known = ExternalRef.objects.filter(system=loader.system,
                                       object_type=loader.spec.object_type,
                                       deleted_at__isnull=True,
                                       external_id__startswith=prefix).values_list(
                                           "external_id", flat=True)
    gone = [ext for ext in known.iterator(chunk_size=10_000) if ext not in present]
    deleted = 0
    for i in range(0, len(gone), 5000):
        with transaction.atomic():
            deleted += loader.tombstone(gone[i:i + 5000])
    return deleted


def _timed(records: Iterator[Record], reading: list[float]) -> Iterator[Record]:
    """The stream's records, adding the time spent producing them to ``reading[0]``: minus
    the other system's answering time, it is the connector's own share of a run."""
    clock = time.perf_counter
    while True:
        start = clock()
        try:
            record = next(records)
        except StopIteration:
            reading[0] += clock() - start
            return
        reading[0] += clock() - start
        yield record


def _source_stats(connector: Connector | None, reading: list[float] | None = None
                  ) -> dict[str, float]:
    """The connector's figures on the other system (and ``read_seconds``, the time spent
    reading the streams), never at the cost of recording how the run ended."""
    if connector is None:
        return {}
    try:
        stats = dict(connector.stats())
    except Exception:
        log.exception("the stats of connector %s failed", connector.name)
        stats = {}
    if reading is not None:
        stats["read_seconds"] = round(reading[0], 3)
        stats["setup_seconds"] = round(reading[1], 3)
    return stats


def _finish(run: SyncRun, status: str, total: Counts, per_stream: dict[str, dict[str, int]],
            lag: float | None, *, category: str = "", message: str = "",
            source: dict[str, float] | None = None) -> None:
    details: dict[str, Any] = {"streams": per_stream}
    if source:
        details["source"] = source  # e.g. Tryton's calls and answering time
    if run.dry_run:
        details["changes"] = total.changes[:200]
    if total.matches:
        details["matches"] = total.matches  # linked to an existing record: which, and why
    # The batches added their counts as they committed (so a killed run shows its progress);
    # the totals are set again here, which also covers a dry run's rolled-back increments.
    SyncRun.objects.filter(pk=run.pk).update(
        status=status, finished_at=timezone.now(), lag_seconds=lag, error_category=category,
        error_message=message, details=details, **total.as_dict())
    run.refresh_from_db()


def sync_run(connection: Connection, **options: Any) -> SyncRun:
    """Start and execute a run in this process (CLI, tests); see ``sync_run_start``."""
    progress = options.pop("progress", None)
    run = sync_run_start(connection, **options)
    return sync_run_execute(run, user=options.get("user"), progress=progress)


def quarantine_replay(record: QuarantinedRecord, *, user: Any = None) -> QuarantinedRecord:
    """Apply a (corrected) quarantined record again, in a run of its own (trigger replay).

    Success marks it replayed; a new rejection updates its reason and leaves it to fix, so a
    record is never quarantined twice.
    """
    if record.status != QuarantinedRecord.Status.OPEN:
        raise ValidationFailed(_("This record was already %(status)s.")
                               % {"status": record.get_status_display()})
    connection = record.connection
    mapping = connection_mapping(connection)
    stream_mapping = mapping.streams.get(record.stream)
    if stream_mapping is None:
        raise ValidationFailed(_("The mapping no longer has the stream %(stream)s.")
                               % {"stream": record.stream})
    run = sync_run_start(connection, trigger=SyncRun.Trigger.REPLAY, user=user)
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING,
                                             started_at=timezone.now())
    run.refresh_from_db()
    loader = Loader(run, connection, mapping.system, stream_mapping, user=user)
    source = Record(key=record.external_id, data=dict(record.payload), position=record.position)
    counts = Counts()
    try:
        counts = apply_batch(run, connection, "", [loader], Batch(record.stream, [source]))
    except SyncError as exc:
        _finish(run, SyncRun.Status.FAILED, counts, {}, None, category=exc.category,
                message=exc.message)
        raise ValidationFailed(exc.message) from exc
    _finish(run, SyncRun.Status.SUCCEEDED, counts, {record.stream: counts.as_dict()}, None)
    # A keyed record is closed by the loader when it lands, or its row updated in place when
    # refused again; a record without a key (an unreadable row) is matched here.
    record.refresh_from_db()
    if record.status != QuarantinedRecord.Status.OPEN or record.run_id == run.pk:
        return record
    again = QuarantinedRecord.objects.filter(run=run).exclude(pk=record.pk).first()
    if again is None:
        QuarantinedRecord.objects.filter(pk=record.pk).update(
            status=QuarantinedRecord.Status.REPLAYED, resolved_at=timezone.now())
    else:
        QuarantinedRecord.objects.filter(pk=record.pk).update(
            reason=again.reason, errors=again.errors, field=again.field)
        again.delete()
    record.refresh_from_db()
    return record


PUSH_MAX_RECORDS = 1000


def push_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, timestamp + "." + body): what a plugin sends."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def push_verify(connection: Connection, *, signature: str, timestamp: str, body: bytes) -> None:
    """Refuse an unsigned, badly signed or stale request (replayed later by someone else)."""
    if connection.connector != "push" or not connection.push_secret or not connection.enabled:
        raise Forbidden(_("This connection does not accept pushes."))
    try:
        sent_at = float(timestamp)
    except ValueError:
        raise Forbidden(_("Missing or invalid X-Comptoir-Timestamp header.")) from None
    max_age = float(connection.parameters.get("max_age_seconds") or 300)
    if abs(time.time() - sent_at) > max_age:
        raise Forbidden(_("The request is too old or from the future: check the clock."))
    expected = push_signature(connection.push_secret, timestamp, body)
    if not hmac.compare_digest(expected, signature or ""):
        raise Forbidden(_("Bad signature."))


def push_receive(connection: Connection, *, key: str, body: bytes, payload: dict[str, Any]
                 ) -> tuple[int, dict[str, Any]]:
    """Apply one pushed batch through the connection's mapping, once per idempotency key.

    Returns (HTTP status, answer). A retry with the same key and body gets the first answer;
    the same key with another body is a conflict.
    """
    digest = hashlib.sha256(body).hexdigest()
    previous = PushReceipt.objects.filter(connection=connection, key=key).first()
    if previous is not None:
        if previous.body_sha256 != digest:
            raise Conflict(_("This idempotency key was used for another request."))
        return 200, {**previous.response, "replayed": True}
    stream = payload.get("stream")
    records = payload.get("records")
    errors: dict[str, list[str]] = {}
    if not isinstance(stream, str) or not stream:
        errors["stream"] = [_("This field is required.")]
    if not isinstance(records, list) or not records:
        errors["records"] = [_("Give a non-empty list of records.")]
    elif len(records) > PUSH_MAX_RECORDS:
        raise TooLarge(_("At most %(n)d records per request.") % {"n": PUSH_MAX_RECORDS})
    if errors:
        raise ValidationFailed(_("The request is not valid."), fields=errors)
    records, stream = cast(list[Any], records), cast(str, stream)
    mapping = connection_mapping(connection)
    mappings = mapping.for_stream(stream)
    if not mappings:
        raise ValidationFailed(_("The mapping has no stream %(stream)s.") % {"stream": stream},
                               fields={"stream": [_("Unknown stream.")]})
    batch = Batch(stream)
    for i, item in enumerate(records):
        if not isinstance(item, dict) or not isinstance(item.get("data", {}), dict):
            batch.records.append(Record(key="", data={"item": str(item)[:500]},
                                        position=f"record {i}",
                                        error=f"record {i}: not an object with a data object"))
            continue
        batch.records.append(Record(key=str(item.get("key", "")), data=item.get("data") or {},
                                    deleted=bool(item.get("deleted")), position=f"record {i}"))
    now = timezone.now()
    run = SyncRun.objects.create(connection=connection, trigger=SyncRun.Trigger.PUSH,
                                 status=SyncRun.Status.RUNNING, started_at=now,
                                 heartbeat_at=now)
    loaders = [Loader(run, connection, mapping.system, m) for m in mappings]
    try:
        with transaction.atomic():
            counts = apply_batch(run, connection, "", loaders, batch)
            answer = {"run_id": run.pk, **counts.as_dict(), "quarantine": [
                {"position": q.position, "external_id": q.external_id, "reason": q.reason}
                for q in QuarantinedRecord.objects.filter(run=run)]}
            PushReceipt.objects.create(connection=connection, key=key, body_sha256=digest,
                                       run=run, response=answer)
    except SyncError as exc:
        _finish(run, SyncRun.Status.FAILED, Counts(), {}, None, category=exc.category,
                message=exc.message)
        raise ValidationFailed(exc.message) from exc
    except IntegrityError:  # the same key arrived twice at once: the other one won
        _finish(run, SyncRun.Status.CANCELLED, Counts(), {}, None)
        return push_receive(connection, key=key, body=body, payload=payload)
    _finish(run, SyncRun.Status.SUCCEEDED, counts, {stream: counts.as_dict()}, None)
    return 200, answer


def schedule_due_runs(now: dt.datetime | None = None) -> list[SyncRun]:
    """Queue a run for every enabled, scheduled connection whose period has elapsed.

    Called every few seconds by the worker's scheduler; a connection with a run in progress is
    skipped (``sync_run_start`` refuses it), so several workers never double a run.
    """
    from .tasks import execute_run

    now = now or timezone.now()
    queued = []
    for connection in Connection.objects.filter(enabled=True, schedule_minutes__isnull=False):
        last = (connection.runs.filter(trigger__in=(SyncRun.Trigger.SCHEDULE,
                                                    SyncRun.Trigger.MANUAL,
                                                    SyncRun.Trigger.API))
                .order_by("-created_at").values_list("created_at", flat=True).first())
        if last is not None and now - last < dt.timedelta(minutes=connection.schedule_minutes
                                                          or 0):
            continue
        try:
            run = sync_run_start(connection, trigger=SyncRun.Trigger.SCHEDULE)
        except (Conflict, ValidationFailed):
            continue
        execute_run.enqueue(run.pk)
        queued.append(run)
    return queued
