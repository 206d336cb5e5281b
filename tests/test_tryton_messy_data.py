"""The messy Tryton data set (``comptoir.testing.tryton_messy``) really holds what the sync tests
rely on, read through JSON-RPC from a real Tryton 8 server, and its change set really changes
it (``apply_messy_changes``).

The checks here are written independently of the script's own summary: they classify the values
Tryton answers, so a change to the script that loses an oddity fails here.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from stdnum.fr import siren as stdnum_siren

from comptoir.integration.connectors.tryton_rpc import TrytonClient
from comptoir.testing.tryton import TrytonServer, apply_messy_changes
from comptoir.testing.tryton_fixtures import (  # noqa: F401
    tryton_messy,
    tryton_messy_template,
)

ALL = {"active_test": False}
NBSP, NNBSP = "\u00a0", "\u202f"
PARTY_FIELDS = [
    "name", "code", "active", "write_date",
    "addresses.street", "addresses.postal_code", "addresses.city", "addresses.country.code",
    "addresses.invoice", "addresses.delivery", "addresses.active",
    "contact_mechanisms.type", "contact_mechanisms.value", "contact_mechanisms.name",
    "contact_mechanisms.active",
    "identifiers.type", "identifiers.code",
]
INVOICE_FIELDS = ["reference", "state", "type", "party", "total_amount", "amount_to_pay",
                  "number", "invoice_date", "lines.quantity", "lines.unit_price",
                  "lines.origin", "write_date"]


def rpc(server: TrytonServer) -> TrytonClient:
    return TrytonClient(server.url, server.database, server.username, server.password,
                        timeout=30, extra_context=ALL)


def read_all(client: TrytonClient) -> dict[str, Any]:
    """Everything a sync reads, deactivated records included."""
    parties = client.search_read("party.party", [], PARTY_FIELDS, order=[["id", "ASC"]])
    sales = client.search_read("sale.sale", [], ["reference", "state", "party", "number",
                                                 "invoices", "write_date"],
                               order=[["id", "ASC"]])
    sale_lines = client.search_read("sale.line", [], ["sale", "type", "quantity",
                                                      "unit_price", "description",
                                                      "unit.digits"])
    invoices = client.search_read("account.invoice", [], INVOICE_FIELDS, order=[["id", "ASC"]])
    return {"parties": parties, "by_code": {p["code"]: p for p in parties}, "sales": sales,
            "sales_by_ref": {s["reference"]: s for s in sales}, "sale_lines": sale_lines,
            "invoices": invoices,
            "invoices_by_ref": {i["reference"]: i for i in invoices if i["reference"]}}


@pytest.fixture(scope="module")
def data(tryton_messy_template: Path,  # noqa: F811
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The initial data set, read once: these tests only read."""
    with TrytonServer(tryton_messy_template,
                      workdir=tmp_path_factory.mktemp("tryton-messy-read")) as server, \
            rpc(server) as client:
        yield read_all(client)


def mechanisms(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [m for p in data["parties"] for m in p["contact_mechanisms."] if m["type"] == kind]


# --- Party names ---------------------------------------------------------------------------------

def test_party_names_carry_unicode_and_spacing_oddities(data: dict[str, Any]) -> None:
    names = [p["name"] for p in data["parties"] if p["name"] is not None]
    nfd = [n for n in names if unicodedata.normalize("NFC", n) != n]
    assert len(nfd) >= 4
    # decomposed: a plain "e" followed by the combining acute accent
    assert all("\u0301" in n or "\u0300" in n or "\u0302" in n for n in nfd)
    assert sum(NBSP in n for n in names) >= 3
    assert sum(NNBSP in n for n in names) >= 3
    assert sum("’" in n for n in names) >= 3
    assert sum("«" in n and "»" in n for n in names) >= 3
    for letter in "ŒÆßØ":
        assert any(letter in n for n in names), letter
    assert sum(n != n.strip() for n in names) >= 3  # leading or trailing spaces
    assert sum("  " in n.strip() for n in names) >= 2  # double spaces inside
    assert "\r\n" not in "".join(names)

    by_code = data["by_code"]
    assert by_code["M32"]["name"] is None  # Tryton does not require a name
    assert by_code["M33"]["name"] == by_code["M34"]["name"]  # homonyms
    assert by_code["M11"]["name"].replace("’", "'") == by_code["M14"]["name"]
    assert len(by_code["M38"]["name"]) > 250
    persons = ["M02", "M21", "M27", "M28", "M29", "M30", "M31"]
    assert all(not by_code[c]["identifiers."] for c in persons)


def test_company_party_exists_with_a_contact_mechanism(data: dict[str, Any]) -> None:
    company = data["by_code"]["1"]
    assert company["name"] == "Comptoir Démo SAS"
    assert {m["type"] for m in company["contact_mechanisms."]} >= {"email", "phone"}
    assert len(data["parties"]) == 61  # the company and the 60 messy parties


# --- Addresses -----------------------------------------------------------------------------------

def test_addresses_missing_several_foreign_multi_line_and_inactive(data: dict[str, Any]) -> None:
    parties = data["parties"]
    without = [p["code"] for p in parties if not p["addresses."]]
    assert sorted(without) == ["M17", "M32", "M36", "M37"]
    several = [p for p in parties if sum(a["active"] for a in p["addresses."]) >= 2]
    assert len(several) >= 5
    # invoice and delivery on different addresses of one party
    split = [p for p in several
             if any(a["invoice"] and not a["delivery"] for a in p["addresses."])
             and any(a["delivery"] and not a["invoice"] for a in p["addresses."])]
    assert len(split) >= 4
    # where the invoice address is not the first one
    assert not data["by_code"]["M50"]["addresses."][0]["invoice"]

    addresses = [a for p in parties for a in p["addresses."]]
    assert sum(not a["active"] for a in addresses) >= 1
    streets = [a["street"] or "" for a in addresses]
    assert sum("\n" in s for s in streets) >= 6
    assert any("\r\n" in s for s in streets)
    by_country: dict[str | None, list[str]] = {}
    for address in addresses:
        code = (address["country."] or {}).get("code")
        by_country.setdefault(code, []).append(address["postal_code"])
    assert {"FR", "BE", "CH", "DE", "GB", "US", None} <= set(by_country)
    assert all(re.fullmatch(r"\d{4}", pc) for pc in by_country["BE"] + by_country["CH"])
    assert all(re.fullmatch(r"\d{5}", pc) for pc in by_country["DE"])
    assert all(re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}", pc) for pc in by_country["GB"])
    assert any("CEDEX" in (a["city"] or "") for a in addresses)


# --- Contact mechanisms --------------------------------------------------------------------------

EMAIL_KINDS = {
    "double @": lambda v: "@@" in v or (v.count("@") == 2 and ";" not in v),
    "trailing comma": lambda v: v.endswith(","),
    "semicolon": lambda v: ";" in v,
    "space inside": lambda v: " " in v,
    "no dot in the domain": lambda v: "@" in v and "." not in v.rpartition("@")[2],
    "dash before the dot": lambda v: "-." in v.rpartition("@")[2],
    "unicode": lambda v: not v.isascii(),
}
VALID_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def test_invalid_emails_of_every_kind_and_valid_ones(data: dict[str, Any]) -> None:
    values = [m["value"] for m in mechanisms(data, "email")]
    for kind, test in EMAIL_KINDS.items():
        assert sum(map(test, values)) >= 3, kind
    valid = [v for v in values if VALID_EMAIL.fullmatch(v) and "-." not in v and ".." not in v]
    assert len(valid) >= 30
    assert "Louis.Petit@Exemple.FR" in valid  # valid, in mixed case
    most = max(data["parties"], key=lambda p: sum(m["type"] == "email"
                                                   for m in p["contact_mechanisms."]))
    assert sum(m["type"] == "email" for m in most["contact_mechanisms."]) >= 4
    assert any(not m["active"] for m in mechanisms(data, "email"))


def test_phones_in_every_format_foreign_and_garbage(data: dict[str, Any]) -> None:
    phones = [m["value"] for kind in ("phone", "mobile", "fax") for m in mechanisms(data, kind)]
    for pattern in (r"0\d( \d\d){4}", r"0\d(\.\d\d){4}", r"\+33 \d( \d\d){4}", r"0033\d{9}",
                    r"\+33 \(0\)\d( \d\d){4}", r"0\d{9}", r"0\d(-\d\d){4}"):
        assert any(re.fullmatch(pattern, p) for p in phones), pattern
    for prefix in ("+32", "+41", "+49", "+44", "+1 ", "+45"):
        assert any(p.startswith(prefix) for p in phones), prefix
    assert any(re.fullmatch(r"0\d\d/\d{7}", p) for p in phones)  # German national
    garbage = [p for p in phones if len(re.sub(r"\D", "", p)) not in (9, 10, 11, 12)
               or re.search(r"[a-zé]", p)]
    assert len(garbage) >= 5
    assert len(mechanisms(data, "fax")) >= 3
    both = [p for p in data["parties"]
            if {"phone", "mobile"} <= {m["type"] for m in p["contact_mechanisms."]}]
    assert len(both) >= 4


def test_websites_valid_and_not(data: dict[str, Any]) -> None:
    sites = [m["value"] for m in mechanisms(data, "website")]
    valid = [s for s in sites if re.fullmatch(r"https?://[\w.-]+\.[a-z]{2,}(/.*)?", s)]
    assert len(valid) >= 3
    assert {"www.cafe-du-port", "http//www.atelier-lumiere.fr"} <= set(sites)
    assert len(sites) - len(valid) >= 4


def test_named_mechanisms_make_contacts_some_with_invalid_values(data: dict[str, Any]) -> None:
    named = [m for p in data["parties"] for m in p["contact_mechanisms."] if m["name"]]
    assert len(named) >= 8
    assert any(m["type"] == "email" and any(t(m["value"]) for t in EMAIL_KINDS.values())
               for m in named)
    assert any(m["type"] == "phone" and not re.search(r"\d{6}", m["value"].replace(" ", ""))
               for m in named)
    names = [m["name"] for m in named]
    assert any(unicodedata.normalize("NFC", n) != n for n in names)
    # one person written twice differently (case, double space): the connector groups them
    assert {"Claire Martin", "claire  martin"} <= set(names)


# --- Identifiers ---------------------------------------------------------------------------------

def test_identifiers_typed_formatted_and_untyped(data: dict[str, Any]) -> None:
    identifiers = [(i["type"], i["code"]) for p in data["parties"] for i in p["identifiers."]]
    types = Counter(kind for kind, _code in identifiers)
    assert types["fr_siren"] >= 20
    for kind in ("fr_siret", "eu_vat", "fr_vat", "ch_uid", "ch_vat", "be_vat",
                 "de_handelsregisternummer", "gb_vat", "us_ein", None):
        assert types[kind] >= 1, kind
    sirens = [code for kind, code in identifiers if kind == "fr_siren"]
    assert all(re.fullmatch(r"\d{3} \d{3} \d{3}", code) for code in sirens)  # Tryton's format
    invalid = [code for code in sirens if not stdnum_siren.is_valid(code)]
    assert len(invalid) == 1  # the legacy one (M54)
    assert all(re.fullmatch(r"\d{3} \d{3} \d{3} \d{5}", code)
               for kind, code in identifiers if kind == "fr_siret")
    vats = [code for kind, code in identifiers if kind == "eu_vat"]
    assert {code[:2].upper() for code in vats} >= {"FR", "BE", "DE"}
    assert any(" " in code for code in vats)
    assert any("." in code for code in vats)
    assert any(code[:2].islower() for code in vats)
    assert all(code.startswith("CHE-") for kind, code in identifiers if kind == "ch_uid")
    # the same SIREN on two parties (a duplicate), as happens
    assert len(sirens) - len(set(sirens)) >= 1


# --- Inactive parties ----------------------------------------------------------------------------

def test_inactive_parties_some_with_documents(data: dict[str, Any]) -> None:
    inactive = {p["id"] for p in data["parties"] if not p["active"]}
    assert len(inactive) == 6
    with_invoices = {i["party"] for i in data["invoices"]} & inactive
    with_sales = {s["party"] for s in data["sales"]} & inactive
    assert len(with_invoices) >= 2
    assert len(with_sales) >= 2


# --- Sales ---------------------------------------------------------------------------------------

def test_sales_in_every_state(data: dict[str, Any]) -> None:
    states = Counter(s["state"] for s in data["sales"])
    assert states == {"draft": 5, "quotation": 5, "confirmed": 4, "processing": 7, "done": 5,
                      "cancelled": 4}
    assert all(not s["invoices"] for s in data["sales"]
               if s["state"] in ("draft", "quotation", "confirmed", "cancelled"))
    assert all(s["invoices"] for s in data["sales"] if s["state"] in ("processing", "done"))
    invoices = {i["id"]: i for i in data["invoices"]}
    assert all(invoices[i]["state"] == "paid" for s in data["sales"]
               if s["state"] == "done" for i in s["invoices"])


def test_sale_lines_with_4_decimal_prices_and_decimal_quantities(data: dict[str, Any]) -> None:
    lines = [line for line in data["sale_lines"] if line["type"] == "line"]
    prices = [line["unit_price"] for line in lines]
    assert all(isinstance(price, Decimal) for price in prices)
    assert Decimal("54.4140") in prices  # 60.46 less 10 %
    four = {price for price in prices if price != price.quantize(Decimal("0.01"))}
    assert len(four) >= 4
    assert any(price < 0 for price in prices)
    quantities = {line["quantity"] for line in lines}
    assert {0.5, 1.25, 2.333, 0.125, 12.75} <= quantities
    assert any(line["unit."]["digits"] == 3 for line in lines)
    assert any(line["type"] == "comment" for line in data["sale_lines"])
    assert any("\n" in (line["description"] or "") for line in lines)


# --- Invoices ------------------------------------------------------------------------------------

def test_invoices_in_every_state_paid_in_part_and_in_full(data: dict[str, Any]) -> None:
    out = [i for i in data["invoices"] if i["type"] == "out"]
    assert len(out) == 26
    assert [i["reference"] for i in data["invoices"] if i["type"] == "in"] == ["MSY-S01"]
    states = Counter(i["state"] for i in out)
    assert states == {"draft": 4, "validated": 2, "posted": 12, "paid": 7, "cancelled": 1}
    partly = [i for i in out if i["state"] == "posted" and i["total_amount"] > 0
              and 0 < i["amount_to_pay"] < i["total_amount"]]
    assert len(partly) == 3
    assert all(i["amount_to_pay"] == 0 for i in out if i["state"] == "paid")
    assert all(i["number"] is None for i in out if i["state"] in ("draft", "validated"))
    from_sales = [i for i in out if any((ln["origin"] or "").startswith("sale.line,")
                                        for ln in i["lines."])]
    assert len(from_sales) == 12
    direct = [i for i in out if i["reference"] and i["reference"].startswith("MSY-F")]
    assert len(direct) == 10


def test_credit_notes_by_the_wizard_with_and_without_refund_and_by_hand(
        data: dict[str, Any]) -> None:
    out = [i for i in data["invoices"] if i["type"] == "out"]
    line_owner = {}
    for invoice in out:
        for line in invoice["lines."]:
            line_owner[f"account.invoice.line,{line['id']}"] = invoice
    notes = [i for i in out if i["lines."] and all(
        ln["quantity"] < 0 for ln in i["lines."] if ln["quantity"] is not None)]
    assert len(notes) == 4
    credited = {}
    for note in notes:
        origins = {line_owner[ln["origin"]]["reference"] for ln in note["lines."]
                   if (ln["origin"] or "").startswith("account.invoice.line,")}
        credited[note["id"]] = (note, origins)
    by_wizard = {next(iter(origins)): note for note, origins in credited.values() if origins}
    assert set(by_wizard) == {"MSY-F05", "MSY-F06", "MSY-F07"}
    refunded = data["invoices_by_ref"]["MSY-F05"]
    assert refunded["state"] == "cancelled"  # with refund: cancelled and paid back
    assert by_wizard["MSY-F05"]["state"] == "paid"
    assert by_wizard["MSY-F06"]["state"] == "posted"
    assert by_wizard["MSY-F06"]["amount_to_pay"] == by_wizard["MSY-F06"]["total_amount"] < 0
    assert by_wizard["MSY-F07"]["state"] == "draft"
    by_hand, = [note for note, origins in credited.values() if not origins]
    assert by_hand["reference"] == "MSY-H01"
    assert by_hand["state"] == "posted"
    assert by_hand["total_amount"] < 0
    assert any(ln["unit_price"] == Decimal("54.4140") for ln in by_hand["lines."])


# --- Change set ----------------------------------------------------------------------------------

def test_change_set_renames_moves_deactivates_deletes_and_adds_documents(
        tryton_messy: TrytonServer) -> None:  # noqa: F811
    with rpc(tryton_messy) as client:
        before = read_all(client)
    port = tryton_messy.port
    apply_messy_changes(tryton_messy)
    assert tryton_messy.running
    assert tryton_messy.port == port
    with rpc(tryton_messy) as client:
        after = read_all(client)
        old_f04 = before["invoices_by_ref"]["MSY-F04"]
        new_f04 = after["invoices_by_ref"]["MSY-F04"]
        assert new_f04["amount_to_pay"] == old_f04["amount_to_pay"] - Decimal("100.00")
        new_party_ids = {p["id"] for p in after["parties"]} - {
            p["id"] for p in before["parties"]}
        addresses = client.search_read("party.address", [["party.code", "=", "M45"]],
                                       ["delivery", "postal_code"], context=ALL)
    old, new = before["by_code"], after["by_code"]

    # renames, among them one that only changes the Unicode normal form
    assert new["M03"]["name"] == unicodedata.normalize("NFC", old["M03"]["name"])
    assert new["M03"]["name"] != old["M03"]["name"]
    assert new["M25"]["name"] == "Imprimerie du Centre – Groupe Ællo"
    assert new["M27"]["name"] == "Marie Dupont-Lefèvre"
    assert new["M48"]["name"] == f"L’Atelier{NBSP}Numérique Lambert"
    for code in ("M03", "M25", "M27", "M48"):
        assert new[code]["write_date"] > old[code]["write_date"]

    # addresses: street, city, a new delivery address, a removed one
    assert new["M49"]["addresses."][0]["street"] == "Parc d’activités\n3 allée des Tilleuls"
    assert new["M40"]["addresses."][0]["city"] == "Sint-Jans-Molenbeek"
    assert len(addresses) == 3
    assert sum(a["delivery"] for a in addresses) == 2
    assert "E16 2QU" in {a["postal_code"] for a in addresses}
    assert len(new["M50"]["addresses."]) == len(old["M50"]["addresses."]) - 1

    # new parties; deactivated, reactivated and deleted ones
    names = {p["name"] for p in after["parties"] if p["id"] in new_party_ids}
    assert names == {f"Nouvelle{NBSP}Société d’Essai", "Ærø Shipping GmbH",
                     unicodedata.normalize("NFD", "Zoë Çelik")}
    assert all(old[c]["active"] and not new[c]["active"] for c in ("M06", "M43", "M52"))
    assert not old["M24"]["active"]
    assert new["M24"]["active"]
    assert {"M36", "M37", "M58"} <= set(old)
    assert not {"M36", "M37", "M58"} & set(new)

    # e-mails: invalid → valid, valid → invalid
    def emails(party: dict[str, Any]) -> set[str]:
        return {m["value"] for m in party["contact_mechanisms."] if m["type"] == "email"}
    assert "contact@@cafe-du-port.fr" in emails(old["M05"])
    assert emails(new["M05"]) == {"contact@cafe-du-port.fr"}
    assert emails(new["M49"]) == {"contact@transports-girard,fr"}

    # documents: two new posted invoices, a credit note of F10, a payment on F04, two sales
    invoices = after["invoices_by_ref"]
    assert invoices["MSY-F11"]["state"] == invoices["MSY-F12"]["state"] == "posted"
    assert invoices["MSY-F11"]["number"]
    assert invoices["MSY-F12"]["number"]
    f10_lines = {f"account.invoice.line,{ln['id']}" for ln in invoices["MSY-F10"]["lines."]}
    notes = [i for i in after["invoices"]
             if {ln["origin"] for ln in i["lines."]} & f10_lines]
    assert len(notes) == 1
    assert notes[0]["state"] == "posted"
    assert notes[0]["total_amount"] == -invoices["MSY-F10"]["total_amount"]
    sales_before, sales_after = before["sales_by_ref"], after["sales_by_ref"]
    assert (sales_before["MSY-V04"]["state"], sales_after["MSY-V04"]["state"]) == (
        "draft", "quotation")
    assert (sales_before["MSY-V12"]["state"], sales_after["MSY-V12"]["state"]) == (
        "confirmed", "processing")
    assert sales_after["MSY-V12"]["invoices"]
    assert len([i for i in after["invoices"] if i["type"] == "out"]) == 26 + 4
