"""Correcting a quarantined record in Comptoir, and who may see and replay which.

The sync page's Replay button applies a record again as received, which only helps once the
source is fixed. Here the person corrects the record's own fields (the source's columns) and
replays it at once: a refused import row is fixed without going back to the file. The record
as first received is kept (``original_payload``) with who corrected it, so a correction can be
told from what the source sent.

Who: data managers and administrators see and correct every quarantined record, as on the
sync page; anyone else only the refused rows of their own imports (an import runs as a one-off
connection, ``ImportJob.connection``), as ``imports.imports_visible`` decides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.access import policy
from comptoir.core.errors import Conflict, NotFound, ValidationFailed

from . import imports
from .engine.mapping import StreamMapping
from .import_keys import HIDDEN, REFUSED_COLUMN
from .import_models import ImportJob
from .loader import SPECS
from .models import QuarantinedRecord
from .services import connection_mapping, quarantine_replay

# A value longer than this is no field of a record: a paste gone wrong.
MAX_VALUE_CHARS = 10_000
TRUE = frozenset({"true", "1", "yes", "oui", "vrai"})
FALSE = frozenset({"false", "0", "no", "non", "faux", ""})


def quarantine_visible(user: Any) -> QuerySet[QuarantinedRecord]:
    """The quarantined records ``user`` may see and correct: all of them for data managers and
    administrators; the refused rows of the imports they may see for anyone else; none for
    an anonymous visitor."""
    qs = QuarantinedRecord.objects.select_related("connection", "run")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if policy.sees_all(user):
        return qs
    connections = (imports.imports_visible(user).filter(created_by=user)
                   .exclude(connection__isnull=True).values("connection_id"))
    return qs.filter(connection_id__in=connections)


def import_of(record: QuarantinedRecord) -> ImportJob | None:
    """The import whose refused row this is (None for a sync's record)."""
    return ImportJob.objects.filter(connection_id=record.connection_id).first()


def stream_mapping(record: QuarantinedRecord) -> StreamMapping | None:
    """The mapping of the record's stream, or None when it no longer parses or lacks it
    (the replay says why)."""
    try:
        return connection_mapping(record.connection).streams.get(record.stream)
    except Exception:  # a broken mapping shows on the connection and in the replay
        return None


def text(value: Any) -> str:
    """A payload value as the form shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def editable(value: Any) -> bool:
    """A value that is text, a number, a yes/no or nothing: a list (a document's lines) or a
    nested record is corrected at the source."""
    return not isinstance(value, Mapping | list | tuple)


def correctable_fields(record: QuarantinedRecord, mapping: StreamMapping | None = None
                       ) -> list[str]:
    """The fields of the record one may correct, in the record's order: those it has, then
    the source columns its mapping reads that it lacks; never the import's hidden columns."""
    payload = record.payload if isinstance(record.payload, dict) else {}
    names = [k for k in payload if k not in HIDDEN]
    mapping = mapping if mapping is not None else stream_mapping(record)
    if mapping is not None:
        names += sorted(k for k in mapping.source_fields if k not in payload and k not in HIDDEN)
    return names


def source_columns(mapping: StreamMapping | None, field: str, names: list[str]) -> list[str]:
    """The record's fields that feed CRM field ``field`` (a field of the record itself
    is its own source)."""
    if field in names:
        return [field]
    if mapping is None:
        return []
    spec = mapping.fields.get(field)
    return [s for s in (spec.sources if spec is not None else ()) if s in names]


def target_max_length(mapping: StreamMapping | None, column: str) -> int | None:
    """The smallest length limit of the text fields a column fills (None: no limit known)."""
    if mapping is None or mapping.target not in SPECS:
        return None
    model = SPECS[mapping.target].model
    limits = []
    for name, spec in mapping.fields.items():
        if column not in spec.sources or spec.map:
            continue
        try:
            found = model._meta.get_field(name)
        except Exception:  # a bulk field that is no model field
            continue
        if isinstance(found, models.CharField) and found.max_length:
            limits.append(found.max_length)
    return min(limits) if limits else None


def _typed(new: str, old: Any) -> Any:
    """The corrected value, of the type the source sent when it reads as one (a number stays
    a number), else the text."""
    if text(old) == new:
        return old
    stripped = new.strip()
    if isinstance(old, bool):
        if stripped.casefold() in TRUE:
            return True
        if stripped.casefold() in FALSE:
            return False
        return new
    if isinstance(old, int):
        try:
            return int(stripped)
        except ValueError:
            return new
    if isinstance(old, float):
        try:
            value = float(stripped.replace(",", ".").replace(" ", ""))
        except ValueError:
            return new
        return value if math.isfinite(value) else new
    return new


def _refusal(record: QuarantinedRecord) -> str:
    """Why this record cannot be corrected nor replayed now ("" when it can)."""
    if record.status != QuarantinedRecord.Status.OPEN:
        return _("This record was already %(status)s.") % {
            "status": str(record.get_status_display()).lower()}
    job = import_of(record)
    if job is not None and job.undo_status in ("pending", "running", "done"):
        return _("This import was undone: its refused rows can no longer be replayed.")
    payload = record.payload if isinstance(record.payload, dict) else {}
    if payload.get(REFUSED_COLUMN):  # the mapping's ``where`` would leave it out unsaid
        return _("The account or contact this row names could not be found: correct it in "
                 "the file and import it again.")
    return ""


def _check(record: QuarantinedRecord, user: Any) -> QuarantinedRecord:
    """The record as stored now, if ``user`` may act on it and it is still to fix."""
    current = quarantine_visible(user).filter(pk=record.pk).first()
    if current is None:
        raise NotFound(_("No such quarantined record."))
    refusal = _refusal(current)
    if refusal:
        raise Conflict(refusal)
    return current


def quarantine_correct(record: QuarantinedRecord, *, user: Any, values: dict[str, str]
                       ) -> QuarantinedRecord:
    """Replace some fields of a quarantined record and replay it at once.

    ``values`` maps fields of the record (or source columns its mapping reads) to their
    corrected text; every problem is reported at once, by field. The record as first received
    is kept, with who corrected it. Returns the record: replayed, or still to fix with its new
    reason.
    """
    record = _check(record, user)
    payload = dict(record.payload) if isinstance(record.payload, dict) else {}
    mapping = stream_mapping(record)
    allowed = set(correctable_fields(record, mapping))
    errors: dict[str, list[str]] = {}
    changed = dict(payload)
    for name, value in values.items():
        if name not in allowed:
            errors[name] = [_("This record has no such field.")]
        elif not isinstance(value, str):
            errors[name] = [_("Enter text.")]
        elif not editable(payload.get(name)):
            errors[name] = [_("This value is a list or a record: correct it at the source.")]
        elif len(value) > MAX_VALUE_CHARS:
            errors[name] = [_("At most %(n)s characters.") % {"n": MAX_VALUE_CHARS}]
        elif (limit := target_max_length(mapping, name)) and len(value.strip()) > limit:
            errors[name] = [_("At most %(n)s characters.") % {"n": limit}]
        elif name in payload or value:
            changed[name] = _typed(value, payload.get(name))
    if errors:
        raise ValidationFailed(_("The correction is not valid."), fields=errors)
    if changed != payload:
        updates: dict[str, Any] = {"payload": changed, "corrected_at": timezone.now(),
                                   "corrected_by": user}
        if record.original_payload is None:
            updates["original_payload"] = payload
        done = QuarantinedRecord.objects.filter(
            pk=record.pk, status=QuarantinedRecord.Status.OPEN).update(**updates)
        if not done:  # replayed or discarded meanwhile
            raise Conflict(_("This record changed meanwhile; reload the page."))
        record.refresh_from_db()
    return quarantine_replay(record, user=user)


def quarantine_retry(record: QuarantinedRecord, *, user: Any) -> QuarantinedRecord:
    """Replay a record as it is, for anyone who may see it (a rep, their import's rows)."""
    return quarantine_replay(_check(record, user), user=user)


def quarantine_refusal(record: QuarantinedRecord) -> str:
    """Why the page offers no correction of this record ("" when it does)."""
    return _refusal(record)


def line_of(record: QuarantinedRecord) -> int:
    """The file line a refused import row came from (0 when unknown)."""
    last = str(record.position or "").rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0
