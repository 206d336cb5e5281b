"""Day-one defects (polish B): deal history, lost reason, planned calls, sync trigger,
promotion without an ERP, untranslated messages."""

from __future__ import annotations

import datetime as dt
from html import unescape
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from comptoir.activities.models import Activity
from comptoir.core.errors import ValidationFailed
from comptoir.crm.models import LostReason, Opportunity, Stage
from comptoir.crm.services import opportunity_update
from comptoir.integration.loader import _reason
from comptoir.quality.identifiers import check_email
from comptoir.quality.models import PromotionRequest
from comptoir.testing import factories as f

HX = {"HTTP_HX_REQUEST": "true"}


def stage(name: str) -> Stage:
    f.default_pipeline()
    return Stage.objects.get(pipeline__is_default=True, name=name)


@pytest.fixture
def deal(owner: Any) -> Opportunity:
    account = f.account(by=owner, legal_name="Atelier Polish SARL")
    return f.opportunity(by=owner, account=account, name="Polish deal",
                         stage=stage("Qualification"))


# --- 1. Deal history ---------------------------------------------------------------------------

def test_history_shows_stage_names_and_a_localized_closing_date(client_for: Any, owner: Any,
                                                               deal: Opportunity) -> None:
    opportunity_update(opportunity=deal, user=owner, data={"stage_id": stage("Proposal").pk})
    opportunity_update(opportunity=deal, user=owner,
                       data={"stage_id": stage("Lost").pk, "lost_reason": "Price"})
    html = client_for(owner).get(reverse("web:opportunity_detail", args=[deal.pk])).content.decode()
    assert "Stage: <del>Qualification</del> → <ins>Proposal</ins>" in html
    assert "<ins>Lost</ins>" in html  # the status, by its label
    deal.refresh_from_db()
    assert deal.closed_at is not None
    assert deal.closed_at.isoformat() not in html
    assert deal.closed_at.isoformat()[:16] not in html
    assert f"Updated by <strong>{owner}</strong>" in html


def test_history_reads_in_french_word_order(client_for: Any, owner: Any,
                                            deal: Opportunity) -> None:
    opportunity_update(opportunity=deal, user=owner, data={"amount": "10"})
    html = client_for(owner, "fr").get(
        reverse("web:opportunity_detail", args=[deal.pk])).content.decode()
    assert f"<strong>{owner}</strong> modification" not in html
    assert "Créés" not in html


def test_history_never_names_a_linked_record_the_reader_may_not_see(
        client_for: Any, owner: Any, outsider: Any) -> None:
    from comptoir.core.models import AuditEntry
    from comptoir.crm.models import Account

    mine = f.account(by=owner, legal_name="Filiale Visible SAS")
    hidden = f.account(by=outsider, legal_name="Maison Mère Secrète SA")
    assert not Account.objects.filter(pk=hidden.pk, owner=owner).exists()
    AuditEntry.objects.create(object_type="account", object_id=mine.pk, user=outsider,
                              action=AuditEntry.Action.UPDATE,
                              changes={"parent_id": [None, hidden.pk]})
    html = client_for(owner).get(reverse("web:account_detail", args=[mine.pk])).content.decode()
    assert "Maison Mère Secrète" not in html
    assert f"#{hidden.pk}" in html
    html = client_for(outsider).get(reverse("web:account_detail", args=[mine.pk]))
    assert html.status_code == 404  # and the outsider does not see the subsidiary at all


# --- 2. Lost reason ----------------------------------------------------------------------------

def test_service_requires_a_lost_reason(owner: Any, deal: Opportunity) -> None:
    with pytest.raises(ValidationFailed) as caught:
        opportunity_update(opportunity=deal, user=owner, data={"stage_id": stage("Lost").pk})
    assert "lost_reason" in caught.value.fields
    deal.refresh_from_db()
    assert deal.status == Opportunity.Status.OPEN


def test_the_picklist_limits_the_reasons(owner: Any, deal: Opportunity) -> None:
    LostReason.objects.create(name="Price", order=1)
    with pytest.raises(ValidationFailed) as caught:
        opportunity_update(opportunity=deal, user=owner,
                           data={"stage_id": stage("Lost").pk, "lost_reason": "Weather"})
    assert "Price" in caught.value.fields["lost_reason"][0]
    opportunity_update(opportunity=deal, user=owner,
                       data={"stage_id": stage("Lost").pk, "lost_reason": "price"})
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason) == ("lost", "Price")


def test_board_drop_on_lost_needs_the_reason(client_for: Any, owner: Any,
                                             deal: Opportunity) -> None:
    LostReason.objects.create(name="Competitor", order=1)
    client = client_for(owner)
    board = client.get(reverse("web:board")).content.decode()
    assert 'id="lost-dialog"' in board
    assert "<option>Competitor</option>" in board
    url = reverse("web:board_move", args=[deal.pk])
    refused = client.post(url, {"stage": stage("Lost").pk}, **HX)
    assert refused.status_code == 422
    assert "reason the deal was lost" in refused.content.decode()
    assert client.post(url, {"stage": stage("Lost").pk, "lost_reason": "Competitor"},
                       **HX).status_code == 200
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason) == ("lost", "Competitor")


def test_api_refuses_a_lost_deal_without_reason(api: Any, owner: Any,
                                                deal: Opportunity) -> None:
    error = api(owner).patch(f"opportunities/{deal.pk}",
                             {"stage_id": stage("Lost").pk}).error(422)
    assert "lost_reason" in error["fields"]
    body = api(owner).patch(f"opportunities/{deal.pk}", {
        "stage_id": stage("Lost").pk, "lost_reason": "No budget"}).expect(200)
    assert body["status"] == "lost"


# --- 3. Planned calls --------------------------------------------------------------------------

def test_a_planned_call_needs_a_date_and_shows_in_today_and_overdue(
        client_for: Any, owner: Any, deal: Opportunity) -> None:
    client = client_for(owner)
    url = reverse("web:log_activity", args=["opportunity", deal.pk])
    form = client.get(url).content.decode()
    assert 'name="due_at"' in form
    assert 'type="datetime-local"' in form
    missing = client.post(url, {"kind": "call", "subject": "Call back"})
    assert missing.status_code == 422
    assert "date of the planned call" in missing.content.decode()
    soon = timezone.localtime() + dt.timedelta(minutes=5)
    if soon.date() != timezone.localdate():  # just before midnight: keep it today
        soon = timezone.localtime().replace(hour=23, minute=59)
    client.post(url, {"kind": "call", "subject": "Call back",
                      "due_at": soon.strftime("%Y-%m-%dT%H:%M")})
    client.post(url, {"kind": "call", "subject": "Late call",
                      "due_at": (soon - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")})
    assert Activity.objects.get(subject="Call back").due_at is not None
    home = client.get(reverse("web:home")).content.decode()
    assert "Call back" in home
    assert "Late call" in home


def test_service_refuses_a_planned_activity_without_date(owner: Any) -> None:
    from comptoir.activities.services import activity_create

    with pytest.raises(ValidationFailed) as caught:
        activity_create(user=owner, data={"kind": "call", "subject": "Undated", "done": False})
    assert "due_at" in caught.value.fields


# --- 4. Sync "Run now" -------------------------------------------------------------------------

def test_run_now_is_recorded_as_from_the_sync_page(client_for: Any, data_manager: Any) -> None:
    from comptoir.integration.models import Connection, SyncRun

    connection = Connection.objects.create(name="files-in", connector="files",
                                           mapping='system = "erp"\n')
    answer = client_for(data_manager).post(reverse("web:sync_run_now", args=[connection.pk]),
                                           follow=True)
    run = SyncRun.objects.get(connection=connection)
    assert run.trigger == SyncRun.Trigger.WEB
    html = answer.content.decode()
    assert "queued" not in html
    assert "started" in html
    assert "Command line" not in html


# --- 5. Promotion without an ERP ---------------------------------------------------------------

def _ready_request(owner: Any) -> PromotionRequest:
    from comptoir.quality.identifiers import siret_with_check_digit

    siren = f.siren(7302)
    account = f.account(by=owner, legal_name="Ébénisterie Polish SARL", siren=siren,
                        siret=siret_with_check_digit(siren, "0001"), naf_code="16.23Z",
                        billing_street="2 quai Rambaud", billing_postcode="69002",
                        billing_city="Lyon", payment_terms="net_30")
    f.contact(by=owner, account=account, last_name="Vidal", email="v@polish.example")
    return PromotionRequest.objects.create(account=account, trigger="manual")


def test_approval_without_an_outbound_connection_is_refused(client_for: Any, api: Any,
                                                            owner: Any,
                                                            data_manager: Any) -> None:
    from comptoir.integration.models import Connection

    Connection.objects.create(name="in-only", connector="files", mapping='system = "erp"\n',
                              direction=Connection.Direction.INBOUND)
    req = _ready_request(owner)
    html = client_for(data_manager).post(
        reverse("web:quality_promotion_approve", args=[req.pk]), follow=True).content.decode()
    assert "No ERP connection sends new customers" in html
    assert "is now a customer" not in html
    error = api(data_manager).post(f"promotions/{req.pk}/approve").error(409)
    with translation.override("fr"):  # the API answers in the site's language (French)
        assert error["message"].startswith(str(translation.gettext(
            "No ERP connection sends new customers: add a connection going out of "
            "Comptoir (or both ways) and enable it, then approve again.")))
    req.account.refresh_from_db()
    assert req.account.status != "customer"
    Connection.objects.create(name="out", connector="files", mapping='system = "erp"\n',
                              direction=Connection.Direction.BOTH)
    assert api(data_manager).post(f"promotions/{req.pk}/approve").expect(200)


# --- 6. Messages -------------------------------------------------------------------------------

def test_email_errors_are_translated() -> None:
    with translation.override("fr"), pytest.raises(ValueError, match="@") as caught:
        check_email("jean.dupont")
    assert "@-sign" not in str(caught.value)
    with translation.override("en"), pytest.raises(ValueError, match="the @ sign is missing"):
        check_email("jean.dupont")


def test_a_quarantine_reason_names_its_single_field_once() -> None:
    assert _reason({"legal_name": '"Name" is empty'}) == '"Name" is empty'
    assert _reason({"a": "x", "b": "y"}) == "a: x; b: y"


def test_history_says_just_now_in_words(client_for: Any, owner: Any) -> None:
    account = f.account(by=owner, legal_name="Tout Juste SARL")
    html = unescape(client_for(owner, language="fr").get(
        reverse("web:account_detail", args=[account.pk])).content.decode())
    assert "à l'instant" in html
    assert "0 minute" not in html
