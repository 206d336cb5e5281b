"""Identifiers pasted with spaces or dots, and the timeline ordered by the activities' dates."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from comptoir.crm.models import Account, Lead
from comptoir.testing import factories

pytestmark = pytest.mark.django_db

SIREN = "528960354"
SIRET = "52896035400017"
VAT = "FR68528960354"
NBSP = "\u00a0"


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


def _maxlength(html: str, name: str) -> int:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert tag is not None, name
    found = re.search(r'maxlength="(\d+)"', tag.group(0))
    assert found is not None, name
    return int(found.group(1))


@pytest.mark.parametrize(("page", "names"), [
    ("account_create", ("siren", "siret", "vat_number", "naf_code")),
    ("lead_create", ("siren",)),
])
def test_identifier_inputs_are_wide_enough_for_pasted_spellings(
        client_for: Any, world: Any, page: str, names: tuple[str, ...]) -> None:
    html = client_for(world.personas.owner).get(reverse(f"web:{page}")).content.decode()
    for name in names:
        assert _maxlength(html, name) >= len("528 960 354 00017")


@pytest.mark.parametrize(("siren", "siret"), [
    ("528 960 354", "528 960 354 00017"),
    ("528.960.354", "528.960.354.00017"),
    (f"528{NBSP}960{NBSP}354", f"528{NBSP}960{NBSP}354{NBSP}00017"),
])
def test_account_form_accepts_and_normalises_spaced_identifiers(
        client_for: Any, world: Any, siren: str, siret: str) -> None:
    owner = world.personas.owner
    response = client_for(owner).post(reverse("web:account_create"), {
        "legal_name": "Collé SAS", "siren": siren, "siret": siret,
        "vat_number": "FR 68 528 960 354", "naf_code": " 62.01z ", "status": "prospect",
        "owner": owner.pk})
    assert response.status_code == 302, response.content.decode()[:2000]
    account = Account.objects.get(legal_name="Collé SAS")
    assert (account.siren, account.siret, account.vat_number, account.naf_code) == (
        SIREN, SIRET, VAT, "62.01Z")


def test_account_edit_with_the_same_number_spaced_changes_nothing(
        client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    account = factories.account(by=owner, legal_name="Espacée", siren=SIREN, owner=owner)
    from comptoir.web.forms import AccountForm

    form = AccountForm({"legal_name": "Espacée", "siren": "528 960 354", "status":
                        account.status, "owner": owner.pk}, instance=account, user=owner)
    assert form.is_valid(), form.errors
    assert "siren" not in form.changed_data


def test_account_form_still_refuses_a_wrong_siren(client_for: Any, world: Any) -> None:
    owner = world.personas.owner
    response = client_for(owner).post(reverse("web:account_create"), {
        "legal_name": "Fausse SAS", "siren": "528 960 355", "status": "prospect",
        "owner": owner.pk})
    assert response.status_code != 302
    assert "SIREN" in response.content.decode()
    assert not Account.objects.filter(legal_name="Fausse SAS").exists()


def test_lead_form_accepts_a_spaced_siren(client_for: Any, world: Any) -> None:
    response = client_for(world.personas.owner).post(reverse("web:lead_create"), {
        "last_name": "Collé", "company_name": "Collé SAS", "phone": "0612345678",
        "siren": "528 960 354", "source": "trade_show", "status": "new"})
    assert response.status_code == 302
    assert Lead.objects.get(last_name="Collé").siren == SIREN


# --- Timeline order ----------------------------------------------------------------------------

def _order(html: str, subjects: list[str]) -> list[str]:
    html = html[html.find('class="timeline-item'):]  # the timeline, not an agenda box
    return sorted(subjects, key=html.index)


def test_timeline_is_ordered_by_the_activities_dates_not_their_ids(
        client_for: Any, world: Any) -> None:
    owner, contact = world.personas.owner, world.mine.contact
    now = timezone.now()
    # entered in this order (ids rising), but they happened in another
    factories.activity(by=owner, contact=contact, subject="Call of yesterday",
                       start_at=now - dt.timedelta(days=1), done=True)
    factories.activity(by=owner, contact=contact, subject="Planned next week",
                       kind="task", due_at=now + dt.timedelta(days=7), done=False)
    factories.activity(by=owner, contact=contact, subject="Meeting of last month",
                       start_at=now - dt.timedelta(days=30), done=True)
    subjects = ["Call of yesterday", "Planned next week", "Meeting of last month"]
    expected = ["Planned next week", "Call of yesterday", "Meeting of last month"]
    client = client_for(owner)
    page = client.get(reverse("web:contact_detail", args=[contact.pk])).content.decode()
    assert _order(page, subjects) == expected
    timeline = client.get(reverse("web:timeline", args=["contact", contact.pk])).content.decode()
    assert _order(timeline, subjects) == expected


def test_timeline_pages_follow_the_dates(client_for: Any, world: Any) -> None:
    owner, contact = world.personas.owner, world.mine.contact
    now = timezone.now()
    for n in range(15):  # entered newest first: the ids run against the dates
        factories.activity(by=owner, contact=contact, subject=f"Dated call {n:02d}",
                           start_at=now - dt.timedelta(days=100 + n), done=True)
    client = client_for(owner)
    first = client.get(reverse("web:timeline", args=["contact", contact.pk]),
                       HTTP_HX_REQUEST="true").content.decode()
    cursor = re.search(r"\?before=(\d+)", first)
    assert cursor is not None
    more = client.get(reverse("web:timeline", args=["contact", contact.pk])
                      + f"?before={cursor.group(1)}", HTTP_HX_REQUEST="true").content.decode()
    shown = re.findall(r"Dated call (\d\d)", first + more)
    assert shown == sorted(shown)  # newest (00) first, across pages
    assert len(shown) == len(set(shown)) == 15
