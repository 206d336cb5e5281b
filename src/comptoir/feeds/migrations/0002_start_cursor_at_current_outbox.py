"""An existing installation starts notifying from now on, not for its whole history."""

from django.db import migrations
from django.db.models import Max


def start_at_current_event(apps, schema_editor):
    OutboxEvent = apps.get_model("core", "OutboxEvent")
    FeedCursor = apps.get_model("feeds", "FeedCursor")
    last = OutboxEvent.objects.aggregate(last=Max("id"))["last"] or 0
    FeedCursor.objects.update_or_create(name="notifications", defaults={"last_event_id": last})


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0005_price_list_item_object"),
        ("feeds", "0001_follows_notifications"),
    ]

    operations = [
        migrations.RunPython(start_at_current_event, migrations.RunPython.noop),
    ]
