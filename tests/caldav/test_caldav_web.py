"""The "My agenda sync" page and a meeting's attendees page (issue 16, parts 3 and 4)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from icalendar import Calendar

from comptoir.caldav.models import CalendarAccount
from comptoir.testing import factories

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    """Signed in as ``user``, in English (the UI follows the user's language)."""
    if user.language != "en":
        user.language = "en"
        user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    return client


def _form(radicale: Any, **extra: Any) -> dict[str, Any]:
    data = {"server_url": radicale.url, "username": "alice", "password": "alice-secret",
            "calendar": "work", "enabled": "on", "action": "save"}
    data.update(extra)
    return data


def test_settings_page_saves_never_renders_the_password_and_syncs(
        radicale: Any, owner: Any) -> None:
    client = _client(owner)
    url = reverse("web:caldav_settings")
    with translation.override("en"):
        assert client.get(url).status_code == 200
        response = client.post(url, _form(radicale))
        assert response.status_code == 302
        account = CalendarAccount.objects.get(user=owner)
        assert account.password == "alice-secret"
        page = client.get(url).content.decode()
        assert "alice-secret" not in page
        assert "A password is stored." in page
        # an empty password keeps the stored one
        assert client.post(url, _form(radicale, password="", calendar="work")).status_code == 302
        account.refresh_from_db()
        assert account.password == "alice-secret"
        response = client.post(url, {"action": "sync"}, follow=True)
        assert "Agenda synced" in response.content.decode()
        account.refresh_from_db()
        assert account.last_sync_at is not None
        assert account.last_error == ""


def test_test_connection_says_what_failed(radicale: Any, owner: Any) -> None:
    client = _client(owner)
    url = reverse("web:caldav_settings")
    with translation.override("en"):
        ok = client.post(url, _form(radicale, action="test")).content.decode()
        assert "Connection works." in ok
        bad = client.post(url, _form(radicale, action="test", password="nope")).content.decode()
        assert 'data-problem="credentials"' in bad
        assert "refused the user name or password" in bad
        assert "nope" not in bad
        missing = client.post(url, _form(radicale, action="test", calendar="other"))
        assert 'data-problem="calendar"' in missing.content.decode()
    assert not CalendarAccount.objects.filter(user=owner).exists()  # a test saves nothing


def test_bad_input_is_a_422_with_field_errors(owner: Any) -> None:
    client = _client(owner)
    with translation.override("en"):
        response = client.post(reverse("web:caldav_settings"),
                               {"server_url": "not a url", "username": "", "calendar": "",
                                "action": "save"})
    assert response.status_code == 422
    assert set(response.context["form"].errors) >= {"server_url", "username", "calendar"}
    response = client.post(reverse("web:caldav_settings"),
                           {"server_url": "http://127.0.0.1:1/", "username": "a",
                            "calendar": "work", "action": "save"})
    assert response.status_code == 422
    assert "password" in response.context["form"].errors


def test_the_calendar_page_links_to_the_sync_page(owner: Any) -> None:
    page = _client(owner).get(reverse("web:calendar")).content.decode()
    assert reverse("web:caldav_settings") in page


def test_attendees_are_edited_on_the_activity_and_in_the_invitation(
        owner: Any, outsider: Any, teammate: Any) -> None:
    acme = factories.account(by=owner, legal_name="Acme")
    camille = factories.contact(by=owner, account=acme, last_name="Durand",
                                email="camille@acme.example")
    start = timezone.now() + dt.timedelta(days=2)
    meeting = factories.activity(by=owner, kind="meeting", subject="Demo", contact_id=camille.pk,
                                 start_at=start)
    client = _client(owner)
    url = reverse("web:activity_attendees", args=[meeting.pk])
    with translation.override("en"):
        response = client.post(url, {"attendees": f"camille@acme.example\n{teammate.email}"})
        assert response.status_code == 302
        page = client.get(reverse("web:activity_detail", args=[meeting.pk])).content.decode()
        assert 'data-attendee="camille@acme.example"' in page
        bad = client.post(url, {"attendees": "nobody@nowhere.example"})
        assert bad.status_code == 422
        assert "nobody@nowhere.example" in bad.content.decode()
    ics = client.get(reverse("web:activity_invitation", args=[meeting.pk]))
    event = next(iter(Calendar.from_ical(ics.content).walk("VEVENT")))
    assert "ATTENDEE" in event
    # someone who cannot change the meeting cannot reach its attendees page
    assert _client(outsider).post(url, {"attendees": ""}).status_code == 404
    assert meeting.attendees.count() == 2
