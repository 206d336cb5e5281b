"""What ``search()`` finds and in which order: typos, accents, prefixes, every object type.

Records are created through the services, as in production; the search reads their outbox
events before answering, so no explicit indexing step appears here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from comptoir.search.backends import COMMON, Group, SQLiteBackend
from comptoir.search.models import SearchTerm
from comptoir.search.services import Hit, search
from comptoir.search.vocabulary import forget
from comptoir.testing import factories as f


def titles(hits: list[Hit]) -> list[str]:
    return [h.title for h in hits]


def found(hits: list[Hit], obj: Any, object_type: str) -> bool:
    return any(h.object_type == object_type and h.object_id == obj.pk for h in hits)


@pytest.fixture
def people(personas: Any) -> dict[str, Any]:
    """Accounts and contacts with names that differ by one or two letters."""
    admin = personas.admin
    acme = f.account(by=admin, legal_name="Acme Industrie SARL", owner=personas.owner,
                     billing_postcode="69002", billing_city="Lyon")
    names = {"dubois": ("Jean", "Dubois"), "dupont": ("Marc", "Dupont"),
             "lefebvre": ("Élodie", "Lefebvre"), "lefevre": ("Paul", "Lefèvre"),
             "martin": ("Anne", "Martin"), "martinez": ("Luis", "Martinez"),
             "marten": ("Kurt", "Marten")}
    out: dict[str, Any] = {"acme": acme}
    for key, (first, last) in names.items():
        out[key] = f.contact(by=admin, account=acme, first_name=first, last_name=last,
                             owner=personas.owner)
    return out


def test_a_typo_in_a_word_still_finds_it(people: dict[str, Any], admin: Any) -> None:
    hits = search(admin, "Dubios", types=["contact"])
    assert hits[0].title == "Jean Dubois"
    assert hits[0].match == "fuzzy"
    assert hits[0].matched == ("dubois",)
    lefebre = search(admin, "Lefebre", types=["contact"])
    assert {"Élodie Lefebvre", "Paul Lefèvre"} <= set(titles(lefebre))


def test_two_typos_are_tolerated_in_long_words_only(personas: Any, admin: Any) -> None:
    account = f.account(by=admin, legal_name="Boulangerie Montmartre")
    assert found(search(admin, "Bolangeri", types=["account"]), account, "account")
    assert found(search(admin, "Montmatre "), account, "account")
    # four letters tolerate one edit, not two
    assert search(admin, "Bxlx ", types=["account"]) == []


def test_accents_and_case_are_ignored_both_ways(people: dict[str, Any], admin: Any) -> None:
    assert titles(search(admin, "ELODIE", types=["contact"])) == ["Élodie Lefebvre"]
    assert "Paul Lefèvre" in titles(search(admin, "lefevre ", types=["contact"]))
    account = f.account(by=admin, legal_name="Creperie Emile")
    assert found(search(admin, "Crêperie Émile"), account, "account")


def test_the_word_being_typed_is_a_prefix(people: dict[str, Any], admin: Any) -> None:
    hits = search(admin, "Lefeb", types=["contact"])
    assert titles(hits)[0] == "Élodie Lefebvre"
    assert hits[0].match == "prefix"
    assert search(admin, "jean dub", types=["contact"])[0].title == "Jean Dubois"
    # a finished word (trailing space) is no longer a prefix, nor a close enough typo
    assert search(admin, "Lefeb ", types=["contact"]) == []


def test_exact_before_prefix_before_fuzzy(people: dict[str, Any], admin: Any) -> None:
    hits = search(admin, "martin", types=["contact"])
    assert titles(hits)[:3] == ["Anne Martin", "Luis Martinez", "Kurt Marten"]
    assert [h.match for h in hits[:3]] == ["exact", "prefix", "fuzzy"]
    assert hits[0].score > hits[1].score > hits[2].score


def test_words_in_the_title_rank_before_words_elsewhere(personas: Any, admin: Any) -> None:
    dubois_sa = f.account(by=admin, legal_name="Dubois SA")
    employee = f.contact(by=admin, account=dubois_sa, first_name="Rémi", last_name="Garnier")
    namesake = f.contact(by=admin, account=f.account(by=admin, legal_name="Other"),
                         first_name="Luc", last_name="Dubois")
    hits = search(admin, "dubois", types=["contact"])
    assert [h.object_id for h in hits] == [namesake.pk, employee.pk]


def test_every_word_must_match(people: dict[str, Any], admin: Any) -> None:
    assert titles(search(admin, "anne martin", types=["contact"])) == ["Anne Martin"]
    assert search(admin, "anne dupont", types=["contact"]) == []


def test_limit_and_types(people: dict[str, Any], admin: Any) -> None:
    assert len(search(admin, "acme", limit=3)) == 3
    assert {h.object_type for h in search(admin, "acme", types=["account"])} == {"account"}
    assert search(admin, "acme", types=["activity"]) == []  # not indexed: ignored
    assert search(admin, "a") == []  # nothing to search yet


@pytest.fixture
def catalogue(personas: Any) -> dict[str, Any]:
    admin, owner = personas.admin, personas.owner
    account = f.account(
        by=admin, legal_name="Transports Vidal SAS", trade_name="Vidal Express",
        siren="732829320", siret="73282932000074", billing_postcode="13001",
        billing_city="Marseille", email="contact@vidal-express.fr", phone="+33491123456",
        owner=owner)
    contact = f.contact(by=admin, account=account, first_name="Inès", last_name="Roussel",
                        email="ines.roussel@vidal-express.fr", phone="+33612345678",
                        owner=owner)
    lead = f.lead(by=admin, company_name="Garage Perrin", first_name="Hugo",
                  last_name="Faure", email="hugo@garage-perrin.fr", owner=owner)
    opportunity = f.opportunity(by=admin, account=account, name="Renouvellement flotte",
                                amount=Decimal("5000"), owner=owner)
    case = f.case(by=admin, account=account, subject="Palette endommagée", owner=owner)
    document = f.sales_document(by=admin, account=account, owner=owner)
    product = f.product(by=admin, code="PAL-EUR-80", name="Palette europe")
    return {"account": account, "contact": contact, "lead": lead, "opportunity": opportunity,
            "case": case, "salesdocument": document, "product": product}


@pytest.mark.parametrize(("object_type", "queries"), [
    ("account", ["Transports Vidal", "vidal expr", "732829320", "732 829 320",
                 "73282932000074", "marseille", "13001", "contact@vidal-express.fr",
                 "04 91 12 34 56", "+33491123456"]),
    ("contact", ["Inès Roussel", "ines.roussel@vidal", "06 12 34 56 78", "roussel vidal"]),
    ("lead", ["Garage Perrin", "Hugo Faure", "hugo@garage-perrin.fr"]),
    ("opportunity", ["Renouvellement flotte", "flotte vidal"]),
    ("case", ["Palette endommagee", "CAS-"]),
    ("salesdocument", ["Transports Vidal", "DEV-"]),
    ("product", ["PAL-EUR-80", "palette europe"]),
])
def test_each_object_type_is_found_by_its_fields(catalogue: dict[str, Any], admin: Any,
                                                 object_type: str, queries: list[str]) -> None:
    obj = catalogue[object_type]
    for q in queries:
        assert found(search(admin, q, types=[object_type], limit=50), obj, object_type), q


def test_numbers_are_found_whole_and_without_padding(personas: Any, admin: Any) -> None:
    account = f.account(by=admin, legal_name="Numbers SA")
    case = f.case(by=admin, account=account, subject="Panne", number="CAS-000123")
    document = f.sales_document(by=admin, account=account, number="DEV-2025-000042")
    assert found(search(admin, "CAS-000123", types=["case"]), case, "case")
    assert found(search(admin, "123", types=["case"]), case, "case")
    assert found(search(admin, "DEV-2025-000042", types=["salesdocument"]), document,
                 "salesdocument")
    assert found(search(admin, "dev 42", types=["salesdocument"]), document, "salesdocument")


def test_hits_carry_title_subtitle_and_matched_words(catalogue: dict[str, Any],
                                                     admin: Any) -> None:
    hit = search(admin, "Roussel", types=["contact"])[0]
    assert (hit.object_type, hit.object_id) == ("contact", catalogue["contact"].pk)
    assert hit.title == "Inès Roussel"
    assert hit.subtitle == "Transports Vidal SAS · ines.roussel@vidal-express.fr"
    assert hit.matched == ("roussel",)
    account_hit = search(admin, "Transports Vidal", types=["account"])[0]
    assert account_hit.subtitle == "Vidal Express · 13001 Marseille · 732829320"


def test_common_words_are_tested_on_the_rows_with_the_same_answers(people: dict[str, Any],
                                                                   admin: Any) -> None:
    """SQLite leaves words found in very many rows (counted by the last rebuild) out of the
    full-text intersection and tests them on the rows the others found: same answers."""
    queries = ["acme industrie lyon", "industrie lef", "sarl lyon acme ", "acme industrie",
               "industrie lyon", "sarl "]
    before = [[(h.object_type, h.object_id) for h in search(admin, q, limit=50)]
              for q in queries]
    assert all(before)
    SearchTerm.objects.filter(term__in=["industrie", "lyon", "sarl"]).update(rows=10**7)
    forget()
    after = [[(h.object_type, h.object_id) for h in search(admin, q, limit=50)]
             for q in queries]
    assert after == before


def test_the_sqlite_planner_keeps_the_rarest_word_and_the_uncommon_ones() -> None:
    rare, mid, common = Group(("a",), rows=10), Group(("b",), rows=COMMON - 1), \
        Group(("c",), rows=COMMON * 3)
    assert SQLiteBackend().selective([common, mid, rare]) == [rare, mid]
    assert SQLiteBackend().selective([common]) == [common]
    assert SQLiteBackend().selective([common, Group(("d",), rows=COMMON * 2)]) == [
        Group(("d",), rows=COMMON * 2)]
