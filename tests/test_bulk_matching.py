"""Import and sync match new external ids to the records they duplicate, and apply profiles.

A record the CRM has never seen from a system (no ExternalRef) is first looked for among the
existing records: one sure duplicate is linked and updated instead of a second record being
created; ties are refused with the candidates named; profiles refuse records with gaps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from comptoir.core.models import AuditEntry, ExternalRef
from comptoir.crm.bulk import ACCOUNT_BULK
from comptoir.crm.models import Account, Contact
from comptoir.integration.engine import mapping as engine_mapping
from comptoir.integration.engine.errors import MappingError
from comptoir.integration.loader import target_fields
from comptoir.integration.memory import memory_connector
from comptoir.integration.models import Connection, QuarantinedRecord, SyncRun
from comptoir.integration.services import sync_run
from comptoir.quality import dedupe, profiles
from comptoir.testing import factories as f

EXISTING = {
    "legal_name": "Dupont Conseil SARL", "email": "contact@dupont-conseil.fr",
    "phone": "04 72 00 00 01", "website": "https://www.dupont-conseil.fr",
    "billing_street": "12 rue de la République", "billing_postcode": "69002",
    "billing_city": "Lyon",
}


@pytest.fixture
def existing(personas: Any) -> Account:
    return f.account(by=personas.owner, siren=f.siren(8101), **EXISTING)


def _post(api: Any, user: Any, path: str, records: list[dict[str, Any]], query: str = "",
          system: str = "erp") -> Any:
    return api(user).post(f"{path}/bulk{query}", {"system": system, "records": records})


# --- Sync source ------------------------------------------------------------------------------

SOURCE: dict[str, list[dict[str, Any]]] = {}


memory_connector("memory-matching-test", SOURCE, ("customers", "people"))


def _mapping(customers: str = "", people: str = "") -> str:
    return f"""
system = "erp"

[streams.customers]
target = "account"
key = "id"
{customers}
[streams.customers.fields]
legal_name = {{ source = "name", optional = true }}
siren = {{ source = "siren", transforms = ["digits"], optional = true }}
email = {{ source = "mail", optional = true }}
phone = {{ source = "tel", optional = true }}
billing_street = {{ source = "street", optional = true }}
billing_postcode = {{ source = "zip", optional = true }}
billing_city = {{ source = "city", optional = true }}

[streams.people]
target = "contact"
key = "id"
{people}
[streams.people.fields]
account_external_id = "company"
last_name = "last"
first_name = {{ source = "first", optional = true }}
email = {{ source = "mail", optional = true }}
phone = {{ source = "tel", optional = true }}
"""


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    SOURCE.clear()
    yield
    SOURCE.clear()


def _connection(**options: str) -> Connection:
    return Connection.objects.create(name="erp", connector="memory-matching-test",
                                     mapping=_mapping(**options), batch_size=50)


def _customer(ext: str, existing: Account | None = None, **data: Any) -> dict[str, Any]:
    row = {"id": ext, "name": EXISTING["legal_name"], "mail": EXISTING["email"],
           "tel": EXISTING["phone"], "street": EXISTING["billing_street"],
           "zip": EXISTING["billing_postcode"], "city": EXISTING["billing_city"],
           "siren": existing.siren if existing is not None else ""}
    row.update(data)
    return row


# --- Matching through a sync ------------------------------------------------------------------

def test_same_siren_links_the_new_external_id_to_the_existing_account(existing: Account,
                                                                     db: None) -> None:
    connection = _connection()
    SOURCE["customers"] = [
        # the same SIREN, name and postcode; another phone (the same SIREN and name alone
        # score 80 with dedupe's weights: below "sure", a review, not a link)
        {"id": "ERP-1", "name": "Dupont Conseil", "siren": existing.siren, "zip": "69002",
         "tel": "04 72 11 22 33"},
        {"id": "ERP-2", "name": "Boulangerie Martin", "zip": "13001", "city": "Marseille"},
    ]
    before = Account.objects.count()
    run = sync_run(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert (run.read, run.created, run.updated, run.matched, run.quarantined) == (2, 1, 1, 1, 0)
    assert Account.objects.count() == before + 1  # only the bakery is new
    ref = ExternalRef.objects.get(system="erp", object_type="account", external_id="ERP-1")
    assert ref.object_id == existing.pk
    existing.refresh_from_db()
    assert existing.phone == "+33472112233"  # updated by the normal rules
    assert existing.legal_name == "Dupont Conseil"
    entry = AuditEntry.objects.get(object_type="account", object_id=existing.pk,
                                   source="sync:erp")
    assert entry.action == "update"
    link = entry.changes["matched"][1]
    assert link["id"] == existing.pk
    assert link["external_id"] == "ERP-1"
    assert link["system"] == "erp"
    assert link["score"] >= dedupe.match_config("account").sure
    assert "siren" in link["keys"]
    assert entry.changes["phone"] == ["+33472000001", "+33472112233"]
    [detail] = run.details["matches"]
    assert (detail["external_id"], detail["id"], detail["stream"]) == ("ERP-1", existing.pk,
                                                                       "customers")
    assert run.details["streams"]["customers"]["matched"] == 1

    # the next run knows the reference: an ordinary update or nothing, never a second match
    again = sync_run(connection, full=True)
    assert (again.unchanged, again.matched) == (2, 0)


def test_a_typo_in_the_name_with_the_same_email_and_phone_is_matched(existing: Account,
                                                                    db: None) -> None:
    SOURCE["customers"] = [_customer("ERP-7", name="Dupnot Conseil SARL")]
    run = sync_run(_connection())
    assert (run.created, run.matched) == (0, 1), run.details
    assert ExternalRef.objects.get(external_id="ERP-7").object_id == existing.pk
    assert {"email", "phone"} <= set(run.details["matches"][0]["keys"])


def test_a_weak_match_creates_a_new_record(existing: Account, db: None) -> None:
    # the same name in another city, nothing else in common: worth a review, not a link
    SOURCE["customers"] = [{"id": "ERP-3", "name": "Dupont Conseil SARL", "zip": "75008",
                            "city": "Paris", "tel": "01 40 00 00 09"}]
    found = dedupe.batch_candidates("account", [{"legal_name": "Dupont Conseil SARL",
                                                 "billing_postcode": "75008",
                                                 "billing_city": "Paris"}], min_score=0)
    assert found[0]
    assert found[0][0].id == existing.pk
    assert not found[0][0].sure
    run = sync_run(_connection())
    assert (run.created, run.matched) == (1, 0)
    assert ExternalRef.objects.get(external_id="ERP-3").object_id != existing.pk


def test_two_sure_candidates_are_not_guessed_between(existing: Account, personas: Any,
                                                     db: None) -> None:
    twin = f.account(by=personas.owner, siren=existing.siren, **EXISTING)
    SOURCE["customers"] = [_customer("ERP-4", existing), _customer("ERP-5", name="Other SAS",
                                                                   siren="", mail="", tel="",
                                                                   street="", zip="", city="")]
    run = sync_run(_connection())
    assert (run.created, run.matched, run.quarantined) == (1, 0, 1)
    q = QuarantinedRecord.objects.get()
    assert q.external_id == "ERP-4"
    assert q.field == "external_id"
    assert q.reason  # the ambiguous match, naming both
    assert f"#{existing.pk}" in q.reason
    assert f"#{twin.pk}" in q.reason
    assert not ExternalRef.objects.filter(external_id="ERP-4").exists()


def test_a_record_linked_to_another_external_id_of_the_system_is_not_taken(
        existing: Account, db: None) -> None:
    ExternalRef.objects.create(system="erp", object_type="account", external_id="ERP-OLD",
                               object_id=existing.pk)
    ExternalRef.objects.create(system="oldcrm", object_type="account", external_id="X1",
                               object_id=existing.pk)  # another system's link is no obstacle
    SOURCE["customers"] = [_customer("ERP-NEW", existing)]
    run = sync_run(_connection())
    assert (run.created, run.matched) == (1, 0)
    assert ExternalRef.objects.get(external_id="ERP-NEW").object_id != existing.pk
    assert ExternalRef.objects.get(external_id="ERP-OLD").object_id == existing.pk


def test_two_new_records_of_one_batch_do_not_take_the_same_record(existing: Account,
                                                                  db: None) -> None:
    SOURCE["customers"] = [_customer("ERP-A", existing), _customer("ERP-B", existing)]
    run = sync_run(_connection())
    assert (run.created, run.matched) == (1, 1)
    assert ExternalRef.objects.get(external_id="ERP-A").object_id == existing.pk


def test_match_off_always_creates(existing: Account, db: None) -> None:
    SOURCE["customers"] = [_customer("ERP-9", existing)]
    run = sync_run(_connection(customers='match = "off"'))
    assert (run.created, run.matched) == (1, 0)
    assert Account.objects.filter(siren=existing.siren).count() == 2


def test_contacts_are_matched_within_their_account(existing: Account, personas: Any,
                                                   db: None) -> None:
    person = f.contact(by=personas.owner, account=existing, first_name="Anne",
                       last_name="Durand", email="anne.durand@dupont-conseil.fr")
    ExternalRef.objects.create(system="erp", object_type="account", external_id="ERP-1",
                               object_id=existing.pk)
    SOURCE["people"] = [{"id": "P1", "company": "ERP-1", "last": "Durant", "first": "Anne",
                         "mail": "anne.durand@dupont-conseil.fr", "tel": "06 12 34 56 78"}]
    run = sync_run(_connection())
    assert (run.created, run.matched) == (0, 1), run.details
    person.refresh_from_db()
    assert person.phone == "+33612345678"
    assert person.last_name == "Durant"
    assert Contact.objects.filter(account=existing).count() == 1


# --- Profiles through a sync ------------------------------------------------------------------

def test_the_crm_profile_quarantines_contacts_without_a_means_of_contact(db: None) -> None:
    SOURCE["customers"] = [{"id": "C1", "name": "Client Un SAS"}]
    SOURCE["people"] = [
        {"id": "P1", "company": "C1", "last": "Durand", "mail": "durand@client1.fr"},
        {"id": "P2", "company": "C1", "last": "Martin"},  # no e-mail, no phone
        {"id": "P3", "company": "C1", "last": "Petit", "tel": "04 72 00 00 03"},
    ]
    run = sync_run(_connection(people='profile = "crm"'))
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    assert (run.created, run.quarantined) == (3, 1)
    assert set(Contact.objects.values_list("last_name", flat=True)) == {"Durand", "Petit"}
    q = QuarantinedRecord.objects.get()
    assert q.external_id == "P2"
    assert set(q.errors) == {"email", "phone"}
    assert q.reason.startswith("email, phone: ")  # said once for both fields
    assert ";" not in q.reason
    assert not ExternalRef.objects.filter(external_id="P2").exists()


def test_the_erp_profile_lists_each_gap_of_an_account(db: None) -> None:
    SOURCE["customers"] = [{"id": "C1", "name": "Client Un SAS", "zip": "69002"}]
    run = sync_run(_connection(customers='profile = "erp"'))
    assert run.quarantined == 1
    errors = QuarantinedRecord.objects.get().errors
    assert {"billing_street", "billing_city", "siret", "naf_code", "payment_terms"} <= set(errors)
    assert "contacts" not in errors  # an account's contacts come after it
    assert "no_duplicate" not in errors


def test_an_update_is_judged_with_the_values_it_keeps(existing: Account, db: None) -> None:
    ExternalRef.objects.create(system="erp", object_type="account", external_id="ERP-1",
                               object_id=existing.pk)
    connection = _connection(customers='profile = "lead"')  # accounts: a legal name
    # the record sends only a phone: the legal name it keeps is enough
    connection.mapping = connection.mapping.replace(
        'legal_name = { source = "name", optional = true }\n', "")
    connection.save()
    SOURCE["customers"] = [{"id": "ERP-1", "tel": "04 72 55 55 55"}]
    run = sync_run(connection)
    assert (run.updated, run.quarantined) == (1, 0), run.details


# --- Mapping validation -----------------------------------------------------------------------

def _load(customers: str) -> Any:
    return engine_mapping.load_mapping(_mapping(customers=customers), targets=target_fields())


def test_mapping_defaults_and_values() -> None:
    loaded = _load("")
    assert loaded.streams["customers"].match == "sure"
    assert loaded.streams["customers"].profile is None
    tuned = _load('match = "off"\nprofile = "erp"')
    assert (tuned.streams["customers"].match, tuned.streams["customers"].profile) == ("off",
                                                                                      "erp")
    products = engine_mapping.load_mapping(
        'system = "erp"\n[streams.items]\ntarget = "product"\n[streams.items.fields]\n'
        'code = "ref"\nname = "label"\n', targets=target_fields())
    assert products.streams["items"].match == "off"


@pytest.mark.parametrize(("options", "message"), [
    ('match = "maybe"', "streams.customers.match: 'maybe' is not one of sure, off"),
    ('profile = "crn"', "streams.customers.profile: 'crn' is not one of lead, crm, erp "
                        "(did you mean 'crm'?)"),
    ("profile = 3", "streams.customers.profile: 3 is not one of lead, crm, erp"),
])
def test_mapping_refuses_unknown_match_and_profile_values(options: str, message: str) -> None:
    with pytest.raises(MappingError) as exc:
        _load(options)
    assert message in str(exc.value)


def test_mapping_refuses_quality_options_where_they_mean_nothing() -> None:
    text = ('system = "erp"\n[streams.items]\ntarget = "product"\nmatch = "sure"\n'
            'profile = "crm"\n[streams.items.fields]\ncode = "ref"\nname = "label"\n')
    with pytest.raises(MappingError) as exc:
        engine_mapping.load_mapping(text, targets=target_fields())
    problems = str(exc.value)
    assert "streams.items.match: duplicates are matched for account, contact, lead only" \
        in problems
    assert "streams.items.profile: profiles apply to account, contact, lead only" in problems


def test_the_engine_knows_the_quality_apps_profiles_and_object_types() -> None:
    assert set(engine_mapping.PROFILES) == set(profiles.PROFILE_NAMES)
    assert set(dedupe.OBJECT_TYPES) == engine_mapping.MATCH_TARGETS


# --- The API bulk endpoint --------------------------------------------------------------------

def test_api_bulk_matches_by_default_and_not_with_match_off(existing: Account, api: Any,
                                                            personas: Any) -> None:
    dm = personas.data_manager
    record = {"external_id": "OLD-7", "legal_name": "Dupont Conseil", "siren": existing.siren,
              "billing_postcode": "69002"}
    body = _post(api, dm, "accounts", [record], system="oldcrm").expect(200)
    assert body["counts"] == {"created": 0, "updated": 1, "unchanged": 0, "error": 0}
    assert body["matched"] == 1
    [result] = body["results"]
    assert result["id"] == existing.pk
    assert result["matched"]["id"] == existing.pk
    assert "siren" in result["matched"]["keys"]
    assert AuditEntry.objects.get(object_id=existing.pk, source="bulk:oldcrm").changes[
        "matched"][1]["external_id"] == "OLD-7"

    other = {**record, "external_id": "OLD-8"}
    body = _post(api, dm, "accounts", [other], "?match=off", system="oldcrm").expect(200)
    assert (body["counts"]["created"], body["matched"]) == (1, 0)
    assert body["results"][0]["matched"] is None


def test_api_bulk_ambiguity_is_a_record_error(existing: Account, api: Any,
                                              personas: Any) -> None:
    twin = f.account(by=personas.owner, siren=existing.siren, **EXISTING)
    body = _post(api, personas.data_manager, "accounts",
                 [{"external_id": "E1", "siren": existing.siren, **EXISTING}]).expect(200)
    assert body["counts"]["error"] == 1
    [message] = body["results"][0]["errors"]["external_id"]
    assert f"#{existing.pk}" in message
    assert f"#{twin.pk}" in message


def test_api_bulk_profile_refuses_records_with_gaps(world: Any, api: Any,
                                                    personas: Any) -> None:
    account = world.mine.account
    records = [
        {"external_id": "K1", "account_id": account.pk, "last_name": "Durand",
         "email": "durand@example.org"},
        {"external_id": "K2", "account_id": account.pk, "last_name": "Martin"},
    ]
    body = _post(api, personas.data_manager, "contacts", records,
                 "?profile=crm&match=off").expect(200)
    assert body["counts"]["created"] == 1
    assert body["counts"]["error"] == 1
    assert set(body["results"][1]["errors"]) == {"email", "phone"}
    without = _post(api, personas.data_manager, "contacts",
                    [{**records[1], "external_id": "K3"}]).expect(200)
    assert without["counts"]["created"] == 1  # no profile: today's rules only


@pytest.mark.parametrize(("path", "query", "field"), [
    ("accounts", "?match=maybe", "match"),
    ("accounts", "?profile=gold", "profile"),
    ("products", "?profile=crm", "profile"),
])
def test_api_bulk_refuses_bad_options(path: str, query: str, field: str, api: Any,
                                      personas: Any) -> None:
    records = [{"external_id": "X1", "legal_name": "X", "code": "X1", "name": "X"}]
    error = _post(api, personas.data_manager, path, records, query).error(422)
    assert field in error["fields"], error


def test_products_ignore_the_default_match(api: Any, personas: Any) -> None:
    body = _post(api, personas.data_manager, "products",
                 [{"external_id": "P1", "code": "P1", "name": "Vis"}]).expect(200)
    assert body["counts"]["created"] == 1


# --- Speed ------------------------------------------------------------------------------------

def test_matching_reads_the_base_in_a_few_queries(existing: Account, personas: Any,
                                                  django_assert_max_num_queries: Any) -> None:
    records = [{"legal_name": f"Société {i} SAS", "siren": f.siren(),
                "email": f"contact@societe{i}.fr",
                "phone": f"04 72 00 {i // 100:02d} {i % 100:02d}", "billing_postcode": "69003"}
               for i in range(300)]
    records.append({**EXISTING, "siren": existing.siren})
    cleaned = [ACCOUNT_BULK.clean(r)[0] for r in records]
    with django_assert_max_num_queries(12):
        found = dedupe.batch_candidates("account", cleaned)
    assert [c.id for c in found[-1]] == [existing.pk]
    assert not any(found[:-1])
