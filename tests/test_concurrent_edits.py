"""Concurrent edits never undo each other: services write only the fields a writer changed,
custom values key by key, on the row read again under the write lock; the API's ``If-Match``
refuses a stale write (412), and forms refuse only a conflicting one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from comptoir.core.errors import StaleRecord
from comptoir.core.models import CustomField
from comptoir.core.services import snapshot
from comptoir.crm.models import Account
from comptoir.crm.services import account_update
from comptoir.testing import factories

COMPTOIR = str(Path(sys.executable).with_name("comptoir"))


@pytest.fixture
def custom_fields(db: None) -> None:
    for name in ("tier", "segment"):
        CustomField.objects.create(object_type="account", name=name, label=name.title(),
                                   type="text")


def test_stale_copies_changing_different_fields_keep_both(owner: Any, teammate: Any) -> None:
    account = factories.account(by=owner, legal_name="Both SA", owner_id=owner.pk)
    first = Account.objects.get(pk=account.pk)
    second = Account.objects.get(pk=account.pk)  # read before the first write lands
    account_update(account=first, user=owner, data={"website": "https://both.example"})
    account_update(account=second, user=owner, data={"billing_city": "Lille"})
    stored = Account.objects.get(pk=account.pk)
    assert stored.website == "https://both.example"
    assert stored.billing_city == "Lille"
    assert stored.version == 3
    assert second.website == "https://both.example"  # the caller's copy shows what is stored


def test_a_form_sending_every_field_writes_only_what_the_user_changed(owner: Any) -> None:
    account = factories.account(by=owner, legal_name="Form SA", owner_id=owner.pk)
    opened = snapshot(Account.objects.get(pk=account.pk))  # the form as the user opened it
    account_update(account=Account.objects.get(pk=account.pk), user=owner,
                   data={"billing_city": "Nantes"})  # someone else, meanwhile
    submitted = Account.objects.get(pk=account.pk)
    submitted._base_values = opened
    fields = {k: opened[k] for k in ("legal_name", "billing_city", "website")}
    account_update(account=submitted, user=owner, data={**fields, "website": "https://f.example"})
    stored = Account.objects.get(pk=account.pk)
    assert stored.billing_city == "Nantes"  # not put back to the value the form was opened with
    assert stored.website == "https://f.example"


def test_a_form_changing_a_field_changed_meanwhile_is_refused_with_both_values(
        owner: Any, teammate: Any) -> None:
    account = factories.account(by=owner, legal_name="Clash SA", owner_id=owner.pk,
                                billing_city="Paris")
    opened = snapshot(Account.objects.get(pk=account.pk))
    account_update(account=Account.objects.get(pk=account.pk), user=owner,
                   data={"billing_city": "Nantes"})
    submitted = Account.objects.get(pk=account.pk)
    submitted._base_values = opened
    with pytest.raises(StaleRecord) as caught:
        account_update(account=submitted, user=owner, data={"billing_city": "Rennes"})
    assert caught.value.conflicts == {"billing_city": ["Rennes", "Nantes"]}
    assert caught.value.changed_by
    assert Account.objects.get(pk=account.pk).billing_city == "Nantes"


def test_custom_values_merge_key_by_key(owner: Any, custom_fields: None) -> None:
    account = factories.account(by=owner, legal_name="Custom SA", owner_id=owner.pk,
                                custom={"tier": "A"})
    first = Account.objects.get(pk=account.pk)
    second = Account.objects.get(pk=account.pk)
    account_update(account=first, user=owner, data={}, custom={"tier": "B"})
    account_update(account=second, user=owner, data={}, custom={"segment": "retail"})
    assert Account.objects.get(pk=account.pk).custom == {"tier": "B", "segment": "retail"}


def test_api_etag_and_if_match(owner: Any, api: Any) -> None:
    account = factories.account(by=owner, legal_name="Etag SA", owner_id=owner.pk)
    client = api(owner)
    read = client.get(f"accounts/{account.pk}")
    tag = read["ETag"]
    assert tag == f'"{read.expect(200)["version"]}"'
    changed = client.patch(f"accounts/{account.pk}", {"website": "https://e.example"},
                           headers={"If-Match": tag})
    changed.expect(200)
    assert changed["ETag"] != tag
    stale = client.patch(f"accounts/{account.pk}", {"website": "https://stale.example"},
                         headers={"If-Match": tag})
    error = stale.error(412)
    assert error["code"] == "precondition_failed"
    assert error["details"]["conflicts"]["website"] == {"yours": "https://stale.example",
                                                        "current": "https://e.example"}
    assert Account.objects.get(pk=account.pk).website == "https://e.example"
    client.patch(f"accounts/{account.pk}", {"website": "https://w.example"},
                 headers={"If-Match": "W/" + changed["ETag"]}).expect(200)
    client.patch(f"accounts/{account.pk}", {"website": "https://x.example"},
                 headers={"If-Match": "nonsense"}).expect(422)
    client.patch(f"accounts/{account.pk}", {"website": "https://y.example"}).expect(200)


WRITER = textwrap.dedent("""
    import json, os, sys
    import django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comptoir.config.settings")
    django.setup()
    from comptoir.access.models import User
    from comptoir.crm.models import Account
    from comptoir.crm.services import account_update
    field, rounds, ids = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    user = User.objects.get(username="writer")
    last = {}
    for i in range(rounds):
        for pk in ids:
            copy = Account.objects.get(pk=pk)  # a stale copy by the time it is written
            value = f"{field} {os.getpid()} {i}"
            if field == "custom":
                account_update(account=copy, user=user, data={}, custom={f"k{pk % 2}": value})
            else:
                account_update(account=copy, user=user, data={field: value})
            last[pk] = value  # acknowledged: the service returned
    print(json.dumps(last))
""")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A migrated site of its own on the suite's backend: a SQLite file, or a new PostgreSQL
    database on the server ``DATABASE_URL`` names (dropped afterwards)."""
    env = dict(os.environ)
    env["COMPTOIR_DATA_DIR"] = str(tmp_path / "site")
    url = os.environ.get("DATABASE_URL")
    name = f"comptoir_edits_{os.getpid()}"
    if url:
        import psycopg

        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
    subprocess.run([COMPTOIR, "migrate", "-v0"], env=env, check=True, timeout=300)
    yield env
    if url:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_processes_editing_the_same_accounts_lose_no_acknowledged_write(
        site: dict[str, str]) -> None:
    """Several processes, as ``serve`` runs them, each owning a field of the same records (a
    custom value for one): every field ends with its writer's last acknowledged value."""
    env = site
    setup = textwrap.dedent("""
        import json, os, django
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comptoir.config.settings")
        django.setup()
        from comptoir.access.models import User
        from comptoir.core.models import CustomField
        from comptoir.crm.services import account_create
        user = User.objects.create_user("writer", role="admin")
        for name in ("k0", "k1"):
            CustomField.objects.create(object_type="account", name=name, label=name,
                                       type="text")
        ids = [account_create(user=user, data={"legal_name": f"Shared {i}"}).pk
               for i in range(3)]
        print(json.dumps(ids))
    """)
    made = subprocess.run([sys.executable, "-c", setup], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    ids = json.loads(made.stdout.strip().splitlines()[-1])
    fields = ["website", "billing_city", "trade_name", "custom"]
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, f, "20", json.dumps(ids)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for f in fields]
    results = {}
    for field, process in zip(fields, writers, strict=True):
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        results[field] = {int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()}
    check = textwrap.dedent("""
        import json, os, django
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comptoir.config.settings")
        django.setup()
        from django.db import connection
        from comptoir.crm.models import Account
        rows = {a.pk: [a.website, a.billing_city, a.trade_name, a.custom, a.version]
                for a in Account.objects.all()}
        ok = "ok"
        if connection.vendor == "sqlite":
            with connection.cursor() as c:
                c.execute("PRAGMA integrity_check")
                ok = c.fetchone()[0]
        print(json.dumps({"rows": rows, "ok": ok}))
    """)
    done = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["ok"] == "ok"
    for pk in ids:
        website, city, trade, custom, version = state["rows"][str(pk)]
        assert website == results["website"][pk]
        assert city == results["billing_city"][pk]
        assert trade == results["trade_name"][pk]
        assert custom[f"k{pk % 2}"] == results["custom"][pk]
        assert version == 1 + 20 * len(fields)


def test_a_refused_stale_write_changes_nothing_and_odd_values_survive(owner: Any) -> None:
    """One writer stores odd Unicode; another, from a stale copy, sends a bad e-mail with a
    valid field: refused whole (422), and the first writer's value stays."""
    from comptoir.core.errors import ValidationFailed

    account = factories.account(by=owner, legal_name="Messy SA", owner_id=owner.pk)
    first = Account.objects.get(pk=account.pk)
    second = Account.objects.get(pk=account.pk)
    odd = "Ｓｏｃｉété\u200b Ñandú 🚀 «Œuvre» l’Été"
    account_update(account=first, user=owner, data={"trade_name": odd})
    with pytest.raises(ValidationFailed) as refused:
        account_update(account=second, user=owner,
                       data={"billing_city": "Lille", "email": "jean@@exemple..fr"})
    assert "email" in refused.value.fields
    stored = Account.objects.get(pk=account.pk)
    assert stored.trade_name == odd
    assert stored.billing_city != "Lille"
    assert stored.version == 2
