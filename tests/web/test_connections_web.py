"""Connections set up from the web: a files connection created on a folder with a CSV, its
test and preview, a wrong path said in words, secrets never echoed, and who may see it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from comptoir.crm.models import Account
from comptoir.integration.models import Connection, SyncRun

HTMX = {"HTTP_HX_REQUEST": "true"}

MAPPING = """\
system = "old_erp"

[streams.customers]
stream = "rows"
target = "account"
key = "Code client"

[streams.customers.fields]
legal_name = "Raison sociale"
billing_city = "Ville"
siren = { source = "SIREN", transforms = ["digits"] }
"""

CSV = ("Code client;Raison sociale;Ville;SIREN\n"
       "C001;Boulangerie Martin;Lyon;732 829 320\n"
       "C002;Garage du Centre;Villeurbanne;\n")


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "clients.csv").write_text(CSV, encoding="utf-8")
    return folder


def _files_form(path: Path | str, **extra: Any) -> dict[str, Any]:
    return {"connector": "files", "name": "old-erp", "label": "Old ERP", "direction": "inbound",
            "p_path": str(path), "p_key_field": "Code client", "mapping_name": "",
            "mapping": MAPPING, "schedule_minutes": "", "batch_size": "5000",
            "enabled": "on", "owned_fields": "", **extra}


def test_a_data_manager_creates_tests_and_previews_a_files_connection(
        client_for: Any, data_manager: Any, inbox: Path, caplog: Any) -> None:
    client = client_for(data_manager)
    choose = client.get("/sync/connections/new/").content.decode()
    assert "Files (CSV, XLSX, JSON)" in choose
    assert "Tryton ERP" in choose
    page = client.get("/sync/connections/new/?connector=files").content.decode()
    assert "File or inbox folder" in page
    assert "Key column" in page
    with caplog.at_level(logging.INFO, logger="comptoir.admin"):
        response = client.post("/sync/connections/new/", _files_form(inbox))
    connection = Connection.objects.get(name="old-erp")
    assert response.status_code == 302
    assert response["Location"] == f"/sync/connections/{connection.pk}/"
    assert connection.parameters == {"path": str(inbox), "key_field": "Code client",
                                     "complete": False}
    assert connection.enabled
    assert connection.schedule_minutes is None
    assert "data_manager created connection old-erp" in caplog.text  # the write is logged

    detail = client.get(f"/sync/connections/{connection.pk}/").content.decode()
    assert "Test connection" in detail
    assert "Preview" in detail
    assert "Run now" in detail

    check = client.post(f"/sync/connections/{connection.pk}/test/", **HTMX).content.decode()
    assert 'data-ok="true"' in check
    assert "first record read (clients.csv, line 2), 4 fields" in check
    assert "1 file to read: clients.csv." in check

    preview = client.get(f"/sync/connections/{connection.pk}/preview/", **HTMX)
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "<html" not in html
    assert 'data-key="C001"' in html
    assert 'data-key="C002"' in html
    assert "Boulangerie Martin" in html
    assert "732829320" in html
    assert "Raison sociale" in html  # the source field beside the CRM field
    assert not Account.objects.exists()  # a preview writes nothing
    assert (inbox / "clients.csv").exists()  # nor archives the file

    # the full page version of the preview works without htmx too
    assert "Boulangerie Martin" in client.get(
        f"/sync/connections/{connection.pk}/preview/").content.decode()


def test_a_wrong_path_is_said_in_words(client_for: Any, data_manager: Any,
                                       tmp_path: Path) -> None:
    client = client_for(data_manager)
    missing = tmp_path / "nowhere"
    client.post("/sync/connections/new/", _files_form(missing))
    connection = Connection.objects.get(name="old-erp")
    response = client.post(f"/sync/connections/{connection.pk}/test/", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-ok="false"' in html
    assert 'data-problem="path"' in html
    assert f"The file or folder {missing} does not exist on the server running Comptoir." in html
    assert "Traceback" not in html
    # the preview says the same, not a 500
    preview = client.get(f"/sync/connections/{connection.pk}/preview/", **HTMX).content.decode()
    assert "does not exist on the server" in preview
    # in French too
    fr = client_for(data_manager, "fr").post(f"/sync/connections/{connection.pk}/test/")
    assert fr.status_code == 200


def test_an_invalid_mapping_points_at_its_line(client_for: Any, data_manager: Any,
                                               inbox: Path) -> None:
    client = client_for(data_manager)
    bad = MAPPING.replace("billing_city = ", "billing_town = ")
    response = client.post("/sync/connections/new/", _files_form(inbox, mapping=bad))
    assert response.status_code == 200
    html = response.content.decode()
    line = bad.splitlines().index('billing_town = "Ville"') + 1
    assert (f"Line {line}: streams.customers.fields.billing_town: unknown field "
            "&#x27;billing_town&#x27; for account (did you mean &#x27;billing_city&#x27;?)"
            in html)
    assert 'aria-invalid="true"' in html
    assert not Connection.objects.exists()
    syntax = client.post("/sync/connections/new/",
                         _files_form(inbox, mapping=MAPPING + "\nlegal_name = = 1\n"))
    assert "Line 13: connection old-erp: TOML syntax error: Invalid value (at line 13" in (
        syntax.content.decode())


def test_secrets_are_write_only(client_for: Any, admin: Any, inbox: Path) -> None:
    client = client_for(admin)
    form = {"connector": "tryton", "name": "erp", "label": "", "direction": "inbound",
            "p_url": "http://127.0.0.1:9", "p_database": "prod", "p_username": "crm",
            "s_password": "Sécret-Tr0p-Bien-Gardé", "mapping_name": "tryton",
            "batch_size": "5000", "enabled": "on"}
    assert client.post("/sync/connections/new/", form).status_code == 302
    connection = Connection.objects.get(name="erp")
    assert connection.secrets == {"password": "Sécret-Tr0p-Bien-Gardé"}
    assert "password" not in connection.parameters
    for url in (f"/sync/connections/{connection.pk}/", f"/sync/connections/{connection.pk}/edit/",
                "/sync/connections/", "/sync/"):
        html = client.get(url).content.decode()
        assert "Sécret" not in html, url
    edit = client.get(f"/sync/connections/{connection.pk}/edit/").content.decode()
    assert "•••• set" in edit
    assert "Change the password" in edit
    # saving the form with the password left empty keeps it
    form.pop("name")
    form.update(s_password="", p_username="crm2", schedule_minutes="15")
    assert client.post(f"/sync/connections/{connection.pk}/edit/", form).status_code == 302
    connection.refresh_from_db()
    assert connection.secrets == {"password": "Sécret-Tr0p-Bien-Gardé"}
    assert connection.parameters["username"] == "crm2"
    assert connection.schedule_minutes == 15
    # an unreachable host is said so, the password nowhere
    check = client.post(f"/sync/connections/{connection.pk}/test/", **HTMX).content.decode()
    assert 'data-problem="unreachable"' in check
    assert "Tryton cannot be reached at http://127.0.0.1:9" in check
    assert "Sécret" not in check


def test_disable_and_enable(client_for: Any, data_manager: Any, inbox: Path) -> None:
    client = client_for(data_manager)
    client.post("/sync/connections/new/", _files_form(inbox))
    connection = Connection.objects.get()
    client.post(f"/sync/connections/{connection.pk}/toggle/", {"enabled": "0"})
    connection.refresh_from_db()
    assert not connection.enabled
    page = client.get(f"/sync/connections/{connection.pk}/").content.decode()
    assert "Enable" in page
    assert "Run now" not in page
    client.post(f"/sync/connections/{connection.pk}/toggle/", {"enabled": "1"})
    connection.refresh_from_db()
    assert connection.enabled


def test_the_sync_page_links_to_the_connections(client_for: Any, data_manager: Any,
                                                inbox: Path) -> None:
    client = client_for(data_manager)
    client.post("/sync/connections/new/", _files_form(inbox))
    connection = Connection.objects.get()
    html = client.get("/sync/").content.decode()
    assert "/sync/connections/new/" in html
    assert f'href="/sync/connections/{connection.pk}/"' in html


def test_dry_run_from_the_connection_page(client_for: Any, data_manager: Any, inbox: Path,
                                          django_capture_on_commit_callbacks: Any) -> None:
    from comptoir.integration.tasks import execute_run

    client = client_for(data_manager)
    client.post("/sync/connections/new/", _files_form(inbox))
    connection = Connection.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/sync/connections/{connection.pk}/dry-run/")
    run = SyncRun.objects.get()
    assert run.dry_run
    assert response["Location"] == f"/sync/runs/{run.pk}/"
    execute_run.call(run.pk)
    run.refresh_from_db()
    assert (run.status, run.created) == ("succeeded", 2)
    assert not Account.objects.exists()


@pytest.mark.parametrize("who", ["owner", "manager", "marketing", "service"])
def test_only_data_managers_and_admins_see_connections(client_for: Any, personas: Any,
                                                       inbox: Path, who: str) -> None:
    connection = Connection.objects.create(name="erp", connector="files", mapping=MAPPING,
                                           parameters={"path": str(inbox)},
                                           secrets={"password": "nope"})
    client = client_for(personas[who])
    for url in ("/sync/connections/", "/sync/connections/new/",
                "/sync/connections/new/?connector=files",
                f"/sync/connections/{connection.pk}/",
                f"/sync/connections/{connection.pk}/edit/",
                f"/sync/connections/{connection.pk}/preview/"):
        assert client.get(url).status_code == 404, url
    for url in (f"/sync/connections/{connection.pk}/test/",
                f"/sync/connections/{connection.pk}/toggle/",
                f"/sync/connections/{connection.pk}/dry-run/",
                f"/sync/connections/{connection.pk}/edit/", "/sync/connections/new/"):
        assert client.post(url, _files_form(inbox)).status_code == 404, url
    assert Connection.objects.count() == 1
    assert Connection.objects.get().enabled
    assert not SyncRun.objects.exists()


def test_the_mapping_being_edited_is_previewed_live(client_for: Any, data_manager: Any,
                                                    outsider: Any, inbox: Path) -> None:
    client = client_for(data_manager)
    client.post("/sync/connections/new/", _files_form(inbox))
    connection = Connection.objects.get(name="old-erp")
    edit = client.get(f"/sync/connections/{connection.pk}/edit/").content.decode()
    assert 'id="mapping-try"' in edit
    url = f"/sync/connections/{connection.pk}/preview/draft/"
    # a changed line is previewed before it is saved: the city now fills the trade name
    draft = MAPPING.replace('legal_name = "Raison sociale"',
                            'legal_name = "Raison sociale"\ntrade_name = "Ville"')
    assert draft != MAPPING
    html = client.post(url, {"mapping_name": "", "mapping": draft}, **HTMX).content.decode()
    assert "Trade name" in html
    assert "Boulangerie Martin" in html
    connection.refresh_from_db()
    assert connection.mapping == MAPPING  # nothing saved
    assert not Account.objects.exists()  # nothing written
    # a broken mapping is said with its line, not a 500
    broken = draft.replace('trade_name = "Ville"', 'trade_nam = "Ville"')
    answer = client.post(url, {"mapping_name": "", "mapping": broken}, **HTMX)
    assert answer.status_code == 200
    assert "trade_nam" in answer.content.decode()
    html = answer.content.decode()
    assert "Line 10: streams.customers.fields.trade_nam" in html  # said with its line
    # only those who manage connections
    assert client_for(outsider).post(url, {"mapping": draft}).status_code in (403, 404)
