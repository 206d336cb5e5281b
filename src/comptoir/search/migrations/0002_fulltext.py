"""The full-text structures each backend needs, which Django's schema editor cannot describe.

SQLite: an FTS5 table over ``search_searchentry.text`` kept in step by triggers. PostgreSQL: a
stored ``tsvector`` column of the words (unknown to the model: the database computes it) and
its GIN index. The SQL is written out here (not imported from ``backends``) so that this
migration keeps doing what it did when the code moves on. Note for later migrations of
``SearchEntry`` on SQLite: a table rebuild by the schema editor drops the triggers; recreate them.

The cursor starts at the current end of the outbox. A database that already holds records is
marked for a rebuild, which the worker's periodic job (or ``comptoir reindex``) performs.
"""

from django.db import migrations

TRIGGERS = (
    """CREATE TRIGGER search_entry_ai AFTER INSERT ON search_searchentry BEGIN
         INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text);
       END""",
    """CREATE TRIGGER search_entry_ad AFTER DELETE ON search_searchentry BEGIN
         INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text);
       END""",
    """CREATE TRIGGER search_entry_au AFTER UPDATE OF text ON search_searchentry
       WHEN old.text IS NOT new.text BEGIN
         INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text);
         INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text);
       END""",
)


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.execute(
                "CREATE VIRTUAL TABLE search_fts USING fts5(text, content='search_searchentry', "
                "content_rowid='id', detail='none', prefix='2 3', "
                "tokenize='unicode61 remove_diacritics 2')")
            for sql in TRIGGERS:
                cursor.execute(sql)
        elif vendor == "postgresql":
            # Stored, so that checking a row costs no parsing (the planner may walk the ids in
            # order and check each row rather than use the index).
            cursor.execute("ALTER TABLE search_searchentry ADD COLUMN words tsvector "
                           "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, text)) STORED")
            cursor.execute("CREATE INDEX search_entry_words ON search_searchentry "
                           "USING gin (words)")
    OutboxEvent = apps.get_model("core", "OutboxEvent")
    last = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    has_records = any(apps.get_model(label).objects.exists() for label in (
        "crm.Account", "crm.Contact", "crm.Lead", "crm.Opportunity", "service.Case",
        "sales.SalesDocument", "sales.Product"))
    apps.get_model("search", "SearchCursor").objects.update_or_create(
        name="outbox", defaults={"last_event_id": last, "needs_rebuild": has_records})


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "sqlite":
            for name in ("search_entry_ai", "search_entry_ad", "search_entry_au"):
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute("DROP TABLE IF EXISTS search_fts")
        elif vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS search_entry_words")
            cursor.execute("ALTER TABLE search_searchentry DROP COLUMN IF EXISTS words")


class Migration(migrations.Migration):

    dependencies = [
        ("search", "0001_initial"),
        ("core", "0005_price_list_item_object"),
        ("crm", "0002_account_owner_updated_index"),
        ("service", "0001_initial"),
        ("sales", "0001_initial"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
