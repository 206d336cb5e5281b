"""Loading the INSEE stock files: recognised by header, CSV or zip, idempotent, bad rows."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from comptoir.sirene import loader
from comptoir.sirene.models import SireneEstablishment, SireneLoad, SireneUnit

from . import files as F


def _load(*paths: Path, batch_size: int | None = None) -> str:
    out = StringIO()
    args = ["sirene", "load", *map(str, paths)]
    if batch_size:
        args += ["--batch-size", str(batch_size)]
    call_command(*args, stdout=out)
    return out.getvalue()


def _dump() -> tuple[list[dict], list[dict]]:
    return (list(SireneUnit.objects.order_by("siren").values()),
            list(SireneEstablishment.objects.order_by("siret").values()))


def test_loads_both_files_in_either_order_and_reports_speed(register):
    assert SireneUnit.objects.count() == 5
    assert SireneEstablishment.objects.count() == 6
    assert "StockEtablissement_utf8.zip: 6 establishments rows, 0 bad" in register
    assert "StockUniteLegale_utf8.csv: 5 units rows, 0 bad" in register
    assert "rows/s" in register
    unit = SireneUnit.objects.get(siren=F.DUPONT)
    assert (unit.denomination, unit.sigle, unit.naf, unit.headcount_band, unit.state,
            unit.head_office_nic, str(unit.created_on)) == (
        "DUPONT CONSEIL", "DC", "70.22Z", "11", "A", F.DUPONT_HQ[9:], "2010-03-01")
    hq = SireneEstablishment.objects.get(siret=F.DUPONT_HQ)
    assert hq.head_office
    assert hq.postcode == "75008"
    assert hq.street_type == "AV"
    # the establishments came first: their unit's name was filled when the units arrived
    assert hq.name_key == "dupont conseil"
    assert SireneEstablishment.objects.get(siret=F.MARTIN_HQ).name_key == "jeanne martin"
    assert SireneUnit.objects.get(siren=F.DURAND).denomination == "DURAND, FILS ET ASSOCIES"
    assert not SireneEstablishment.objects.filter(name_key="").exists()
    loads = SireneLoad.objects.order_by("pk")
    assert [(x.kind, x.rows, x.bad_rows) for x in loads] == [
        ("establishments", 6, 0), ("units", 5, 0)]


def test_units_first_then_establishments_get_the_name_at_once(db, tmp_path):
    units_path, etabs_path = F.register_files(tmp_path, zipped=False)
    _load(units_path, etabs_path)
    assert SireneEstablishment.objects.get(siret=F.DUPONT_LYON).name_key == "dupont conseil"


def test_loading_the_same_files_twice_changes_nothing(register, tmp_path):
    before = _dump()
    again = tmp_path / "again"
    again.mkdir()
    units_path, etabs_path = F.register_files(again)
    _load(units_path, etabs_path, batch_size=2)  # small batches: many upserts, same result
    assert _dump() == before


def test_a_newer_file_updates_the_rows(register, tmp_path):
    rows = F.units()
    rows[0]["denominationUniteLegale"] = "DUPONT CONSEIL ET ASSOCIES"
    rows[0]["etatAdministratifUniteLegale"] = "C"
    _load(F.write_csv(tmp_path / "newer.csv", F.UNIT_HEADER, rows))
    unit = SireneUnit.objects.get(siren=F.DUPONT)
    assert unit.denomination == "DUPONT CONSEIL ET ASSOCIES"
    assert unit.closed
    assert SireneEstablishment.objects.get(siret=F.DUPONT_HQ).name_key == \
        "dupont conseil associes"


def test_bad_rows_are_counted_reported_and_skipped(db, tmp_path):
    good = F.establishments()[:2]
    short_siren = F.establishment(F.siret(F.siren(9), 1))
    short_siren["siren"] = "12345"
    mismatch = F.establishment(F.siret(F.siren(10), 1))
    mismatch["nic"] = "99999"
    bad_state = F.establishment(F.siret(F.siren(11), 1), etatAdministratifEtablissement="X")
    path = F.write_csv(tmp_path / "etabs.csv", F.ESTABLISHMENT_HEADER,
                       [good[0], short_siren, ["too", "few", "columns"], mismatch, bad_state,
                        good[1]])
    out = _load(path)
    assert "2 establishments rows, 4 bad" in out
    assert "line 3: SIREN '12345' is not 9 digits" in out
    assert "line 4: 3 columns instead of 53" in out
    assert "is not SIREN" in out
    assert "unknown administrative state 'X'" in out
    assert set(SireneEstablishment.objects.values_list("siret", flat=True)) == {
        F.DUPONT_HQ, F.DUPONT_LYON}
    assert SireneLoad.objects.get().bad_rows == 4


def test_fully_quoted_files_and_unknown_columns_are_read_by_header_name(db, tmp_path):
    header = ["colonneFuture", *reversed(F.UNIT_HEADER)]  # order and extra columns do not matter
    rows = [["x", *reversed([r.get(c, "") for c in F.UNIT_HEADER])] for r in F.units()]
    path = F.write_csv(tmp_path / "units.csv", header, rows, quoting=csv.QUOTE_ALL)
    _load(F.zip_csv(path))
    assert SireneUnit.objects.get(siren=F.BAKERY).denomination == "BOULANGERIE DU PARC"


def test_a_file_of_another_kind_is_refused(db, tmp_path):
    path = F.write_csv(tmp_path / "other.csv", ["code", "label"], [["1", "x"]])
    with pytest.raises(CommandError, match="Not a SIRENE stock file"):
        _load(path)
    assert not SireneLoad.objects.exists()


def test_missing_file_is_refused(db, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        _load(tmp_path / "nope.zip")


def test_load_file_reads_the_zip_as_a_stream_and_reports_progress(db, tmp_path):
    _units, etabs = F.register_files(tmp_path)
    seen: list[int] = []
    result = loader.load_file(etabs, batch_size=2, progress=lambda r: seen.append(r.rows))
    assert result.rows == 6
    assert result.kind == "establishments"
    assert seen == [2, 4, 6, 6]
    assert not list(tmp_path.glob("*.csv.*"))  # nothing extracted next to the zip
