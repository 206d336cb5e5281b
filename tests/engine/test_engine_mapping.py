"""Declarative mappings: validation, transforms (French numbers and dates), apply, guesses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from comptoir.integration.engine.core import Record
from comptoir.integration.engine.errors import ConfigError, MappingError
from comptoir.integration.engine.mapping import (
    StreamMapping,
    auto_mapping,
    load_mapping,
    propose_mapping,
)
from comptoir.quality.headers import synonyms

from .conftest import TARGETS

ERP = """
system = "erp"

[streams.customers]
target = "account"
key = "Code client"
on_error = "quarantine"

[streams.customers.fields]
legal_name = "Raison sociale"
siren = { source = "SIREN", transforms = ["digits"] }
status = { const = "customer" }
billing_country = { source = "Pays", map = { France = "FR", Belgique = "BE" }, default = "FR", \
unknown = "error" }
credit_limit = { source = "Encours", transforms = ["fr_number"] }
billing_street = { concat = ["Adresse 1", "Adresse 2"], sep = " " }
parent_external_id = { source = "Maison mère", transforms = ["none_if_empty"], lookup = "account" }
"""


def field(spec: str, value: Any, *, target: str = "account", name: str = "trade_name",
          column: str = "Col") -> tuple[Any, str | None]:
    """Map one value through one field spec: (value, error)."""
    mapping = load_mapping(f'system = "t"\n[streams.s]\ntarget = "{target}"\n'
                           f"[streams.s.fields]\n{name} = {spec}\n", targets=TARGETS)
    _key, data, errors = mapping.streams["s"].apply(Record("k", {column: value}))
    return data.get(name), errors.get(name)


def value_of(transforms: str, value: Any) -> Any:
    result, error = field(f'{{ source = "Col", transforms = {transforms} }}', value)
    assert error is None, error
    return result


def error_of(transforms: str, value: Any) -> str | None:
    return field(f'{{ source = "Col", transforms = {transforms} }}', value)[1]


# --------------------------------------------------------------------------------------------
# apply


def test_apply_maps_a_record(targets: dict[str, set[str]]) -> None:
    mapping = load_mapping(ERP, targets=targets)
    customers = mapping.streams["customers"]
    assert mapping.system == "erp"
    assert (customers.target, customers.key, customers.on_error) == (
        "account", "Code client", "quarantine")
    assert customers.lookups == {"parent_external_id": "account"}
    assert customers.source_fields == {"Code client", "Raison sociale", "SIREN", "Pays",
                                       "Encours", "Adresse 1", "Adresse 2", "Maison mère"}
    record = Record("line 2", {"Code client": "C001", "Raison sociale": "Boulangerie Lefèvre",
                               "SIREN": "123 456 789", "Pays": "belgique",
                               "Encours": "12 500,50", "Adresse 1": "12 rue de la Paix",
                               "Adresse 2": "", "Maison mère": ""})
    assert customers.apply(record) == ("C001", {
        "legal_name": "Boulangerie Lefèvre", "siren": "123456789", "status": "customer",
        "billing_country": "BE", "credit_limit": Decimal("12500.50"),
        "billing_street": "12 rue de la Paix", "parent_external_id": None}, {})


def test_apply_collects_every_field_error_without_raising(targets: dict[str, set[str]]) -> None:
    customers = load_mapping(ERP, targets=targets).streams["customers"]
    key, data, errors = customers.apply(Record("3", {
        "Code client": " ", "Raison sociale": "X", "Pays": "Allemagne", "Encours": "abc"}))
    assert key == ""
    assert errors == {
        "external_id": '"Code client" is empty',
        "billing_country": '"Pays": "Allemagne" is not a known value '
                           "(expected one of: France, Belgique)",
        "credit_limit": '"Encours": "abc" is not a number',
    }
    assert data["legal_name"] == "X"


def test_the_record_key_is_the_default_key(targets: dict[str, set[str]]) -> None:
    mapping = load_mapping('system = "s"\n[streams.p]\ntarget = "product"\n'
                           '[streams.p.fields]\nname = "Désignation"\n', targets=targets)
    products = mapping.streams["p"]
    assert products.key is None
    assert products.apply(Record(" A-12 ", {"Désignation": "Vis"})) == ("A-12", {"name": "Vis"},
                                                                        {})
    assert products.apply(Record("", {})) == ("", {"name": None},
                                              {"external_id": "the record has no key"})


def test_key_with_transforms_and_tombstones(targets: dict[str, set[str]]) -> None:
    mapping = load_mapping("""
        system = "s"
        [streams.p]
        target = "product"
        key = { source = "Ref", transforms = ["strip", "upper"] }
        [streams.p.fields]
        name = "Nom"
        """, targets=targets)
    products = mapping.streams["p"]
    assert products.apply(Record("2", {"Ref": " ab-1 ", "Nom": "Vis"}))[0] == "AB-1"
    # A tombstone built from existing_keys() carries the raw key only.
    assert products.apply(Record(" ab-1", {}, deleted=True)) == ("AB-1", {}, {})
    assert products.normalise_key("ab-2") == "AB-2"


def test_unreadable_record_reports_the_reader_error(targets: dict[str, set[str]]) -> None:
    customers = load_mapping(ERP, targets=targets).streams["customers"]
    record = Record("7", {}, error="line 7: 3 fields, expected 8")
    assert customers.apply(record) == ("7", {}, {"record": "line 7: 3 fields, expected 8"})


def test_where_splits_one_stream_between_targets(targets: dict[str, set[str]]) -> None:
    mapping = load_mapping("""
        system = "odoo"
        [streams.companies]
        stream = "rows"
        target = "account"
        key = "id"
        where = { is_company = ["True", "1"], active = true }
        [streams.companies.fields]
        legal_name = "name"
        [streams.persons]
        stream = "rows"
        target = "contact"
        key = "id"
        where = { is_company = ["False", ""], parent = true }
        [streams.persons.fields]
        last_name = "name"
        [streams.other]
        target = "product"
        [streams.other.fields]
        name = "name"
        """, targets=targets)
    companies, persons = mapping.for_stream("rows")
    assert [m.name for m in mapping.for_stream("other")] == ["other"]
    company = Record("1", {"id": "p1", "name": "ACME", "is_company": " true ", "active": "x"})
    person = Record("2", {"id": "p2", "name": "Jean", "is_company": "False", "parent": "p1"})
    orphan = Record("3", {"id": "p3", "name": "Solo", "parent": ""})
    inactive = Record("4", {"id": "p4", "name": "Old", "is_company": "True", "active": ""})
    assert [companies.matches(r) for r in (company, person, orphan, inactive)] == [
        True, False, False, False]
    assert [persons.matches(r) for r in (company, person, orphan, inactive)] == [
        False, True, False, False]
    assert {"is_company", "active", "parent"} <= companies.source_fields | persons.source_fields


def test_ignore_case_matches_columns_whatever_their_case(targets: dict[str, set[str]]) -> None:
    mapping = load_mapping("""
        system = "salesforce"
        [streams.rows]
        target = "account"
        key = "Id"
        ignore_case = true
        where = { IsDeleted = ["false", ""] }
        [streams.rows.fields]
        legal_name = "Name"
        billing_city = { source = "BillingCity", transforms = ["upper"] }
        """, targets=targets)
    rows = mapping.streams["rows"]
    record = Record("2", {"ID": "001", "NAME": "Acme", "BILLINGCITY": "Lyon", "ISDELETED": "false"})
    assert rows.matches(record)
    assert rows.apply(record) == ("001", {"legal_name": "Acme", "billing_city": "LYON"}, {})
    assert rows.check_headers(["ID", "NAME", "BILLINGCITY"]) == []


def test_check_headers_lists_missing_columns(targets: dict[str, set[str]]) -> None:
    mapping = load_mapping("""
        system = "erp"
        [streams.c]
        target = "account"
        key = "Code"
        where = { Type = "C" }
        [streams.c.fields]
        legal_name = "Nom"
        phone = { coalesce = ["Portable", "Fixe"] }
        website = { source = "Site", optional = true }
        status = { const = "customer" }
        """, targets=targets)
    c = mapping.streams["c"]
    assert c.check_headers(["Code", "Nom", "Fixe"]) == []
    assert c.check_headers(["Nom "]) == [
        "streams.c: column 'Code' (the key) is missing",
        "streams.c: column 'Nom' (field legal_name) is missing",
        "streams.c: none of the columns 'Portable', 'Fixe' (field phone) is there",
    ]


def test_field_kinds() -> None:
    assert field('{ const = 20 }', "ignored", target="product", name="tax_rate") == (20, None)
    assert field('{ concat = ["Col", "Other"], sep = " - " }', " A ") == ("A", None)
    assert field('{ coalesce = ["Other", "Col"] }', "B") == ("B", None)
    assert field('{ coalesce = ["Other", "Col"] }', "  ") == (None, None)
    assert field('{ source = "Col", required = true }', "") == (None, '"Col" is empty')
    assert field('{ source = "Col", default = "n/a" }', "") == ("n/a", None)
    assert field('{ source = "Col", default = "n/a" }', "x") == ("x", None)


def test_map_unknown_values() -> None:
    spec = '{{ source = "Col", map = {{ France = "FR", "Royaume-Uni" = "GB" }}{} }}'
    assert field(spec.format(""), " france ") == ("FR", None)  # case and spaces ignored
    assert field(spec.format(""), "Espagne")[1] == (
        '"Col": "Espagne" is not a known value (expected one of: France, Royaume-Uni)')
    assert field(spec.format(', unknown = "keep"'), "Espagne") == ("Espagne", None)
    assert field(spec.format(', unknown = "default"'), "Espagne") == (None, None)
    assert field(spec.format(', unknown = "default", default = "FR"'), "Espagne") == ("FR", None)
    assert field(spec.format(""), "") == ("", None)  # empty is not unknown


# --------------------------------------------------------------------------------------------
# Transforms


@pytest.mark.parametrize(("text", "expected"), [
    ("1 234,56", "1234.56"),
    ("1.234,56", "1234.56"),
    ("1234.56", "1234.56"),
    ("1234,56", "1234.56"),
    ("1\u00a0234,56", "1234.56"),  # non-breaking space
    ("1\u202f234,56", "1234.56"),  # narrow non-breaking space (what French locales print)
    ("1.234.567", "1234567"),
    ("1 234 567,8", "1234567.8"),
    ("1,234.56", "1234.56"),
    ("-12,5", "-12.5"),
    ("(12,50)", "-12.50"),
    ("12,50-", "-12.50"),
    ("+3", "3"),
    (",5", "0.5"),
    ("1 500 €", "1500"),
    ("  42  ", "42"),
    (42, "42"),
    (3.25, "3.25"),
    (Decimal("7.10"), "7.10"),
])
def test_fr_number(text: Any, expected: str) -> None:
    assert value_of('["fr_number"]', text) == Decimal(expected)


@pytest.mark.parametrize("text", ["abc", "1,2,3", "12.34.56", "1e5", "NaN", "Infinity", "12 %",
                                  "--1", "1.234.56"])
def test_fr_number_refuses(text: str) -> None:
    assert error_of('["number"]', text) == f'"Col": "{text}" is not a number'


def test_numbers_empty_and_english() -> None:
    assert value_of('["number"]', "") is None
    assert value_of('["number"]', None) is None
    assert value_of('["fr_number"]', "1,234") == Decimal("1.234")  # French: decimal comma
    assert value_of('["en_number"]', "1,234") == Decimal("1234")
    assert value_of('["en_number"]', "1,234.5") == Decimal("1234.5")
    assert error_of('["number"]', True) == '"Col": True is not a number'


def test_round_half_up_where_a_user_wants_it() -> None:
    assert value_of('[{ round = 2 }]', Decimal("54.4150")) == Decimal("54.42")
    assert value_of('[{ round = 2 }]', "1 234,565") == Decimal("1234.57")
    assert value_of('[{ round = 0 }]', Decimal("-2.5")) == Decimal("-3")
    assert value_of('[{ round = 2 }]', "") is None
    assert error_of('[{ round = 2 }]', "abc") == '"Col": "abc" is not a number'


def test_invalid_values_policy(targets: dict[str, set[str]]) -> None:
    """Contact means and identifiers are left out by default; the rest quarantines; a field
    or a stream says otherwise; the key and required fields never drop."""
    text = """system = "t"
[streams.a]
target = "account"
[streams.a.fields]
legal_name = { source = "n", required = true }
email = "e"
credit_limit = "c"
phone = { source = "p", on_invalid = "stop" }
[streams.b]
target = "account"
on_invalid = "drop_field"
[streams.b.fields]
legal_name = "n"
credit_limit = "c"
email = { source = "e", on_invalid = "quarantine" }
"""
    mapping = load_mapping(text, targets=targets)
    a, b = mapping.streams["a"], mapping.streams["b"]
    assert [a.invalid_policy(k) for k in ("email", "siren", "credit_limit", "phone",
                                          "legal_name", "external_id", "lines.2.quantity")] == [
        "drop_field", "drop_field", "quarantine", "stop", "quarantine", "quarantine",
        "quarantine"]
    assert [b.invalid_policy(k) for k in ("credit_limit", "email", "legal_name")] == [
        "drop_field", "quarantine", "drop_field"]
    assert a.raw_value("email", Record("k", {"e": "x@@y"})) == "x@@y"
    bad = text.replace('on_invalid = "stop"', 'on_invalid = "drop"').replace(
        'legal_name = { source = "n", required = true }',
        'legal_name = { source = "n", required = true, on_invalid = "drop_field" }')
    with pytest.raises(MappingError) as problems:
        load_mapping(bad, targets=targets)
    assert "on_invalid: 'drop' is not one of drop_field, quarantine, stop" in str(problems.value)
    assert "a required field cannot be dropped" in str(problems.value)


def test_int() -> None:
    assert value_of('["int"]', "1 200") == 1200
    assert value_of('["int"]', "12,0") == 12
    assert value_of('["int"]', 12.0) == 12
    assert error_of('["int"]', "12,5") == '"Col": "12,5" is not a whole number'


@pytest.mark.parametrize(("text", "expected"), [
    ("oui", True), ("Non", False), ("YES", True), ("no", False), ("1", True), ("0", False),
    ("true", True), ("False", False), ("vrai", True), ("FAUX", False), ("x", True),
    ("X", True), (" ", None), ("", None), (True, True), (0, False), (1.0, True),
])
def test_bool(text: Any, expected: bool | None) -> None:
    assert value_of('["bool"]', text) is expected


def test_bool_refuses_and_not() -> None:
    assert error_of('["bool"]', "peut-être") == '"Col": "peut-être" is not a yes/no value'
    assert error_of('["bool"]', 2) == '"Col": 2 is not a yes/no value'
    assert value_of('["bool", "not"]', "oui") is False
    assert value_of('["not"]', "") is None


@pytest.mark.parametrize(("value", "expected"), [
    ("15/01/2024", dt.date(2024, 1, 15)),
    ("15-01-2024", dt.date(2024, 1, 15)),
    ("15.01.2024", dt.date(2024, 1, 15)),
    ("5/1/2024", dt.date(2024, 1, 5)),
    ("2024-01-15", dt.date(2024, 1, 15)),
    (" 15/01/2024 10:30:00 ", dt.date(2024, 1, 15)),
    ("2024-01-15T10:30:00.000Z", dt.date(2024, 1, 15)),
    (dt.datetime(2024, 1, 15, 9, 0), dt.date(2024, 1, 15)),  # from an XLSX cell
    (dt.date(2024, 1, 15), dt.date(2024, 1, 15)),
    (45306, dt.date(2024, 1, 15)),  # an Excel serial number
    (45306.75, dt.date(2024, 1, 15)),
    ("", None),
])
def test_fr_date(value: Any, expected: dt.date | None) -> None:
    assert value_of('["fr_date"]', value) == expected
    assert value_of('["date"]', value) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("31/02/2024", "is not a valid date"),
    ("15/13/2024", "is not a valid date"),
    ("15/01/24", "is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"),
    ("2024/01/15", "is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"),
    ("15/01-2024", "is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"),
    ("demain", "is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"),
])
def test_fr_date_refuses(value: str, message: str) -> None:
    assert error_of('["fr_date"]', value) == f'"Col": "{value}" {message}'


def test_excel_serial_out_of_range() -> None:
    assert error_of('["fr_date"]', -3) == '"Col": -3 is not a date'


def test_explicit_date_formats() -> None:
    assert value_of('[{ date = "%Y%m%d" }]', "20240115") == dt.date(2024, 1, 15)
    assert value_of('[{ date = ["%d/%m/%Y", "%d %B %Y"] }]', "15 January 2024") == dt.date(
        2024, 1, 15)
    assert value_of('[{ date = "%d/%m/%Y" }]', dt.datetime(2024, 1, 15, 8)) == dt.date(
        2024, 1, 15)
    assert error_of('[{ date = "%d/%m/%Y" }]', "15/01/24") == (
        '"Col": "15/01/24" is not a date in the format %d/%m/%Y')


def test_datetimes() -> None:
    assert value_of('["datetime"]', "15/01/2024 10h30") == dt.datetime(2024, 1, 15, 10, 30)
    assert value_of('["fr_datetime"]', "2024-01-15 10:30:05") == dt.datetime(
        2024, 1, 15, 10, 30, 5)
    assert value_of('["datetime"]', "2024-01-15T10:30:00+02:00") == dt.datetime(
        2024, 1, 15, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert value_of('["datetime"]', 45306.5) == dt.datetime(2024, 1, 15, 12, 0)
    assert value_of('[{ datetime = "%d/%m/%Y %H:%M" }]', "15/01/2024 10:30") == dt.datetime(
        2024, 1, 15, 10, 30)
    assert value_of('["datetime"]', "15/01/2024") == dt.datetime(2024, 1, 15)


@pytest.mark.parametrize(("transforms", "value", "expected"), [
    ('["strip"]', "  Lefèvre \u00a0", "Lefèvre"),
    ('["upper"]', "œuf à la coque", "ŒUF À LA COQUE"),
    ('["lower"]', "ÉCOLE", "école"),
    ('["title"]', "jean-françois dupont", "Jean-François Dupont"),
    ('["digits"]', "FR 12-345.678 901", "12345678901"),
    ('["digits"]', 75001.0, "75001"),  # a postcode typed as a number in a spreadsheet
    ('["compact"]', "01 23.45-67 89", "0123456789"),
    ('["compact"]', "FR\u00a012 345", "FR12345"),
    ('["single_line"]', " 12 rue X\r\n Bât. B ", "12 rue X Bât. B"),
    ('["none_if_empty"]', "  ", None),
    ('["none_if_empty"]', "a", "a"),
    ('[{ truncate = 5 }]', "Boulangerie", "Boula"),
    ('[{ default = "inconnu" }]', "", "inconnu"),
    ('[{ replace = { "Cedex" = "", "  " = " " } }]', "Lyon Cedex 03", "Lyon 03"),
    ('["strip", "upper", { truncate = 3 }]', " abcdef", "ABC"),
    ('["country"]', "France", "FR"),
    ('["country"]', "belgique", "BE"),
    ('["country"]', "Royaume-Uni", "GB"),
    ('["country"]', "ÉTATS-UNIS", "US"),
    ('["country"]', "de", "DE"),
    ('["country"]', "", ""),
])
def test_text_transforms(transforms: str, value: Any, expected: Any) -> None:
    assert value_of(transforms, value) == expected


def test_text_transforms_let_none_through() -> None:
    for name in ("strip", "upper", "digits", "compact", "country", "fr_date", "int"):
        assert value_of(f'["{name}"]', None) is None


def test_country_refuses_unknown_names() -> None:
    assert error_of('["country"]', "Atlantide") == (
        '"Col": "Atlantide" is not a known country (give its ISO code, e.g. FR)')


def test_long_values_are_shortened_in_messages() -> None:
    message = error_of('["number"]', "x" * 100)
    assert message is not None
    assert message.startswith('"Col": "xxx')
    assert "…" in message
    assert len(message) < 100


# --------------------------------------------------------------------------------------------
# Validation


def test_validation_lists_every_problem_at_once(targets: dict[str, set[str]]) -> None:
    text = """
system = "ERP Maison"
colour = "blue"

[streams.customers]
target = "account"
on_error = "ignore"
keyy = "Code"

[streams.customers.fields]
legal_nam = "Raison sociale"
siren = { source = "SIREN", transforms = ["digitz"] }
status = { const = "customer", source = "Statut" }
credit_limit = { source = "Encours", transforms = [{ truncate = "x" }] }
billing_country = { source = "Pays", unknown = "keep" }
parent_external_id = { source = "Mère", lookup = "acount" }
phone = { source = "Tel", sep = "," }
email = { sourc = "Mail" }
website = 3

[streams.items]
target = "produit"

[streams.people]
target = "contact"
[streams.people.fields]
last_name = { source = "Nom", map = {} }
first_name = { source = "Prénom", required = "yes" }
"""
    with pytest.raises(MappingError) as caught:
        load_mapping(text, targets=targets)
    problems = caught.value.problems
    assert problems == [
        "colour: unknown option",
        "system: 'ERP Maison' is not a valid system name (lower-case letters, digits and _ . : -)",
        "streams.customers: unknown option 'keyy' (did you mean 'key'?)",
        "streams.customers.on_error: 'ignore' is not one of quarantine, skip, stop",
        "streams.customers.fields.legal_nam: unknown field 'legal_nam' for account "
        "(did you mean 'legal_name'?)",
        "streams.customers.fields.siren.transforms: unknown transform 'digitz' "
        "(did you mean 'digits'?)",
        "streams.customers.fields.status: give exactly one of source, const, concat, coalesce "
        "(found source and const)",
        "streams.customers.fields.credit_limit.transforms: transform 'truncate' expects a "
        "positive length, e.g. { truncate = 80 }",
        "streams.customers.fields.billing_country.unknown: only meaningful with map",
        "streams.customers.fields.parent_external_id.lookup: unknown target 'acount' "
        "(did you mean 'account'?)",
        "streams.customers.fields.phone.sep: only a text, and only with concat",
        "streams.customers.fields.email: unknown option 'sourc' (did you mean 'source'?)",
        "streams.customers.fields.email: give exactly one of source, const, concat, coalesce",
        "streams.customers.fields.website: expected a source field name or a table, not 3",
        "streams.items.target: unknown target 'produit' (did you mean 'product'?) "
        "(known: account, activity, case, contact, lead, opportunity, pricelist, "
        "pricelistitem, product, salesdocument)",
        "streams.items.fields: missing or empty (CRM field = source field)",
        "streams.people.fields.last_name.map: expected a non-empty table of source → CRM values",
        "streams.people.fields.first_name.required: expected true or false",
    ]
    assert isinstance(caught.value, ConfigError)
    assert caught.value.message.startswith("Invalid mapping: colour: unknown option; ")


def test_toml_syntax_error_gives_line_and_column(targets: dict[str, set[str]]) -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping('system = "erp"\n[streams.c]\ntarget = account\n', targets=targets,
                     source="erp.toml")
    (problem,) = caught.value.problems
    assert problem.startswith("erp.toml: TOML syntax error: ")
    assert "line 3, column 10" in problem


@pytest.mark.parametrize(("text", "problem"), [
    ('[streams.a]\ntarget = "product"\n[streams.a.fields]\nname = "x"',
     "system: missing (the name of the other system, e.g. \"erp\")"),
    ('system = "erp"', "streams: no stream mapped (add a [streams.NAME] table)"),
    ('system = "erp"\nstreams = 3', "streams: no stream mapped (add a [streams.NAME] table)"),
    ('system = "erp"\n[streams.a]\n[streams.a.fields]\nname = "x"',
     "streams.a.target: missing (one of: account, activity, case, contact, lead, opportunity, "
     "pricelist, pricelistitem, product, salesdocument)"),
    ('system = "erp"\n[streams.a]\ntarget = "product"\nkey = 3\n[streams.a.fields]\nname = "x"',
     "streams.a.key: expected a source field name or { source = …, transforms = […] } / "
     "{ coalesce = […] }"),
    ('system = "erp"\n[streams.a]\ntarget = "product"\nwhere = { x = {} }\n'
     '[streams.a.fields]\nname = "x"',
     "streams.a.where.x: expected a text, a list of texts, true or false"),
    ('system = "erp"\n[streams.a]\ntarget = "product"\n[streams.a.fields]\n'
     'tax_rate = { const = "vingt", transforms = ["number"] }',
     'streams.a.fields.tax_rate: the constant: "vingt" is not a number'),
    ('system = "erp"\n[streams.a]\ntarget = "product"\n[streams.a.fields]\n'
     'name = { concat = [] }',
     "streams.a.fields.name.concat: expected a source field name or a list of them"),
    ('system = "erp"\n[streams.a]\ntarget = "product"\n[streams.a.fields]\n'
     'name = { source = "x", transforms = "strip" }',
     "streams.a.fields.name.transforms: transforms must be a list"),
    ('system = "erp"\n[streams.a]\ntarget = "product"\n[streams.a.fields]\n'
     'name = { source = "x", transforms = [{ date = "dd/mm/yyyy" }] }',
     "streams.a.fields.name.transforms: transform 'date' expects a strptime format or a list "
     "of them, e.g. \"%d/%m/%Y\""),
])
def test_single_problems(text: str, problem: str, targets: dict[str, set[str]]) -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping(text, targets=targets)
    assert caught.value.problems == [problem]


def test_stream_mapping_is_described(targets: dict[str, set[str]]) -> None:
    customers: StreamMapping = load_mapping(ERP, targets=targets).streams["customers"]
    siren = customers.fields["siren"]
    assert (siren.kind, siren.sources, siren.transforms) == ("source", ("SIREN",), ("digits",))
    assert customers.fields["legal_name"].kind == "copy"
    assert customers.fields["status"].const == "customer"


# --------------------------------------------------------------------------------------------
# Proposals

ACCOUNT_FIELDS = TARGETS["account"]
CONTACT_FIELDS = TARGETS["contact"]


def test_auto_mapping_salesforce_account_headers() -> None:
    headers = ["Id", "IsDeleted", "Name", "Type", "ParentId", "BillingStreet", "BillingCity",
               "BillingState", "BillingPostalCode", "BillingCountry", "ShippingStreet",
               "ShippingCity", "ShippingPostalCode", "ShippingCountry", "Phone", "Fax",
               "AccountNumber", "Website", "Industry", "NumberOfEmployees"]
    assert auto_mapping(headers, spellings=synonyms("account"), fields=ACCOUNT_FIELDS) == {
        "legal_name": "Name", "parent_external_id": "ParentId",
        "billing_street": "BillingStreet", "billing_city": "BillingCity",
        "billing_postcode": "BillingPostalCode", "billing_country": "BillingCountry",
        "shipping_street": "ShippingStreet", "shipping_city": "ShippingCity",
        "shipping_postcode": "ShippingPostalCode", "shipping_country": "ShippingCountry",
        "phone": "Phone", "fax": "Fax", "website": "Website",
    }


def test_auto_mapping_salesforce_contact_headers_in_capitals() -> None:
    headers = ["ID", "ACCOUNTID", "SALUTATION", "FIRSTNAME", "LASTNAME", "TITLE", "EMAIL",
               "PHONE", "MOBILEPHONE", "HASOPTEDOUTOFEMAIL"]
    assert auto_mapping(headers, spellings=synonyms("contact"), fields=CONTACT_FIELDS) == {
        "account_external_id": "ACCOUNTID", "civility": "SALUTATION",
        "first_name": "FIRSTNAME", "last_name": "LASTNAME", "job_title": "TITLE",
        "email": "EMAIL", "phone": "PHONE", "mobile": "MOBILEPHONE",
    }


def test_auto_mapping_odoo_partner_headers() -> None:
    headers = ["id", "name", "is_company", "parent_id/id", "title", "function", "street",
               "street2", "zip", "city", "country_id", "phone", "mobile", "email", "vat",
               "website"]
    assert auto_mapping(headers, spellings=synonyms("account"), fields=ACCOUNT_FIELDS) == {
        "legal_name": "name", "parent_external_id": "parent_id/id", "billing_street": "street",
        "billing_postcode": "zip", "billing_city": "city", "billing_country": "country_id",
        "phone": "phone", "mobile": "mobile", "email": "email", "vat_number": "vat",
        "website": "website",
    }
    contact = auto_mapping(headers, spellings=synonyms("contact"), fields=CONTACT_FIELDS)
    assert contact == {"account_external_id": "parent_id/id", "job_title": "function",
                       "phone": "phone", "mobile": "mobile", "email": "email"}


def test_auto_mapping_french_headers() -> None:
    headers = ["Code client", "Raison sociale", "N° SIRET", "N° TVA intracom", "Adresse",
               "Code postal", "Ville", "Pays", "Téléphone", "E-mail", "Site web",
               "Encours autorisé", "Conditions de règlement", "Code NAF"]
    assert auto_mapping(headers, spellings=synonyms("account"), fields=ACCOUNT_FIELDS) == {
        "legal_name": "Raison sociale", "siret": "N° SIRET", "vat_number": "N° TVA intracom",
        "billing_street": "Adresse", "billing_postcode": "Code postal", "billing_city": "Ville",
        "billing_country": "Pays", "phone": "Téléphone", "email": "E-mail",
        "website": "Site web", "credit_limit": "Encours autorisé",
        "payment_terms": "Conditions de règlement", "naf_code": "Code NAF",
    }
    people = ["Civilité", "Prénom", "Nom", "Fonction", "Courriel", "Portable", "Tél"]
    assert auto_mapping(people, spellings=synonyms("contact"), fields=CONTACT_FIELDS) == {
        "civility": "Civilité", "first_name": "Prénom", "last_name": "Nom",
        "job_title": "Fonction", "email": "Courriel", "mobile": "Portable", "phone": "Tél",
    }


def test_auto_mapping_prefers_exact_field_names() -> None:
    headers = ["legal_name", "Raison sociale", "Company"]
    assert auto_mapping(headers, spellings=synonyms("account"), fields=["legal_name"]) == {
        "legal_name": "legal_name"}


def test_propose_mapping_is_a_valid_mapping(targets: dict[str, set[str]]) -> None:
    headers = ["Code client", "Raison sociale", "Ville", "Colonne \"bizarre\""]
    text = propose_mapping(headers, system="erp", stream="rows", target="account",
                           fields=ACCOUNT_FIELDS, key="Code client",
                           spellings=synonyms("account"))
    assert '# Colonne "bizarre"' in text
    mapping = load_mapping(text, targets=targets)
    rows = mapping.streams["rows"]
    assert rows.key == "Code client"
    assert rows.apply(Record("2", {"Code client": "C1", "Raison sociale": "Acme",
                                   "Ville": "Lyon"})) == (
        "C1", {"legal_name": "Acme", "billing_city": "Lyon"}, {})


def test_abs_and_neg() -> None:
    assert value_of('["abs"]', "-1 234,50") == Decimal("1234.50")
    assert value_of('["abs"]', Decimal("-3")) == Decimal("3")
    assert value_of('["neg"]', "12,5") == Decimal("-12.5")
    assert value_of('["abs"]', "") is None


DOCUMENTS = """
system = "erp"

[streams.invoices]
target = "salesdocument"
[streams.invoices.fields]
number = "Numero"
total_incl_tax = { source = "TTC", transforms = ["abs"] }
[streams.invoices.lines]
source = "Lignes"
[streams.invoices.lines.fields]
description = "Libelle"
quantity = { source = "Qte", transforms = ["number", "abs"] }
product_external_id = { source = "Article", lookup = "product" }
"""


def test_rows_of_a_record_are_mapped_with_their_own_fields(targets: dict[str, set[str]]
                                                           ) -> None:
    [invoices] = load_mapping(DOCUMENTS, targets=targets).streams.values()
    record = Record("F1", {"Numero": "F1", "TTC": "-120", "Lignes": [
        {"Libelle": "Conseil", "Qte": "-2,5", "Article": "A1"},
        {"Libelle": "Remise", "Qte": "un", "Article": None},
        "pas une ligne"]})
    key, data, errors = invoices.apply(record)
    assert key == "F1"
    assert data == {"number": "F1", "total_incl_tax": Decimal("120"), "lines": [
        {"description": "Conseil", "quantity": Decimal("2.5"), "product_external_id": "A1"},
        {"description": "Remise", "product_external_id": None}]}
    assert errors == {"lines.1.quantity": '"Qte": "un" is not a number',
                      "lines.2": '"pas une ligne" is not a record'}
    # without the list the record leaves its rows alone; a non-list is an error
    assert "lines" not in invoices.apply(Record("F2", {"Numero": "F2", "TTC": "1"}))[1]
    assert invoices.apply(Record("F3", {"Numero": "F3", "TTC": "1", "Lignes": "x"}))[2] == {
        "lines": '"x" is not a list'}


def test_rows_mapping_is_validated(targets: dict[str, set[str]]) -> None:
    text = DOCUMENTS.replace('description = "Libelle"', 'descriptio = "Libelle"').replace(
        'source = "Lignes"', 'source = "Lignes"\nsorce = 1') + """
[streams.accounts]
target = "account"
[streams.accounts.fields]
legal_name = "Nom"
[streams.accounts.lines.fields]
description = "x"
"""
    with pytest.raises(MappingError) as caught:
        load_mapping(text, targets=targets)
    assert caught.value.problems == [
        "streams.invoices.lines: unknown option 'sorce' (did you mean 'source'?)",
        "streams.invoices.lines.fields.descriptio: unknown field 'descriptio' for "
        "salesdocument.lines (did you mean 'description'?)",
        "streams.accounts: unknown option 'lines'",
    ]
    with pytest.raises(MappingError, match=r"unknown target 'salesdocument\.lines'"):
        load_mapping('system = "x"\n[streams.a]\ntarget = "salesdocument.lines"\n'
                     '[streams.a.fields]\ndescription = "d"\n', targets=targets)
