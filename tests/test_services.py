"""Domain services: audit and outbox written with the change, lead conversion."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from comptoir.activities.models import Activity
from comptoir.core.errors import Conflict, Forbidden, ValidationFailed
from comptoir.core.models import AuditEntry, ExternalRef, OutboxEvent
from comptoir.crm import services
from comptoir.crm.models import Account, Contact, Lead, Opportunity, Stage
from comptoir.testing import factories


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


def trail(object_type: str, pk: int) -> list[tuple[str, str]]:
    """(audit action, outbox topic) pairs for one record, oldest first."""
    audits = list(AuditEntry.objects.filter(object_type=object_type, object_id=pk)
                  .order_by("id").values_list("action", flat=True))
    topics = list(OutboxEvent.objects.filter(object_type=object_type, object_id=pk)
                  .order_by("id").values_list("topic", flat=True))
    assert len(audits) == len(topics), (audits, topics)
    return list(zip(audits, topics, strict=True))


def counts() -> tuple[int, int, int, int, int]:
    return (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count(),
            AuditEntry.objects.count(), OutboxEvent.objects.count())


# --- Audit and outbox -----------------------------------------------------------------------

def test_create_writes_one_audit_entry_and_one_event(world: Any) -> None:
    owner = world.personas.owner
    account = services.account_create(user=owner, source="api", data={
        "legal_name": "Trail SA", "billing_postcode": "69001"})
    assert trail("account", account.pk) == [("create", "account.created")]
    entry = AuditEntry.objects.get(object_type="account", object_id=account.pk)
    assert entry.user == owner
    assert entry.source == "api"
    assert entry.changes["legal_name"] == [None, "Trail SA"]
    assert entry.changes["territory_id"] == [None, world.personas.rhone.pk]
    event = OutboxEvent.objects.get(object_type="account", object_id=account.pk)
    assert event.payload["changes"] == entry.changes
    assert event.payload["user_id"] == owner.pk


def test_update_records_only_what_changed(world: Any) -> None:
    account = world.mine.account
    services.account_update(account=account, user=world.personas.teammate,
                            data={"trade_name": "Olivia", "billing_city": "Ville"})
    assert trail("account", account.pk) == [("create", "account.created"),
                                            ("update", "account.updated")]
    entry = AuditEntry.objects.filter(object_id=account.pk, action="update").get()
    assert entry.changes == {"trade_name": ["", "Olivia"]}
    assert entry.user == world.personas.teammate


@pytest.mark.parametrize("data", [{}, {"legal_name": "Olivia Industries"},
                                  {"billing_postcode": "69002", "billing_country": "fr"}])
def test_update_that_changes_nothing_writes_nothing(world: Any, data: dict[str, Any]) -> None:
    before = counts()
    services.account_update(account=world.mine.account, user=world.personas.owner, data=data)
    assert counts() == before


def test_delete_writes_audit_and_event_and_drops_external_refs(world: Any) -> None:
    account = factories.account(by=world.personas.owner, legal_name="Short-lived")
    ExternalRef.objects.create(system="erp", object_type="account", external_id="C1",
                               object_id=account.pk)
    services.account_delete(account=account, user=world.personas.owner)
    assert not Account.objects.filter(pk=account.pk).exists()
    assert trail("account", account.pk)[-1] == ("delete", "account.deleted")
    entry = AuditEntry.objects.get(object_id=account.pk, object_type="account", action="delete")
    assert entry.changes["legal_name"] == ["Short-lived", None]
    assert not ExternalRef.objects.filter(object_type="account", object_id=account.pk).exists()


def test_record_audit_and_event_commit_or_fail_together(world: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """If the event cannot be written, neither the record nor its audit entry stays."""
    before = counts()

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(OutboxEvent.objects, "create", broken)
    with pytest.raises(RuntimeError):
        services.account_create(user=world.personas.owner, data={"legal_name": "Ghost"})
    with pytest.raises(RuntimeError):
        services.account_update(account=world.mine.account, user=world.personas.owner,
                                data={"trade_name": "Ghost"})
    assert counts() == before
    assert not Account.objects.filter(legal_name="Ghost").exists()
    world.mine.account.refresh_from_db()
    assert world.mine.account.trade_name == ""


@pytest.mark.parametrize("data", [
    {"legal_name": "Bad", "siren": "123456789"},
    {"legal_name": "Bad", "email": "nope"},
    {"legal_name": ""},
    {"legal_name": "Bad", "owner_id": 0},
])
def test_failed_validation_leaves_nothing_behind(world: Any, data: dict[str, Any]) -> None:
    before = counts()
    with pytest.raises(ValidationFailed):
        services.account_create(user=world.personas.owner, data=data)
    with pytest.raises(ValidationFailed):
        services.account_update(account=world.mine.account, user=world.personas.owner,
                                data=data)
    assert counts() == before
    world.mine.account.refresh_from_db()
    assert world.mine.account.legal_name == "Olivia Industries"


def test_refused_write_leaves_nothing_behind(world: Any) -> None:
    before = counts()
    with pytest.raises(Forbidden):
        services.account_delete(account=world.mine.account, user=world.personas.teammate)
    with pytest.raises(Forbidden):
        services.account_update(account=world.mine.account, user=world.personas.outsider,
                                data={"trade_name": "Hijacked"})
    assert counts() == before


def test_every_service_writes_its_trail(world: Any) -> None:
    """One create per kind in the world: each has its audit entry and its event."""
    for kind, object_type in [("account", "account"), ("contact", "contact"), ("lead", "lead"),
                              ("opportunity", "opportunity"), ("activity", "activity"),
                              ("case", "case"), ("sales_document", "salesdocument"),
                              ("attachment", "attachment")]:
        record = world.mine.get(kind)
        assert trail(object_type, record.pk)[0] == ("create", f"{object_type}.created"), kind
    assert trail("product", world.product.pk) == [("create", "product.created")]


# --- Lead conversion --------------------------------------------------------------------------

def new_lead(world: Any, **data: Any) -> Lead:
    data.setdefault("last_name", "Durand")
    data.setdefault("first_name", "Paul")
    return factories.lead(by=world.personas.owner, **data)


def test_conversion_creates_account_and_contact(world: Any) -> None:
    owner = world.personas.owner
    lead = new_lead(world, company_name="Zephyr SARL", email="paul@zephyr-air.fr",
                    phone="0472000001", postcode="69007", city="Lyon", job_title="CEO",
                    civility="M.", source="trade_show")
    result = services.lead_convert(lead=lead, user=owner)
    assert result.account_created is True
    assert result.matched_by == ""
    account = result.account
    assert account.legal_name == "Zephyr SARL"
    assert account.normalized_name == "zephyr"
    assert account.owner == owner
    assert account.territory == world.personas.rhone  # the territory rules ran
    assert (account.billing_postcode, account.billing_city) == ("69007", "Lyon")
    contact = result.contact
    assert (contact.account, contact.first_name, contact.last_name) == (account, "Paul",
                                                                        "Durand")
    assert (contact.email, contact.phone, contact.job_title) == ("paul@zephyr-air.fr",
                                                                 "+33472000001", "CEO")
    assert contact.owner == owner
    assert result.opportunity is None
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTED
    assert lead.converted_at is not None
    assert (lead.converted_account, lead.converted_contact) == (account, contact)
    assert lead.converted_opportunity is None
    # audit on every record, the conversion named as the source
    assert AuditEntry.objects.filter(object_type="lead", object_id=lead.pk, action="update",
                                     source="lead-conversion").exists()
    assert AuditEntry.objects.filter(object_type="account", object_id=account.pk,
                                     source="lead-conversion").exists()


def test_conversion_reuses_the_account_with_the_same_siren(world: Any) -> None:
    existing = world.mine.account
    lead = new_lead(world, company_name="A different name", siren=existing.siren,
                    email="paul@elsewhere-corp.fr")
    result = services.lead_convert(lead=lead, user=world.personas.owner)
    assert (result.account, result.matched_by, result.account_created) == (existing, "siren",
                                                                           False)
    assert result.contact.account == existing


@pytest.mark.parametrize("where", ["account_email", "account_website", "contact_email"])
def test_conversion_reuses_the_account_by_email_domain(world: Any, where: str) -> None:
    owner = world.personas.owner
    data = {"account_email": {"email": "info@dupont-freres.fr"},
            "account_website": {"website": "https://www.dupont-freres.fr"},
            "contact_email": {}}[where]
    existing = factories.account(by=owner, legal_name="Établissements Dupont Frères", **data)
    if where == "contact_email":
        factories.contact(by=owner, account=existing, email="achats@dupont-freres.fr")
    lead = new_lead(world, company_name="DF", email="Jean@Dupont-Freres.fr")
    result = services.lead_convert(lead=lead, user=owner)
    assert (result.account, result.matched_by) == (existing, "email_domain")


@pytest.mark.parametrize("domain", ["gmail.com", "orange.fr", "hotmail.fr"])
def test_free_mail_domains_never_match(world: Any, domain: str) -> None:
    owner = world.personas.owner
    factories.account(by=owner, legal_name="Someone", email=f"someone@{domain}")
    lead = new_lead(world, company_name="Brand New Co", email=f"paul.durand@{domain}")
    result = services.lead_convert(lead=lead, user=owner)
    assert result.account_created is True
    assert result.account.legal_name == "Brand New Co"


@pytest.mark.parametrize(("existing_name", "lead_company"), [
    ("Dupont SARL", "DUPONT"), ("DUPONT", "Dupont SARL"), ("Société Générale d'Études",
                                                         "societe generale d etudes SAS"),
])
def test_conversion_reuses_the_account_with_the_same_normalised_name(
        world: Any, existing_name: str, lead_company: str) -> None:
    owner = world.personas.owner
    existing = factories.account(by=owner, legal_name=existing_name)
    lead = new_lead(world, company_name=lead_company, email="paul@unrelated-domain.fr")
    result = services.lead_convert(lead=lead, user=owner)
    assert (result.account, result.matched_by) == (existing, "name")


def test_siren_wins_over_domain_and_name(world: Any) -> None:
    owner = world.personas.owner
    by_name = factories.account(by=owner, legal_name="Martin")
    by_domain = factories.account(by=owner, legal_name="Other", email="x@martin-sa.fr")
    by_siren = factories.account(by=owner, legal_name="Third", siren=factories.siren())
    lead = new_lead(world, company_name="Martin", email="p@martin-sa.fr", siren=by_siren.siren)
    assert services.lead_convert(lead=lead, user=owner).account == by_siren
    lead = new_lead(world, company_name="Martin", email="p@martin-sa.fr")
    assert services.lead_convert(lead=lead, user=owner).account == by_domain
    lead = new_lead(world, company_name="Martin", email="p@unrelated-sa.fr")
    assert services.lead_convert(lead=lead, user=owner).account == by_name


def test_conversion_into_a_chosen_account(world: Any) -> None:
    lead = new_lead(world, company_name="Zephyr", email="p@zephyr-air.fr")
    result = services.lead_convert(lead=lead, user=world.personas.owner,
                                   account_id=world.mine.private_account.pk)
    assert (result.account, result.matched_by) == (world.mine.private_account, "chosen")
    lead = new_lead(world, company_name="Zephyr", email="q@zephyr-air.fr")
    with pytest.raises(ValidationFailed) as refused:
        services.lead_convert(lead=lead, user=world.personas.owner,
                              account_id=world.theirs.account.pk)
    assert "account" in refused.value.fields


def test_lead_description_becomes_a_note_on_the_contact(world: Any) -> None:
    lead = new_lead(world, company_name="Notes Inc", email="p@notes-inc.fr",
                    description="Met at the Lyon fair.\nWants a demo in March.",
                    source="trade_show")
    result = services.lead_convert(lead=lead, user=world.personas.owner)
    note = Activity.objects.get(contact=result.contact)
    assert note.kind == Activity.Kind.NOTE
    assert note.body == "Met at the Lyon fair.\nWants a demo in March."
    assert note.account == result.account
    assert note.done is True
    assert note.done_at is not None


def test_lead_without_description_gets_no_note(world: Any) -> None:
    lead = new_lead(world, company_name="Quiet", email="p@quiet-co.fr")
    result = services.lead_convert(lead=lead, user=world.personas.owner)
    assert not Activity.objects.filter(contact=result.contact).exists()


def test_converting_twice_is_a_conflict(world: Any) -> None:
    lead = world.mine.lead
    services.lead_convert(lead=lead, user=world.personas.owner)
    before = counts()
    with pytest.raises(Conflict):
        services.lead_convert(lead=lead, user=world.personas.owner)
    assert counts() == before


def test_matching_account_the_user_cannot_see_is_a_clear_conflict(world: Any,
                                                                  api: Any) -> None:
    """The outsider's lead matches the owner's account by SIREN: no duplicate is created, and
    the message says which account, whose, and why."""
    lead = factories.lead(by=world.personas.outsider, company_name="Olivia Ind.",
                          siren=world.mine.account.siren, email="a@olivia-ind.fr")
    before = counts()
    error = api(world.personas.outsider).post(f"leads/{lead.pk}/convert", {}).error(409)
    assert "Olivia Industries" in error["message"]
    assert "Olivia Owner" in error["message"]
    assert "SIREN" in error["message"]  # the criterion, in words
    assert counts() == before
    lead.refresh_from_db()
    assert lead.status == Lead.Status.NEW


def test_conversion_with_an_opportunity_on_the_default_pipelines_first_stage(world: Any,
                                                                             api: Any) -> None:
    # another pipeline, not the default, whose stages would come first by id or order
    other = factories.pipeline(name="Partners", is_default=False,
                               stages=[("Intro", 5, False, False)])
    Stage.objects.filter(pipeline=other).update(order=0)
    lead = new_lead(world, company_name="Dealco", email="p@dealco.fr")
    body = api(world.personas.owner).post(f"leads/{lead.pk}/convert", {
        "create_opportunity": True, "opportunity_name": "Dealco first order",
        "amount": 2500.5, "expected_close_date": "2026-06-30"}).expect(200)
    opp = Opportunity.objects.get(pk=body["opportunity_id"])
    default_first = Stage.objects.filter(pipeline__is_default=True).order_by("order").first()
    assert opp.stage == default_first
    assert opp.pipeline.is_default
    assert (opp.name, opp.amount) == ("Dealco first order", Decimal("2500.50"))
    assert str(opp.expected_close_date) == "2026-06-30"
    assert (opp.account_id, opp.contact_id) == (body["account_id"], body["contact_id"])
    assert opp.owner == world.personas.owner
    lead.refresh_from_db()
    assert lead.converted_opportunity == opp
    assert body == {"lead_id": lead.pk, "account_id": lead.converted_account_id,
                    "contact_id": lead.converted_contact_id, "opportunity_id": opp.pk,
                    "account_created": True, "matched_by": ""}


def test_conversion_without_opportunity_by_default(world: Any, api: Any) -> None:
    lead = new_lead(world, company_name="Nodeal", email="p@nodeal.fr")
    body = api(world.personas.owner).post(f"leads/{lead.pk}/convert", {}).expect(200)
    assert body["opportunity_id"] is None
    assert not Opportunity.objects.filter(account_id=body["account_id"]).exists()


def test_a_conversion_that_fails_late_leaves_nothing_behind(world: Any) -> None:
    """The account and contact are created before the opportunity is refused: all rolled
    back, with their audit entries and events."""
    lead = new_lead(world, company_name="Halfway", email="p@halfway.fr",
                    description="should not become a note")
    before = counts()
    with pytest.raises(ValidationFailed) as refused:
        services.lead_convert(lead=lead, user=world.personas.owner, create_opportunity=True,
                              opportunity={"amount": Decimal("-5")})
    assert "amount" in refused.value.fields
    assert counts() == before
    assert not Account.objects.filter(legal_name="Halfway").exists()
    lead.refresh_from_db()
    assert lead.status == Lead.Status.NEW


def test_marketing_cannot_convert_a_reps_lead_and_leaves_nothing_behind(world: Any) -> None:
    """Marketing changes every lead, but conversion creates an account and a contact owned
    by the lead's owner, outside marketing's scope: refused (today with a 422 on ``owner``,
    see the report), and nothing is half-created."""
    lead = new_lead(world, company_name="Campaign Co", email="p@campaign-co.fr")
    before = counts()
    with pytest.raises((ValidationFailed, Conflict, Forbidden)):
        services.lead_convert(lead=lead, user=world.personas.marketing)
    assert counts() == before
    lead.refresh_from_db()
    assert lead.status == Lead.Status.NEW
    # the lead's owner (or their manager) converts it
    assert services.lead_convert(lead=lead, user=world.personas.manager).account_created


# --- Other service rules ---------------------------------------------------------------------

def test_opportunity_stage_sets_status_probability_and_closing(world: Any) -> None:
    opp = world.mine.opportunity
    owner = world.personas.owner
    won = Stage.objects.get(is_won=True)
    services.opportunity_update(opportunity=opp, user=owner, data={"stage_id": won.pk})
    assert (opp.status, opp.probability) == ("won", 100)
    assert opp.closed_at is not None
    proposal = Stage.objects.get(name="Proposal")
    services.opportunity_update(opportunity=opp, user=owner,
                                data={"stage_id": proposal.pk, "probability": 35})
    assert (opp.status, opp.probability, opp.closed_at) == ("open", 35, None)


def test_contact_consent_is_dated(world: Any) -> None:
    contact = world.mine.contact
    assert contact.consent_date is None
    services.contact_update(contact=contact, user=world.personas.owner,
                            data={"marketing_consent": "opt_out"})
    assert contact.consent_date is not None
    entry = AuditEntry.objects.filter(object_type="contact", object_id=contact.pk,
                                      action="update").get()
    assert set(entry.changes) == {"marketing_consent", "consent_date"}


def test_case_closing_is_stamped_and_cleared(world: Any) -> None:
    from comptoir.service.services import case_update

    case = world.mine.case
    case_update(case=case, user=world.personas.service, data={"status": "closed"})
    assert case.closed_at is not None
    case_update(case=case, user=world.personas.service, data={"status": "open"})
    assert case.closed_at is None


def test_contact_created_without_owner_belongs_to_its_creator(world: Any) -> None:
    contact = services.contact_create(user=world.personas.teammate, data={
        "account_id": world.mine.account.pk, "last_name": "Newman"})
    assert contact.owner == world.personas.teammate
    services.contact_delete(contact=contact, user=world.personas.teammate)


def test_cases_and_documents_refuse_an_owner_out_of_reach(world: Any) -> None:
    """The owner rule lives in the policy and every service applies it, not only forms."""
    from comptoir.sales.services import salesdocument_update
    from comptoir.service.services import case_create, case_update

    p = world.personas
    with pytest.raises(ValidationFailed) as refused:
        case_create(user=p.owner, data={"account_id": world.mine.account.pk, "subject": "x",
                                        "owner_id": p.outsider.pk})
    assert "owner" in refused.value.fields
    case = world.mine.case
    with pytest.raises(ValidationFailed):
        case_update(case=case, user=p.owner, data={"owner_id": p.outsider.pk})
    with pytest.raises(ValidationFailed):
        salesdocument_update(document=world.mine.sales_document, user=p.owner,
                             data={"owner_id": p.outsider.pk})
    # resending the current owner is no change of owner (the refused updates above changed
    # the instance in memory only: the owner is the database's)
    case.refresh_from_db()
    assert case_update(case=case, user=p.service, data={"owner_id": case.owner_id,
                                                        "status": "open"}).status == "open"
