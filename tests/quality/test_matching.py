"""The matching core on plain rows: every kind of duplicate is found, unrelated records are
not, and every point of a score is explained."""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.quality import matching as m
from comptoir.quality.dedupe import match_config
from comptoir.quality.identifiers import normalize_name

SPEC, CONFIG = m.SPECS["account"], m.DEFAULTS["account"]

ORIGINAL = {
    "id": 1, "legal_name": "Dupont Conseil SARL", "trade_name": "", "siren": "732829320",
    "siret": "73282932000074", "vat_number": "FR44732829320", "email": "contact@dupont-conseil.fr",
    "phone": "+33472000001", "website": "https://www.dupont-conseil.fr",
    "billing_street": "12 rue de la République", "billing_postcode": "69002",
    "billing_city": "Lyon", "billing_country": "FR",
}
UNRELATED = {
    "id": 9, "legal_name": "Martin Transports SAS", "siren": "552100554",
    "siret": "55210055400013", "email": "info@martin-transports.fr", "phone": "+33491000009",
    "website": "https://martin-transports.fr", "billing_street": "3 quai de la Joliette",
    "billing_postcode": "13002", "billing_city": "Marseille", "billing_country": "FR",
}


def feats(*rows: dict[str, Any]) -> list[m.Features]:
    out = [SPEC.features(r) for r in rows]
    m.assign_frequencies(out, [normalize_name(r["legal_name"]) for r in rows])
    return out


def variant(**changes: Any) -> dict[str, Any]:
    return {**ORIGINAL, "id": 2, **changes}


VARIANTS = {
    "typo": variant(legal_name="Dupnot Conseil SARL", siren="", siret="", vat_number=""),
    "legal_form": variant(legal_name="DUPONT CONSEIL S.A.S.", phone=""),
    "swapped": variant(legal_name="Conseil Dupont SARL", email=""),
    "missing": variant(siren="", siret="", vat_number="", email="", phone="", website="",
                       billing_street=""),
    "other_siret": variant(siret="73282932000082", billing_postcode="75008",
                           billing_city="Paris", billing_street="5 avenue Foch",
                           phone="+33140000002", email="agence@dupont-conseil.fr"),
    "phone_only": variant(legal_name="Dupont Conseils", siren="", siret="", vat_number="",
                          email="", website="", billing_street="", billing_postcode="",
                          billing_city=""),
}


@pytest.mark.parametrize("kind", sorted(VARIANTS))
def test_each_kind_of_duplicate_scores_above_the_review_threshold(kind):
    a, b = feats(ORIGINAL, VARIANTS[kind])
    score, reasons = m.explain_pair(SPEC, CONFIG, a, b)
    assert score >= CONFIG.review, (score, reasons)
    assert set(SPEC.keys(a)) & set(SPEC.keys(b)), "no blocking key in common: never compared"


def test_an_unrelated_company_scores_nothing():
    a, b = feats(ORIGINAL, UNRELATED)
    score, _reasons = m.explain_pair(SPEC, CONFIG, a, b)
    assert score == 0
    assert not set(SPEC.keys(a)) & set(SPEC.keys(b))


def test_two_sirens_are_two_companies_even_with_the_same_name():
    homonym = variant(siren="552100554", siret="55210055400013", vat_number="",
                      email="contact@dupont-conseil-lyon.fr", phone="+33472999999",
                      website="", billing_street="40 cours Lafayette")
    a, b = feats(ORIGINAL, homonym)
    score, reasons = m.explain_pair(SPEC, CONFIG, a, b)
    assert score < CONFIG.review
    assert m.Reason("siren", "conflict", CONFIG.points["siren_conflict"]) in reasons


def test_a_score_is_the_sum_of_its_reasons():
    a, b = feats(ORIGINAL, VARIANTS["typo"])
    score, reasons = m.explain_pair(SPEC, CONFIG, a, b)
    assert {r.field for r in reasons} >= {"email", "phone", "postcode", "name", "street"}
    assert score == pytest.approx(min(100, sum(r.points for r in reasons)), abs=0.1)
    name = next(r for r in reasons if r.field == "name")
    assert name.verdict == "similar"
    assert 80 < name.similarity < 100


def test_a_name_only_two_records_carry_counts_in_the_same_place_only():
    bare = variant(siren="", siret="", vat_number="", email="", phone="", website="",
                   billing_street="")
    a, b = feats(ORIGINAL, bare)
    score, reasons = m.explain_pair(SPEC, CONFIG, a, b)
    assert m.Reason("name", "rare", CONFIG.points["rare_name"]) in reasons
    assert score >= CONFIG.review
    # the same two records among many homonyms: the name alone proves nothing
    a.freq = b.freq = 40
    assert m.explain_pair(SPEC, CONFIG, a, b)[0] < CONFIG.review
    # … nor does a rare name in another town
    elsewhere = feats(ORIGINAL, {**bare, "billing_postcode": "13002",
                                 "billing_city": "Marseille"})
    assert m.explain_pair(SPEC, CONFIG, *elsewhere)[0] < CONFIG.review


def test_find_pairs_returns_exactly_the_duplicates_of_a_small_base():
    # "missing" is left out: its only evidence is a name two records carry, not seven
    kinds = [k for k in VARIANTS if k != "missing"]
    rows = [ORIGINAL, UNRELATED] + [dict(VARIANTS[k], id=10 + i) for i, k in enumerate(kinds)]
    fs = feats(*rows)
    stats = m.PairStats()
    pairs = m.find_pairs(SPEC, CONFIG, fs, stats)
    ids = {frozenset((fs[i].id, fs[j].id)) for i, j in pairs}
    for k in range(len(kinds)):
        assert frozenset((1, 10 + k)) in ids, kinds[k]
    assert not any(9 in pair for pair in ids)
    assert stats.compared < len(rows) * (len(rows) - 1) / 2  # blocking left pairs out


def test_large_blocks_are_compared_by_neighbourhood_not_in_full():
    config = m.MatchConfig("account", m.ACCOUNT_POINTS, block_cap=3, window=2)
    rows = [dict(ORIGINAL, id=i, siren="", siret="", vat_number="", phone="", website="",
                 billing_street=f"{i} rue Pasteur", legal_name=f"Société {i}",
                 billing_postcode=f"{69000 + i}") for i in range(1, 21)]
    stats = m.PairStats()
    m.find_pairs(SPEC, config, feats(*rows), stats)  # one e-mail, one domain: two big blocks
    assert stats.large_blocks == 2
    assert stats.compared <= 2 * 20 * 2  # not 2 × 190


def test_keys_are_stable_hashes_carrying_their_kind():
    h = m.key_hash("e:contact@dupont-conseil.fr")
    assert h == m.key_hash("e:contact@dupont-conseil.fr")
    assert m.hash_kind(h) == "email"
    assert -(2 ** 63) <= h < 2 ** 63
    assert m.record_hashes(SPEC, feats(ORIGINAL)[0]) == [
        m.key_hash(k) for k in SPEC.keys(feats(ORIGINAL)[0])]


def test_features_survive_a_trip_between_processes():
    import pickle

    original = feats(ORIGINAL)[0]
    copy = pickle.loads(pickle.dumps(original))
    assert [getattr(copy, s) for s in m.Features.__slots__] == \
        [getattr(original, s) for s in m.Features.__slots__]


def test_contacts_and_leads_match_on_their_own_terms():
    spec, config = m.SPECS["contact"], m.DEFAULTS["contact"]
    a = spec.features({"id": 1, "account_id": 5, "first_name": "Jean", "last_name": "Dupont",
                       "email": "j.dupont@acme.fr"})
    b = spec.features({"id": 2, "account_id": 5, "first_name": "jean", "last_name": "DUPONT"})
    c = spec.features({"id": 3, "account_id": 6, "first_name": "Marie", "last_name": "Curie",
                       "email": "j.dupont@acme.fr"})
    d = spec.features({"id": 4, "account_id": 7, "first_name": "Jean", "last_name": "Dupond",
                       "mobile": "06 12 34 56 78", "email": "J.Dupont@acme.fr"})
    assert m.explain_pair(spec, config, a, b)[0] >= config.review  # same account, same name
    assert m.explain_pair(spec, config, a, c)[0] < config.review  # shared inbox, other person
    assert m.explain_pair(spec, config, a, d)[0] >= config.review  # a typo, the same e-mail
    assert m.explain_pair(spec, config, b, d)[0] < config.review  # a typo, nothing else
    spec, config = m.SPECS["lead"], m.DEFAULTS["lead"]
    a = spec.features({"id": 1, "first_name": "Jean", "last_name": "Dupont",
                       "email": "jean@acme.fr", "company_name": "Acme"})
    b = spec.features({"id": 2, "first_name": "jean", "last_name": "DUPONT",
                       "email": "JEAN@acme.fr"})
    assert m.explain_pair(spec, config, a, b)[0] >= config.review


def test_thresholds_and_weights_are_configurable(settings):
    settings.COMPTOIR_DEDUPE = {"account": {"review": 75, "points": {"phone": 5}}}
    config = match_config("account")
    assert config.review == 75
    assert config.points["phone"] == 5
    assert config.points["siren"] == m.ACCOUNT_POINTS["siren"]
    assert match_config("contact") == m.DEFAULTS["contact"]
