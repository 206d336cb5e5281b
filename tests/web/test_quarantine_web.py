"""Correcting a quarantined record in the page and an import's refused rows (issue 15): the
form, the replay, a still-refused value (422 with its reason next to the field), who sees
what (404 for another rep), and the whole path in a real browser."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from comptoir.integration import imports
from comptoir.integration.import_models import ImportJob
from comptoir.integration.models import Connection, QuarantinedRecord, SyncRun
from comptoir.integration.tasks import execute_run

LEADS = ("Société;Nom;Prénom;E-mail\r\n"
         "Atelier Bon;Martin;Lou;lou@atelier.example\r\n"
         "Atelier Faux;Durand;Max;max@@faux\r\n").encode()


def imported(user: Any) -> ImportJob:
    """A lead import by ``user`` with one refused row (a bad e-mail), run as the worker."""
    job = imports.import_create(user=user, upload=SimpleUploadedFile("leads.csv", LEADS),
                                object_type="lead")
    dry = imports.import_dry_run_start(job, user=user)
    imports.execute_import_dry_run.call(dry.pk)
    job.refresh_from_db()
    execute_run.call(imports.import_run_start(job, user=user).pk)
    job.refresh_from_db()
    assert job.run is not None
    assert job.run.status == SyncRun.Status.SUCCEEDED
    return job


def refused(job: ImportJob) -> QuarantinedRecord:
    return QuarantinedRecord.objects.get(connection=job.connection)


def form_data(page: str, **values: str) -> dict[str, str]:
    """The correction form as the page renders it, with some values changed by name."""
    import re

    data: dict[str, str] = {}
    for index, name in re.findall(r'name="k-(\d+)" value="([^"]*)"', page):
        data[f"k-{index}"] = name
        value = re.search(rf'name="v-{index}" value="([^"]*)"', page)
        data[f"v-{index}"] = values.get(name, value.group(1) if value else "")
    return data


@pytest.mark.django_db
def test_correct_page_replays_a_fixed_row(client_for: Any, owner: Any) -> None:
    from comptoir.crm.models import Lead

    job = imported(owner)
    record = refused(job)
    client = client_for(owner)
    url = reverse("web:quarantine_correct", args=[record.pk])
    answer = client.get(url)
    assert answer.status_code == 200
    page = answer.content.decode()
    assert 'id="quarantine-reason"' in page
    assert record.reason in page
    assert record.position.endswith(" 3")
    assert f"<dd>{record.position}</dd>" in page
    assert f"#{job.run_id}" in page  # the run
    # the faulty field first, focused, invalid, its error next to it
    first = page.split('id="quarantine-form"')[1]
    assert first.index('for="q-0">E-mail') < first.index(">Nom<")
    assert 'id="q-0" name="v-0" value="max@@faux" aria-invalid="true"' in page
    assert "autofocus" in first.split('id="q-1"')[0]
    assert 'id="q-0-error"' in page
    assert "Save and replay" in page

    back = reverse("web:import_refused_rows", args=[job.pk])
    answer = client.post(url + "?next=" + quote(back),
                         form_data(page, **{"E-mail": "max@atelier-faux.example"}))
    assert answer.status_code == 302
    assert answer["Location"] == back
    record.refresh_from_db()
    assert record.status == QuarantinedRecord.Status.REPLAYED
    assert Lead.objects.filter(email="max@atelier-faux.example", owner=owner).exists()
    assert "Corrected and replayed" in client.get(back).content.decode()


@pytest.mark.django_db
def test_still_refused_is_a_422_with_the_reason_by_the_field(client_for: Any,
                                                             owner: Any) -> None:
    job = imported(owner)
    record = refused(job)
    client = client_for(owner)
    url = reverse("web:quarantine_correct", args=[record.pk])
    page = client.get(url).content.decode()
    answer = client.post(url, form_data(page, **{"E-mail": "encore@@faux"}))
    assert answer.status_code == 422
    html = answer.content.decode()
    record.refresh_from_db()
    assert record.status == QuarantinedRecord.Status.OPEN
    assert 'id="quarantine-still"' in html
    assert 'value="encore@@faux" aria-invalid="true"' in html
    error = html.split('id="q-0-error"')[1].split("</div>")[0]
    assert record.reason.split(":")[0] in error  # the new reason, by the e-mail field
    # an unknown field and a too long value: 422 with the messages, nothing replayed
    answer = client.post(url, {"k-0": "Salaire", "v-0": "1", "k-1": "Nom", "v-1": "x" * 5000})
    assert answer.status_code == 422
    html = answer.content.decode()
    assert "This record has no such field." in html
    nom = next(part for part in html.split('<div class="field') if '">Nom' in part)
    assert "has-error" in nom
    assert "At most" in nom
    assert 'aria-invalid="true"' in nom
    # without a safe next, a fixed row goes back to its import's page
    answer = client.post(url + "?next=https://evil.example/",
                         form_data(page, **{"E-mail": "max@example.com"}))
    assert answer.status_code == 302
    assert answer["Location"] == reverse("web:import_detail", args=[job.pk])


@pytest.mark.django_db
def test_refused_rows_page(client_for: Any, owner: Any) -> None:
    job = imported(owner)
    record = refused(job)
    client = client_for(owner)
    url = reverse("web:import_refused_rows", args=[job.pk])
    page = client.get(url).content.decode()
    assert f'id="refused-{record.pk}"' in page
    row = page.split(f'id="refused-{record.pk}"')[1].split("</tr>")[0]
    assert '<td data-label="Line" class="num">3</td>' in row
    assert "max@@faux" in row
    assert "Atelier Faux" in row
    assert record.reason in row
    correct = reverse("web:quarantine_correct", args=[record.pk])
    assert f'href="{correct}?next=%2Fimports%2F{job.pk}%2Frefused%2F"' in row
    assert reverse("web:quarantine_retry", args=[record.pk]) in row
    assert reverse("web:import_refused", args=[job.pk]) in page  # the CSV
    # Replay as it is: still refused, said, and back here
    answer = client.post(reverse("web:quarantine_retry", args=[record.pk]), {"next": url})
    assert answer.status_code == 302
    assert answer["Location"] == url
    assert "Still refused" in client.get(url).content.decode()
    record.refresh_from_db()
    assert record.status == QuarantinedRecord.Status.OPEN
    # once corrected, it leaves the list (shown with "all")
    QuarantinedRecord.objects.filter(pk=record.pk).update(
        status=QuarantinedRecord.Status.REPLAYED)
    page = client.get(url).content.decode()
    assert f'id="refused-{record.pk}"' not in page
    assert "No refused row left to correct." in page
    assert f'id="refused-{record.pk}"' in client.get(url + "?show=all").content.decode()
    # a replayed record has no form
    page = client.get(correct).content.decode()
    assert 'id="quarantine-form"' not in page
    assert 'id="quarantine-refusal"' in page


@pytest.mark.django_db
def test_another_rep_gets_404(client_for: Any, owner: Any, teammate: Any, outsider: Any,
                              data_manager: Any) -> None:
    job = imported(owner)
    record = refused(job)
    sync = Connection.objects.create(name="erp", connector="files", mapping="")
    other = QuarantinedRecord.objects.create(connection=sync, stream="accounts",
                                             external_id="A1", reason="bad", payload={"x": 1})
    urls = [reverse("web:quarantine_correct", args=[record.pk]),
            reverse("web:import_refused_rows", args=[job.pk])]
    for user in (teammate, outsider):
        client = client_for(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
        assert client.post(urls[0], {"k-0": "E-mail", "v-0": "a@example.com"}
                           ).status_code == 404
        assert client.post(reverse("web:quarantine_retry", args=[record.pk])
                           ).status_code == 404
    record.refresh_from_db()
    assert record.status == QuarantinedRecord.Status.OPEN
    assert record.corrected_by_id is None
    # the rep does not see a sync's quarantine; the data manager sees both
    owner_client = client_for(owner)
    assert owner_client.get(reverse("web:quarantine_correct", args=[other.pk])
                            ).status_code == 404
    dm = client_for(data_manager)
    for url in [*urls, reverse("web:quarantine_correct", args=[other.pk])]:
        assert dm.get(url).status_code == 200, url
    # the sync page offers Correct beside Replay
    sync_page = dm.get(reverse("web:sync")).content.decode()
    assert (reverse("web:quarantine_correct", args=[other.pk]) + "?next=/sync/%23quarantine"
            in sync_page)
    assert client_for(owner).get(reverse("web:quarantine_correct", args=[999999])
                                 ).status_code == 404


@pytest.mark.django_db
def test_pages_in_french(client_for: Any, owner: Any) -> None:
    job = imported(owner)
    record = refused(job)
    client = client_for(owner, language="fr")
    for url in (reverse("web:quarantine_correct", args=[record.pk]),
                reverse("web:import_refused_rows", args=[job.pk])):
        answer = client.get(url)
        assert answer.status_code == 200
        assert 'lang="fr"' in answer.content.decode()


# --- In a real browser ------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_browser_data_manager_corrects_a_refused_row(open_as: Any, personas: Any) -> None:
    from playwright.sync_api import expect

    from comptoir.crm.models import Lead

    job = imported(personas.owner)
    record = refused(job)
    page = open_as(personas.data_manager, reverse("web:import_refused_rows", args=[job.pk]))
    expect(page.get_by_role("heading", name="Refused rows")).to_be_visible()
    expect(page.locator("#refused-rows tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Correct line 3").click()
    email = page.get_by_label("E-mail")
    expect(email).to_be_focused()
    expect(email).to_have_attribute("aria-invalid", "true")
    email.fill("max@atelier-faux.example")
    page.get_by_role("button", name="Save and replay").click()
    expect(page.get_by_text("Corrected and replayed")).to_be_visible()
    expect(page.get_by_role("heading", name="Refused rows")).to_be_visible()
    expect(page.locator("#refused-rows")).to_have_count(0)
    expect(page.get_by_text("No refused row left to correct.")).to_be_visible()
    record.refresh_from_db()
    assert record.status == QuarantinedRecord.Status.REPLAYED
    assert Lead.objects.filter(email="max@atelier-faux.example").exists()
