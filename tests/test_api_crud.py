"""Create, list, read, change and delete every object through the API; custom fields; lists."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from comptoir.crm.models import Opportunity, Stage


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


def won_stage() -> int:
    return Stage.objects.get(is_won=True).pk


def first_stage() -> dict[str, int]:
    stage = Stage.objects.filter(pipeline__is_default=True).order_by("order").first()
    assert stage is not None
    return {"pipeline_id": stage.pipeline_id, "stage_id": stage.pk}


# Each case: (path, acting persona, create payload, checks on the created object, patch, checks
# after the patch). Payloads and checks receive the world.
Case = tuple[str, str, Callable[[Any], dict[str, Any]], Callable[[Any, dict[str, Any]], None],
             Callable[[Any], dict[str, Any]], Callable[[Any, dict[str, Any]], None]]


def _account_created(w: Any, body: dict[str, Any]) -> None:
    assert body["legal_name"] == "Acme SAS"
    assert body["siren"] == "732829320"
    assert body["phone"] == "+33472000000"  # E.164
    assert body["naf_code"] == "62.01Z"
    assert body["owner_id"] == w.personas.owner.pk  # the creator sells: they own it
    assert body["territory_id"] == w.personas.rhone.pk  # postcode 69…
    assert body["billing_country"] == "FR"


def _contact_created(w: Any, body: dict[str, Any]) -> None:
    assert body["email"] == "Jeanne.Martin@acme.fr"  # domain lower-cased
    assert body["owner_id"] == w.personas.owner.pk
    assert body["consent_date"] is not None  # an opt-in carries its date


def _opportunity_created(w: Any, body: dict[str, Any]) -> None:
    first = Stage.objects.filter(pipeline__is_default=True).order_by("order").first()
    assert first is not None
    assert body["stage_id"] == first.pk
    assert body["probability"] == first.probability
    assert body["status"] == "open"
    assert Decimal(body["amount"]) == Decimal("5000.00")
    assert body["owner_id"] == w.personas.owner.pk


def _opportunity_won(w: Any, body: dict[str, Any]) -> None:
    assert body["status"] == "won"
    assert body["probability"] == 100
    assert body["closed_at"] is not None


def _activity_created(w: Any, body: dict[str, Any]) -> None:
    assert body["account_id"] == w.mine.account.pk  # derived from the contact
    assert body["done"] is False


def _document_created(w: Any, body: dict[str, Any]) -> None:
    assert body["number"] == "DEV-T-0001"
    assert Decimal(body["total_excl_tax"]) == Decimal("100.00")
    assert Decimal(body["total_tax"]) == Decimal("20.00")
    assert Decimal(body["total_incl_tax"]) == Decimal("120.00")
    assert [line["description"] for line in body["lines"]] == ["Setup"]


CASES: dict[str, Case] = {
    "account": (
        "accounts", "owner",
        lambda w: {"legal_name": "  Acme SAS ", "siren": "732829320",
                   "billing_postcode": "69003", "phone": "04 72 00 00 00",
                   "naf_code": "6201z", "email": "contact@acme.fr"},
        _account_created,
        lambda w: {"status": "customer", "payment_terms": "net_30"},
        lambda w, b: None if b["status"] == "customer" and b["payment_terms"] == "net_30"
        else pytest.fail(str(b)),
    ),
    "contact": (
        "contacts", "owner",
        lambda w: {"account_id": w.mine.account.pk, "first_name": "Jeanne",
                   "last_name": "Martin", "email": "Jeanne.Martin@ACME.fr",
                   "marketing_consent": "opt_in"},
        _contact_created,
        lambda w: {"job_title": "CEO", "phone": "+33 6 12 34 56 78"},
        lambda w, b: None if b["job_title"] == "CEO" and b["phone"] == "+33612345678"
        else pytest.fail(str(b)),
    ),
    "lead": (
        "leads", "owner",
        lambda w: {"company_name": "Newco", "last_name": "Durand",
                   "email": "p.durand@newco.fr", "source": "web_form", "score": 40},
        lambda w, b: None if b["owner_id"] == w.personas.owner.pk and b["status"] == "new"
        else pytest.fail(str(b)),
        lambda w: {"status": "qualified", "score": 80},
        lambda w, b: None if b["status"] == "qualified" and b["score"] == 80
        else pytest.fail(str(b)),
    ),
    "opportunity": (
        "opportunities", "owner",
        lambda w: {"name": "Big deal", "account_id": w.mine.account.pk, "amount": "5000.00",
                   "expected_close_date": "2026-03-31", **first_stage()},
        _opportunity_created,
        lambda w: {"stage_id": won_stage()},
        _opportunity_won,
    ),
    "activity": (
        "activities", "owner",
        lambda w: {"kind": "meeting", "subject": "Kick-off", "contact_id": w.mine.contact.pk,
                   "start_at": "2026-01-05T09:00:00+01:00",
                   "end_at": "2026-01-05T10:00:00+01:00"},
        _activity_created,
        lambda w: {"done": True},
        lambda w, b: None if b["done"] and b["done_at"] else pytest.fail(str(b)),
    ),
    "case": (
        "cases", "owner",
        lambda w: {"account_id": w.mine.account.pk, "subject": "Printer on fire",
                   "priority": "urgent", "kind": "complaint"},
        lambda w, b: None if b["number"] == f"CAS-{b['id']:06d}" and b["status"] == "new"
        else pytest.fail(str(b)),
        lambda w: {"status": "resolved"},
        lambda w, b: None if b["closed_at"] else pytest.fail(str(b)),
    ),
    "sales_document": (
        "sales-documents", "owner",
        lambda w: {"kind": "quote", "account_id": w.mine.account.pk, "number": "DEV-T-0001",
                   "lines": [{"description": "Setup", "quantity": "1", "unit_price": "100"}]},
        _document_created,
        lambda w: {"status": "sent", "notes": "Sent by e-mail"},
        lambda w, b: None if b["status"] == "sent" and len(b["lines"]) == 1
        else pytest.fail(str(b)),
    ),
    "product": (
        "products", "data_manager",
        lambda w: {"code": "SKU-1", "name": "Thing", "tax_rate": "5.50", "unit": "hour"},
        lambda w, b: None if Decimal(b["tax_rate"]) == Decimal("5.5") and b["active"]
        else pytest.fail(str(b)),
        lambda w: {"active": False},
        lambda w, b: None if b["active"] is False else pytest.fail(str(b)),
    ),
    "price_list": (
        "pricelists", "admin",
        lambda w: {"name": "Pro", "items": [{"product_id": w.product.pk, "unit_price": "8.00"}]},
        lambda w, b: None if [(i["product_id"], Decimal(i["unit_price"])) for i in b["items"]]
        == [(w.product.pk, Decimal("8.00"))] else pytest.fail(str(b)),
        lambda w: {"currency": "USD", "items": []},
        lambda w, b: None if b["currency"] == "USD" and b["items"] == []
        else pytest.fail(str(b)),
    ),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_crud(world: Any, api: Any, kind: str) -> None:
    path, persona, create, created_ok, patch, patched_ok = CASES[kind]
    client = api(world.personas[persona])
    body = client.post(path, create(world)).expect(201)
    created_ok(world, body)
    pk = body["id"]
    # accounts, contacts and leads also answer with the duplicates they may be
    duplicates = body.pop("duplicates", None)
    assert duplicates == ([] if kind in ("account", "contact", "lead") else None)
    assert client.get(f"{path}/{pk}").expect(200) == body
    assert pk in client.ids(path)
    changed = client.patch(f"{path}/{pk}", patch(world)).expect(200)
    patched_ok(world, changed)
    assert client.get(f"{path}/{pk}").expect(200) == changed
    client.delete(f"{path}/{pk}").expect(204)
    client.get(f"{path}/{pk}").error(404)
    assert pk not in client.ids(path)


def test_create_opportunity_without_stage_uses_the_default_pipeline(world: Any,
                                                                    api: Any) -> None:
    body = api(world.personas.owner).post("opportunities", {
        "name": "Defaulted", "account_id": world.mine.account.pk}).expect(201)
    assert body["stage_id"] == first_stage()["stage_id"]


def test_create_sales_document_without_number_is_numbered(world: Any, api: Any) -> None:
    body = api(world.personas.owner).post("sales-documents", {
        "kind": "order", "account_id": world.mine.account.pk}).expect(201)
    assert body["number"] == f"CMD-{dt.date.today().year}-000001"


def test_patch_with_the_same_values_changes_nothing(world: Any, api: Any) -> None:
    from comptoir.core.models import AuditEntry, OutboxEvent

    account = world.mine.account
    client = api(world.personas.owner)
    before = client.get(f"accounts/{account.pk}").expect(200)
    counts = AuditEntry.objects.count(), OutboxEvent.objects.count()
    after = client.patch(f"accounts/{account.pk}",
                         {"legal_name": account.legal_name, "billing_postcode": "69002"}
                         ).expect(200)
    assert after == before
    assert (AuditEntry.objects.count(), OutboxEvent.objects.count()) == counts


def test_patch_only_changes_the_fields_sent(world: Any, api: Any) -> None:
    account = world.mine.account
    client = api(world.personas.owner)
    before = client.get(f"accounts/{account.pk}").expect(200)
    after = client.patch(f"accounts/{account.pk}", {"trade_name": "Olivia"}).expect(200)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"trade_name", "updated_at", "version"}


def test_attachment_crud(world: Any, api: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = api(world.personas.owner)
    upload = SimpleUploadedFile("offer.pdf", b"%PDF-1.4 offer")
    body = client.upload("attachments", {"target": "opportunity",
                                         "target_id": world.mine.opportunity.pk,
                                         "file": upload}).expect(201)
    assert body["content_type"] == "application/pdf"
    assert body["account_id"] == world.mine.account.pk
    assert client.get(f"attachments/{body['id']}").expect(200) == body
    assert body["id"] in client.ids("attachments")
    nested = client.get(f"opportunities/{world.mine.opportunity.pk}/attachments").expect(200)
    assert [i["id"] for i in nested["items"]] == [body["id"]]
    client.delete(f"attachments/{body['id']}").expect(204)
    client.get(f"attachments/{body['id']}").error(404)


# --- Custom fields ----------------------------------------------------------------------------

CUSTOM_FIELDS = [
    {"object_type": "account", "name": "tier", "label": "Tier", "type": "choice",
     "choices": ["gold", "silver"]},
    {"object_type": "account", "name": "seats", "label": "Seats", "type": "number"},
    {"object_type": "account", "name": "renewal", "label": "Renewal", "type": "date"},
    {"object_type": "account", "name": "vip", "label": "VIP", "type": "boolean"},
    {"object_type": "account", "name": "motto", "label": "Motto", "type": "text",
     "max_length": 10},
]


@pytest.fixture
def custom_fields(world: Any, api: Any) -> None:
    admin = api(world.personas.admin)
    for definition in CUSTOM_FIELDS:
        created = admin.post("custom-fields", definition).expect(201)
        assert created["name"] == definition["name"]


def test_only_admins_and_data_managers_define_custom_fields(world: Any, api: Any) -> None:
    for persona in ("owner", "manager", "marketing"):
        api(world.personas[persona]).post("custom-fields", CUSTOM_FIELDS[0]).error(403)
    api(world.personas.data_manager).post("custom-fields", CUSTOM_FIELDS[0]).expect(201)
    listed = api(world.personas.owner).get("custom-fields", {"object_type": "account"})
    assert [cf["name"] for cf in listed.expect(200)] == ["tier"]


def test_custom_field_definition_is_validated(world: Any, api: Any) -> None:
    admin = api(world.personas.admin)
    error = admin.post("custom-fields", {**CUSTOM_FIELDS[0], "choices": []}).error(422)
    assert "choices" in error["fields"]
    error = admin.post("custom-fields", {**CUSTOM_FIELDS[1], "name": "Bad Name"}).error(422)
    assert "name" in error["fields"]
    error = admin.post("custom-fields", {**CUSTOM_FIELDS[1], "object_type": "user"}).error(422)
    assert "object_type" in error["fields"]


@pytest.mark.usefixtures("custom_fields")
def test_custom_values_are_typed_and_stored(world: Any, api: Any) -> None:
    client = api(world.personas.owner)
    body = client.post("accounts", {"legal_name": "Custom Co", "custom": {
        "tier": "gold", "seats": "12", "renewal": "2026-06-30", "vip": True, "motto": "Go"},
    }).expect(201)
    assert body["custom"] == {"tier": "gold", "seats": 12, "renewal": "2026-06-30",
                              "vip": True, "motto": "Go"}
    # PATCH merges: one key changes, the others stay; an empty value removes the key
    body = client.patch(f"accounts/{body['id']}", {"custom": {"seats": 2.5, "motto": ""}}
                        ).expect(200)
    assert body["custom"] == {"tier": "gold", "seats": 2.5, "renewal": "2026-06-30",
                              "vip": True}


@pytest.mark.usefixtures("custom_fields")
@pytest.mark.parametrize(("name", "value"), [
    ("tier", "bronze"), ("seats", "twelve"), ("seats", True), ("seats", "NaN"),
    ("renewal", "30/06/2026"), ("vip", "yes"), ("motto", "far too long a motto"),
    ("unknown", 1),
])
def test_custom_value_of_the_wrong_type_is_422_on_its_field(world: Any, api: Any, name: str,
                                                            value: Any) -> None:
    client = api(world.personas.owner)
    error = client.post("accounts", {"legal_name": "Bad Custom", "custom": {name: value}}
                        ).error(422)
    assert list(error["fields"]) == [f"custom.{name}"]
    error = client.patch(f"accounts/{world.mine.account.pk}", {"custom": {name: value}}
                         ).error(422)
    assert list(error["fields"]) == [f"custom.{name}"]


def test_required_custom_field(world: Any, api: Any) -> None:
    api(world.personas.admin).post("custom-fields", {
        "object_type": "lead", "name": "campaign", "label": "Campaign", "required": True,
    }).expect(201)
    client = api(world.personas.owner)
    error = client.post("leads", {"last_name": "X", "email": "x@newco.fr"}).error(422)
    assert list(error["fields"]) == ["custom.campaign"]
    client.post("leads", {"last_name": "X", "email": "x@newco.fr",
                          "custom": {"campaign": "spring"}}).expect(201)


@pytest.mark.usefixtures("custom_fields")
def test_filter_on_custom_fields(world: Any, api: Any) -> None:
    client = api(world.personas.owner)
    gold = client.post("accounts", {"legal_name": "Gold", "custom": {
        "tier": "gold", "seats": 10, "vip": True, "renewal": "2026-01-01"}}).expect(201)["id"]
    silver = client.post("accounts", {"legal_name": "Silver", "custom": {
        "tier": "silver", "seats": 3, "vip": False}}).expect(201)["id"]
    assert client.ids("accounts", cf_tier="gold") == [gold]
    assert client.ids("accounts", cf_tier="silver") == [silver]
    assert client.ids("accounts", cf_seats="10") == [gold]
    assert client.ids("accounts", cf_seats="3.0") == [silver]
    assert client.ids("accounts", cf_vip="true") == [gold]
    assert client.ids("accounts", cf_vip="false") == [silver]
    assert client.ids("accounts", cf_renewal="2026-01-01") == [gold]
    assert client.ids("accounts", cf_tier="gold", cf_vip="false") == []
    # the outsider's view stays theirs
    assert api(world.personas.outsider).ids("accounts", cf_tier="gold") == []
    for params, field in [({"cf_seats": "ten"}, "cf_seats"), ({"cf_vip": "maybe"}, "cf_vip"),
                          ({"cf_nope": "1"}, "cf_nope")]:
        assert field in client.get("accounts", params).error(422)["fields"]


# --- Lists: cursor pagination, ordering, parameters ---------------------------------------

@pytest.fixture
def deals(world: Any) -> list[Opportunity]:
    """30 deals with repeated and missing close dates, repeated amounts and probabilities.

    Inserted in one query: this is about listing, and 30 service calls would cost ~0.3 s for
    each of the many pagination cases.
    """
    stage = Stage.objects.filter(pipeline__is_default=True).order_by("order").first()
    assert stage is not None
    return Opportunity.objects.bulk_create([
        Opportunity(name=f"Deal {n:02d}", account=world.mine.account, owner=world.personas.owner,
                    pipeline_id=stage.pipeline_id, stage=stage, amount=Decimal(n % 6 * 100),
                    expected_close_date=None if n % 4 == 0 else dt.date(2026, 1 + n % 3,
                                                                         1 + n % 5),
                    probability=n % 7 * 10)
        for n in range(30)
    ])


def expected_order(rows: list[Any], field: str, descending: bool) -> list[int]:
    """Order by ``field`` then id, in the same direction; missing values last either way."""
    present = [r for r in rows if getattr(r, field) is not None]
    missing = [r for r in rows if getattr(r, field) is None]
    present.sort(key=lambda r: (getattr(r, field), r.pk), reverse=descending)
    missing.sort(key=lambda r: r.pk, reverse=descending)
    return [r.pk for r in present + missing]


@pytest.mark.usefixtures("deals")
@pytest.mark.parametrize("ordering", [
    "expected_close_date", "-expected_close_date", "amount", "-amount", "name", "-name",
    "probability", "-probability", "created_at", "-created_at", "id", "-id",
])
@pytest.mark.parametrize("page_size", [1, 4, 7])
def test_cursor_pagination_walks_every_record_once(world: Any, api: Any, ordering: str,
                                                   page_size: int) -> None:
    rows = list(Opportunity.objects.all())  # the admin sees them all
    walked = [i["id"] for i in api(world.personas.admin).walk(
        "opportunities", ordering=ordering, page_size=page_size)]
    assert len(walked) == len(set(walked)) == len(rows) > 30
    assert walked == expected_order(rows, ordering.lstrip("-"), ordering.startswith("-"))


@pytest.mark.usefixtures("deals")
def test_pagination_with_filters_and_default_ordering(world: Any, api: Any) -> None:
    client = api(world.personas.owner)
    walked = [i["id"] for i in client.walk("opportunities", page_size=3, amount__gte="300",
                                           expected_close_date__lte="2026-02-28")]
    wanted = list(Opportunity.objects.filter(amount__gte=300,
                                             expected_close_date__lte=dt.date(2026, 2, 28)))
    assert walked == expected_order(wanted, "expected_close_date", False)
    assert walked


@pytest.mark.usefixtures("deals")
def test_a_page_ends_with_a_cursor_and_the_last_page_without(world: Any, api: Any) -> None:
    client = api(world.personas.admin)
    first = client.get("opportunities", {"limit": 5}).expect(200)
    assert len(first["items"]) == 5
    assert first["next_cursor"]
    total = Opportunity.objects.count()
    everything = client.get("opportunities", {"limit": total}).expect(200)
    assert len(everything["items"]) == total
    assert everything["next_cursor"] is None


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# Not a cursor this API could have written, whatever the ordering.
MALFORMED_CURSORS = [
    "not a cursor!", "@@@", _b64({"a": 1}), _b64([1, 2, 3]), _b64("x"), _b64([1, "x"]),
    _b64(["x", None]), _b64(["x", True]), _b64([None, "z"]), _b64([1, 1.5]),
]


@pytest.mark.parametrize("cursor", MALFORMED_CURSORS, ids=lambda c: c[:16])
@pytest.mark.parametrize("ordering", ["legal_name", "-created_at", "id", "updated_at"])
def test_bad_cursor_is_422(world: Any, api: Any, cursor: str, ordering: str) -> None:
    error = api(world.personas.owner).get("accounts", {"cursor": cursor, "ordering": ordering}
                                          ).error(422)
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == ["cursor"]


@pytest.mark.parametrize("value", [{"a": 1}, "not a date", [1], 17])
@pytest.mark.parametrize("ordering", ["-created_at", "updated_at"])
def test_cursor_value_of_the_wrong_type_is_422(world: Any, api: Any, value: Any,
                                               ordering: str) -> None:
    api(world.personas.owner).get("accounts", {"cursor": _b64([value, 1]), "ordering": ordering}
                                  ).error(422)


def test_cursor_with_an_out_of_range_id_is_not_a_crash(world: Any, api: Any) -> None:
    for ordering in ("id", "-id", "legal_name"):
        response = api(world.personas.owner).get("accounts", {
            "cursor": _b64(["a", 10**30]), "ordering": ordering})
        assert response.status in (200, 422), response.json()


def test_bad_cursor_with_a_date_on_a_nullable_ordering_is_422(world: Any, api: Any) -> None:
    api(world.personas.owner).get("opportunities", {
        "ordering": "-expected_close_date", "cursor": _b64(["31/12/2026", 1])}).error(422)


def test_unknown_query_parameter_is_422(world: Any, api: Any) -> None:
    error = api(world.personas.owner).get("accounts", {"colour": "blue", "owner": 1}).error(422)
    assert set(error["fields"]) == {"colour", "owner"}


@pytest.mark.parametrize("limit", ["0", "-1", "501", "100000", "abc", "1.5"])
def test_limit_out_of_range_is_422(world: Any, api: Any, limit: str) -> None:
    error = api(world.personas.owner).get("accounts", {"limit": limit}).error(422)
    assert "limit" in error["fields"]


@pytest.mark.parametrize("limit", ["1", "500"])
def test_limit_bounds_are_accepted(world: Any, api: Any, limit: str) -> None:
    api(world.personas.owner).get("accounts", {"limit": limit}).expect(200)


@pytest.mark.parametrize("ordering", ["owner", "-custom", "password", "", "-"])
def test_unknown_ordering_is_422(world: Any, api: Any, ordering: str) -> None:
    response = api(world.personas.owner).get("accounts", {"ordering": ordering})
    if ordering == "":  # an empty value means the default ordering
        response.expect(200)
        return
    assert "ordering" in response.error(422)["fields"]


@pytest.mark.parametrize(("params", "field"), [
    ({"owner_id": "abc"}, "owner_id"), ({"owner_id": "1,x"}, "owner_id"),
    ({"owner_id": str(10**30)}, "owner_id"), ({"created_at__gte": "yesterday"},
                                              "created_at__gte"),
    ({"credit_limit__gte": "lots"}, "credit_limit__gte"),
])
def test_bad_filter_values_are_422(world: Any, api: Any, params: dict[str, str],
                                   field: str) -> None:
    error = api(world.personas.owner).get("accounts", params).error(422)
    assert field in error["fields"]


def test_filters_combine(world: Any, api: Any) -> None:
    client = api(world.personas.admin)
    p = world.personas
    both = set(client.ids("accounts", owner_id=f"{p.owner.pk},{p.outsider.pk}"))
    assert both == {world.mine.account.pk, world.mine.private_account.pk,
                    world.theirs.account.pk, world.theirs.private_account.pk}
    assert client.ids("accounts", owner_id=p.owner.pk, billing_postcode__startswith="69") \
        == [world.mine.account.pk]
    assert client.ids("accounts", territory_id=p.provence.pk) == [world.theirs.account.pk]
    assert client.ids("contacts", q="olivia") == [world.mine.contact.pk]  # case-insensitive
    assert client.ids("opportunities", account_id=world.mine.account.pk, status="open") \
        == [world.mine.opportunity.pk]
    assert client.ids("opportunities", status="won,lost") == []
