"""Create and edit forms, inline validation, the duplicate warning and lead conversion."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from comptoir.activities.models import Activity
from comptoir.core.models import AuditEntry, CustomField, ExternalRef
from comptoir.crm.models import Account, Contact, Lead, Opportunity, Stage
from comptoir.sales.models import Product
from comptoir.service.models import Case
from comptoir.testing import factories
from comptoir.web.views.forms import duplicate_candidates

pytestmark = pytest.mark.django_db

VALID_SIREN = factories.siren(987_654)
HTMX = {"HTTP_HX_REQUEST": "true"}

CREATE_PAGES = ["account_create", "contact_create", "lead_create", "opportunity_create",
                "activity_create", "case_create"]


@pytest.fixture
def world(shared_world: Any) -> Any:
    """One world per module (each test rolled back): these tests only read it or add to it."""
    return shared_world


def _created(model: Any, **lookup: Any) -> Any:
    obj = model.objects.get(**lookup)
    object_type = {Account: "account", Contact: "contact", Lead: "lead",
                   Opportunity: "opportunity", Activity: "activity", Case: "case",
                   Product: "product"}[model]
    assert AuditEntry.objects.filter(object_type=object_type, object_id=obj.pk,
                                     action="create").exists()
    return obj


def _errors(response: Any) -> str:
    html = response.content.decode()
    return " ".join(re.findall(r'class="(?:field|form)-error"[^>]*>(.*?)</', html, re.S))


# --- Rendering ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CREATE_PAGES)
def test_every_create_form_renders(client_for: Any, world: Any, name: str) -> None:
    response = client_for(world.personas.owner).get(reverse(f"web:{name}"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-cancel-url="' in html
    assert "csrfmiddlewaretoken" in html


def test_product_form_only_for_catalogue_managers(client_for: Any, world: Any) -> None:
    assert client_for(world.personas.owner).get(reverse("web:product_create")).status_code == 403
    assert client_for(world.personas.owner).post(reverse("web:product_create"),
                                                 {"code": "X", "name": "X"}).status_code == 403
    client = client_for(world.personas.data_manager)
    assert client.get(reverse("web:product_create")).status_code == 200
    response = client.post(reverse("web:product_create"),
                           {"code": "GADGET", "name": "Gadget", "unit": "unit",
                            "tax_rate": "5,5", "active": "on"})
    product = _created(Product, code="GADGET")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:product_detail", args=[product.pk])
    assert str(product.tax_rate) == "5.50"
    # the code is unique: the service's conflict comes back next to the field
    again = client.post(reverse("web:product_create"), {"code": "GADGET", "name": "Other",
                                                        "unit": "unit"})
    assert again.status_code == 200
    assert "GADGET" in again.content.decode()
    assert 'aria-invalid="true"' in again.content.decode()


def test_defaults_owner_pipeline_stage_priority(client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    client = client_for(owner)
    html = client.get(reverse("web:opportunity_create")).content.decode()
    first = Stage.objects.filter(pipeline__is_default=True).order_by("order").first()
    assert re.search(rf'<option value="{first.pk}" selected>', html)
    assert re.search(rf'<option value="{owner.pk}" selected>', html)
    html = client.get(reverse("web:case_create")).content.decode()
    assert '<option value="normal" selected>' in html


def test_prefill_from_the_query_string(client_for: Any, world: Any) -> None:
    mine, theirs = world.mine, world.theirs
    client = client_for(world.personas.owner)
    html = client.get(reverse("web:contact_create") + f"?account={mine.account.pk}").content \
        .decode()
    assert f'value="{mine.account.pk}"' in html
    assert 'value="Olivia Industries"' in html
    # a deal from a contact brings its account along
    html = client.get(reverse("web:opportunity_create") + f"?contact={mine.contact.pk}") \
        .content.decode()
    assert 'value="Olivia Industries"' in html
    assert f'value="{mine.contact.pk}"' in html
    # an activity from a deal
    html = client.get(reverse("web:activity_create")
                      + f"?opportunity={mine.opportunity.pk}&kind=note").content.decode()
    assert "Olivia renewal" in html
    assert '<option value="note" selected>' in html
    # someone else's account is silently ignored, never shown
    html = client.get(reverse("web:contact_create") + f"?account={theirs.account.pk}").content \
        .decode()
    assert "Oscar Industries" not in html


def test_owner_choice_is_restricted(client_for: Any, world: Any) -> None:
    p = world.personas
    html = client_for(p.owner).get(reverse("web:account_create")).content.decode()
    owner_select = re.search(r'<select name="owner".*?</select>', html, re.S).group(0)
    assert f'value="{p.owner.pk}"' in owner_select
    assert f'value="{p.outsider.pk}"' not in owner_select
    # a forged owner is a field error, nothing is created
    response = client_for(p.owner).post(reverse("web:account_create"),
                                        {"legal_name": "Forged", "owner": p.outsider.pk,
                                         "status": "prospect"})
    assert response.status_code == 200
    assert not Account.objects.filter(legal_name="Forged").exists()
    assert "valid choice" in _errors(response)
    # a manager may give the record to the reps below them
    html = client_for(p.manager).get(reverse("web:account_create")).content.decode()
    owner_select = re.search(r'<select name="owner".*?</select>', html, re.S).group(0)
    assert f'value="{p.owner.pk}"' in owner_select


# --- Creating through the services ----------------------------------------------------------

def test_rep_creates_account_then_contact(client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    client = client_for(owner)
    response = client.post(reverse("web:account_create"), {
        "legal_name": "Nouvelle Brasserie", "siren": VALID_SIREN, "billing_postcode": "69003",
        "billing_city": "Lyon", "phone": "04 72 00 00 00", "status": "prospect",
        "owner": owner.pk, "credit_limit": "12 500,50",
    })
    account = _created(Account, legal_name="Nouvelle Brasserie")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:account_detail", args=[account.pk])
    assert account.owner_id == owner.pk
    assert account.phone == "+33472000000"
    assert str(account.credit_limit) == "12500.50"
    assert account.territory == world.personas.rhone
    follow = client.get(response["Location"])
    assert "Nouvelle Brasserie" in " ".join(str(m) for m in follow.context["messages"])

    response = client.post(reverse("web:contact_create"), {
        "account": account.pk, "account_label": "Nouvelle Brasserie", "last_name": "Martin",
        "first_name": "Léa", "email": "lea@brasserie.example", "owner": owner.pk,
        "marketing_consent": "unknown",
    })
    contact = _created(Contact, last_name="Martin")
    assert response.status_code == 302
    assert contact.account_id == account.pk


def test_picker_resolves_typed_text_without_javascript(client_for: Any, world: Any) -> None:
    client = client_for(world.personas.owner)
    response = client.post(reverse("web:contact_create"), {
        "account": "", "account_label": "Olivia Industries", "last_name": "Sans JS",
        "marketing_consent": "unknown"})
    assert response.status_code == 302
    assert Contact.objects.get(last_name="Sans JS").account == world.mine.account
    # ambiguous text: the user is asked to choose
    response = client.post(reverse("web:contact_create"), {
        "account": "", "account_label": "Olivia", "last_name": "Ambigu",
        "marketing_consent": "unknown"})
    assert response.status_code == 200
    assert "choose one of the suggestions" in _errors(response)
    assert 'value="Olivia"' in response.content.decode()


def test_lead_deal_activity_case_creation(client_for: Any, world: Any) -> None:
    mine = world.mine
    client = client_for(world.personas.owner)
    response = client.post(reverse("web:lead_create"), {
        "last_name": "Durand", "company_name": "Durand & Fils", "phone": "0612345678",
        "source": "trade_show", "status": "new"})
    assert response.status_code == 302
    assert _created(Lead, last_name="Durand").phone == "+33612345678"

    response = client.post(reverse("web:opportunity_create"), {
        "name": "Big deal", "account": mine.account.pk, "amount": "1 500",
        "expected_close_date": "2031-05-01", "stage": ""})
    assert response.status_code == 200  # the stage is required by the form
    stage = Stage.objects.filter(pipeline__is_default=True).order_by("order")[1]
    response = client.post(reverse("web:opportunity_create"), {
        "name": "Big deal", "account": mine.account.pk, "amount": "1 500",
        "expected_close_date": "2031-05-01", "stage": stage.pk, "contact": mine.contact.pk})
    deal = _created(Opportunity, name="Big deal")
    assert response.status_code == 302
    assert deal.probability == stage.probability
    assert deal.contact == mine.contact
    assert str(deal.amount) == "1500.00"

    response = client.post(reverse("web:activity_create"), {
        "kind": "call", "subject": "Called about the deal", "opportunity": deal.pk,
        "done": "on", "due_at": "2031-04-01T10:30"})
    activity = _created(Activity, subject="Called about the deal")
    assert response.status_code == 302
    assert activity.account_id == mine.account.pk  # derived by the service
    assert activity.done

    response = client.post(reverse("web:case_create"), {
        "subject": "Broken lid", "account": mine.account.pk, "kind": "complaint",
        "priority": "high", "status": "new"})
    case = _created(Case, subject="Broken lid")
    assert response.status_code == 302
    assert case.number


def test_lead_needs_a_means_of_contact(client_for: Any, world: Any) -> None:
    response = client_for(world.personas.owner).post(reverse("web:lead_create"), {
        "last_name": "Nobody", "company_name": "Ghost SA", "source": "other", "status": "new"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Give an e-mail or a phone number." in html
    assert 'value="Ghost SA"' in html  # nothing typed is lost
    assert not Lead.objects.filter(last_name="Nobody").exists()


# --- Garbage in, errors out (never a 500) ---------------------------------------------------

GARBAGE = [
    ("account_create", {"legal_name": "x" * 5000, "siren": "123", "credit_limit": "lots",
                        "status": "nonsense", "billing_country": "FRANCE", "parent": "abc",
                        "email": "not-an-email"}),
    ("account_create", {"legal_name": "", "siren": "\x00", "phone": "++--"}),
    ("contact_create", {"account": "999999999", "last_name": "y" * 300, "email": "@@"}),
    ("contact_create", {"account": "1e9", "account_label": "z" * 1000}),
    ("lead_create", {"score": "a hundred", "email": "bad", "country": "Wonderland",
                     "siren": "000000000"}),
    ("opportunity_create", {"name": "D", "account": "-1", "amount": "1e400", "stage": "9999",
                            "expected_close_date": "2024-02-31", "probability": "250"}),
    ("opportunity_create", {"name": "D", "account": "abc", "amount": "NaN",
                            "expected_close_date": "tomorrow"}),
    ("activity_create", {"subject": "", "due_at": "yesterday", "start_at": "2024-13-01T25:00",
                         "contact": "x", "case": "99999999999999999999999"}),
    ("case_create", {"subject": "s", "account": "", "priority": "whenever"}),
]


@pytest.mark.parametrize(("name", "data"), GARBAGE)
def test_garbage_gives_inline_errors_and_keeps_the_input(client_for: Any, world: Any,
                                                         name: str, data: dict[str, str]) -> None:
    before = {m: m.objects.count() for m in (Account, Contact, Lead, Opportunity, Activity, Case)}
    response = client_for(world.personas.owner).post(reverse(f"web:{name}"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-invalid="true"' in html or 'class="form-error"' in html
    assert before == {m: m.objects.count() for m in before}
    for value in data.values():
        if value and len(value) < 60 and "\x00" not in value and value.isprintable():
            assert f'value="{value}"' in html or f">{value}<" in html or value in html, value


def test_ids_of_records_one_may_not_see_are_field_errors(client_for: Any, world: Any) -> None:
    theirs = world.theirs
    client = client_for(world.personas.owner)
    response = client.post(reverse("web:contact_create"), {
        "account": theirs.account.pk, "last_name": "Sneaky", "marketing_consent": "unknown"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Unknown or not accessible account." in html
    assert "Oscar Industries" not in html  # the name never leaks
    response = client.post(reverse("web:activity_create"), {
        "kind": "call", "subject": "Peek", "opportunity": theirs.opportunity.pk})
    assert "Unknown or not accessible deal." in response.content.decode()
    assert "Oscar renewal" not in response.content.decode()
    assert not Activity.objects.filter(subject="Peek").exists()


# --- Editing --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["account", "contact", "lead", "opportunity", "activity",
                                  "case"])
def test_outsider_cannot_open_the_owners_edit_forms(client_for: Any, world: Any,
                                                    kind: str) -> None:
    obj = world.mine.get(kind)
    url = reverse(f"web:{kind}_edit", args=[obj.pk])
    client = client_for(world.personas.outsider)
    assert client.get(url).status_code == 404
    assert client.post(url, {"legal_name": "Hacked", "subject": "Hacked",
                             "name": "Hacked", "last_name": "Hacked"}).status_code == 404
    assert client_for(world.personas.owner).get(url).status_code == 200


def test_visible_but_not_changeable_is_refused(client_for: Any, world: Any) -> None:
    """The service role reads every account but changes none: the edit page says no (403),
    which leaks nothing since the record is visible to them anyway."""
    url = reverse("web:account_edit", args=[world.mine.account.pk])
    assert client_for(world.personas.service).get(url).status_code == 403
    assert client_for(world.personas.teammate).get(url).status_code == 200  # territory


def test_french_amounts_and_labels(client_for: Any, world: Any) -> None:
    client = client_for(world.personas.owner, language="fr")
    html = client.get(reverse("web:opportunity_create")).content.decode()
    assert 'lang="fr"' in html
    response = client.post(reverse("web:opportunity_create"), {
        "name": "Affaire", "account": world.mine.account.pk, "amount": "1\u202f234,56",
        "stage": Stage.objects.filter(pipeline__is_default=True).order_by("order")[0].pk})
    assert response.status_code == 302
    assert str(Opportunity.objects.get(name="Affaire").amount) == "1234.56"
    deal = Opportunity.objects.get(name="Affaire")
    html = client.get(reverse("web:opportunity_edit", args=[deal.pk])).content.decode()
    assert 'value="1234,56"' in html


def test_edit_saves_only_what_changed(client_for: Any, world: Any) -> None:
    account = world.mine.account
    client = client_for(world.personas.owner)
    url = reverse("web:account_edit", args=[account.pk])
    html = client.get(url).content.decode()
    assert 'value="Olivia Industries"' in html
    form = client.get(url).context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items() if not isinstance(v, bool)}
    data["parent"] = ""
    data["trade_name"] = "Olivia"
    response = client.post(url, data)
    assert response.status_code == 302, _errors(response)
    account.refresh_from_db()
    assert account.trade_name == "Olivia"
    last = AuditEntry.objects.filter(object_type="account", object_id=account.pk) \
        .order_by("-id").first()
    assert set(last.changes) == {"trade_name"}


def test_converted_lead_edit_goes_to_its_conversion(client_for: Any, world: Any) -> None:
    from comptoir.crm.services import lead_convert

    lead = world.mine.lead
    lead_convert(lead=lead, user=world.personas.owner)
    response = client_for(world.personas.owner).get(reverse("web:lead_edit", args=[lead.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("web:lead_convert", args=[lead.pk])


def test_erp_owned_fields_are_read_only(client_for: Any, world: Any, monkeypatch: Any) -> None:
    from comptoir.integration import ownership

    account = world.mine.account
    monkeypatch.setattr(ownership, "owners",
                        lambda object_type: [("Tryton prod", "tryton", {"legal_name", "siren"})]
                        if object_type == "account" else [])
    ExternalRef.objects.create(system="tryton", object_type="account", external_id="C1",
                               object_id=account.pk)
    client = client_for(world.personas.owner)
    url = reverse("web:account_edit", args=[account.pk])
    html = client.get(url).content.decode()
    assert "erp-mark" in html
    assert re.search(r'<input[^>]*name="legal_name"[^>]*disabled', html)
    response = client.post(url, {"legal_name": "Renamed", "siren": "", "status": "prospect",
                                 "owner": world.personas.owner.pk, "trade_name": "Enseigne",
                                 "billing_country": "FR"})
    assert response.status_code == 302, _errors(response)
    account.refresh_from_db()
    assert account.legal_name == "Olivia Industries"  # not submitted
    assert account.siren  # untouched
    assert account.trade_name == "Enseigne"


def test_custom_fields_are_inputs(client_for: Any, world: Any) -> None:
    CustomField.objects.create(object_type="account", name="segment", label="Segment",
                               type="choice", choices=["SMB", "Enterprise"], required=True)
    CustomField.objects.create(object_type="account", name="employees", label="Employees",
                               type="number")
    client = client_for(world.personas.owner)
    html = client.get(reverse("web:account_create")).content.decode()
    assert 'name="cf_segment"' in html
    assert 'name="cf_employees"' in html
    response = client.post(reverse("web:account_create"), {
        "legal_name": "Custom Co", "status": "prospect", "cf_employees": "lots"})
    assert response.status_code == 200
    assert "required" in _errors(response)
    response = client.post(reverse("web:account_create"), {
        "legal_name": "Custom Co", "status": "prospect", "cf_segment": "SMB",
        "cf_employees": "42"})
    assert response.status_code == 302
    assert Account.objects.get(legal_name="Custom Co").custom == {"segment": "SMB",
                                                                 "employees": 42}


# --- Inline validation ---------------------------------------------------------------------

def test_htmx_validation_returns_the_field_with_its_error(client_for: Any, world: Any) -> None:
    client = client_for(world.personas.owner)
    url = reverse("web:account_create") + "?validate=siren"
    response = client.post(url, {"legal_name": "", "siren": "123456789"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith("<div class=\"live-field\"")
    assert "Not a valid SIREN" in html
    assert 'aria-invalid="true"' in html
    assert "This field is required" not in html  # other fields are not judged yet
    assert not Account.objects.filter(siren="123456789").exists()
    ok = client.post(url, {"siren": VALID_SIREN}, **HTMX).content.decode()
    assert "field-error" not in ok
    bad_mail = client.post(reverse("web:contact_create") + "?validate=email",
                           {"email": "bob@"}, **HTMX).content.decode()
    assert "Not a valid e-mail address" in bad_mail
    phone = client.post(reverse("web:lead_create") + "?validate=phone",
                        {"phone": "12"}, **HTMX).content.decode()
    assert "phone number" in phone
    # selects and pickers are not validated on change: nothing to swap
    assert client.post(reverse("web:account_create") + "?validate=status", {},
                       **HTMX).status_code == 204
    assert client.post(reverse("web:account_create") + "?validate=nope", {},
                       **HTMX).status_code == 204


# --- Duplicates -----------------------------------------------------------------------------

def test_duplicate_panel_lists_visible_candidates(client_for: Any, world: Any) -> None:
    mine = world.mine
    client = client_for(world.personas.owner)
    url = reverse("web:duplicate_check", args=["account"])
    html = client.get(url, {"legal_name": "Olivia Industries"}, **HTMX).content.decode()
    assert "Olivia Industries" in html
    assert reverse("web:account_detail", args=[mine.account.pk]) in html
    assert "Same name" in html
    assert "create anyway" in html
    html = client.get(url, {"siren": mine.account.siren}, **HTMX).content.decode()
    assert "Same SIREN" in html
    # as a full page too
    page = client.get(url, {"siren": mine.account.siren})
    assert page.status_code == 200
    assert "<html" in page.content.decode()
    # contacts: same e-mail
    html = client.get(reverse("web:duplicate_check", args=["contact"]),
                      {"email": "CAMILLE@olivia.example"}, **HTMX).content.decode()
    assert "OliviaContact" in html
    assert "Same e-mail" in html
    assert client.get(reverse("web:duplicate_check", args=["lead"])).status_code == 404


def test_outsider_is_not_shown_the_owners_account(client_for: Any, world: Any) -> None:
    mine, p = world.mine, world.personas
    assert duplicate_candidates("account", {"siren": mine.account.siren}, p.outsider) == []
    html = client_for(p.outsider).get(reverse("web:duplicate_check", args=["account"]),
                                      {"siren": mine.account.siren,
                                       "legal_name": "Olivia Industries"},
                                      **HTMX).content.decode()
    assert "Olivia" not in html
    # Creating proceeds: the services allow a second account with a SIREN (the data manager's
    # dedupe merges them later); the outsider learns nothing about the owner's account.
    response = client_for(p.outsider).post(reverse("web:account_create"), {
        "legal_name": "Olivia Industries", "siren": mine.account.siren,
        "billing_postcode": "13002", "status": "prospect"})
    assert response.status_code == 302
    created = Account.objects.filter(siren=mine.account.siren).exclude(pk=mine.account.pk).get()
    assert created.owner == p.outsider
    # the manager of the owner does see it
    found = duplicate_candidates("account", {"siren": mine.account.siren}, p.manager)
    assert [c.obj for c in found] == [mine.account]


def test_strong_candidate_blocks_the_first_submit(client_for: Any, world: Any) -> None:
    mine = world.mine
    client = client_for(world.personas.owner)
    data = {"legal_name": "Olivia Industries SAS", "siren": mine.account.siren,
            "status": "prospect"}
    response = client.post(reverse("web:account_create"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "This may already exist" in html
    assert reverse("web:account_detail", args=[mine.account.pk]) in html
    assert 'value="Olivia Industries SAS"' in html
    assert Account.objects.filter(siren=mine.account.siren).count() == 1
    response = client.post(reverse("web:account_create"), {**data, "create_anyway": "1"})
    assert response.status_code == 302
    assert Account.objects.filter(siren=mine.account.siren).count() == 2
    # a same-name candidate is only a warning: the create goes through
    response = client.post(reverse("web:account_create"),
                           {"legal_name": "Olivia Private Client", "status": "prospect"})
    assert response.status_code == 302
    # contacts: same e-mail blocks
    response = client.post(reverse("web:contact_create"), {
        "account": mine.account.pk, "last_name": "Twin", "email": mine.contact.email,
        "marketing_consent": "unknown"})
    assert response.status_code == 200
    assert "OliviaContact" in response.content.decode()
    assert not Contact.objects.filter(last_name="Twin").exists()


def test_name_similarity_over_a_bounded_set(world: Any) -> None:
    owner = world.personas.owner
    with translation.override("en"):  # the reasons are in the reader's language
        found = duplicate_candidates("account", {"legal_name": "Olivia Industrie",
                                                 "billing_postcode": "69002"}, owner)
    assert found
    assert found[0].obj == world.mine.account
    assert not found[0].strong
    assert any("name" in r for r in found[0].reasons)  # the engine says why
    assert duplicate_candidates("account", {"legal_name": "Zebra"}, owner) == []
    assert duplicate_candidates("lead", {"email": "x@y.fr"}, owner) == []


# --- Pickers --------------------------------------------------------------------------------

def test_suggestions_only_visible_and_bounded(client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    for n in range(12):
        factories.account(by=owner, legal_name=f"Olivia Branch {n:02d}",
                          billing_postcode="69001")
    client = client_for(owner)
    html = client.get(reverse("web:account_suggest"),
                      {"field": "account", "account_label": "oliv"}, **HTMX).content.decode()
    assert html.count("data-pick=") == 10
    html = client.get(reverse("web:suggest", args=["account"]),
                      {"field": "account", "account_label": "Oscar"}, **HTMX).content.decode()
    assert "data-pick=" not in html
    assert "Nothing you can see matches" in html
    html = client.get(reverse("web:suggest", args=["contact"]),
                      {"field": "contact", "account": world.mine.account.pk},
                      **HTMX).content.decode()
    assert "OliviaContact" in html
    assert client.get(reverse("web:suggest", args=["nope"])).status_code == 404


# --- Lead conversion -------------------------------------------------------------------------

def test_lead_conversion_creates_account_contact_and_deal(client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    lead = factories.lead(by=owner, company_name="Fresh Bakery", last_name="Baker",
                          email="baker@fresh-bakery.example", description="Met at the fair")
    client = client_for(owner)
    url = reverse("web:lead_convert", args=[lead.pk])
    html = client.get(url).content.decode()
    assert "Create a new account" in html
    assert "An existing account matches" not in html
    response = client.post(url, {"account_choice": "new", "create_opportunity": "on",
                                 "opportunity_name": "Bread deal", "amount": "2 000",
                                 "expected_close_date": "2031-01-31"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTED
    account = lead.converted_account
    assert account.legal_name == "Fresh Bakery"
    assert response["Location"] == reverse("web:account_detail", args=[account.pk])
    assert lead.converted_contact.last_name == "Baker"
    deal = lead.converted_opportunity
    assert deal.name == "Bread deal"
    assert str(deal.amount) == "2000.00"
    # a converted lead shows where it went
    html = client.get(url).content.decode()
    assert "already converted" in html
    assert reverse("web:account_detail", args=[account.pk]) in html
    assert "Bread deal" in html


def test_lead_conversion_attaches_to_the_matching_account(client_for: Any, world: Any) -> None:
    owner, mine = world.personas.owner, world.mine
    lead = factories.lead(by=owner, company_name="Olivia Industries", siren=mine.account.siren,
                          last_name="Newcomer", phone="0600000001")
    client = client_for(owner)
    url = reverse("web:lead_convert", args=[lead.pk])
    html = client.get(url).content.decode()
    assert "An existing account matches" in html
    assert "Attach to Olivia Industries" in html
    assert "same SIREN" in html
    response = client.post(url, {"account_choice": "attach"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.converted_account == mine.account
    assert lead.converted_opportunity is None
    assert Account.objects.filter(siren=mine.account.siren).count() == 1


def test_lead_conversion_new_account_despite_a_match(client_for: Any, world: Any) -> None:
    owner, mine = world.personas.owner, world.mine
    lead = factories.lead(by=owner, company_name="Olivia Industries", last_name="Other",
                          phone="0600000002")
    response = client_for(owner).post(reverse("web:lead_convert", args=[lead.pk]),
                                      {"account_choice": "new"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.converted_account != mine.account
    assert lead.converted_account.legal_name == "Olivia Industries"


def test_lead_conversion_errors_are_readable(client_for: Any, world: Any) -> None:
    p, theirs = world.personas, world.theirs
    # the outsider's account matches the owner's lead by SIREN: not offered, not named on the
    # page; converting explains the conflict (the service's message) instead of a 500
    lead = factories.lead(by=p.owner, company_name="Something", siren=theirs.account.siren,
                          last_name="Crossed", phone="0600000003")
    client = client_for(p.owner)
    url = reverse("web:lead_convert", args=[lead.pk])
    html = client.get(url).content.decode()
    assert "Oscar Industries" not in html
    response = client.post(url, {"account_choice": "new"})
    assert response.status_code == 200
    assert "already matches this lead" in response.content.decode()
    lead.refresh_from_db()
    assert lead.status != Lead.Status.CONVERTED
    # "another account" without choosing one
    response = client.post(url, {"account_choice": "other"})
    assert "Choose the account." in response.content.decode()
    # someone else's lead is not found at all
    assert client.get(reverse("web:lead_convert", args=[theirs.lead.pk])).status_code == 404
    # a bad amount
    other = factories.lead(by=p.owner, company_name="Numbers Inc", last_name="N",
                           phone="0600000004")
    response = client.post(reverse("web:lead_convert", args=[other.pk]),
                           {"account_choice": "new", "create_opportunity": "on",
                            "amount": "plenty", "expected_close_date": "2031-02-30"})
    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.content.decode()
    other.refresh_from_db()
    assert other.status != Lead.Status.CONVERTED


def test_lead_conversion_to_another_account(client_for: Any, world: Any) -> None:
    owner, mine = world.personas.owner, world.mine
    lead = factories.lead(by=owner, company_name="Unrelated", last_name="Moved",
                          phone="0600000005")
    response = client_for(owner).post(reverse("web:lead_convert", args=[lead.pk]), {
        "account_choice": "other", "other_account": mine.private_account.pk})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.converted_account == mine.private_account


def _opened(client: Any, url: str) -> dict[str, Any]:
    """The edit form's fields as the browser would send them back, token included."""
    response = client.get(url)
    form = response.context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items() if not isinstance(v, bool)}
    data["parent"] = ""
    data["_base"] = response.context["base_token"]
    assert data["_base"]
    return data


def test_edit_does_not_undo_a_change_made_since_the_form_opened(client_for: Any,
                                                                 world: Any) -> None:
    account = world.mine.account
    client = client_for(world.personas.owner)
    url = reverse("web:account_edit", args=[account.pk])
    data = _opened(client, url)
    from comptoir.crm.services import account_update

    account_update(account=Account.objects.get(pk=account.pk), user=world.personas.manager,
                   data={"billing_city": "Roubaix"})  # someone else, meanwhile
    data["trade_name"] = "Olivia"
    response = client.post(url, data)
    assert response.status_code == 302, _errors(response)
    stored = Account.objects.get(pk=account.pk)
    assert stored.trade_name == "Olivia"
    assert stored.billing_city == "Roubaix"


def test_edit_of_a_field_changed_meanwhile_shows_both_values(client_for: Any,
                                                             world: Any) -> None:
    account = world.mine.account
    client = client_for(world.personas.owner)
    url = reverse("web:account_edit", args=[account.pk])
    data = _opened(client, url)
    from comptoir.crm.services import account_update

    account_update(account=Account.objects.get(pk=account.pk), user=world.personas.manager,
                   data={"billing_city": "Roubaix"})
    data["billing_city"] = "Tourcoing"
    response = client.post(url, data)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Roubaix" in html
    assert "Tourcoing" in html
    assert world.personas.manager.get_full_name() in html
    assert Account.objects.get(pk=account.pk).billing_city == "Roubaix"
    # Having seen both, the user saves again: theirs is kept.
    data["_base"] = response.context["base_token"]
    response = client.post(url, data)
    assert response.status_code == 302, _errors(response)
    assert Account.objects.get(pk=account.pk).billing_city == "Tourcoing"
