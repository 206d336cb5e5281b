"""Follows, the feed and notifications: the domain rules, without the web pages."""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.access import policy
from comptoir.access.models import User
from comptoir.core.errors import NotFound
from comptoir.core.models import ObjectType, OutboxEvent
from comptoir.crm.services import account_delete, account_update
from comptoir.feeds import services as feeds
from comptoir.feeds.models import FeedCursor, Follow, Notification
from comptoir.service.services import case_update
from comptoir.testing import factories

ACCOUNT = ObjectType.ACCOUNT


@pytest.fixture(autouse=True)
def _english() -> Any:
    from django.utils import translation

    with translation.override("en"):
        yield


def fresh(user: User) -> User:
    """The user again, without the visibility scope cached on the instance."""
    return User.objects.get(pk=user.pk)


def caught_up() -> None:
    feeds.notifications_process(max_events=100_000)


@pytest.fixture
def followed(world: Any, teammate: User) -> Any:
    """The owner's account, followed by the teammate (who sees it through the territory)."""
    caught_up()  # the world's own creation is history
    account = world.mine.account
    feeds.follow(user=teammate, object_type=ACCOUNT, object_id=account.pk)
    return account


def test_follow_unfollow_and_toggle(world: Any, teammate: User) -> None:
    account = world.mine.account
    assert not feeds.is_following(teammate, ACCOUNT, account.pk)
    feeds.follow(user=teammate, object_type=ACCOUNT, object_id=account.pk)
    feeds.follow(user=teammate, object_type=ACCOUNT, object_id=account.pk)  # harmless twice
    assert feeds.is_following(teammate, ACCOUNT, account.pk)
    assert list(feeds.followed_ids(teammate, ACCOUNT)) == [account.pk]
    assert feeds.unfollow(user=teammate, object_type=ACCOUNT, object_id=account.pk)
    assert not feeds.unfollow(user=teammate, object_type=ACCOUNT, object_id=account.pk)
    assert feeds.follow_toggle(user=teammate, object_type=ACCOUNT, object_id=account.pk)
    assert not feeds.follow_toggle(user=teammate, object_type=ACCOUNT, object_id=account.pk)
    assert not Follow.objects.exists()


def test_cannot_follow_what_one_cannot_see(world: Any, outsider: User) -> None:
    with pytest.raises(NotFound):
        feeds.follow(user=outsider, object_type=ACCOUNT, object_id=world.mine.account.pk)
    with pytest.raises(NotFound):
        feeds.follow(user=outsider, object_type="pricelist", object_id=1)
    assert not Follow.objects.exists()


def test_followers_hear_of_changes_by_others_not_of_their_own(
        followed: Any, owner: User, teammate: User) -> None:
    feeds.follow(user=owner, object_type=ACCOUNT, object_id=followed.pk)
    account_update(account=followed, user=owner, data={"phone": "0478000000"})
    done = feeds.notifications_process()
    assert done["notifications"] == 1
    note = Notification.objects.get()
    assert (note.user, note.kind, note.object_id) == (teammate, "followed_record_changed",
                                                      followed.pk)
    assert note.actor == owner
    assert note.title == followed.legal_name
    assert note.fields == ["phone"]
    assert feeds.notification_text(note) == "Olivia Owner changed phone."
    # the teammate's own change tells nobody but the owner, who follows too
    account_update(account=followed, user=teammate, data={"website": "https://x.example"})
    caught_up()
    assert Notification.objects.filter(user=teammate).count() == 1
    assert Notification.objects.filter(user=owner).count() == 1


def test_changes_to_one_record_pile_up_in_one_unread_notification(
        followed: Any, owner: User, teammate: User) -> None:
    account_update(account=followed, user=owner, data={"phone": "0478000000"})
    caught_up()
    account_update(account=followed, user=owner, data={"billing_city": "Lyon"})
    caught_up()
    note = Notification.objects.get(user=teammate)
    assert note.count == 2
    assert note.fields == ["phone", "billing_city"]
    assert "2 changes" in feeds.notification_text(note)
    # once read, the next change is a new notification
    assert feeds.notifications_mark_read(user=teammate) == 1
    account_update(account=followed, user=owner, data={"phone": "0478000001"})
    caught_up()
    assert Notification.objects.filter(user=teammate).count() == 2
    assert feeds.unread_count(teammate) == 1


def test_assignment_notifies_the_new_owner(world: Any, data_manager: User, teammate: User,
                                           owner: User, service_user: User) -> None:
    caught_up()
    account = world.mine.account
    account_update(account=account, user=data_manager, data={"owner_id": teammate.pk})
    case_update(case=world.mine.case, user=data_manager, data={"owner_id": service_user.pk})
    # assigning to oneself tells nobody
    account_update(account=world.mine.private_account, user=owner, data={"owner_id": owner.pk})
    caught_up()
    assigned = Notification.objects.get(user=teammate)
    assert (assigned.kind, assigned.object_id, assigned.actor) == (
        "assigned_to_you", account.pk, data_manager)
    case_note = Notification.objects.get(user=service_user)
    assert (case_note.kind, case_note.object_id) == ("case_assigned", world.mine.case.pk)
    assert feeds.notification_text(case_note) == "Data_manager assigned it to you."
    assert not Notification.objects.filter(user=owner).exists()


def test_a_bulk_assignment_is_one_digest(world: Any, data_manager: User,
                                         teammate: User) -> None:
    caught_up()
    for n in range(7):
        factories.account(by=data_manager, owner=teammate, legal_name=f"Imported {n}")
    caught_up()
    digest = Notification.objects.get(user=teammate)
    assert (digest.object_id, digest.count) == (None, 7)
    assert feeds.notification_text(digest) == (
        "7 accounts were assigned to you by Data_manager.")


def test_a_follower_who_lost_access_hears_and_sees_nothing_more(
        followed: Any, owner: User, teammate: User, personas: Any) -> None:
    account_update(account=followed, user=owner, data={"phone": "0478000000"})
    caught_up()
    assert [(e.object_id, e.action) for e in feeds.feed_for(fresh(teammate))] == [
        (followed.pk, "update"), (followed.pk, "create")]
    assert len(feeds.visible_notifications(fresh(teammate),
                                           feeds.notifications_for(teammate))) == 1
    personas.north.members.remove(teammate)  # out of the team: the territory is gone
    account_update(account=followed, user=owner, data={"phone": "0478000001"})
    caught_up()
    assert Notification.objects.get(user=teammate).count == 1  # the new change: nothing
    assert feeds.feed_for(fresh(teammate)) == []
    assert feeds.visible_notifications(fresh(teammate),
                                       feeds.notifications_for(teammate)) == []


def test_feed_shows_changes_by_others_on_followed_and_owned_records(
        followed: Any, owner: User, teammate: User, manager: User, world: Any) -> None:
    account_update(account=followed, user=owner, data={"phone": "0478000000"})
    account_update(account=followed, user=teammate, data={"billing_city": "Lyon"})
    opp = world.mine.opportunity
    from comptoir.crm.services import opportunity_update

    opportunity_update(opportunity=opp, user=manager, data={"amount": "15000"})
    owner_feed = feeds.feed_for(fresh(owner))
    # the owner's feed: what the teammate and the manager did, not the owner's own change
    assert [(e.object_type, e.actor, e.fields) for e in owner_feed] == [
        ("opportunity", manager, ["amount"]),
        ("account", teammate, ["billing city"]),
    ]
    assert owner_feed[0].title == opp.name
    assert owner_feed[1].text == "Théo changed billing city."
    assert not owner_feed[1].followed
    teammate_feed = feeds.feed_for(fresh(teammate))
    assert [(e.object_id, e.actor, e.action, e.followed) for e in teammate_feed] == [
        (followed.pk, owner, "update", True), (followed.pk, owner, "create", True)]
    assert teammate_feed[1].text == "Olivia Owner created it."
    assert feeds.feed_for(fresh(teammate), limit=0) == []


def test_a_deleted_record_is_announced_and_unfollowed(followed: Any, owner: User,
                                                      teammate: User) -> None:
    name = followed.legal_name
    account_delete(account=followed, user=owner)
    caught_up()
    note = Notification.objects.get(user=teammate)
    assert (note.action, note.title) == ("deleted", name)
    assert feeds.notification_text(note) == "Olivia Owner deleted it."
    assert not Follow.objects.exists()
    assert feeds.visible_notifications(fresh(teammate), [note]) == [note]


def test_unread_count_and_mark_read(followed: Any, owner: User, teammate: User,
                                    world: Any) -> None:
    assert feeds.unread_count(teammate) == 0
    feeds.follow(user=teammate, object_type="opportunity", object_id=world.mine.opportunity.pk)
    account_update(account=followed, user=owner, data={"phone": "0478000000"})
    from comptoir.crm.services import opportunity_update

    opportunity_update(opportunity=world.mine.opportunity, user=owner, data={"amount": "1"})
    caught_up()
    assert feeds.unread_count(teammate) == 2
    assert feeds.unread_count(teammate, cap=1) == 2  # bounded: "more than one"
    first = Notification.objects.filter(user=teammate).first()
    assert first is not None
    assert feeds.notifications_mark_read(user=teammate, ids=[first.pk]) == 1
    assert feeds.unread_count(teammate) == 1
    assert feeds.notifications_mark_read(user=teammate) == 1
    assert feeds.unread_count(teammate) == 0


def test_the_consumer_keeps_its_cursor_and_never_doubles(followed: Any, owner: User,
                                                         teammate: User) -> None:
    account_update(account=followed, user=owner, data={"phone": "0478000000"})
    first = feeds.notifications_process(max_events=1)
    assert first["events"] == 1
    assert feeds.notifications_process()["events"] >= 0
    assert feeds.notifications_process() == {"events": 0, "notifications": 0}
    cursor = FeedCursor.objects.get(name="notifications")
    assert cursor.last_event_id == OutboxEvent.objects.order_by("-id").values_list(
        "id", flat=True).first()
    assert Notification.objects.filter(user=teammate).count() == 1
    assert feeds.notifications_due() == {}


def test_the_periodic_job_is_registered(settings: Any) -> None:
    assert "comptoir.feeds.services.notifications_due" in settings.COMPTOIR_PERIODIC_JOBS


def test_the_feed_is_bounded_to_recent_changes(followed: Any, teammate: User) -> None:
    import datetime as dt

    from django.utils import timezone

    policy.forget_scope(teammate)
    assert len(feeds.feed_for(teammate)) == 1  # the creation, by the owner
    later = timezone.now() + dt.timedelta(minutes=1)
    assert feeds.feed_for(teammate, since=later) == []


def test_pages_catch_up_a_little_and_leave_big_backlogs_to_the_worker(
        followed: Any, owner: User, teammate: User) -> None:
    account_update(account=followed, user=owner, data={"phone": "0478000000"})
    assert feeds.notifications_catch_up(limit=50)["events"] == 1
    for n in range(3):
        account_update(account=followed, user=owner, data={"phone": f"047800000{n + 1}"})
    assert feeds.notifications_catch_up(limit=2) == {"events": 0, "notifications": 0,
                                                     "skipped": 1}
    assert feeds.notifications_due()["events"] == 3
    assert Notification.objects.get(user=teammate).count == 4
