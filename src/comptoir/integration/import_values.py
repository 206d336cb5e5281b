"""What an imported file's values become in the CRM's picklists, and who owns each row.

A spreadsheet's "Civilité" says "Monsieur", "Mlle" or "Dr"; a Pipedrive stage is "Proposal
Made"; an owner column holds "Jeanne Martin" or "j.martin@acme.fr". The wizard counts each
column's distinct values while it reads the file once at upload (:class:`DistinctValues`,
kept on the job), so for whatever column is mapped to a picklist it can show at once the
values the CRM does not know, with a proposed choice. The person's decisions are stored on the
job (``options["values"]``: column → {value in the file: value written, or "" to refuse the
row, or :data:`EMPTY` to leave the field empty}) and written into the import's mapping as the
field's ``map``: the loader, not this module, applies them.

Owner by column: the pseudo-field :data:`OWNER` reads a user's full name, e-mail or username,
for those who may assign records to others (data managers and administrators).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _

from .import_models import ImportJob
from .loader import SPECS

DISTINCT_CAP = 60  # more distinct values than this: not a picklist column
EMPTY = "__empty__"  # a decision: leave the field empty for rows with that value
OWNER = "owner_by_name"  # the pseudo-field of an owner column
SUGGEST_SCORE = 82  # rapidfuzz WRatio from which a close spelling is proposed
# How other files write a civility: the same ones (known), or a close one (proposed only:
# "Mademoiselle" is no longer used in France, "Mme" is what it becomes, if the person agrees).
CIVILITY_SAME = {"monsieur": "M.", "mr": "M.", "mr.": "M.", "mister": "M.", "m": "M.",
                 "madame": "Mme", "mrs": "Mme", "mrs.": "Mme", "ms": "Mme", "ms.": "Mme"}
CIVILITY_CLOSE = {"mlle": "Mme", "melle": "Mme", "mademoiselle": "Mme", "miss": "Mme",
                  "mmes": "Mme", "mm.": "M.", "messieurs": "M."}


class DistinctValues:
    """Counts each column's distinct values while a file is read, giving up on a column as
    soon as it has more than :data:`DISTINCT_CAP` (a name, an e-mail: not a list)."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.counts: dict[str, Counter[str] | None] = {c: Counter() for c in columns}

    def add(self, data: dict[str, Any]) -> None:
        for column in self.columns:
            counter = self.counts[column]
            if counter is None:
                continue
            value = data.get(column)
            text = "" if value is None else _text(value)
            if not text:
                continue
            counter[text] += 1
            if len(counter) > DISTINCT_CAP:
                self.counts[column] = None

    def as_json(self) -> dict[str, list[list[Any]] | None]:
        """column → [[value, rows], …] most frequent first, or None past the cap."""
        return {c: (None if n is None else [[v, k] for v, k in n.most_common()])
                for c, n in self.counts.items()}


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass
class Picklist:
    """The values a field accepts: what is written, what a person reads, what is known."""

    name: str
    label: str
    choices: list[tuple[str, str]]  # (value written, label shown)
    known: dict[str, Any] = field(default_factory=dict)  # casefolded spelling → written
    may_be_empty: bool = True

    def find(self, value: str) -> Any:
        return self.known.get(value.strip().casefold())


def _choice_field(model: type[models.Model], name: str) -> models.Field[Any, Any] | None:
    try:
        found = model._meta.get_field(name)
    except Exception:  # a bulk input that is no model field (stage, pipeline…)
        return None
    if not isinstance(found, models.Field) or isinstance(found, models.BooleanField):
        return None
    return found if found.choices else None


def choice_spellings(f: models.Field[Any, Any]) -> dict[str, str]:
    """A choice field's codes and labels in every language of the site → its code."""
    table: dict[str, str] = {}
    for value, _label in f.flatchoices:
        table.setdefault(str(value).strip().casefold(), str(value))
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for value, label in f.flatchoices:
                table.setdefault(str(label).strip().casefold(), str(value))
    return {k: v for k, v in table.items() if k}


def _named(field_name: str, label: str, names: list[str]) -> Picklist:
    unique = list(dict.fromkeys(n for n in names if n))
    return Picklist(field_name, label, [(n, n) for n in unique],
                    {n.strip().casefold(): n for n in unique})


def _owners() -> Picklist:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True).order_by("first_name",
                                                                    "last_name", "username")
    choices: list[tuple[str, str]] = []
    known: dict[str, Any] = {}
    for user in users:
        full = user.get_full_name().strip()
        choices.append((str(user.pk), full or user.username))
        for spelling in (user.username, user.email, full,
                         f"{user.last_name} {user.first_name}".strip()):
            if spelling:
                known.setdefault(spelling.strip().casefold(), user.pk)
    return Picklist(OWNER, _("Owner"), choices, known, may_be_empty=False)


def picklist_for(object_type: str, name: str) -> Picklist | None:
    """The list of values the field ``name`` of ``object_type`` accepts, if it has one."""
    spec = SPECS.get(object_type)
    if spec is None:
        return None
    model = spec.model
    if name == OWNER:
        return _owners() if "owner_id" in spec.fields else None
    if object_type == "opportunity" and name in ("stage", "pipeline", "lost_reason"):
        from comptoir.crm.models import Pipeline, Stage
        from comptoir.crm.services import lost_reason_choices

        if name == "stage":
            names = list(Stage.objects.order_by("pipeline__is_default", "pipeline_id", "order")
                         .values_list("name", flat=True))
            return _named(name, _("Stage"), names)
        if name == "pipeline":
            return _named(name, _("Pipeline"),
                          list(Pipeline.objects.values_list("name", flat=True)))
        reasons = lost_reason_choices()
        return _named(name, _("Lost reason"), reasons) if reasons else None
    f = _choice_field(model, name)
    if f is None:
        return None
    with_labels = [(str(value), str(label)) for value, label in f.flatchoices]
    known = choice_spellings(f)
    if name == "civility":
        codes = {value for value, _label in with_labels}
        known.update({k: v for k, v in CIVILITY_SAME.items() if v in codes and k not in known})
    return Picklist(name, str(f.verbose_name), with_labels, known,
                    may_be_empty=bool(f.blank))


def distinct(job: ImportJob) -> dict[str, list[list[Any]] | None]:
    """The file's distinct values per column (counted at upload; counted now for an import
    uploaded before the wizard kept them)."""
    found = job.info.get("distinct")
    if found is None:
        from .engine.files import read_file

        counter = DistinctValues(list(job.columns))
        for record in read_file(job.file.path):
            if record.error is None:
                counter.add(record.data)
        found = counter.as_json()
        job.info = {**job.info, "distinct": found}
        job.save(update_fields=["info"])
    return found


def _suggest(value: str, picklist: Picklist) -> str:
    """A close spelling of a known value ("Madam" → Mrs), else nothing."""
    from rapidfuzz import fuzz, process

    if picklist.name == "civility" and value.casefold() in CIVILITY_CLOSE:
        return CIVILITY_CLOSE[value.casefold()]
    found = process.extractOne(value.casefold(), list(picklist.known), scorer=fuzz.WRatio,
                               score_cutoff=SUGGEST_SCORE)
    return str(picklist.known[found[0]]) if found else ""


def unknown_values(job: ImportJob, mapping: dict[str, str] | None = None
                   ) -> list[dict[str, Any]]:
    """Per mapped picklist column, the file's values the CRM does not know, each with the
    decision taken (or proposed): what the page shows under the mapping."""
    mapping = job.mapping if mapping is None else mapping
    decisions: dict[str, dict[str, str]] = job.options.get("values") or {}
    values = distinct(job)
    out = []
    for index, column in enumerate(job.columns):
        name = mapping.get(column) or ""
        picklist = picklist_for(job.object_type, name) if name else None
        if picklist is None:
            continue
        counted = values.get(column)
        if counted is None:  # too many distinct values to list: the field's check says
            out.append({"index": index, "column": column, "picklist": picklist,
                        "too_many": True, "values": []})
            continue
        unknown = [(v, n) for v, n in counted if picklist.find(v) is None]
        if not unknown:
            continue
        kept = decisions.get(column, {})
        out.append({"index": index, "column": column, "picklist": picklist,
                    "too_many": False, "values": [
                        {"value": v, "rows": n,
                         "choice": kept[v] if v in kept else _suggest(v, picklist)}
                        for v, n in unknown]})
    return out


def clean_decisions(job: ImportJob, mapping: dict[str, str],
                    chosen: dict[str, dict[str, str]]) -> tuple[dict[str, dict[str, str]],
                                                                dict[str, list[str]]]:
    """Check the person's decisions against each column's list: (decisions kept, errors by
    column). A decision for a column no longer mapped to a list is dropped."""
    kept: dict[str, dict[str, str]] = {}
    errors: dict[str, list[str]] = {}
    for column, values in chosen.items():
        name = mapping.get(column) or ""
        picklist = picklist_for(job.object_type, name) if name else None
        if picklist is None:
            continue
        allowed = {value for value, _label in picklist.choices}
        if picklist.may_be_empty:
            allowed.add(EMPTY)
        for value, decision in values.items():
            if decision and decision not in allowed:
                errors.setdefault(column, []).append(
                    _("“%(value)s” cannot become “%(choice)s”: choose one of the list.")
                    % {"value": value, "choice": decision})
            elif decision:
                kept.setdefault(column, {})[value] = decision
    return kept, errors


def value_map(job: ImportJob, column: str, name: str) -> dict[str, Any]:
    """The spellings the mapping translates for this column: the known ones, then the
    person's decisions ("" for a value to leave empty); refused values stay out."""
    picklist = picklist_for(job.object_type, name)
    if picklist is None:
        return {}
    table: dict[str, Any] = dict(picklist.known)
    for value, decision in ((job.options.get("values") or {}).get(column) or {}).items():
        written: Any = "" if decision == EMPTY else decision
        if name == OWNER and decision != EMPTY:
            written = int(decision)
        table[value.strip().casefold()] = written
    return {k: v for k, v in table.items() if k}
