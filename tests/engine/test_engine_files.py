"""Extract readers: encodings, delimiters, broken rows, resume, XLSX, JSON, vCard."""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from comptoir.integration.engine.core import Record
from comptoir.integration.engine.errors import ConfigError
from comptoir.integration.engine.files import (
    detect_delimiter,
    detect_encoding,
    detect_format,
    file_headers,
    read_file,
)
from comptoir.integration.engine.mapping import load_mapping

from .conftest import TARGETS

NAMES = ["Société Générale", "Garçon & Cie", "Bœuf Œnologie", "Café 5 €"]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def rows(records: list[Record]) -> list[tuple[str, str | None]]:
    """(position, error) of each record: what a test usually checks first."""
    return [(r.position, r.error) for r in records]


# --------------------------------------------------------------------------------------------
# Encodings


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    text = "Code;Nom;Ville\r\n" + "".join(f"C{i};{name};Besançon\r\n"
                                           for i, name in enumerate(NAMES, 1))
    path = write(tmp_path / "clients.csv", text, encoding)
    records = list(read_file(path, key_field="Code"))
    assert [r.data["Nom"] for r in records] == NAMES
    assert [r.error for r in records] == [None] * 4
    assert records[0].data == {"Code": "C1", "Nom": "Société Générale", "Ville": "Besançon"}
    assert next(iter(records[0].data)) == "Code"  # no BOM stuck to the first column name


def test_latin1_when_bytes_undefined_in_cp1252(tmp_path: Path) -> None:
    # 0x81 has no character in Windows-1252: such a file can only be ISO 8859-1.
    path = tmp_path / "old.csv"
    path.write_bytes("Code;Nom\nC1;Société Générale\nC2;Garçon\x81\n".encode("latin-1"))
    assert detect_encoding(path.read_bytes()) == "latin-1"
    records = list(read_file(path))
    assert [r.data["Nom"] for r in records] == ["Société Générale", "Garçon\x81"]


def test_detect_encoding() -> None:
    assert detect_encoding(b"plain ascii") is None
    assert detect_encoding("é".encode()) == "utf-8"
    assert detect_encoding("œ € é".encode("cp1252")) == "cp1252"
    assert detect_encoding(b"\xef\xbb\xbfCode") == "utf-8"
    assert detect_encoding("Code".encode("utf-16")) == "utf-16"
    # A sample cut inside a multi-byte character is still UTF-8.
    assert detect_encoding("Société".encode()[:5]) == "utf-8"


def test_given_encoding_wins(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "Nom\nCafé\n", "cp1252")
    assert next(read_file(path, encoding="cp1252")).data == {"Nom": "Café"}
    assert next(read_file(path, encoding="latin-1")).data == {"Nom": "Café"}
    with pytest.raises(ConfigError, match="unknown encoding 'klingon'"):
        list(read_file(path, encoding="klingon"))


def test_undecodable_row_in_a_utf8_file_is_an_error_record(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("Code;Nom\nC1;Société\nC2;".encode() + "Garçon".encode("cp1252")
                     + "\nC3;Bœuf\n".encode())
    records = list(read_file(path, key_field="Code"))
    assert rows(records) == [("line 2", None), ("line 3", "line 3: bytes not valid in utf-8"),
                             ("line 4", None)]
    assert records[0].data["Nom"] == "Société"
    assert records[2].data["Nom"] == "Bœuf"
    assert records[1].key == "3"
    assert "Gar" in records[1].data["_raw"]


def test_encoding_decided_on_the_first_non_ascii_line(tmp_path: Path) -> None:
    # 100 KiB of ASCII before the first accent: past the 64 KiB sample.
    head = "Code;Nom\n" + "".join(f"C{i};Dupont\n" for i in range(10_000))
    path = tmp_path / "late.csv"
    path.write_bytes(head.encode() + "X1;Garçon\nX2;Œuvre\n".encode("cp1252"))
    records = list(read_file(path))
    assert [r.data["Nom"] for r in records[-2:]] == ["Garçon", "Œuvre"]
    assert all(r.error is None for r in records)


def test_bad_bytes_far_from_the_head_are_reported_with_their_line(tmp_path: Path) -> None:
    head = "Code;Nom\nC0;Société\n" + "".join(f"C{i};Dupont\n" for i in range(1, 10_000))
    path = tmp_path / "late-bad.csv"
    path.write_bytes(head.encode() + b"X1;Gar\xe7on\nX2;Fin\n")
    records = list(read_file(path))
    assert rows(records[-2:]) == [("line 10002", "line 10002: bytes not valid in utf-8"),
                                  ("line 10003", None)]
    assert len(records) == 10_002


# --------------------------------------------------------------------------------------------
# Delimiters and CSV structure


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
def test_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    others = "".join(d for d in ";,|" if d != delimiter)
    lines = [["Code", "Raison sociale", "Encours"],
             ["C1", f'"Lefèvre {others} Fils"', '"1 234,56"'],
             ["C2", "Garçon", "12"]]
    text = "\n".join(delimiter.join(cells) for cells in lines) + "\n"
    path = write(tmp_path / "d.csv", text)
    assert detect_delimiter(text) == delimiter
    records = list(read_file(path))
    assert records[0].data == {"Code": "C1", "Raison sociale": f"Lefèvre {others} Fils",
                               "Encours": "1 234,56"}
    assert len(records) == 2


def test_delimiter_from_a_header_alone(tmp_path: Path) -> None:
    assert detect_delimiter("Code;Nom;Ville\n") == ";"
    assert detect_delimiter("Code|Nom\n") == "|"
    assert detect_delimiter("Nom\n") == ","
    path = write(tmp_path / "t.tsv", "a,b\tc\n1,2\t3\n")
    assert next(read_file(path)).data == {"a,b": "1,2", "c": "3"}  # .tsv means tab
    assert next(read_file(path, delimiter=",")).data == {"a": "1", "b\tc": "2\t3"}
    assert next(read_file(path, delimiter="tab")).data == {"a,b": "1,2", "c": "3"}


def test_quoted_newlines_keep_physical_line_numbers(tmp_path: Path) -> None:
    text = ('Code;Adresse;Ville\r\n'
            'C1;"12 rue de la Paix\r\nBâtiment B\r\n3e étage";Paris\r\n'
            'C2;"Quai ""Nord""";Lyon\r\n'
            'C3;x\r\n'
            'C4;"y";Nice\r\n')
    records = list(read_file(write(tmp_path / "n.csv", text), key_field="Code"))
    assert rows(records) == [
        ("line 2", None), ("line 5", None),
        ("line 6", "line 6: 2 fields, expected 3 (Code;Adresse;Ville)"), ("line 7", None)]
    assert records[0].data["Adresse"] == "12 rue de la Paix\r\nBâtiment B\r\n3e étage"
    assert records[1].data["Adresse"] == 'Quai "Nord"'
    assert [r.cursor for r in records] == ["2", "5", "6", "7"]


def test_broken_rows_do_not_stop_the_file(tmp_path: Path) -> None:
    text = ("Code;Nom;Ville\n"
            "C1;Lefèvre;Paris\n"
            "C2;Garçon\n"
            "C3;Bœuf;Lyon;en trop\n"
            "\n"
            "C4;Trailing;Nice;;\n"   # empty trailing cells are tolerated
            ";;\n"                   # an empty row is skipped
            "C5;Fin;Brest\n")
    records = list(read_file(write(tmp_path / "b.csv", text)))
    assert rows(records) == [
        ("line 2", None),
        ("line 3", "line 3: 2 fields, expected 3 (Code;Nom;Ville)"),
        ("line 4", "line 4: 4 fields, expected 3 (Code;Nom;Ville)"),
        ("line 6", None), ("line 8", None)]
    assert records[3].data == {"Code": "C4", "Nom": "Trailing", "Ville": "Nice"}
    assert records[1].data == {"_raw": "C2;Garçon"}


def test_old_mac_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(b'Code;Nom\r1;Caf\xe9\r2;"a\rb"\r3;c')
    assert [(r.position, r.data) for r in read_file(path)] == [
        ("line 2", {"Code": "1", "Nom": "Café"}), ("line 3", {"Code": "2", "Nom": "a\rb"}),
        ("line 5", {"Code": "3", "Nom": "c"})]


def test_header_problems_are_config_errors(tmp_path: Path) -> None:
    dup = write(tmp_path / "dup.csv", "Code;Nom;Nom\n1;a;b\n")
    with pytest.raises(ConfigError, match=r"dup.csv: bad header row: column 'Nom' appears twice"):
        list(read_file(dup))
    empty = write(tmp_path / "empty.csv", "Code; ;Nom\n1;a;b\n")
    with pytest.raises(ConfigError, match="column 2 has no name"):
        list(read_file(empty))
    # Trailing empty header cells (a spreadsheet's habit) are dropped, stripped names kept.
    trailing = write(tmp_path / "trailing.csv", " Code ; Nom ;;\n1;a;;\n")
    assert next(read_file(trailing)).data == {"Code": "1", "Nom": "a"}


def test_empty_files_have_no_records(tmp_path: Path) -> None:
    assert list(read_file(write(tmp_path / "e.csv", ""))) == []
    assert list(read_file(write(tmp_path / "h.csv", "Code;Nom\r\n"))) == []
    assert next(iter(read_file(write(tmp_path / "b.csv", "\n\nCode;Nom\n\n1;x\n")))).position == (
        "line 5")


# --------------------------------------------------------------------------------------------
# Keys, cursors, resume


def test_keys_and_duplicates(tmp_path: Path) -> None:
    text = "Code;Nom\nC1;a\nC2;b\n C1 ;c\n;d\nC3;e\n"
    records = list(read_file(write(tmp_path / "k.csv", text), key_field="Code"))
    assert [r.key for r in records] == ["C1", "C2", "C1", "5", "C3"]
    assert rows(records) == [
        ("line 2", None), ("line 3", None),
        ("line 4", "line 4: duplicate key C1, first seen line 2"),
        ("line 5", "line 5: no key in 'Code'"), ("line 6", None)]
    with pytest.raises(ConfigError, match=r"key field 'Id' is not a column \(columns: Code, Nom\)"):
        list(read_file(tmp_path / "k.csv", key_field="Id"))


def test_without_key_field_the_line_is_the_key(tmp_path: Path) -> None:
    records = list(read_file(write(tmp_path / "k.csv", "Nom\na\nb\n")))
    assert [(r.key, r.cursor, r.position) for r in records] == [
        ("2", "2", "line 2"), ("3", "3", "line 3")]


def test_resume_after_a_line(tmp_path: Path) -> None:
    text = "Code;Nom\nC1;a\nC2;\"b\nb\"\nC3;c\nC2;dup\nC4;d\n"
    path = write(tmp_path / "r.csv", text)
    everything = list(read_file(path, key_field="Code"))
    assert [r.cursor for r in everything] == ["2", "3", "5", "6", "7"]
    resumed = list(read_file(path, key_field="Code", start_after_line=3))
    assert [r.key for r in resumed] == ["C3", "C2", "C4"]
    # Keys of the rows skipped are still known: the duplicate is still caught.
    assert resumed[1].error == "line 6: duplicate key C2, first seen line 3"
    assert list(read_file(path, start_after_line=7)) == []


# --------------------------------------------------------------------------------------------
# XLSX


def make_xlsx(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, lines in sheets.items():
        sheet = workbook.create_sheet(title)
        for line in lines:
            sheet.append(line)
    workbook.save(path)
    return path


def test_xlsx_keeps_typed_values(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "clients.xlsx", {"Feuil1": [
        ["Code", "Raison sociale", "Encours", "Créé le", "Code postal", None],
        ["C1", "Société Générale", 1234.56, dt.datetime(2024, 1, 15), 75002],
        [],
        ["C2", "Bœuf", 12, 45306, "01000"],
        ["C3", "Trop", 1, None, None, "valeur sans colonne"],
        ["C1", "Doublon", 0],
        [None, None],
        [],
    ], "Autre": [["Ref"], ["X"]]})
    records = list(read_file(path, key_field="Code"))
    assert rows(records) == [
        ("sheet Feuil1, row 2", None), ("sheet Feuil1, row 4", None),
        ("sheet Feuil1, row 5", "sheet Feuil1, row 5: values beyond the last named column"),
        ("sheet Feuil1, row 6", "sheet Feuil1, row 6: duplicate key C1, first seen row 2")]
    assert records[0].data == {"Code": "C1", "Raison sociale": "Société Générale",
                               "Encours": 1234.56, "Créé le": dt.datetime(2024, 1, 15),
                               "Code postal": 75002}
    assert records[1].data["Code postal"] == "01000"
    assert records[3].data["Créé le"] is None  # short rows are padded
    assert [r.cursor for r in records] == ["2", "4", "5", "6"]
    assert [r.data for r in read_file(path, sheet="Autre")] == [{"Ref": "X"}]
    assert [r.key for r in read_file(path, key_field="Code", start_after_line=4)] == ["5", "C1"]
    with pytest.raises(ConfigError, match=r"no sheet 'Sheet1' \(sheets: Feuil1, Autre\)"):
        list(read_file(path, sheet="Sheet1"))


def test_xlsx_values_go_through_mapping_transforms(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "p.xlsx", {"Articles": [
        ["Référence", "Désignation", "TVA", "Actif", "Depuis"],
        [1001, "Vis", 20, True, 45306],
        ["A-2", "Écrou", "5,5", "non", dt.datetime(2023, 3, 1, 10, 0)],
    ]})
    mapping = load_mapping("""
        system = "erp"
        [streams.rows]
        target = "product"
        key = "Référence"
        [streams.rows.fields]
        name = "Désignation"
        tax_rate = { source = "TVA", transforms = ["number"] }
        active = { source = "Actif", transforms = ["bool"] }
        code = { source = "Depuis", transforms = ["fr_date"] }
        """, targets=TARGETS)
    products = mapping.streams["rows"]
    results = [products.apply(r) for r in read_file(path, key_field="Référence")]
    assert results == [
        ("1001", {"name": "Vis", "tax_rate": 20, "active": True, "code": dt.date(2024, 1, 15)},
         {}),
        ("A-2", {"name": "Écrou", "tax_rate": pytest.approx(5.5), "active": False,
                 "code": dt.date(2023, 3, 1)}, {})]


def test_unreadable_xlsx(tmp_path: Path) -> None:
    path = write(tmp_path / "fake.xlsx", "not a zip")
    with pytest.raises(ConfigError, match=r"fake\.xlsx: not a readable XLSX file"):
        list(read_file(path))


# --------------------------------------------------------------------------------------------
# JSON


def test_json_array(tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", '[\n  {"id": 1, "nom": "Société", "tags": ["a"]},\n'
                                      '  [1, 2],\n  {"id": 2,\n   "nom": "Bœuf"},\n'
                                      '  {"id": 1, "nom": "dup"},\n  {"nom": "sans id"}\n]\n')
    records = list(read_file(path, key_field="id"))
    assert rows(records) == [
        ("item 1 (line 2)", None),
        ("item 2 (line 3)", "item 2 (line 3): expected an object, got a list"),
        ("item 3 (line 4)", None),
        ("item 4 (line 6)", "item 4 (line 6): duplicate key 1, first seen item 1"),
        ("item 5 (line 7)", "item 5 (line 7): no key in 'id'")]
    assert records[0].key == "1"
    assert records[0].data["tags"] == ["a"]
    assert records[2].data == {"id": 2, "nom": "Bœuf"}
    assert [r.key for r in read_file(path, key_field="id", start_after_line=3)] == ["1", "5"]


def test_json_array_is_streamed_across_chunks(tmp_path: Path) -> None:
    items = [{"id": i, "nom": f"Société {i} – “œ”", "note": "x" * (i % 50)}
             for i in range(30_000)]  # about 2.5 MiB: several 1 MiB reads
    path = tmp_path / "big.json"
    path.write_text(json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8")
    records = list(read_file(path, key_field="id"))
    assert len(records) == 30_000
    assert all(r.error is None for r in records)
    assert [r.data for r in records] == items
    assert records[-1].position == f"item 30000 (line {1 + 29_999 * 5 + 1})"


@pytest.mark.parametrize(("text", "message"), [
    ('[{"a": 1}, {"a": }]', r"invalid JSON in item 2 \(line 1: Expecting value\)"),
    ('[{"a": 1} {"a": 2}]', "expected ',' or ']' after item 1"),
    ('[{"a": 1},\n{"a": 2', r"invalid JSON in item 2 \(line 2"),
    ('"text"', "expected a JSON array of objects or JSON Lines"),
])
def test_broken_json_arrays(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        list(read_file(write(tmp_path / "x.json", text)))


def test_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes('{"id": "a", "nom": "Société"}\n\n{"id": "b", "nom": \n'.encode()
                     + b'{"id": "c", "nom": "Gar\xe7on"}\n'
                     + '42\n{"id": "d", "nom": "Œuf"}\n'.encode())
    records = list(read_file(path, key_field="id"))
    assert rows(records) == [
        ("line 1", None),
        ("line 3", "line 3: invalid JSON (Expecting value, column 20)"),
        ("line 4", "line 4: bytes not valid in utf-8"),
        ("line 5", "line 5: expected an object, got a number"),
        ("line 6", None)]
    assert [r.key for r in records if r.error is None] == ["a", "d"]
    assert [r.cursor for r in read_file(path, start_after_line=4)] == ["5", "6"]


def test_json_with_a_single_object_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a JSON array of objects or JSON Lines"):
        list(read_file(write(tmp_path / "o.json", '{\n  "a": 1\n}\n')))
    # .json holding JSON Lines is fine.
    assert len(list(read_file(write(tmp_path / "l.json", '{"a": 1}\n{"a": 2}\n')))) == 2


# --------------------------------------------------------------------------------------------
# vCard


def test_vcards(data_dir: Path) -> None:
    records = list(read_file(data_dir / "contacts.vcf"))
    assert rows(records) == [
        ("card 1 (line 1)", None), ("card 2 (line 15)", None),
        ("card 3 (line 24)", "card 3 (line 24): unreadable vCard (At line 3: Failed to parse "
                             "line: FN Broken line without colon)"),
        ("card 4 (line 28)", None)]
    first, second = records[0].data, records[1].data
    assert {k: v for k, v in first.items() if v} == {
        "UID": "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1", "FN": "François Lefèvre",
        "N.family": "Lefèvre", "N.given": "François", "N.prefix": "M.",
        "ORG": "Boulangeries Lefèvre & Fils", "ORG.unit": "Direction",
        "TITLE": "Directeur général", "EMAIL": "francois@perso.example",  # PREF first
        "EMAIL2": "f.lefevre@lefevre.example", "TEL": "+33 1 42 00 00 01",
        "TEL.work": "+33 1 42 00 00 01", "TEL.cell": "+33 6 12 34 56 78",
        "ADR.street": "12 rue de la Paix", "ADR.code": "75002", "ADR.city": "Paris",
        "ADR.country": "France", "URL": "https://lefevre.example"}
    # vCard 2.1: bare types, quoted-printable text.
    assert second["TITLE"] == "Responsable achats à Paris"
    assert second["TEL.work"] == "01 42 00 00 02"
    assert second["TEL.cell"] is None
    assert [r.key for r in read_file(data_dir / "contacts.vcf", start_after_line=3)] == ["4"]


def test_vcard_in_cp1252(tmp_path: Path) -> None:
    path = write(tmp_path / "old.vcf", "BEGIN:VCARD\nVERSION:3.0\nN:Garçon;Zoë;;;\n"
                                       "FN:Zoë Garçon\nORG:Bœuf\nEND:VCARD\n", "cp1252")
    (record,) = read_file(path)
    assert (record.data["FN"], record.data["ORG"]) == ("Zoë Garçon", "Bœuf")


# --------------------------------------------------------------------------------------------
# Formats, headers, errors


def test_formats(tmp_path: Path) -> None:
    assert [detect_format(f"x{ext}") for ext in (".csv", ".TXT", ".tsv", ".xlsx", ".json",
                                                 ".jsonl", ".ndjson", ".vcf")] == [
        "csv", "csv", "csv", "xlsx", "json", "json", "json", "vcard"]
    with pytest.raises(ConfigError, match=r"old.xls: unsupported file type '.xls' \(save it as "
                                          r"\.xlsx\)"):
        read_file(tmp_path / "old.xls")
    path = write(tmp_path / "export.dat", "a;b\n1;2\n")
    assert next(read_file(path, format="csv")).data == {"a": "1", "b": "2"}
    with pytest.raises(ConfigError, match="no such file"):
        read_file(tmp_path / "missing.csv")


def test_file_headers(tmp_path: Path, data_dir: Path) -> None:
    assert file_headers(write(tmp_path / "h.csv", "\ufeffCode;Nom\r\n")) == ["Code", "Nom"]
    xlsx = make_xlsx(tmp_path / "h.xlsx", {"S": [[], ["Ref", "Nom"]]})
    assert file_headers(xlsx) == ["Ref", "Nom"]
    assert file_headers(write(tmp_path / "h.json", '[[1], {"a": 1, "b": 2}]')) == ["a", "b"]
    assert "ORG" in file_headers(data_dir / "contacts.vcf")


@pytest.mark.slow
def test_memory_stays_flat_on_a_big_csv(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write(";".join(f"Colonne {i}" for i in range(15)) + "\n")
        for n in range(20_000):
            f.write(";".join(f"valeur é {n} {i}" for i in range(15)) + "\n")
    tracemalloc.start()
    count = sum(1 for _ in read_file(path))
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 20_000
    assert peak < 1024 * 1024, peak  # a 4 MB file read in well under 1 MB: nothing piles up
