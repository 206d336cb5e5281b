"""Follow toggle, notifications page and the sync page, through the Django test client."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from comptoir.crm.services import account_update
from comptoir.feeds import services as feeds
from comptoir.feeds.models import Follow, Notification
from comptoir.integration.memory import memory_connector
from comptoir.integration.models import Connection, QuarantinedRecord, SyncRun
from comptoir.integration.services import sync_run

HTMX = {"HTTP_HX_REQUEST": "true"}


# --- Follow --------------------------------------------------------------------------------

def test_follow_toggles_in_place_with_htmx(client_for: Any, world: Any, teammate: Any) -> None:
    account = world.mine.account
    url = f"/follow/account/{account.pk}/"
    client = client_for(teammate)
    on = client.post(url, {"next": f"/accounts/{account.pk}/"}, **HTMX)
    assert on.status_code == 200
    html = on.content.decode()
    assert 'aria-pressed="true"' in html
    assert "Following" in html
    assert "<html" not in html  # the button only, swapped in place
    assert f'hx-post="{url}"' in html
    assert feeds.is_following(teammate, "account", account.pk)
    off = client.post(url, **HTMX).content.decode()
    assert 'aria-pressed="false"' in off
    assert "Following" not in off
    assert not Follow.objects.exists()


def test_follow_without_javascript_redirects_back(client_for: Any, world: Any,
                                                  teammate: Any) -> None:
    account = world.mine.account
    client = client_for(teammate)
    response = client.post(f"/follow/account/{account.pk}/", {"next": "/accounts/"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/"
    assert feeds.is_following(teammate, "account", account.pk)
    evil = client.post(f"/follow/account/{account.pk}/", {"next": "https://evil.example/"})
    assert evil["Location"] == f"/accounts/{account.pk}/"
    page = client.get(f"/follow/account/{account.pk}/")
    assert page.status_code == 200
    assert "Olivia Industries" in page.content.decode()
    assert 'aria-pressed="false"' in page.content.decode()


def test_cannot_follow_what_one_cannot_see(client_for: Any, world: Any, outsider: Any) -> None:
    client = client_for(outsider)
    assert client.post(f"/follow/account/{world.mine.account.pk}/").status_code == 404
    assert client.get(f"/follow/account/{world.mine.account.pk}/").status_code == 404
    assert client.post(f"/follow/pricelist/{world.price_list.pk}/").status_code == 404
    assert client.post("/follow/account/999999/").status_code == 404
    assert not Follow.objects.exists()


def test_follow_button_tag(world: Any, teammate: Any) -> None:
    feeds.follow(user=teammate, object_type="opportunity",
                 object_id=world.mine.opportunity.pk)
    request = RequestFactory().get(f"/deals/{world.mine.opportunity.pk}/")
    request.user = teammate
    html = Template("{% load feeds %}{% follow_button obj %}").render(Context(
        {"request": request, "obj": world.mine.opportunity, "csrf_token": "tok"}))
    assert f'action="/follow/opportunity/{world.mine.opportunity.pk}/"' in html
    assert 'aria-pressed="true"' in html
    assert 'value="tok"' in html
    assert f'value="/deals/{world.mine.opportunity.pk}/"' in html  # back to the record


# --- Notifications -------------------------------------------------------------------------

@pytest.fixture
def notified(world: Any, owner: Any, teammate: Any) -> Notification:
    feeds.notifications_process(max_events=10_000)
    feeds.follow(user=teammate, object_type="account", object_id=world.mine.account.pk)
    account_update(account=world.mine.account, user=owner, data={"phone": "0478000000"})
    feeds.notifications_process()
    return Notification.objects.get(user=teammate)


def test_notifications_page_lists_links_and_marks_read(client_for: Any, notified: Any,
                                                       teammate: Any, world: Any) -> None:
    client = client_for(teammate)
    html = client.get("/notifications/").content.decode()
    assert "Olivia Industries" in html
    assert "Olivia Owner changed phone." in html
    assert f"/notifications/{notified.pk}/open/" in html
    assert "1 unread" in html
    assert "Mark all as read" in html
    opened = client.get(f"/notifications/{notified.pk}/open/")
    assert opened["Location"] == f"/accounts/{world.mine.account.pk}/"
    notified.refresh_from_db()
    assert notified.read_at is not None
    assert "Nothing unread" in client.get("/notifications/?show=unread").content.decode()


def test_mark_all_read(client_for: Any, notified: Any, teammate: Any) -> None:
    client = client_for(teammate)
    assert 'data-unread>1<' in client.get("/notifications/").content.decode()
    response = client.post("/notifications/read/", {"next": "/"})
    assert response["Location"] == "/"
    assert feeds.unread_count(teammate) == 0
    assert "data-unread" not in client.get("/notifications/").content.decode()


def test_notifications_of_others_and_lost_records_stay_hidden(
        client_for: Any, notified: Any, outsider: Any, teammate: Any, personas: Any) -> None:
    assert client_for(outsider).get(f"/notifications/{notified.pk}/open/").status_code == 404
    personas.north.members.remove(teammate)
    client = client_for(teammate)
    assert "Olivia Industries" not in client.get("/notifications/").content.decode()
    response = client.get(f"/notifications/{notified.pk}/open/", follow=True)
    assert "no longer available" in response.content.decode()


def test_notifications_empty_state(client_for: Any, owner: Any) -> None:
    html = client_for(owner).get("/notifications/").content.decode()
    assert "No notifications yet" in html


# --- Sync ----------------------------------------------------------------------------------

SOURCE: dict[str, list[dict[str, Any]]] = {"customers": []}


memory_connector("memory-web-test", SOURCE)


MAPPING = """
system = "erp"

[streams.customers]
target = "account"
key = "id"
[streams.customers.fields]
legal_name = "name"
status = { source = "kind", map = { C = "customer", P = "prospect" }, unknown = "error" }
"""


@pytest.fixture
def connection(db: None) -> Connection:
    SOURCE["customers"] = [{"id": "C1", "name": "Client 1 SAS", "kind": "C"},
                           {"id": "C2", "name": "Client 2 SAS", "kind": "?"}]
    return Connection.objects.create(name="erp", label="The ERP", connector="memory-web-test",
                                     mapping=MAPPING)


@pytest.mark.parametrize("who", ["owner", "manager", "service", "marketing"])
def test_sync_pages_are_for_data_managers_only(client_for: Any, personas: Any,
                                               connection: Connection, who: str) -> None:
    client = client_for(personas[who])
    run = SyncRun.objects.create(connection=connection)
    for url in ("/sync/", "/sync/runs/", f"/sync/runs/{run.pk}/"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/sync/connections/{connection.pk}/run/").status_code == 404
    assert client.post(f"/sync/connections/{connection.pk}/reconcile/").status_code == 404
    assert not SyncRun.objects.exclude(pk=run.pk).exists()


def test_sync_page_shows_connections_runs_and_quarantine(
        client_for: Any, data_manager: Any, connection: Connection,
        django_assert_max_num_queries: Any) -> None:
    run = sync_run(connection)
    assert (run.created, run.quarantined) == (1, 1)
    client = client_for(data_manager)
    with django_assert_max_num_queries(20):
        response = client.get("/sync/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "The ERP" in html
    assert "Succeeded" in html
    assert "1 to fix" in html
    assert "C2" in html
    assert "Replay" in html
    assert f"/sync/connections/{connection.pk}/run/" in html
    assert 'hx-trigger="every 2s"' not in html  # nothing running: no polling
    full = client.get("/sync/runs/")  # the polled part is a page of its own too
    assert full.status_code == 200
    assert "<html" in full.content.decode()


def test_admin_may_open_the_sync_page(client_for: Any, admin: Any) -> None:
    html = client_for(admin).get("/sync/").content.decode()
    assert "No connection yet" in html


def test_run_now_queues_a_run_and_its_page_follows_it(
        client_for: Any, data_manager: Any, connection: Connection,
        django_capture_on_commit_callbacks: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    client = client_for(data_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/sync/connections/{connection.pk}/run/")
    run = SyncRun.objects.get()
    assert response["Location"] == f"/sync/runs/{run.pk}/"
    assert run.status == "pending"
    assert run.requested_by == data_manager
    assert DBTaskResult.objects.count() == 1  # for the worker
    page = client.get(f"/sync/runs/{run.pk}/").content.decode()
    assert "Pending" in page
    assert 'hx-trigger="every 2s"' in page
    # a second click while it is alive is refused with a message, not a 500
    again = client.post(f"/sync/connections/{connection.pk}/run/", follow=True)
    assert "already in progress" in again.content.decode()
    # the sync page polls the runs while one is alive
    assert 'hx-trigger="every 2s"' in client.get("/sync/").content.decode()
    from comptoir.integration.tasks import execute_run

    execute_run.call(run.pk)  # what the worker does
    partial = client.get(f"/sync/runs/{run.pk}/", **HTMX).content.decode()
    assert "<html" not in partial
    assert "Succeeded" in partial
    assert "every 2s" not in partial
    assert "customers" in partial  # per-stream counts
    runs = client.get("/sync/runs/", **HTMX).content.decode()
    assert f"The ERP #{run.pk}" in runs
    assert "every 2s" not in runs
    assert "Run now" in runs  # the connection is free again


def test_replay_a_quarantined_record(client_for: Any, data_manager: Any,
                                     connection: Connection) -> None:
    sync_run(connection)
    record = QuarantinedRecord.objects.get()
    client = client_for(data_manager)
    refused = client.post(f"/sync/quarantine/{record.pk}/replay/", **HTMX).content.decode()
    assert "Still refused" in refused
    assert f'id="quarantine-{record.pk}"' in refused
    QuarantinedRecord.objects.filter(pk=record.pk).update(
        payload={**record.payload, "kind": "P"})  # fixed, as the API's PATCH does
    done = client.post(f"/sync/quarantine/{record.pk}/replay/", **HTMX).content.decode()
    assert "Replayed" in done
    record.refresh_from_db()
    assert record.status == "replayed"
    # without JavaScript: back to the page with a message
    again = client.post(f"/sync/quarantine/{record.pk}/replay/", follow=True)
    assert "already" in again.content.decode()


def test_run_page_says_how_many_records_were_linked_to_existing_ones(
        client_for: Any, data_manager: Any, owner: Any, connection: Connection) -> None:
    from comptoir.core.models import ExternalRef
    from comptoir.testing import factories as f

    existing = f.account(by=owner, legal_name="Client 1 SAS")
    SOURCE["customers"] = [{"id": "C1", "name": "Client 1 SAS", "kind": "C"}]
    # a sure duplicate needs more than the name: give both the same e-mail and phone
    Connection.objects.filter(pk=connection.pk).update(
        mapping=MAPPING + 'email = "mail"\nphone = "tel"\n')
    SOURCE["customers"][0].update(mail="contact@client1.fr", tel="04 72 00 00 01")
    type(existing).objects.filter(pk=existing.pk).update(email="contact@client1.fr",
                                                         phone="+33472000001")
    connection.refresh_from_db()
    run = sync_run(connection)
    assert (run.created, run.matched) == (0, 1)
    assert ExternalRef.objects.get(system="erp", external_id="C1").object_id == existing.pk
    html = client_for(data_manager).get(f"/sync/runs/{run.pk}/").content.decode()
    assert "Linked to an existing record" in html
    assert re.search(r'data-figure="matched">1<', html)


def test_reconcile_button_queues_a_comparison_and_its_page_shows_the_report(
        client_for: Any, data_manager: Any, connection: Connection,
        django_capture_on_commit_callbacks: Any) -> None:
    from comptoir.integration.tasks import execute_run

    sync_run(connection)
    client = client_for(data_manager)
    assert f"/sync/connections/{connection.pk}/reconcile/" in client.get("/sync/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/sync/connections/{connection.pk}/reconcile/")
    run = SyncRun.objects.get(trigger=SyncRun.Trigger.RECONCILE)
    assert response["Location"] == f"/sync/runs/{run.pk}/"
    execute_run.call(run.pk)  # what the worker does
    html = client.get(f"/sync/runs/{run.pk}/").content.decode()
    assert "0 differences" in html
    assert "C2" in html  # the record in quarantine, with its reason
    SOURCE["customers"].append({"id": "C3", "name": "Client 3 SAS", "kind": "C"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/sync/connections/{connection.pk}/reconcile/")
    second = SyncRun.objects.filter(trigger=SyncRun.Trigger.RECONCILE).latest("id")
    execute_run.call(second.pk)
    html = client.get(f"/sync/runs/{second.pk}/").content.decode()
    assert "1 difference between" in html
    assert "C3" in html
