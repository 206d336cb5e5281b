"""The calendar pages: views, reschedule endpoint, feed link section, and in chromium drag to
reschedule and the day list at phone width (issue 16, parts 3-4)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from comptoir.activities.models import Activity, CalendarFeedToken
from comptoir.testing import factories


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def next_monday() -> dt.date:
    today = timezone.localdate()
    return today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=7)


def meeting(by: Any, day: dt.date, hour: int, **extra: Any) -> Activity:
    return factories.activity(by=by, kind="meeting", subject=extra.pop("subject", "Meeting"),
                              start_at=local(day, hour), end_at=local(day, hour + 1), **extra)


@pytest.mark.django_db
class TestPages:
    def test_week_month_day_show_items_linked_and_done_marked(self, world: Any,
                                                              client_for: Any) -> None:
        owner = world.personas.owner
        monday = next_monday()
        m = meeting(owner, monday + dt.timedelta(days=1), 10, subject="Quarterly review",
                    account=world.mine.account)
        factories.activity(by=owner, kind="call", subject="Done call", done=True,
                           start_at=local(monday + dt.timedelta(days=2), 15))
        client = client_for(owner)
        date = (monday + dt.timedelta(days=1)).isoformat()
        for view in ("week", "month", "day"):
            page = client.get(f"/calendar/?view={view}&date={date}")
            assert page.status_code == 200, view
            html = page.content.decode()
            assert "Quarterly review" in html
            assert f'href="/activities/{m.pk}/"' in html
            assert 'class="cal-agenda"' in html  # the phone's day list
            assert "Olivia Industries" in html or view == "month"
        week = client.get(f"/calendar/?date={date}").content.decode()
        assert re.search(r'class="cal-item kind-call is-done"', week)
        assert "Done call" in week
        assert 'draggable="true"' in week
        assert f"/calendar/activities/{m.pk}.ics" in week
        day = client.get(f"/calendar/?view=day&date={date}").content.decode()
        assert "Done call" not in day  # the day after

    def test_empty_state_and_bad_parameters(self, world: Any, client_for: Any) -> None:
        client = client_for(world.personas.owner)
        page = client.get("/calendar/?view=day&date=2001-01-01")
        assert page.status_code == 200
        assert "Nothing planned in this period" in page.content.decode()
        for query in ("?view=year&date=nonsense", "?owner=abc", "?owner=999999&date=2024-02-30"):
            assert client.get("/calendar/" + query).status_code == 200

    def test_nav_entry_and_htmx_partial(self, world: Any, client_for: Any) -> None:
        client = client_for(world.personas.owner)
        home = client.get("/").content.decode()
        assert 'href="/calendar/"' in home
        partial = client.get("/calendar/?view=month", HTTP_HX_REQUEST="true",
                             HTTP_HX_TARGET="calendar").content.decode()
        assert partial.startswith('<div id="calendar"')

    def test_whose_calendar_follows_the_policy(self, world: Any, client_for: Any) -> None:
        p = world.personas
        monday = next_monday()
        meeting(p.owner, monday, 9, subject="Private to owner",
                account=world.mine.private_account)
        meeting(p.owner, monday, 11, subject="Owner in Rhône", account=world.mine.account)
        date = monday.isoformat()
        teammate = client_for(p.teammate).get(
            f"/calendar/?owner={p.owner.pk}&date={date}").content.decode()
        assert "Owner in Rhône" in teammate
        assert "Private to owner" not in teammate
        outsider = client_for(p.outsider).get(
            f"/calendar/?owner={p.owner.pk}&date={date}").content.decode()
        assert "Owner in Rhône" not in outsider
        assert "Private to owner" not in outsider
        manager = client_for(p.manager).get(
            f"/calendar/?owner=team&date={date}").content.decode()
        assert "Private to owner" in manager
        assert "Owner in Rhône" in manager


@pytest.mark.django_db
class TestReschedule:
    def _post(self, client: Any, activity: Activity, day: dt.date, time: str = "",
              version: int | None = None, htmx: bool = True) -> Any:
        data = {"move_date": day.isoformat(), "move_time": time, "date": day.isoformat(),
                "version": activity.version if version is None else version}
        extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        return client.post(f"/calendar/activities/{activity.pk}/move/", data, **extra)

    def test_move_keeps_duration_and_answers_the_redrawn_calendar(self, world: Any,
                                                                  client_for: Any) -> None:
        owner = world.personas.owner
        monday = next_monday()
        m = meeting(owner, monday, 10, subject="Demo")
        client = client_for(owner)
        target = monday + dt.timedelta(days=2)
        response = self._post(client, m, target, "15:00")
        assert response.status_code == 200
        html = response.content.decode()
        assert "“Demo” moved to" in html
        assert 'hx-swap-oob="innerHTML"' in html
        m.refresh_from_db()
        assert m.start_at == local(target, 15)
        assert m.end_at == local(target, 16)
        assert m.remind_at == local(target, 14, 45)
        # the plain form (no JavaScript): back to the calendar
        response = self._post(client, m, monday, "", htmx=False)
        assert response.status_code == 302
        m.refresh_from_db()
        assert m.start_at == local(monday, 15)

    def test_stale_version_hidden_record_and_bad_input_are_refused(
            self, world: Any, client_for: Any) -> None:
        p = world.personas
        monday = next_monday()
        m = meeting(p.owner, monday, 10, subject="Contested")
        stale = m.version
        client = client_for(p.owner)
        assert self._post(client, m, monday + dt.timedelta(days=1), "11:00").status_code == 200
        response = self._post(client, m, monday + dt.timedelta(days=3), "09:00", version=stale)
        assert response.status_code == 412
        assert "was not moved" in response.content.decode()
        m.refresh_from_db()
        assert m.start_at == local(monday + dt.timedelta(days=1), 11)
        # another team's activity: as if it did not exist
        response = self._post(client_for(p.outsider), m, monday, "09:00")
        assert response.status_code == 404
        assert "does not exist or you may not see it" in response.content.decode()
        response = client.post(f"/calendar/activities/{m.pk}/move/",
                               {"move_date": "31/12/2030"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 422
        assert "give a valid date" in response.content.decode()
        response = client.post(f"/calendar/activities/{m.pk}/move/",
                               {"move_date": monday.isoformat(), "move_time": "25:99"})
        assert response.status_code == 422
        assert "give a valid time" in response.content.decode()
        assert client.get(f"/calendar/activities/{m.pk}/move/").status_code == 405

    def test_single_ics_download_respects_visibility(self, world: Any,
                                                     client_for: Any) -> None:
        p = world.personas
        m = meeting(p.owner, next_monday(), 10, subject="Downloadable")
        response = client_for(p.owner).get(f"/calendar/activities/{m.pk}.ics")
        assert response.status_code == 200
        assert b"BEGIN:VEVENT" in response.content
        assert b"Downloadable" in response.content
        assert "attachment" in response["Content-Disposition"]
        assert client_for(p.outsider).get(f"/calendar/activities/{m.pk}.ics").status_code == 404


@pytest.mark.django_db
def test_feed_link_created_shown_once_and_revoked(world: Any, client_for: Any) -> None:
    owner = world.personas.owner
    client = client_for(owner)
    assert b"No feed link yet." in client.get("/calendar/").content
    page = client.post("/calendar/feed/new/").content.decode()
    url = re.search(r'value="(http://testserver/calendar/feed/[^"]+\.ics)"', page)
    assert url
    path = url.group(1).removeprefix("http://testserver")
    assert client.get(path).status_code == 200
    again = client.get("/calendar/").content.decode()
    assert path not in again
    assert "A feed link is active since" in again
    response = client.post("/calendar/feed/revoke/")
    assert response.status_code == 302
    assert client.get(path).status_code == 404
    assert CalendarFeedToken.objects.get(user=owner).revoked_at is not None


# --- In a real browser ------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_drag_an_activity_to_another_day(open_as: Any, world: Any) -> None:
    owner = world.personas.owner
    monday = next_monday()
    m = meeting(owner, monday, 10, subject="Drag me")
    page = open_as(owner, f"/calendar/?date={monday.isoformat()}")
    item = page.locator(f"#g-act-{m.pk}")
    expect(item).to_be_visible()
    thursday = monday + dt.timedelta(days=3)
    slot = page.locator(f'td.cal-slot[data-date="{thursday.isoformat()}"][data-time="14:00"]')
    item.drag_to(slot)
    expect(page.get_by_role("status")).to_contain_text("“Drag me” moved to")
    expect(slot.locator(f"#g-act-{m.pk}")).to_be_visible()
    m.refresh_from_db()
    assert m.start_at == local(thursday, 14)
    assert m.end_at == local(thursday, 15)

    # the keyboard way: the item's Move form
    moved = page.locator(f"#g-act-{m.pk}")
    moved.locator("summary").click()
    moved.get_by_label("New date").fill((monday + dt.timedelta(days=1)).isoformat())
    moved.get_by_label("New time").fill("09:30")
    moved.get_by_label("New time").press("Enter")
    expect(page.locator(f'td.cal-slot[data-date="{(monday + dt.timedelta(days=1)).isoformat()}"]'
                        f'[data-time="09:00"] #g-act-{m.pk}')).to_be_visible()
    m.refresh_from_db()
    assert m.start_at == local(monday + dt.timedelta(days=1), 9, 30)


@pytest.mark.django_db(transaction=True)
def test_phone_width_shows_a_day_list(open_as: Any, world: Any) -> None:
    owner = world.personas.owner
    monday = next_monday()
    m = meeting(owner, monday + dt.timedelta(days=1), 10, subject="On the phone")
    page = open_as(owner, f"/calendar/?date={monday.isoformat()}", phone=True)
    expect(page.locator(".cal-agenda")).to_be_visible()
    expect(page.locator(".cal-grid")).to_be_hidden()
    expect(page.locator(f"#l-act-{m.pk}")).to_be_visible()
    expect(page.locator(f"#l-act-{m.pk} a.cal-name")).to_have_attribute(
        "href", f"/activities/{m.pk}/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, width
