"""The pre-go-live file audit (I10): reading, mapping, checks, profiles, duplicates, command."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from comptoir.crm.models import Account
from comptoir.quality import audit, dedupe
from comptoir.quality.identifiers import siret_with_check_digit
from comptoir.testing import factories as f

SIREN_MARTIN = f.siren(9101)
SIREN_LEROY = f.siren(9102)
SIREN_DURAND = f.siren(9103)
SIREN_DUPUIS = f.siren(9104)
SIREN_BASE = f.siren(9105)
SIREN_HIDDEN = f.siren(9106)

FR_HEADER = ["Raison sociale", "SIREN", "SIRET", "Adresse", "Code postal", "Ville", "Pays",
             "Téléphone", "E-mail", "Remarque"]
FR_ROWS = [
    # row 2: the original
    ["Boulangerie Pâtissière Martin SARL", SIREN_MARTIN,
     siret_with_check_digit(SIREN_MARTIN, "0001"), "12 rue de la République", "69002", "Lyon",
     "France", "04 72 10 20 30", "contact@martin-boulangerie.fr", "client depuis 2010"],
    # row 3: a typo, same phone and address, no SIREN
    ["Boulangerie Patissiere Martn", "", "", "12 rue de la République", "69002", "Lyon", "FR",
     "0472102030", "", ""],
    # row 4: another legal form, same SIREN
    ["BOULANGERIE PÂTISSIÈRE MARTIN S.A.S.", SIREN_MARTIN, "", "", "69002", "Lyon", "", "", "",
     ""],
    # row 5 and 6: two different garages in the same street: not duplicates
    ["Garage Durand", SIREN_DURAND, "", "3 avenue Foch", "69006", "Lyon", "FR",
     "04 78 00 00 01", "garage@durand.fr", ""],
    ["Garage Dupuis", SIREN_DUPUIS, "", "5 avenue Foch", "69006", "Lyon", "FR",
     "04 78 00 00 02", "garage@dupuis.fr", ""],
    # row 7: invalid identifiers
    ["Société Invalide", "123456789", "12345678901234", "", "6900X", "Lyon", "FR", "12",
     "pas-un-mail", ""],
    # row 8: blank
    ["", "", "", "", "", "", "", "", "", ""],
    # row 9 and 10: the same SIREN, the words of the name swapped
    ["Transports Leroy", SIREN_LEROY, "", "", "69003", "Lyon", "", "", "", ""],
    ["Leroy Transports SAS", SIREN_LEROY, "", "", "69003", "Lyon", "", "", "", ""],
    # row 11: only a name
    ["Fleurs du Rhône", "", "", "", "", "", "", "", "", ""],
]


def csv_bytes(header: list[str], rows: list[list[str]], *, delimiter: str = ";",
              encoding: str = "cp1252") -> bytes:
    import csv

    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(header: list[str], rows: list[list[Any]], *, sheet: str = "Clients") -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    other = book.create_sheet("Notes")
    other.append(["Nothing to see"])
    book.move_sheet(other, offset=-1)  # the first sheet is not the data
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run(content: bytes, name: str = "clients.csv", **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("object_type", "account")
    with translation.override("en"):
        return audit.audit_file(content, filename=name, **kwargs).as_dict()


def pairs_of(report: dict[str, Any]) -> dict[tuple[int, int], dict[str, Any]]:
    return {tuple(p["rows"]): p for p in report["duplicates_in_file"]["items"]}


def invalid_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {inv["field"]: inv for inv in report["invalid"]}


# --- Reading and mapping --------------------------------------------------------------------

@pytest.mark.django_db
def test_french_csv_cp1252_semicolons_is_read_and_mapped() -> None:
    report = run(csv_bytes(FR_HEADER, FR_ROWS))
    assert (report["encoding"], report["delimiter"]) == ("cp1252", ";")
    assert report["rows"] == 9
    assert report["empty_rows"] == 1
    mapping = {c["column"]: c["field"] for c in report["mapping"]["columns"]}
    assert mapping == {
        "Raison sociale": "legal_name", "SIREN": "siren", "SIRET": "siret",
        "Adresse": "billing_street", "Code postal": "billing_postcode", "Ville": "billing_city",
        "Pays": "billing_country", "Téléphone": "phone", "E-mail": "email"}
    assert report["mapping"]["unmapped"] == ["Remarque"]
    # accents survived the code page
    assert pairs_of(report)[(2, 3)]["labels"][0] == "Boulangerie Pâtissière Martin SARL"


@pytest.mark.django_db
def test_english_csv_utf8_bom_commas() -> None:
    header = ["Account Name", "VAT Number", "Street", "Postal Code", "City", "Country", "Phone",
              "Email", "Website", "Owner"]
    rows = [["Acme Ltd", "FR40303265045", "1 Main Street", "75001", "Paris", "FR",
             "+33 1 40 00 00 00", "hello@acme.example", "https://acme.example", "bob"],
            ["Zenith SA", "", "", "", "Paris", "", "", "", "", "bob"]]
    content = b"\xef\xbb\xbf" + csv_bytes(header, rows, delimiter=",", encoding="utf-8")
    report = run(content)
    assert (report["encoding"], report["delimiter"]) == ("utf-8-sig", ",")
    mapping = {c["column"]: c["field"] for c in report["mapping"]["columns"]}
    assert mapping["Account Name"] == "legal_name"  # the BOM did not stick to the header
    assert mapping["VAT Number"] == "vat_number"
    assert mapping["Postal Code"] == "billing_postcode"
    assert mapping["Website"] == "website"
    assert report["mapping"]["unmapped"] == ["Owner"]
    fill = {x["field"]: x for x in report["fill"]}
    assert (fill["legal_name"]["filled"], fill["legal_name"]["percent"]) == (2, 100.0)
    assert (fill["email"]["filled"], fill["email"]["percent"]) == (1, 50.0)
    assert fill["billing_city"]["column"] == "City"


@pytest.mark.django_db
def test_xlsx_named_sheet_numbers_and_row_numbers() -> None:
    header = ["Dénomination", "N° SIREN", "Code_Postal", "Commune", "Tél."]
    rows: list[list[Any]] = [
        ["Menuiserie Bois", int(SIREN_DURAND), 6000, "Nice", None],  # 06000 lost its zero
        [None, None, None, None, None],
        ["Sans Siren", 12345, 69002, "Lyon", 472000000],
    ]
    content = xlsx_bytes(header, rows)
    report = run(content, "clients.xlsx", sheet="Clients")
    assert report["sheet"] == "Clients"
    assert report["encoding"] is None
    assert {c["field"] for c in report["mapping"]["columns"]} == {
        "legal_name", "siren", "billing_postcode", "billing_city", "phone"}
    assert report["rows"] == 2
    assert report["empty_rows"] == 1
    siren = invalid_of(report)["siren"]
    assert siren["count"] == 1
    assert siren["examples"][0]["row"] == 4  # header 1, data 2, blank 3, then 4
    assert siren["examples"][0]["value"] == "12345"
    assert invalid_of(report)["billing_postcode"]["count"] == 0  # 6000 read as 06000
    # without --sheet: the first sheet, which has no usable column
    with pytest.raises(audit.AuditError, match="No column is recognised"):
        run(content, "clients.xlsx")
    with pytest.raises(audit.AuditError, match="Clients"):
        run(content, "clients.xlsx", sheet="Nope")


def test_headers_normalised_and_per_object() -> None:
    assert audit.normalize_header(" N° TVA_Intracom. ") == "n tva intracom"
    contact = audit.map_columns("contact", ["Prénom", "NOM", "Société", "Courriel", "Portable"])
    assert list(contact.fields.values()) == [
        "first_name", "last_name", "account", "email", "mobile"]
    account = audit.map_columns("account", ["nom", "raison_sociale", "code-postal", "cp"])
    # one column per field: the first wins, the others are reported
    assert account.fields == {0: "legal_name", 2: "billing_postcode"}
    assert account.unmapped == ["raison_sociale", "cp"]
    lead = audit.map_columns("lead", ["Nom", "Prénom", "Entreprise", "E-mail", "Tel"])
    assert list(lead.fields.values()) == [
        "last_name", "first_name", "company_name", "email", "phone"]


@pytest.mark.django_db
def test_map_overrides_adds_and_removes_columns() -> None:
    header = ["Intitulé", "Ident", "Code postal", "Ville"]
    rows = [["Alpha Conseil", SIREN_DURAND, "69002", "Lyon"],
            ["Beta Conseil", "999", "69002", "Lyon"]]
    content = csv_bytes(header, rows)
    with pytest.raises(audit.AuditError):  # nothing says which column is the name…
        run(content, mapping="Code postal=,Ville=")
    report = run(content, mapping="Intitulé=legal_name,ident=siren,Ville=")
    columns = {c["column"]: (c["field"], c["how"]) for c in report["mapping"]["columns"]}
    assert columns == {"Intitulé": ("legal_name", "map"), "Ident": ("siren", "map"),
                       "Code postal": ("billing_postcode", "auto")}
    assert report["mapping"]["unmapped"] == ["Ville"]
    assert invalid_of(report)["siren"]["examples"][0]["row"] == 3
    with pytest.raises(audit.AuditError, match="legal_name, trade_name, siren"):
        run(content, mapping="Intitulé=raison")
    with pytest.raises(audit.AuditError, match="No column “Nope”"):
        run(content, mapping="Nope=siren")
    assert audit.parse_mapping("A=legal_name\nB = siren\n") == {"A": "legal_name",
                                                                 "B": "siren"}
    assert audit.parse_mapping(["A=legal_name,B=siren", "C="]) == {
        "A": "legal_name", "B": "siren", "C": ""}


# --- Checks and profiles --------------------------------------------------------------------

@pytest.mark.django_db
def test_invalid_identifiers_with_row_numbers_and_messages() -> None:
    report = run(csv_bytes(FR_HEADER, FR_ROWS))
    invalid = invalid_of(report)
    for name, value in (("siren", "123456789"), ("siret", "12345678901234"),
                        ("email", "pas-un-mail"), ("phone", "12"),
                        ("billing_postcode", "6900X")):
        assert invalid[name]["count"] == 1, name
        example = invalid[name]["examples"][0]
        assert (example["row"], example["value"]) == (7, value)
        assert example["message"]
    assert "SIREN" in invalid["siren"]["examples"][0]["message"]
    assert invalid["billing_country"]["count"] == 0  # "France" is FR
    assert invalid["email"]["checked"] == 4


@pytest.mark.django_db
def test_examples_are_limited_but_counts_are_not() -> None:
    rows = [[f"Société {i}", "123", "", "", "", "", "", "", "", ""] for i in range(7)]
    report = run(csv_bytes(FR_HEADER, rows), limit_examples=2)
    siren = invalid_of(report)["siren"]
    assert siren["count"] == 7
    assert [e["row"] for e in siren["examples"]] == [2, 3]


def test_fast_paths_agree_with_identifiers() -> None:
    from comptoir.quality import identifiers as ids

    def outcome(check: Any, value: str) -> str:
        try:
            return str(check(value))
        except ValueError:
            return "invalid"

    for value in ("04 72 10 20 30", "04.72.10.20.30", "0472102030", "+33 4 72 10 20 30", "12",
                  "00 33 4 72 10 20 30", "08 00 00 00 00", "0123"):
        assert outcome(audit.check_phone, value) == outcome(ids.check_phone, value), value
    for value in ("a@b.fr", "Jean.Dupont@Example.COM", "x@y.test", "pas-un-mail", "a..b@c.fr",
                  "a@-b.fr", "été@exemple.fr", "a@b.c", "first+tag@sub.domain.org"):
        assert outcome(audit.check_email, value) == outcome(ids.check_email, value), value
    for value in (SIREN_MARTIN, "123456789", "732 829 320", "35600000"):
        assert outcome(audit.check_siren, value) == outcome(ids.check_siren, value), value


@pytest.mark.django_db
def test_profile_violations_per_profile() -> None:
    report = run(csv_bytes(FR_HEADER, FR_ROWS))
    profiles = {p["profile"]: p for p in report["profiles"]}
    assert profiles["lead"]["failing"] == 0  # a legal name on every row
    assert profiles["crm"]["failing"] == 0  # no contact column: the contact is not judged
    assert [n["requirement"] for n in profiles["crm"]["not_checked"]] == ["contact"]
    erp = profiles["erp"]
    assert [n["requirement"] for n in erp["not_checked"]] == ["no_duplicate", "contact"]
    assert erp["failing"] == 9
    assert erp["passing"] == 0
    requirements = {r["requirement"]: r["count"] for r in erp["requirements"]}
    assert requirements["naf"] == 9
    assert requirements["payment_terms"] == 9
    assert requirements["siret"] == 8  # only row 2 has a valid one
    assert "no_duplicate" not in requirements
    # rows 4, 7, 9, 10, 11 lack a street (and row 7's postcode is wrong)
    assert requirements["postal_address"] == 5
    first = erp["examples"][0]
    assert first["row"] == 2
    assert {g["requirement"] for g in first["gaps"]} == {"naf", "payment_terms"}
    row7 = next(e for e in erp["examples"] if e["row"] == 7)
    gaps = {g["requirement"]: g["message"] for g in row7["gaps"]}
    assert "postal_address" in gaps
    assert "Not a valid SIRET" in gaps["siret"]  # invalid, not missing


@pytest.mark.django_db
def test_profile_contact_column_counts_as_a_contact() -> None:
    header = ["Raison sociale", "Contact", "Email"]
    rows = [["Alpha", "Jeanne Martin", ""], ["Beta", "", "info@beta.fr"]]
    report = run(csv_bytes(header, rows))
    crm = next(p for p in report["profiles"] if p["profile"] == "crm")
    assert crm["failing"] == 1
    assert crm["examples"][0]["row"] == 3
    assert crm["examples"][0]["gaps"][0]["requirement"] == "contact"


@pytest.mark.django_db
def test_profiles_of_the_same_shape_are_shared_correctly() -> None:
    """Rows alike share one ``gaps`` answer: it must be the one each row would get."""
    from comptoir.quality import profiles

    rows = FR_ROWS + [[*r[:4], "1300", *r[5:]] for r in FR_ROWS if r[0]]
    report = run(csv_bytes(FR_HEADER, rows))
    erp = next(p for p in report["profiles"] if p["profile"] == "erp")
    expected = 0
    for row in rows:
        if not any(row):
            continue
        data = dict(zip(["legal_name", "siren", "siret", "billing_street", "billing_postcode",
                         "billing_city", "billing_country", "phone", "email"], row, strict=False))
        data["billing_country"] = {"France": "FR"}.get(data["billing_country"],
                                                       data["billing_country"])
        expected += bool(profiles.gaps("account", data, "erp",
                                       skip=frozenset({"no_duplicate", "contact"})))
    assert erp["failing"] == expected


# --- Duplicates -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_duplicates_inside_the_file_by_row_number() -> None:
    report = run(csv_bytes(FR_HEADER, FR_ROWS))
    pairs = pairs_of(report)
    assert (2, 3) in pairs  # typo, same phone and address
    assert (2, 4) in pairs  # legal-form variant, same SIREN
    assert (9, 10) in pairs  # same SIREN, words swapped
    assert pairs[(2, 4)]["sure"]
    assert "siren" in pairs[(2, 4)]["keys"]
    for pair in pairs.values():
        assert pair["score"] >= report["duplicates_in_file"]["threshold"]
        assert pair["reasons"]
        assert {"field", "verdict", "points"} <= set(pair["reasons"][0])
    # different companies of the same street are not paired, nor rows without evidence
    assert not {r for pair in pairs for r in pair} & {5, 6, 7, 11}
    summary = report["duplicates_in_file"]
    assert summary["pairs"] == len(summary["items"]) == len(pairs)
    assert summary["groups"] == 2
    assert [p["rows"] for p in summary["items"]] == sorted(p["rows"] for p in summary["items"])


@pytest.mark.django_db
def test_duplicates_of_contacts_and_leads_inside_the_file() -> None:
    header = ["Prénom", "Nom", "Société", "Email", "Portable"]
    rows = [["Jeanne", "Martin", "Alpha", "jeanne.martin@alpha.fr", "06 12 34 56 78"],
            ["Jeane", "Martin", "Alpha SARL", "jeanne.martin@alpha.fr", ""],
            ["Paul", "Durand", "Beta", "paul@beta.fr", "06 99 99 99 99"]]
    report = run(csv_bytes(header, rows), object_type="contact")
    assert list(pairs_of(report)) == [(2, 3)]
    lead_header = ["Nom", "Prénom", "Entreprise", "E-mail", "Téléphone", "Code postal"]
    leads = [["Martin", "Jeanne", "Alpha", "jm@alpha.fr", "", "69002"],
             ["MARTIN", "Jeanne", "Alpha", "jm@alpha.fr", "", "69002"],
             ["Durand", "Paul", "", "", "", ""]]
    report = run(csv_bytes(lead_header, leads), object_type="lead")
    assert list(pairs_of(report)) == [(2, 3)]
    erp = next(p for p in report["profiles"] if p["profile"] == "lead")
    assert erp["failing"] == 1  # no means of contact
    assert erp["examples"][0]["row"] == 4


@pytest.fixture
def base_accounts(personas: Any) -> dict[str, Account]:
    return {
        "mine": f.account(by=personas.owner, legal_name="Dupont Conseil SARL", siren=SIREN_BASE,
                          billing_postcode="69002", billing_city="Lyon",
                          email="contact@dupont-conseil.fr"),
        "hidden": f.account(by=personas.outsider, legal_name="Provence Négoce SAS",
                            siren=SIREN_HIDDEN, billing_postcode="13002",
                            billing_city="Marseille"),
    }


BASE_FILE = csv_bytes(["Raison sociale", "SIREN", "Code postal", "Ville", "E-mail"], [
    ["Nouvelle Société", f.siren(9107), "69001", "Lyon", ""],
    ["DUPONT CONSEIL", SIREN_BASE, "69002", "Lyon", ""],
    ["Provence Negoce", SIREN_HIDDEN, "13002", "Marseille", ""],
])


def base_rows(report: dict[str, Any]) -> dict[int, list[int]]:
    return {item["row"]: [c["id"] for c in item["candidates"]]
            for item in report["duplicates_in_base"]["items"]}


@pytest.mark.django_db
def test_duplicates_against_the_base_and_visibility(personas: Any,
                                                    base_accounts: dict[str, Account]) -> None:
    mine, hidden = base_accounts["mine"], base_accounts["hidden"]
    everything = run(BASE_FILE)  # no user: the command line sees the whole base
    assert base_rows(everything) == {3: [mine.pk], 4: [hidden.pk]}
    assert everything["duplicates_in_base"]["visibility"] == "all"
    found = everything["duplicates_in_base"]["items"][0]["candidates"][0]
    assert found["name"] == "Dupont Conseil SARL"
    assert found["sure"]
    assert "siren" in found["keys"]
    assert found["reasons"]
    assert "owner_id" not in found["record"]
    assert base_rows(run(BASE_FILE, user=personas.owner)) == {3: [mine.pk]}
    assert base_rows(run(BASE_FILE, user=personas.outsider)) == {4: [hidden.pk]}
    assert base_rows(run(BASE_FILE, user=personas.data_manager)) == {3: [mine.pk],
                                                                      4: [hidden.pk]}
    assert run(BASE_FILE, user=personas.owner)["duplicates_in_base"]["visibility"] == "user"


@pytest.mark.django_db
def test_base_matches_agree_with_candidates(personas: Any,
                                            base_accounts: dict[str, Account]) -> None:
    """The batch lookup scores as ``dedupe.candidates`` does, with and without the index."""
    def expected() -> dict[int, list[tuple[int, float]]]:
        out = {}
        for row, data in ((3, {"legal_name": "DUPONT CONSEIL", "siren": SIREN_BASE,
                               "billing_postcode": "69002", "billing_city": "Lyon"}),
                          (4, {"legal_name": "Provence Negoce", "siren": SIREN_HIDDEN,
                               "billing_postcode": "13002", "billing_city": "Marseille"})):
            found = dedupe.candidates("account", data, user=personas.owner, limit=3)
            if found:
                out[row] = [(c.id, c.score) for c in found]
        return out

    def actual() -> dict[int, list[tuple[int, float]]]:
        report = run(BASE_FILE, user=personas.owner)
        return {item["row"]: [(c["id"], c["score"]) for c in item["candidates"]]
                for item in report["duplicates_in_base"]["items"]}

    assert actual() == expected() != {}
    dedupe.dedupe_run("account")  # now through the key index
    assert actual() == expected() != {}
    f.account(by=personas.owner, legal_name="Dupont Conseil", siren=SIREN_BASE,
              billing_postcode="69002")  # changed after the index was built
    assert len(actual()[3]) == 2
    assert actual() == expected()


@pytest.mark.django_db
def test_nothing_is_written(personas: Any, base_accounts: dict[str, Account]) -> None:
    from comptoir.quality.models import DuplicatePair

    before = Account.objects.count()
    run(csv_bytes(FR_HEADER, FR_ROWS), user=personas.data_manager)
    assert Account.objects.count() == before
    assert not DuplicatePair.objects.exists()


# --- Command --------------------------------------------------------------------------------

def command(*args: str) -> str:
    out = io.StringIO()
    call_command("audit", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_command_json(tmp_path: Path, base_accounts: dict[str, Account]) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(csv_bytes(FR_HEADER, FR_ROWS))
    data = json.loads(command(str(path), "--object", "account", "--format", "json",
                              "--language", "en", "--limit-examples", "1"))
    assert (data["format"], data["version"], data["file"], data["object"]) == (
        "comptoir-audit", 1, "clients.csv", "account")
    assert data["rows"] == 9
    assert [2, 3] in [p["rows"] for p in data["duplicates_in_file"]["items"]]
    for key in ("mapping", "fill", "invalid", "profiles", "duplicates_in_file",
                "duplicates_in_base", "timings"):
        assert key in data
    assert data["invalid"][0]["examples"][0]["message"]
    # --map and --output
    out = tmp_path / "report.json"
    command(str(path), "--format", "json", "--map", "Remarque=trade_name", "--map", "Pays=",
            "--output", str(out))
    written = json.loads(out.read_text(encoding="utf-8"))
    fields = {c["column"]: c["field"] for c in written["mapping"]["columns"]}
    assert fields["Remarque"] == "trade_name"
    assert "Pays" not in fields
    assert written["mapping"]["unmapped"] == ["Pays"]


@pytest.mark.django_db
def test_command_html_in_french_and_english(tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(csv_bytes(FR_HEADER, FR_ROWS))
    html = command(str(path), "--language", "en")
    assert html.startswith("<!DOCTYPE html>")
    assert "Audit of clients.csv" in html
    assert "Duplicates inside the file" in html
    assert "<dd>9</dd>" in html  # rows
    assert "123456789" in html
    assert "pas-un-mail" in html
    assert "Boulangerie Patissiere Martn" in html
    french = command(str(path))  # French by default
    assert '<html lang="fr">' in french


@pytest.mark.django_db
@pytest.mark.parametrize(("content", "name", "message"), [
    (b"", "empty.csv", "empty"),
    (b"\n\n  \n", "blank.csv", "empty"),
    (bytes(range(256)) * 8, "garbage.csv", "not a text file"),
    (b"PK\x03\x04not really a zip", "broken.xlsx", "cannot be read"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old.xls", ".xls"),
    (b"foo;bar;baz\n1;2;3\n", "noheader.csv", "No column is recognised"),
    (b"%PDF-1.4 something", "doc.csv", "not a text file"),
    (b"Raison sociale;SIREN\nAcme;\"unclosed\n", "bad.csv", None),
])
def test_command_refuses_garbage(tmp_path: Path, content: bytes, name: str,
                                 message: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    if message is None:  # a quirky CSV is still read: no traceback either way
        data = json.loads(command(str(path), "--format", "json", "--language", "en"))
        assert data["rows"] == 1
        return
    with pytest.raises(CommandError, match=message):
        command(str(path), "--language", "en")


@pytest.mark.django_db
def test_command_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read"):
        command(str(tmp_path / "missing.csv"))
    path = tmp_path / "clients.csv"
    path.write_bytes(csv_bytes(FR_HEADER, FR_ROWS))
    with pytest.raises(CommandError, match="not a field"):
        command(str(path), "--map", "SIREN=sirene", "--language", "en")
