"""No user sees in the web application what the policy hides: pages, edits, files, exports, search.

The owner's records of every kind are opened by URL by each persona; the outcome must match
``policy.restrict`` exactly (a hidden record is a 404, never a 403 that confirms it exists).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from comptoir.access import policy

pytestmark = pytest.mark.django_db

DETAIL = {
    "account": "account_detail", "contact": "contact_detail", "lead": "lead_detail",
    "opportunity": "opportunity_detail", "activity": "activity_detail", "case": "case_detail",
    "sales_document": "document_detail", "attachment": "attachment_download",
}
EDIT = {
    "account": "account_edit", "contact": "contact_edit", "lead": "lead_edit",
    "opportunity": "opportunity_edit", "activity": "activity_edit", "case": "case_edit",
    "sales_document": "quote_edit",
}
PERSONAS = ("owner", "teammate", "manager", "outsider", "admin", "data_manager", "marketing",
            "service")


def _visible(user: Any, obj: Any, action: str = "view") -> bool:
    return policy.can(user, action, obj)  # type: ignore[arg-type]


@pytest.mark.parametrize("persona", PERSONAS)
def test_record_pages_follow_the_policy(persona: str, world: Any, client_for: Any) -> None:
    user = world.personas[persona]
    client = client_for(user)
    for kind, url_name in DETAIL.items():
        for records in (world.mine, world.theirs):
            obj = records.get(kind)
            status = client.get(reverse(f"web:{url_name}", args=[obj.pk])).status_code
            expected = 200 if _visible(user, obj) else 404
            assert status == expected, (persona, kind, obj.pk, status)


@pytest.mark.parametrize("persona", ["outsider", "teammate", "marketing", "owner"])
def test_edit_pages_and_pdf_follow_the_policy(persona: str, world: Any,
                                              client_for: Any) -> None:
    user = world.personas[persona]
    client = client_for(user)
    for kind, url_name in EDIT.items():
        obj = world.mine.get(kind)
        status = client.get(reverse(f"web:{url_name}", args=[obj.pk])).status_code
        if not _visible(user, obj):
            assert status == 404, (persona, kind, status)
        elif not _visible(user, obj, "change"):
            assert status in (403, 404), (persona, kind, status)
        else:
            assert status == 200, (persona, kind, status)
    pdf = client.get(reverse("web:document_pdf", args=[world.mine.sales_document.pk]))
    assert pdf.status_code == (200 if _visible(user, world.mine.sales_document) else 404)


def test_posting_to_a_hidden_record_changes_nothing(world: Any, client_for: Any) -> None:
    account = world.mine.account
    client = client_for(world.personas.outsider)
    response = client.post(reverse("web:account_edit", args=[account.pk]),
                           {"legal_name": "Hijacked"})
    assert response.status_code == 404
    account.refresh_from_db()
    assert account.legal_name != "Hijacked"
    response = client.post(reverse("web:log_activity", args=["account", account.pk]),
                           {"kind": "note", "subject": "peek"})
    assert response.status_code == 404
    assert not account.activities.filter(subject="peek").exists()


@pytest.mark.parametrize("key", ["account", "contact", "opportunity", "activity", "case",
                                 "document", "lead"])
def test_exports_hold_nothing_hidden(key: str, world: Any, client_for: Any) -> None:
    names = {
        "account": world.mine.account.legal_name, "contact": world.mine.contact.last_name,
        "opportunity": world.mine.opportunity.name, "activity": world.mine.activity.subject,
        "case": world.mine.case.subject, "document": world.mine.sales_document.number,
        "lead": world.mine.lead.last_name,
    }
    cols = {"contact": "&cols=name", "case": "&cols=subject"}.get(key, "")
    for persona in ("outsider", "owner", "manager"):
        user = world.personas[persona]
        body = b"".join(client_for(user).get(
            f"/export/{key}/?format=csv{cols}").streaming_content).decode("utf-8-sig")
        model_obj = world.mine.get({"document": "sales_document"}.get(key, key))
        assert (names[key] in body) == _visible(user, model_obj), (key, persona)


def test_search_never_shows_hidden_records(world: Any, client_for: Any) -> None:
    name = world.mine.account.legal_name  # "Olivia Industries"
    typo = "Olivai Industires"
    for persona in PERSONAS:
        user = world.personas[persona]
        client = client_for(user)
        for q in (name, typo, "Olivia"):
            html = client.get("/search/", {"q": q}).content.decode()
            url = reverse("web:account_detail", args=[world.mine.account.pk])
            assert (url in html) == _visible(user, world.mine.account), (persona, q)
