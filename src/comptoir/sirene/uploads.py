"""SIRENE stock files uploaded from the web and loaded by the worker, with their progress.

:func:`sirene_upload_create` checks the file as far as it can at once (its name, that it is
not empty, that its header is a SIRENE one: only the header is read), stores it privately
(:func:`~comptoir.sirene.models.sirene_storage`) and queues :func:`execute_sirene_load`,
which runs the command line's loader with a progress callback writing to the
:class:`~comptoir.sirene.models.SireneLoad` row (at most every :data:`PROGRESS_EVERY`
seconds), then records the outcome and deletes the stored file (the record stays).

A load always ends as succeeded or failed with a message: an exception fails it; a worker
killed mid-load leaves it running with no sign of life, and :func:`recent_loads` fails it
once it has been silent for :data:`STALE_AFTER`.
"""

from __future__ import annotations

import csv
import logging
import time
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django_tasks import task

from comptoir.access import policy
from comptoir.core.errors import Forbidden, ValidationFailed

from . import loader
from .models import SireneLoad

log = logging.getLogger(__name__)

EXTENSIONS = (".csv", ".zip")
BATCH_SIZE = loader.BATCH  # rows written per transaction
PROGRESS_EVERY = 2.0  # seconds between two progress writes
STALE_AFTER = timedelta(minutes=15)  # a running load silent this long is dead
RECENT = 10


def can_upload(user: Any) -> bool:
    """Data managers and administrators: a load rewrites the register for everyone."""
    return policy.sees_all(user)


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"file": [message]})


def sirene_upload_create(user: Any, upload: UploadedFile) -> SireneLoad:
    """Store an uploaded stock file and queue its load; refuse it, saying why, if its name,
    size or header shows it is not one."""
    if not can_upload(user):
        raise Forbidden(_("Only data managers and administrators load SIRENE files."))
    name = Path(upload.name or "").name
    if Path(name).suffix.lower() not in EXTENSIONS:
        raise _refused(_("Upload the StockUniteLegale or StockEtablissement file as "
                         "downloaded (.zip) or its CSV (.csv)."))
    if not upload.size:
        raise _refused(_("The file is empty."))
    head = upload.read(4)
    upload.seek(0)
    if Path(name).suffix.lower() == ".zip" and head != b"PK\x03\x04":
        raise _refused(_("This file is named .zip but is not a zip archive."))
    load = SireneLoad(created_by=user, file_name=name[:255])
    load.file.save(get_valid_filename(name) or "sirene.csv", upload, save=False)
    try:
        load.kind, load.bytes_total = read_header(Path(load.file.path))
    except BaseException:
        load.file.delete(save=False)
        raise
    load.save()
    transaction.on_commit(lambda: execute_sirene_load.enqueue(load.pk))
    return load


def read_header(path: Path) -> tuple[str, int]:
    """(kind, size of the CSV in bytes) from the header row alone; a
    :class:`ValidationFailed` on the file field saying what is wrong otherwise."""
    try:
        with loader.open_measured(path) as (text, size, _position):
            header = next(csv.reader(text), None)
    except loader.SireneFileError as exc:
        raise _refused(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise _refused(_("This file is not UTF-8 text: download the “_utf8” stock file.")
                       ) from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise _refused(_("This zip archive cannot be read (%(error)s): download it again.")
                       % {"error": type(exc).__name__}) from exc
    except csv.Error as exc:
        raise _refused(_("The first row of this file is not a CSV header.")) from exc
    if not header or not any(h.strip() for h in header):
        raise _refused(_("The file has no header row."))
    try:
        kind = loader.kind_of([h.strip() for h in header])
    except loader.SireneFileError as exc:
        raise _refused(str(exc)) from exc
    return kind, size


# --- The load, in the worker ----------------------------------------------------------------

@task()
def execute_sirene_load(load_id: int) -> str:
    """Load an uploaded file (queued by :func:`sirene_upload_create`); returns its status."""
    load = SireneLoad.objects.select_related("created_by").filter(pk=load_id).first()
    if load is None:
        return "missing"
    language = getattr(load.created_by, "language", None) or settings.LANGUAGE_CODE
    with translation.override(language):
        return _execute(load)


def _execute(load: SireneLoad) -> str:
    now = timezone.now()
    started = SireneLoad.objects.filter(pk=load.pk, status=SireneLoad.Status.PENDING).update(
        status=SireneLoad.Status.RUNNING, started_at=now, progress_at=now)
    if not started:  # queued twice, or already failed as stale: never loaded twice at once
        return SireneLoad.objects.values_list("status", flat=True).get(pk=load.pk)
    last = {"at": time.monotonic()}

    def progress(result: loader.LoadResult) -> None:
        if time.monotonic() - last["at"] < PROGRESS_EVERY:
            return
        last["at"] = time.monotonic()
        SireneLoad.objects.filter(pk=load.pk).update(
            rows=result.rows, bad_rows=result.bad_rows, bytes_done=result.bytes_done,
            bytes_total=result.bytes_total, seconds=result.seconds,
            progress_at=timezone.now())

    fields: dict[str, Any] = {"status": SireneLoad.Status.FAILED}
    try:
        if not load.file:
            raise loader.SireneFileError(_("The uploaded file is no longer there."))
        result = loader.load_file(Path(load.file.path), batch_size=BATCH_SIZE,
                                  progress=progress, record=False)
        fields = {"status": SireneLoad.Status.SUCCEEDED, "kind": result.kind,
                  "rows": result.rows, "bad_rows": result.bad_rows,
                  "bytes_done": result.bytes_done, "bytes_total": result.bytes_total,
                  "seconds": result.seconds, "bad_examples": result.bad_examples,
                  "message": ""}
    except loader.SireneFileError as exc:
        fields["message"] = str(exc)
    except Exception as exc:  # a bug, a full disk, a database gone: the load says so
        log.exception("SIRENE load %s crashed", load.pk)
        fields["message"] = _stopped(f"{type(exc).__name__}: {exc}")
    except BaseException:  # the worker is being stopped: say so, then let it stop
        fields["message"] = _stopped(_("the worker was stopped"))
        raise
    finally:
        _finish(load, fields)
    return str(fields["status"])


def _stopped(reason: str) -> str:
    return _("The load stopped before the end (%(reason)s). What was loaded is kept: load "
             "the file again to complete it.") % {"reason": reason[:500]}


def _finish(load: SireneLoad, fields: dict[str, Any]) -> None:
    """Record the outcome and delete the stored file (the record stays)."""
    try:
        if load.file:
            load.file.delete(save=False)
    except OSError:
        log.warning("SIRENE load %s: stored file not deleted", load.pk, exc_info=True)
    fields.update(file="", finished_at=timezone.now(), progress_at=timezone.now())
    SireneLoad.objects.filter(pk=load.pk).update(**fields)


# --- Reads for the page ---------------------------------------------------------------------

def recent_loads(limit: int = RECENT) -> list[SireneLoad]:
    """The latest loads, newest first, failing first those a dead worker left running."""
    fail_stale()
    return list(SireneLoad.objects.select_related("created_by")
                .order_by("-created_at", "-pk")[:limit])


def last_loaded() -> dict[str, SireneLoad | None]:
    """Per kind, the last load that succeeded: how fresh the copy is."""
    return {kind: SireneLoad.objects.filter(kind=kind, status=SireneLoad.Status.SUCCEEDED)
            .order_by("-finished_at", "-pk").first() for kind in SireneLoad.Kind.values}


def fail_stale(now: Any = None) -> int:
    """Fail the running loads that gave no sign of life for :data:`STALE_AFTER` (their
    worker died); returns how many."""
    limit = (now or timezone.now()) - STALE_AFTER
    count = 0
    for load in SireneLoad.objects.filter(status=SireneLoad.Status.RUNNING,
                                          progress_at__lt=limit):
        count += SireneLoad.objects.filter(pk=load.pk, status=SireneLoad.Status.RUNNING,
                                           progress_at__lt=limit).update(
            status=SireneLoad.Status.FAILED, finished_at=timezone.now(),
            message=_stopped(_("no sign of life from the worker for %(minutes)d minutes")
                             % {"minutes": STALE_AFTER.seconds // 60}))
        if load.file:
            load.file.delete(save=False)
            SireneLoad.objects.filter(pk=load.pk).update(file="")
    return count
