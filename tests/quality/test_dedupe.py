"""Duplicate detection against the database: one record on create, the batch and its queue."""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.crm.models import Account
from comptoir.crm.services import account_update
from comptoir.quality import dedupe
from comptoir.quality.models import AccountKey, DuplicatePair, MatchIndexState
from comptoir.testing import factories as f

ORIGINAL = {
    "legal_name": "Dupont Conseil SARL", "email": "contact@dupont-conseil.fr",
    "phone": "04 72 00 00 01", "website": "https://www.dupont-conseil.fr",
    "billing_street": "12 rue de la République", "billing_postcode": "69002",
    "billing_city": "Lyon",
}


@pytest.fixture
def original(personas: Any) -> Account:
    return f.account(by=personas.owner, siren=f.siren(7001), **ORIGINAL)


@pytest.fixture
def hidden(personas: Any) -> Account:
    """The outsider's account, which the owner may not see."""
    return f.account(by=personas.outsider, legal_name="Provence Négoce SAS",
                     siren=f.siren(7002), email="contact@provence-negoce.fr",
                     phone="04 91 00 00 02", billing_street="3 quai de la Joliette",
                     billing_postcode="13002", billing_city="Marseille")


@pytest.fixture
def noise(personas: Any) -> list[Account]:
    """Homonyms and neighbours that are not duplicates."""
    return [
        f.account(by=personas.owner, legal_name="Dupont Transports SAS", siren=f.siren(7003),
                  billing_postcode="69002", billing_city="Lyon",
                  billing_street="40 cours Lafayette"),
        f.account(by=personas.owner, legal_name="Dupont Conseil Rhône SAS", siren=f.siren(7004),
                  billing_postcode="69003", billing_city="Lyon",
                  email="info@dupont-conseil-rhone.fr"),
    ]


def siret_of(account: Account, nic: str = "0002") -> str:
    from comptoir.quality.identifiers import siret_with_check_digit

    return siret_with_check_digit(account.siren, nic)


VARIANTS: dict[str, Any] = {
    "typo": lambda o: {**ORIGINAL, "legal_name": "Dupnot Conseil SARL"},
    "legal_form": lambda o: {**ORIGINAL, "legal_name": "DUPONT CONSEIL S.A.S.", "phone": ""},
    "swapped": lambda o: {**ORIGINAL, "legal_name": "Conseil Dupont", "email": ""},
    "missing": lambda o: {"legal_name": "Dupont Conseil", "billing_postcode": "69002",
                          "billing_city": "Lyon"},
    "other_siret": lambda o: {**ORIGINAL, "siret": siret_of(o), "billing_postcode": "75008",
                              "billing_city": "Paris", "billing_street": "5 avenue Foch",
                              "phone": "01 40 00 00 02", "email": "agence@dupont-conseil.fr"},
}


@pytest.mark.parametrize("indexed", [False, True], ids=["no-index", "index"])
@pytest.mark.parametrize("kind", sorted(VARIANTS))
def test_each_kind_of_duplicate_is_found_on_create(kind, indexed, original, noise, personas):
    if indexed:
        dedupe.dedupe_run("account")
        assert AccountKey.objects.exists()
    found = dedupe.candidates("account", VARIANTS[kind](original), user=personas.owner)
    assert [c.id for c in found][:1] == [original.pk], found
    best = found[0]
    assert best.score >= dedupe.match_config("account").review
    assert best.reasons
    assert best.keys
    assert best.score == pytest.approx(min(100, sum(r.points for r in best.reasons)), abs=0.2)
    assert best.record["legal_name"] == "Dupont Conseil SARL"
    assert all(c.id not in {n.pk for n in noise} for c in found)


def test_an_unrelated_record_has_no_candidate(original, noise, personas):
    data = {"legal_name": "Boulangerie Martin", "billing_postcode": "69002",
            "billing_city": "Lyon", "phone": "04 72 99 99 99"}
    assert dedupe.candidates("account", data, user=personas.owner) == []


def test_a_sure_duplicate_is_flagged_sure(original, personas):
    found = dedupe.candidates("account", {**ORIGINAL, "siren": original.siren},
                              user=personas.owner)
    assert found[0].sure
    assert {"siren", "email", "phone"} <= set(found[0].keys)


def test_a_record_is_not_its_own_duplicate(original, personas):
    data = {**ORIGINAL, "id": original.pk, "siren": original.siren}
    assert dedupe.candidates("account", data, user=personas.owner) == []


@pytest.mark.parametrize("indexed", [False, True], ids=["no-index", "index"])
def test_a_rep_never_gets_candidates_they_may_not_see(indexed, hidden, personas):
    if indexed:
        dedupe.dedupe_run("account")
    data = {"legal_name": "Provence Negoce", "email": "contact@provence-negoce.fr",
            "billing_postcode": "13002", "billing_city": "Marseille"}
    assert dedupe.candidates("account", data, user=personas.owner) == []
    assert dedupe.candidates("account", data, user=personas.teammate) == []
    assert [c.id for c in dedupe.candidates("account", data, user=personas.outsider)] == \
        [hidden.pk]
    assert [c.id for c in dedupe.candidates("account", data, user=personas.data_manager)] == \
        [hidden.pk]
    # the system (imports, syncs) checks the whole base
    assert [c.id for c in dedupe.candidates("account", data)] == [hidden.pk]


def test_records_changed_after_the_index_are_still_found(original, personas):
    dedupe.dedupe_run("account")
    state = MatchIndexState.objects.get(object_type="account")
    late = f.account(by=personas.owner, legal_name="Lumière Éclairage SAS",
                     email="contact@lumiere-eclairage.fr", billing_postcode="69007",
                     billing_city="Lyon")
    assert late.updated_at > state.watermark
    assert not AccountKey.objects.filter(object_id=late.pk).exists()
    data = {"legal_name": "Lumiere Eclairage", "email": "contact@lumiere-eclairage.fr"}
    assert [c.id for c in dedupe.candidates("account", data, user=personas.owner)] == [late.pk]
    # the periodic refresh puts it in the index
    assert dedupe.match_index_refresh("account") >= 1  # (a one-second margin re-reads others)
    assert AccountKey.objects.filter(object_id=late.pk).count() >= 2
    assert [c.id for c in dedupe.candidates("account", data, user=personas.owner)] == [late.pk]


def test_contacts_and_leads_are_checked_too(world, personas):
    contact = world.mine.contact
    found = dedupe.candidates("contact", {"account_id": contact.account_id,
                                          "first_name": contact.first_name,
                                          "last_name": contact.last_name},
                              user=personas.owner)
    assert [c.id for c in found] == [contact.pk]
    lead = world.mine.lead
    found = dedupe.candidates("lead", {"email": lead.email.upper(),
                                       "last_name": lead.last_name}, user=personas.owner)
    assert [c.id for c in found] == [lead.pk]
    assert dedupe.candidates("lead", {"email": lead.email}, user=personas.outsider) == []


def test_unknown_object_types_are_refused():
    from comptoir.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        dedupe.candidates("opportunity", {"name": "x"})


# --- Batch and review queue -----------------------------------------------------------------

def _dup(personas: Any, original: Account, **extra: Any) -> Account:
    return f.account(by=personas.owner, **{**ORIGINAL, "legal_name": "Dupont Conseil SAS",
                                           **extra})


def test_the_batch_fills_the_queue_with_explained_pairs(original, noise, hidden, personas):
    dup = _dup(personas, original)
    result = dedupe.dedupe_run("account")
    assert result.records == Account.objects.count()
    assert result.pairs_new == 1
    pair = DuplicatePair.objects.get()
    assert (pair.left_id, pair.right_id) == (original.pk, dup.pk)
    assert pair.status == DuplicatePair.Status.OPEN
    assert pair.score >= dedupe.match_config("account").review
    assert {"email", "phone", "address"} <= set(pair.keys)
    assert {r["field"] for r in pair.reasons} >= {"email", "phone", "name", "street"}
    assert result.index_keys == AccountKey.objects.count() > 0


def test_a_second_run_keeps_decisions_and_drops_pairs_that_no_longer_match(original,
                                                                             personas):
    kept = _dup(personas, original)
    gone = _dup(personas, original, legal_name="Dupont Conseil EURL")
    dedupe.dedupe_run("account")
    assert DuplicatePair.objects.count() == 3  # the three records pairwise
    dismissed = DuplicatePair.objects.get(left_id=original.pk, right_id=kept.pk)
    dedupe.pair_dismiss(pair=dismissed, user=personas.owner)
    account_update(account=gone, user=personas.owner,
                   data={"legal_name": "Tout Autre Chose", "email": "", "phone": "",
                         "website": "", "billing_street": "1 place Bellecour"})
    result = dedupe.dedupe_run("account")
    assert result.pairs_removed == 2
    assert result.pairs_new == 0
    dismissed.refresh_from_db()
    assert dismissed.status == DuplicatePair.Status.DISMISSED
    assert dismissed.decided_by == personas.owner
    assert list(DuplicatePair.objects.values_list("pk", flat=True)) == [dismissed.pk]


def test_the_queue_shows_a_rep_only_pairs_they_may_see(original, hidden, personas):
    _dup(personas, original)
    f.account(by=personas.outsider, legal_name="Provence Négoce", billing_postcode="13002",
              email="contact@provence-negoce.fr", billing_city="Marseille")
    dedupe.dedupe_run("account")
    assert DuplicatePair.objects.count() == 2
    mine = dedupe.pairs_visible(personas.owner, "account", status="open")
    assert [p.left_id for p in mine] == [original.pk]
    assert dedupe.pairs_visible(personas.data_manager, "account").count() == 2
    theirs = DuplicatePair.objects.get(left_id=hidden.pk)
    from comptoir.core.errors import NotFound

    with pytest.raises(NotFound):
        dedupe.pair_get(personas.owner, theirs.pk)


def test_a_pair_is_decided_only_by_someone_who_may_change_both(original, personas):
    from comptoir.core.errors import Forbidden

    _dup(personas, original)
    dedupe.dedupe_run("account")
    pair = DuplicatePair.objects.get()
    with pytest.raises(Forbidden):
        dedupe.pair_dismiss(pair=pair, user=personas.outsider)
    dedupe.pair_dismiss(pair=pair, user=personas.teammate)  # sees Rhône through the team
    dedupe.pair_reopen(pair=pair, user=personas.owner)
    pair.refresh_from_db()
    assert pair.status == DuplicatePair.Status.OPEN
    assert pair.decided_by is None


def test_thresholds_are_read_from_settings(original, personas, settings):
    data = VARIANTS["missing"](original)
    assert dedupe.candidates("account", data, user=personas.owner)
    settings.COMPTOIR_DEDUPE = {"account": {"review": 90}}
    assert dedupe.candidates("account", data, user=personas.owner) == []


def test_the_command_runs_the_batch(original, personas, capsys):
    import json

    from django.core.management import call_command

    _dup(personas, original)
    call_command("dedupe", "--object", "account", "--format", "json")
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["pairs"] == 1
    assert out["new"] == 1
    assert out["records"] == 2
    call_command("dedupe", "--object", "account", "--refresh-index")
    assert "changed accounts indexed" in capsys.readouterr().out
