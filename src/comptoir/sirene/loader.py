"""Stream the INSEE ``StockUniteLegale`` / ``StockEtablissement`` files into the local copy.

The real files hold tens of millions of rows and ~50 columns: each is read once with the csv
module (straight out of the official zip, never extracted), columns found by their official
header names, and written in batches with one set-based upsert each, so memory stays flat and a
reload of the same file rewrites the same values. Each batch commits on its own: an
interrupted load keeps what it wrote and the next one completes it.

Establishments carry their unit's normalised name. Whichever file comes second fills it: an
establishment batch reads the names of the units already there; a unit batch updates the
establishments already there with one correlated ``UPDATE``.
"""

from __future__ import annotations

import csv
import io
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.quality.identifiers import company_name_key

from .models import SireneEstablishment, SireneLoad, SireneUnit

BATCH = 5_000
MAX_BAD_EXAMPLES = 20

# Official column → model field (text columns copied as they are, truncated to the field).
UNIT_COLUMNS = {
    "denominationUniteLegale": "denomination",
    "sigleUniteLegale": "sigle",
    "denominationUsuelle1UniteLegale": "usual_name_1",
    "denominationUsuelle2UniteLegale": "usual_name_2",
    "denominationUsuelle3UniteLegale": "usual_name_3",
    "nomUniteLegale": "last_name",
    "nomUsageUniteLegale": "usage_name",
    "prenom1UniteLegale": "first_name",
    "categorieJuridiqueUniteLegale": "legal_category",
    "activitePrincipaleUniteLegale": "naf",
    "trancheEffectifsUniteLegale": "headcount_band",
    "etatAdministratifUniteLegale": "state",
    "nicSiegeUniteLegale": "head_office_nic",
}
ESTABLISHMENT_COLUMNS = {
    "numeroVoieEtablissement": "street_number",
    "indiceRepetitionEtablissement": "repetition",
    "typeVoieEtablissement": "street_type",
    "libelleVoieEtablissement": "street_name",
    "complementAdresseEtablissement": "address_complement",
    "codePostalEtablissement": "postcode",
    "libelleCommuneEtablissement": "city",
    "activitePrincipaleEtablissement": "naf",
    "trancheEffectifsEtablissement": "headcount_band",
    "etatAdministratifEtablissement": "state",
    "enseigne1Etablissement": "sign",
    "denominationUsuelleEtablissement": "usual_name",
}
# Columns a file must have to be recognised (and loaded) as one kind or the other.
UNIT_REQUIRED = ("siren", "etatAdministratifUniteLegale", "denominationUniteLegale")
ESTABLISHMENT_REQUIRED = ("siren", "nic", "siret", "etatAdministratifEtablissement")

UNIT_UPDATE = [*UNIT_COLUMNS.values(), "created_on", "name_key"]
ESTABLISHMENT_UPDATE = [*ESTABLISHMENT_COLUMNS.values(), "siren", "head_office", "name_key"]


class SireneFileError(ValueError):
    """The file cannot be loaded at all (unknown header, empty, not a CSV in the zip)."""


@dataclass
class LoadResult:
    file_name: str
    kind: str
    rows: int = 0
    bad_rows: int = 0
    seconds: float = 0.0
    bad_examples: list[str] = field(default_factory=list)
    # bytes of the CSV read so far and its size (uncompressed, for a zip): the progress
    bytes_done: int = 0
    bytes_total: int = 0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def bad(self, line: int, reason: str) -> None:
        self.bad_rows += 1
        if len(self.bad_examples) < MAX_BAD_EXAMPLES:
            self.bad_examples.append(f"line {line}: {reason}")

    def summary(self) -> str:
        return (f"{self.file_name}: {self.rows:,} {self.kind} rows, {self.bad_rows:,} bad, in "
                f"{self.seconds:.1f} s ({self.rows_per_second:,.0f} rows/s)")


@contextmanager
def open_text(path: Path) -> Iterator[IO[str]]:
    """The CSV as a text stream: the file itself, or the CSV inside the official zip (read
    from the archive, never extracted). A UTF-8 BOM is skipped."""
    with open_measured(path) as (text, _size, _position):
        yield text


@contextmanager
def open_measured(path: Path) -> Iterator[tuple[IO[str], int, Callable[[], int]]]:
    """As :func:`open_text`, with the CSV's size in bytes (uncompressed: the zip states it)
    and a function telling how many of them were read, for a progress measure."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if i.filename.lower().endswith(".csv")]
            if not members:
                raise SireneFileError(_("%(file)s holds no CSV file.") % {"file": path.name})
            with archive.open(members[0]) as raw, \
                    io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
                yield text, members[0].file_size, raw.tell
    else:
        with open(path, "rb") as raw, \
                io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
            yield text, os.fstat(raw.fileno()).st_size, raw.tell


def kind_of(header: list[str]) -> str:
    """``units`` or ``establishments``, from the official column names of the header."""
    columns = set(header)
    if all(c in columns for c in ESTABLISHMENT_REQUIRED):
        return SireneLoad.Kind.ESTABLISHMENTS
    if all(c in columns for c in UNIT_REQUIRED):
        return SireneLoad.Kind.UNITS
    raise SireneFileError(_("Not a SIRENE stock file: the header has neither the legal-unit "
                            "columns (%(units)s) nor the establishment ones (%(etabs)s).")
                          % {"units": ", ".join(UNIT_REQUIRED),
                             "etabs": ", ".join(ESTABLISHMENT_REQUIRED)})


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _columns(header: list[str], mapping: dict[str, str], model: Any
             ) -> list[tuple[int | None, int]]:
    """(position or ``None`` when the file lacks it, max length) of each mapped column, in
    the mapping's order."""
    positions = {name: n for n, name in enumerate(header)}
    return [(positions.get(col), model._meta.get_field(name).max_length)
            for col, name in mapping.items()]


Progress = Callable[[LoadResult], None]


def load_file(path: Path | str, *, batch_size: int = BATCH,
              progress: Progress | None = None, record: bool = True) -> LoadResult:
    """Load one stock file (CSV or zip), recognised by its header; return the counts.

    Bad rows (wrong SIREN or SIRET shape, wrong column count, unknown state) are counted and
    skipped, never fatal. ``progress`` is called after each batch. ``record=False`` writes
    no :class:`SireneLoad` (an upload from the web keeps its own).
    """
    path = Path(path)
    started = time.monotonic()
    with open_measured(path) as (text, size, position):
        reader = csv.reader(text)
        header = next(reader, None)
        if not header:
            raise SireneFileError(_("%(file)s is empty.") % {"file": path.name})
        header = [h.strip() for h in header]
        kind = kind_of(header)
        result = LoadResult(file_name=path.name, kind=kind, bytes_total=size)
        parse = _unit_parser(header) if kind == SireneLoad.Kind.UNITS \
            else _establishment_parser(header)
        write = _write_units if kind == SireneLoad.Kind.UNITS else _write_establishments
        width = len(header)
        batch: dict[str, list[Any]] = {}
        for line, row in enumerate(reader, start=2):
            if len(row) != width:
                result.bad(line, _("%(got)d columns instead of %(expected)d")
                           % {"got": len(row), "expected": width})
                continue
            try:
                values = parse(row)
            except ValueError as exc:
                result.bad(line, str(exc))
                continue
            batch[values[0]] = values  # a number twice in a batch: the last row wins
            result.rows += 1
            if len(batch) >= batch_size:
                write(list(batch.values()))
                batch = {}
                result.seconds = time.monotonic() - started
                if progress:
                    result.bytes_done = position()
                    progress(result)
        if batch:
            write(list(batch.values()))
    result.seconds = time.monotonic() - started
    result.bytes_done = result.bytes_total
    if progress:
        progress(result)
    if record:
        SireneLoad.objects.create(kind=kind, file_name=path.name[:255], rows=result.rows,
                                  bad_rows=result.bad_rows, seconds=result.seconds,
                                  status=SireneLoad.Status.SUCCEEDED, finished_at=timezone.now(),
                                  bad_examples=result.bad_examples)
    return result


# --- Row parsing ----------------------------------------------------------------------------

def _digits(value: str, length: int, what: str) -> str:
    value = value.strip()
    if len(value) != length or not value.isdigit():
        raise ValueError(_("%(what)s %(value)r is not %(length)d digits")
                         % {"what": what, "value": value[:20], "length": length})
    return value


def _state(value: str) -> str:
    if value not in ("A", "C", ""):
        raise ValueError(_("unknown administrative state %(value)r") % {"value": value[:5]})
    return value


# Rows travel as lists in these field orders (primary key first): no model instance per row.
UNIT_FIELDS = ["siren", *UNIT_COLUMNS.values(), "created_on", "name_key"]
ESTABLISHMENT_FIELDS = ["siret", "siren", "head_office", *ESTABLISHMENT_COLUMNS.values(),
                        "name_key"]
_UNIT_STATE = 1 + list(UNIT_COLUMNS).index("etatAdministratifUniteLegale")
_ETAB_STATE = 3 + list(ESTABLISHMENT_COLUMNS).index("etatAdministratifEtablissement")


def _unit_parser(header: list[str]) -> Callable[[list[str]], list[Any]]:
    siren_at = header.index("siren")
    created_at = header.index("dateCreationUniteLegale") \
        if "dateCreationUniteLegale" in header else None
    columns = _columns(header, UNIT_COLUMNS, SireneUnit)
    names = {f: n for n, f in enumerate(UNIT_FIELDS)}
    denomination, first, usage, last, usual = (
        names[f] for f in ("denomination", "first_name", "usage_name", "last_name",
                           "usual_name_1"))

    def parse(row: list[str]) -> list[Any]:
        values: list[Any] = [_digits(row[siren_at], 9, "SIREN")]
        values += [row[n][:size] if n is not None else "" for n, size in columns]
        _state(values[_UNIT_STATE])
        values.append(_date(row[created_at]) if created_at is not None else None)
        # as SireneUnit.display_name: the company name, else the person's
        name = values[denomination] or " ".join(
            p for p in (values[first], values[usage] or values[last]) if p) or values[usual]
        values.append(company_name_key(name)[:200])
        return values

    return parse


def _establishment_parser(header: list[str]) -> Callable[[list[str]], list[Any]]:
    siren_at, nic_at, siret_at = (header.index(c) for c in ("siren", "nic", "siret"))
    head_at = header.index("etablissementSiege") if "etablissementSiege" in header else None
    columns = _columns(header, ESTABLISHMENT_COLUMNS, SireneEstablishment)

    def parse(row: list[str]) -> list[Any]:
        siren = _digits(row[siren_at], 9, "SIREN")
        siret = _digits(row[siret_at], 14, "SIRET")
        nic = row[nic_at].strip()
        if siret != siren + nic:
            raise ValueError(_("SIRET %(siret)s is not SIREN %(siren)s + NIC %(nic)s")
                             % {"siret": siret, "siren": siren, "nic": nic[:10]})
        head = head_at is not None and row[head_at].strip().lower() in ("true", "1", "o", "oui")
        values: list[Any] = [siret, siren, head]
        values += [row[n][:size] if n is not None else "" for n, size in columns]
        _state(values[_ETAB_STATE])
        values.append("")  # name_key, from the unit when written
        return values

    return parse


# --- Set-based writes -----------------------------------------------------------------------
#
# Django's ``bulk_create(update_conflicts=True)`` spends most of a load compiling SQL value
# by value (profiled: 9 of 11 s for 50,000 establishments on SQLite, 62 rows per statement).
# The upsert is therefore written here, ``INSERT … ON CONFLICT (pk) DO UPDATE SET col =
# excluded.col`` (SQLite ≥ 3.24, PostgreSQL ≥ 9.5). SQLite runs one prepared statement over
# the batch (``executemany``, in-process); PostgreSQL receives the batch as one array per
# column and ``unnest``s it: one statement and a handful of parameters per batch (a multi-row
# ``VALUES`` spends its time in psycopg's placeholder parsing instead). Other backends keep
# ``bulk_create``.

def _pg_array_type(field: Any) -> str:
    kind = field.get_internal_type()
    return {"BooleanField": "boolean[]", "DateField": "date[]"}.get(kind, "text[]")


def _upsert(model: Any, fields: list[str], rows: list[list[Any]]) -> None:
    if connection.vendor not in ("sqlite", "postgresql"):
        model.objects.bulk_create([model(**dict(zip(fields, r, strict=True))) for r in rows],
                                  update_conflicts=True, unique_fields=[fields[0]],
                                  update_fields=fields[1:])
        return
    qn = connection.ops.quote_name
    model_fields = [model._meta.get_field(f) for f in fields]
    columns = [f.column for f in model_fields]
    head = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(map(qn, columns))}) "
    tail = (f" ON CONFLICT ({qn(columns[0])}) DO UPDATE SET "
            + ", ".join(f"{qn(c)} = excluded.{qn(c)}" for c in columns[1:]))
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.executemany(f"{head}VALUES ({', '.join(['%s'] * len(columns))}){tail}", rows)
            return
        arrays = ", ".join(f"%s::{_pg_array_type(f)}" for f in model_fields)
        cursor.execute(f"{head}SELECT * FROM unnest({arrays}){tail}",
                       [list(column) for column in zip(*rows, strict=True)])


def _fill_names(pairs: list[tuple[str, str]]) -> None:
    """Set the unit's name on its establishments already loaded ((siren, name key) pairs);
    only rows whose name differs are written, so a reload writes nothing."""
    table = connection.ops.quote_name(SireneEstablishment._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(f"UPDATE {table} SET name_key = %s WHERE siren = %s "
                               f"AND name_key <> %s", [(k, s, k) for s, k in pairs])
            return
        cursor.execute(f"UPDATE {table} AS e SET name_key = v.name_key "
                       f"FROM unnest(%s::text[], %s::text[]) AS v (siren, name_key) "
                       f"WHERE e.siren = v.siren AND e.name_key <> v.name_key",
                       [[s for s, _k in pairs], [k for _s, k in pairs]])


@transaction.atomic
def _write_units(units: list[list[Any]]) -> None:
    _upsert(SireneUnit, UNIT_FIELDS, units)
    # establishments loaded before their unit get its name now
    _fill_names([(u[0], u[-1]) for u in units])


@transaction.atomic
def _write_establishments(establishments: list[list[Any]]) -> None:
    sirens = {e[1] for e in establishments}
    names = dict(SireneUnit.objects.filter(siren__in=sirens).values_list("siren", "name_key"))
    for etab in establishments:
        etab[-1] = names.get(etab[1], "")
    _upsert(SireneEstablishment, ESTABLISHMENT_FIELDS, establishments)


def print_progress(write: Callable[[str], object] = print, every: int = 100_000) -> Progress:
    """A progress callback writing one line (without its newline) each ``every`` rows."""
    state = {"next": every}

    def report(result: LoadResult) -> None:
        if result.rows >= state["next"]:
            write(f"  {result.file_name}: {result.rows:,} rows "
                  f"({result.rows_per_second:,.0f} rows/s)")
            state["next"] = (result.rows // every + 1) * every

    return report
