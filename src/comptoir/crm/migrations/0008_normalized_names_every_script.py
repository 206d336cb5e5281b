"""Account names in other scripts (東京商事, Ελένη…) and with œ, ß, ø… were reduced to nothing
or a fragment by ``normalize_name``; it now keeps them. Recompute the stored key of the
accounts whose name has such letters (a name in plain ASCII reads as before)."""

from django.db import migrations


def recompute(apps, schema_editor):  # type: ignore[no-untyped-def]
    from comptoir.quality.identifiers import normalize_name

    Account = apps.get_model("crm", "Account")
    changed = []
    for pk, name, stored in Account.objects.values_list("pk", "legal_name", "normalized_name"
                                                        ).iterator(chunk_size=2000):
        if name and not name.isascii():
            key = normalize_name(name)[:200]
            if key != stored:
                changed.append(Account(pk=pk, normalized_name=key))
        if len(changed) >= 1000:
            Account.objects.bulk_update(changed, ["normalized_name"])
            changed = []
    if changed:
        Account.objects.bulk_update(changed, ["normalized_name"])


class Migration(migrations.Migration):
    dependencies = [("crm", "0007_pipeline_idle_days")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
