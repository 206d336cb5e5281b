"""Every failure answers ``{"error": {"status", "code", "message", "fields"}}``, never a 500."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from comptoir.access.models import ApiToken
from comptoir.api.auth import issue_token
from comptoir.crm.models import Account, Stage
from comptoir.testing.api import ApiClient, assert_error_shape


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


def first_stage() -> dict[str, int]:
    stage = Stage.objects.filter(pipeline__is_default=True).order_by("order").first()
    assert stage is not None
    return {"pipeline_id": stage.pipeline_id, "stage_id": stage.pk}


# --- 400 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [b"{bad", b'{"legal_name": "x"', b"\xff\xfe", b"[1,",
                                 b"legal_name=x"])
def test_body_that_is_not_json_is_400(world: Any, api: Any, raw: bytes) -> None:
    error = api(world.personas.owner).request("POST", "accounts", raw_body=raw).error(400)
    assert error["code"] == "bad_request"


# --- 401 ------------------------------------------------------------------------------------

def test_no_credentials_is_401(world: Any, api: Any) -> None:
    for path in ("me", "accounts", f"accounts/{world.mine.account.pk}", "products"):
        error = api(None).get(path).error(401)
        assert error["code"] == "unauthorized"
    api(None).post("accounts", {"legal_name": "Anonymous"}).error(401)
    assert not Account.objects.filter(legal_name="Anonymous").exists()


@pytest.mark.parametrize("header", ["Bearer cpt_not-a-real-token", "Bearer ", "Bearer x",
                                    "Basic b3duZXI6cGFzcw==", "cpt_abc", "Token cpt_abc"])
def test_bad_credentials_are_401(world: Any, header: str) -> None:
    response = ApiClient(None).get("accounts", headers={"Authorization": header})
    response.error(401)


def test_revoked_token_is_401(world: Any) -> None:
    token, raw = issue_token(world.personas.owner, "laptop")
    client = ApiClient(raw)
    client.get("me").expect(200)
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    client.get("me").error(401)


def test_expired_token_is_401(world: Any) -> None:
    token, raw = issue_token(world.personas.owner, "laptop", days=1)
    client = ApiClient(raw)
    client.get("me").expect(200)
    ApiToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1))
    client.get("me").error(401)


def test_token_of_a_deactivated_user_is_401(world: Any) -> None:
    _token, raw = issue_token(world.personas.owner, "laptop")
    world.personas.owner.is_active = False
    world.personas.owner.save()
    ApiClient(raw).get("me").error(401)


# --- 403 ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "products", {"code": "NEW", "name": "New"}),
    ("POST", "pricelists", {"name": "Mine"}),
    ("POST", "custom-fields", {"object_type": "account", "name": "x", "label": "X"}),
    ("POST", "accounts/assign-territories", {}),
])
def test_forbidden_actions_are_403(world: Any, api: Any, method: str, path: str,
                                   body: Any) -> None:
    error = api(world.personas.owner).request(method, path, json_body=body).error(403)
    assert error["code"] == "forbidden"


def test_visible_but_not_deletable_is_403(world: Any, api: Any) -> None:
    response = api(world.personas.teammate).delete(f"accounts/{world.mine.account.pk}")
    assert response.error(403)["code"] == "forbidden"
    assert Account.objects.filter(pk=world.mine.account.pk).exists()


def test_session_auth_checks_csrf_on_unsafe_methods(world: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.personas.owner)
    assert client.get("/api/v1/me").status_code == 200
    response = client.post("/api/v1/accounts", data=json.dumps({"legal_name": "No CSRF"}),
                           content_type="application/json")
    assert response.status_code == 403
    assert_error_shape(response.json(), 403)
    assert not Account.objects.filter(legal_name="No CSRF").exists()


# --- 404 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["accounts/0", "accounts/987654", "contacts/987654",
                                  "accounts/99999999999999999999999",
                                  "accounts/987654/contacts", "audit/account/987654",
                                  "attachments/987654/download"])
def test_unknown_record_is_404(world: Any, api: Any, path: str) -> None:
    assert api(world.personas.owner).get(path).error(404)["code"] == "not_found"


def test_invisible_record_answers_like_a_missing_one(world: Any, api: Any) -> None:
    client = api(world.personas.outsider)
    hidden = client.get(f"accounts/{world.mine.account.pk}").error(404)
    missing = client.get("accounts/987654").error(404)
    assert hidden["code"] == missing["code"]
    assert hidden["fields"] == missing["fields"] == {}
    for method in ("PATCH", "DELETE"):
        client.request(method, f"accounts/{world.mine.account.pk}", json_body={}).error(404)


def test_token_revocation_of_someone_elses_token_is_404(world: Any, api: Any) -> None:
    token, _raw = issue_token(world.personas.owner, "theirs")
    api(world.personas.outsider).delete(f"me/tokens/{token.pk}").error(404)
    token.refresh_from_db()
    assert token.revoked_at is None


# --- 409 ------------------------------------------------------------------------------------

def test_duplicate_product_code_is_409(world: Any, api: Any) -> None:
    error = api(world.personas.admin).post("products", {"code": world.product.code,
                                                        "name": "Copy"}).error(409)
    assert error["code"] == "conflict"
    assert list(error["fields"]) == ["code"]


def test_duplicate_sales_document_number_is_409_within_a_kind(world: Any, api: Any) -> None:
    client = api(world.personas.owner)
    number = world.mine.sales_document.number
    body = {"kind": "quote", "number": number, "account_id": world.mine.account.pk}
    assert client.post("sales-documents", body).error(409)["code"] == "conflict"
    # the same number on another kind of document is fine
    client.post("sales-documents", {**body, "kind": "order"}).expect(201)


def test_duplicate_price_list_name_and_custom_field_are_409(world: Any, api: Any) -> None:
    admin = api(world.personas.admin)
    admin.post("pricelists", {"name": world.price_list.name}).error(409)
    definition = {"object_type": "account", "name": "tier", "label": "Tier"}
    admin.post("custom-fields", definition).expect(201)
    admin.post("custom-fields", definition).error(409)


def test_converting_twice_is_409_and_a_converted_lead_is_read_only(world: Any,
                                                                   api: Any) -> None:
    client = api(world.personas.owner)
    lead = world.mine.lead
    client.post(f"leads/{lead.pk}/convert", {}).expect(200)
    assert client.post(f"leads/{lead.pk}/convert", {}).error(409)["code"] == "conflict"
    client.patch(f"leads/{lead.pk}", {"job_title": "CEO"}).error(409)


# --- 413 ------------------------------------------------------------------------------------

def test_attachment_over_the_limit_is_413(world: Any, api: Any, settings: Any) -> None:
    settings.COMPTOIR_ATTACHMENT_MAX_BYTES = 1024
    client = api(world.personas.owner)
    target = {"target": "account", "target_id": world.mine.account.pk}
    client.upload("attachments", {**target, "file": SimpleUploadedFile("ok.txt", b"x" * 1024)}
                  ).expect(201)
    error = client.upload("attachments", {
        **target, "file": SimpleUploadedFile("big.txt", b"x" * 1025)}).error(413)
    assert error["code"] == "too_large"


def test_request_body_over_the_limit_is_413(world: Any, api: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    error = api(world.personas.owner).post("accounts", {"legal_name": "x" * 5000}).error(413)
    assert error["code"] == "too_large"


# --- 422 ------------------------------------------------------------------------------------

def _acc(w: Any) -> int:
    return int(w.mine.account.pk)


# (path, body, the one field named in the error)
FIELD_ERRORS: list[tuple[str, Any, str]] = [
    ("accounts", {}, "legal_name"),
    ("accounts", {"legal_name": None}, "legal_name"),
    ("accounts", {"legal_name": 123}, "legal_name"),
    ("accounts", {"legal_name": "x" * 201}, "legal_name"),
    ("accounts", {"legal_name": "A", "siren": "123456789"}, "siren"),
    ("accounts", {"legal_name": "A", "siret": "73282932000075"}, "siret"),
    ("accounts", {"legal_name": "A", "vat_number": "FR00000000000"}, "vat_number"),
    ("accounts", {"legal_name": "A", "naf_code": "xx"}, "naf_code"),
    ("accounts", {"legal_name": "A", "email": "not-an-email"}, "email"),
    ("accounts", {"legal_name": "A", "phone": "12"}, "phone"),
    ("accounts", {"legal_name": "A", "status": "vip"}, "status"),
    ("accounts", {"legal_name": "A", "headcount_band": "99"}, "headcount_band"),
    ("accounts", {"legal_name": "A", "credit_limit": "1e400"}, "credit_limit"),
    ("accounts", {"legal_name": "A", "credit_limit": "12.345"}, "credit_limit"),
    ("accounts", {"legal_name": "A", "parent_id": 987654}, "parent"),
    ("accounts", {"legal_name": "A", "custom": []}, "custom"),
    ("accounts", {"legal_name": "A", "billing_country": "France"}, "billing_country"),
    ("contacts", {"last_name": "X"}, "account_id"),
    ("contacts", {"last_name": "X", "account_id": 987654}, "account"),
    ("contacts", {"last_name": "X", "account_id": 10**30}, "account"),
    ("contacts", {"last_name": "X", "account_id": "abc"}, "account_id"),
    ("contacts", {"last_name": "X", "account_id": 1, "phone": "0"}, "phone"),
    ("contacts", {"last_name": "X", "account_id": 1, "marketing_consent": "maybe"},
     "marketing_consent"),
    ("leads", {"last_name": "X"}, "email"),
    ("leads", {"last_name": "X", "email": "x@newco.fr", "score": 101}, "score"),
    ("leads", {"last_name": "X", "email": "x@newco.fr", "score": -1}, "score"),
    ("leads", {"last_name": "X", "email": "x@newco.fr", "source": "tv"}, "source"),
    ("leads", {"last_name": "X", "email": "x@newco.fr", "siren": "123"}, "siren"),
    ("leads", {"last_name": "X", "email": "x@newco.fr", "street": "x" * 201}, "street"),
    ("activities", {"subject": "X", "start_at": "2026-01-02T10:00:00Z",
                    "end_at": "2026-01-01T10:00:00Z"}, "end_at"),
    ("activities", {"subject": "X", "case_id": 987654}, "case"),
    ("activities", {"subject": "X", "kind": "fax"}, "kind"),
    ("activities", {"subject": "X", "due_at": "tomorrow"}, "due_at"),
    ("cases", {"subject": "X", "account_id": 987654}, "account"),
    ("cases", {"subject": "X", "priority": "asap", "account_id": 1}, "priority"),
    ("sales-documents", {"kind": "estimate", "number": "N", "account_id": 1}, "kind"),
    ("sales-documents", {"kind": "quote", "number": "N", "account_id": 1, "lines": "abc"},
     "lines"),
    ("sales-documents", {"kind": "quote", "number": "N", "account_id": 1,
                         "lines": [{"quantity": "abc", "unit_price": "1"}]}, "lines.0.quantity"),
    ("sales-documents", {"kind": "quote", "number": "N", "account_id": 1,
                         "lines": [{"description": "x", "unit_price": "1",
                                    "discount_percent": "150"}]}, "lines.0.discount_percent"),
    ("me/tokens", {"name": ""}, "name"),
    ("me/tokens", {"name": "x", "days": 0}, "days"),
]


@pytest.mark.parametrize(("path", "body", "field"), FIELD_ERRORS,
                         ids=[f"{p}-{f}-{n}" for n, (p, _b, f) in enumerate(FIELD_ERRORS)])
def test_invalid_field_is_422_on_that_field(world: Any, api: Any, path: str, body: Any,
                                            field: str) -> None:
    if body.get("account_id") == 1:
        body = {**body, "account_id": _acc(world)}
    error = api(world.personas.owner).post(path, body).error(422)
    assert error["code"] == "validation_error"
    assert field in error["fields"], error
    assert all(error["fields"][field]), error


def test_contact_on_an_account_the_user_cannot_change_is_422(world: Any, api: Any) -> None:
    for account in (world.theirs.account, world.mine.private_account):
        response = api(world.personas.teammate).post("contacts", {
            "last_name": "X", "account_id": account.pk})
        assert "account" in response.error(422)["fields"]


def test_opportunity_amount_cannot_be_negative(world: Any, api: Any) -> None:
    error = api(world.personas.owner).post("opportunities", {
        "name": "Refund", "account_id": world.mine.account.pk, "amount": "-10",
        **first_stage()}).error(422)
    assert list(error["fields"]) == ["amount"]


def test_opportunity_amount_cannot_become_negative(world: Any, api: Any) -> None:
    api(world.personas.owner).patch(f"opportunities/{world.mine.opportunity.pk}",
                                    {"amount": "-1"}).error(422)


def test_a_lead_cannot_be_created_converted(world: Any, api: Any) -> None:
    api(world.personas.owner).post("leads", {"last_name": "X", "email": "x@newco.fr",
                                             "status": "converted"}).error(422)


def test_owner_outside_the_scope_is_422(world: Any, api: Any) -> None:
    client = api(world.personas.owner)
    error = client.post("accounts", {"legal_name": "Gift", "owner_id": world.personas.outsider.pk}
                        ).error(422)
    assert list(error["fields"]) == ["owner"]
    error = client.patch(f"accounts/{world.mine.account.pk}",
                         {"owner_id": world.personas.outsider.pk}).error(422)
    assert list(error["fields"]) == ["owner"]
    # the manager may hand it to someone in their scope
    api(world.personas.manager).patch(f"accounts/{world.mine.account.pk}",
                                      {"owner_id": world.personas.lead_rep.pk}).expect(200)


# --- Never a 500 ------------------------------------------------------------------------------

MALFORMED: list[tuple[str, str, Any]] = [
    ("POST", "accounts", [1, 2]),
    ("POST", "accounts", "just a string"),
    ("POST", "accounts", None),
    ("POST", "accounts", {"legal_name": "x" * 1_000_000}),
    ("POST", "accounts", {"legal_name": ["list"]}),
    ("POST", "accounts", {"legal_name": {"nested": "object"}}),
    ("POST", "accounts", {"legal_name": "A", "owner_id": 10**30}),
    ("POST", "accounts", {"legal_name": "A", "owner_id": -1}),
    ("POST", "accounts", {"legal_name": "A", "territory_id": 987654}),
    ("POST", "accounts", {"legal_name": "A", "credit_limit": "NaN"}),
    ("POST", "accounts", {"legal_name": "A", "credit_limit": "-Infinity"}),
    ("POST", "accounts", {"legal_name": "A", "custom": {"x" * 500: "y"}}),
    ("POST", "accounts", {"legal_name": "A", "status": None}),
    ("POST", "accounts", {"legal_name": "A", "billing_country": None}),
    ("POST", "accounts", {"legal_name": "\U0001f600 émoji 中文"}),
    ("POST", "opportunities", {"name": "x", "account_id": "ACC", "amount": "-10"}),
    ("POST", "opportunities", {"name": "x", "account_id": "ACC", "pipeline_id": 987654,
                               "stage_id": 987654}),
    ("POST", "opportunities", {"name": "x", "account_id": "ACC", "pipeline_id": 1,
                               "stage_id": 1, "contact_id": 987654}),
    ("POST", "opportunities", {"name": "x", "account_id": "ACC", "pipeline_id": 1,
                               "stage_id": 1, "expected_close_date": "2024-13-45"}),
    ("POST", "opportunities", {"name": "x", "account_id": "ACC", "pipeline_id": 1,
                               "stage_id": 1, "amount": "1e20"}),
    ("POST", "opportunities", {"name": "x", "account_id": "ACC", "pipeline_id": 1,
                               "stage_id": 1, "probability": True}),
    ("POST", "sales-documents", {"kind": "quote", "number": "M1", "account_id": "ACC",
                                 "lines": [{"unit_price": "5", "quantity": "1e20",
                                            "description": "big"}]}),
    ("POST", "sales-documents", {"kind": "quote", "number": "M2", "account_id": "ACC",
                                 "lines": [{"unit_price": "999999999999.99",
                                            "quantity": "999999999.999",
                                            "description": "overflowing total"}]}),
    ("POST", "sales-documents", {"kind": "quote", "number": "M3", "account_id": "ACC",
                                 "price_list_id": 987654}),
    ("POST", "sales-documents", {"kind": "quote", "number": "M4", "account_id": "ACC",
                                 "opportunity_id": 987654, "contact_id": 987654}),
    ("POST", "sales-documents", {"kind": "quote", "number": "M5", "account_id": "ACC",
                                 "lines": [{"product_id": 987654}]}),
    ("POST", "sales-documents", {"kind": "quote", "number": "M6", "account_id": "ACC",
                                 "lines": [None]}),
    ("POST", "activities", {"subject": "x", "owner_id": 987654}),
    ("POST", "activities", {"subject": "x", "account_id": "ACC", "contact_id": 987654}),
    ("POST", "cases", {"subject": "x", "account_id": "ACC", "contact_id": 987654}),
    ("POST", "leads", {"last_name": "x", "email": "a@" + "b" * 300 + ".fr"}),
    ("POST", "leads", {"last_name": "x", "phone": "+" + "9" * 30}),
    ("POST", "pricelists", {"name": "P", "items": [{"product_id": 987654, "unit_price": "1"}]}),
    ("POST", "pricelists", {"name": "P", "items": [{"product_id": "PRODUCT",
                                                    "unit_price": "-1"}]}),
    ("POST", "pricelists", {"name": "P", "valid_from": "2026-12-31",
                            "valid_to": "2026-01-01"}),
    ("PATCH", "accounts/ACC", {"parent_id": "ACC"}),
    ("PATCH", "accounts/ACC", {"legal_name": None}),
    ("PATCH", "accounts/ACC", {"legal_name": ""}),
    ("PATCH", "accounts/ACC", {"billing_country": None}),
    ("PATCH", "accounts/ACC", {"custom": None}),
    ("PATCH", "accounts/ACC", []),
    ("PATCH", "opportunities/OPP", {"stage_id": None}),
    ("PATCH", "opportunities/OPP", {"amount": None}),
    ("PATCH", "opportunities/OPP", {"stage_id": 987654}),
    ("PATCH", "contacts/CON", {"account_id": None}),
    ("PATCH", "contacts/CON", {"account_id": 987654}),
    ("PATCH", "sales-documents/DOC", {"kind": None}),
    ("PATCH", "sales-documents/DOC", {"lines": [{"description": "no price"}]}),
    ("PATCH", "cases/CASE", {"account_id": None}),
    ("PATCH", "cases/CASE", {"contact_id": 987654}),
    ("PATCH", "activities/ACT", {"subject": None}),
    ("PATCH", "activities/ACT", {"opportunity_id": 987654}),
    ("PATCH", "leads/LEAD", {"email": None, "phone": None}),
    ("PATCH", "leads/LEAD", {"status": "converted"}),
    ("PATCH", "products/PRODUCT", {"tax_rate": "1000"}),
    ("PATCH", "products/PRODUCT", {"code": None}),
    ("POST", "leads/LEAD/convert", {"account_id": "abc"}),
    ("POST", "leads/LEAD/convert", {"account_id": 987654}),
    ("POST", "leads/LEAD/convert", {"create_opportunity": True, "amount": -5,
                                    "expected_close_date": "garbage"}),
    ("POST", "custom-fields", {"object_type": "account", "name": "n", "label": "N",
                               "type": "choice", "choices": "abc"}),
    ("GET", "accounts?created_at__gte=yesterday", None),
    ("GET", "accounts?credit_limit__gte=NaN", None),
    ("GET", "accounts?q=" + "x" * 10000, None),
    ("GET", "accounts?owner_id=,,,", None),
    ("GET", "accounts?ordering=-", None),
    ("GET", "accounts?limit=99999999999999999999", None),
    ("GET", "opportunities?probability__gte=99999999999999999999", None),
    ("GET", "opportunities?amount__lte=1e400", None),
    ("GET", "audit/nothing/1", None),
    ("GET", "audit/account/99999999999999999999", None),
]


def _resolve(world: Any, text: str) -> str:
    names = {"ACC": world.mine.account.pk, "OPP": world.mine.opportunity.pk,
             "CON": world.mine.contact.pk, "DOC": world.mine.sales_document.pk,
             "CASE": world.mine.case.pk, "ACT": world.mine.activity.pk,
             "LEAD": world.mine.lead.pk, "PRODUCT": world.product.pk}
    for name, pk in names.items():
        text = text.replace(f"/{name}", f"/{pk}").replace(f'"{name}"', str(pk))
    return text


@pytest.mark.parametrize(("method", "path", "body"), MALFORMED,
                         ids=[f"{m}-{p[:24]}-{n}" for n, (m, p, _b) in enumerate(MALFORMED)])
@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_malformed_input_is_never_a_500(world: Any, api: Any, method: str, path: str,
                                        body: Any, persona: str) -> None:
    path = _resolve(world, path)
    client = api(world.personas[persona])
    if body is None and method == "GET":
        response = client.request(method, path)
    else:
        raw = _resolve(world, json.dumps(body)).encode()
        response = client.request(method, path, raw_body=raw)
    assert response.status < 500, (response.status, response.content[:300])
    if response.status >= 400:
        response.expect(response.status)  # the uniform error shape
    else:  # some are acceptable input (an emoji name, a valid filter)
        assert response.status in (200, 201), response.status


ON_POSTGRESQL = "postgresql" in settings.DATABASES["default"]["ENGINE"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "accounts", {"legal_name": "Nul\u0000byte"}),
    ("GET", "accounts", {"q": "a\u0000b"}),
    ("PATCH", "contacts/CON", {"job_title": "\u0000"}),
], ids=["create", "search", "patch"])
def test_nul_character_is_never_a_500(world: Any, api: Any, method: str, path: str,
                                      body: Any) -> None:
    client = api(world.personas.owner)
    path = _resolve(world, path)
    response = (client.get(path, body) if method == "GET"
                else client.request(method, path, json_body=body))
    assert response.status < 500, response.content[:200]


def test_many_errors_come_back_in_one_body(world: Any, api: Any) -> None:
    """Many errors at once (every line of a document) still come back in one body."""
    lines = [{"quantity": "abc", "unit_price": "1"} for _ in range(50)]
    error = api(world.personas.owner).post("sales-documents", {
        "kind": "quote", "number": "MANY", "account_id": world.mine.account.pk,
        "lines": lines}).error(422)
    assert {f"lines.{n}.quantity" for n in range(50)} <= set(error["fields"])
