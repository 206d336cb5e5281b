"""Record pages: the account 360°, detail pages, attachments and the quick log (Django client).

Access is checked with the personas: the owner sees their records, the manager (two levels up)
too, the outsider gets a 404 on every page, file and partial of them.
"""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from comptoir.access import policy
from comptoir.activities.models import Activity
from comptoir.core.models import ExternalRef
from comptoir.documents.models import Attachment
from comptoir.integration.models import Connection, SyncRun
from comptoir.sales.models import SalesDocument
from comptoir.testing import factories

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg==")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTMX = {"HTTP_HX_REQUEST": "true"}

KINDS = {
    "account": "account_detail", "contact": "contact_detail", "lead": "lead_detail",
    "opportunity": "opportunity_detail", "activity": "activity_detail", "case": "case_detail",
    "sales_document": "document_detail",
}


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


def url(name: str, *args: Any) -> str:
    return reverse(f"web:{name}", args=args)


# --- Pages ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_record_page_renders_for_its_owner(world: Any, client_for: Any, kind: str) -> None:
    record = world.mine.get(kind)
    response = client_for(world.personas.owner).get(url(KINDS[kind], record.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "History" in html  # the audit trail summary
    assert "Created by" in html  # its first entry


def test_product_page_lists_its_prices(world: Any, client_for: Any) -> None:
    response = client_for(world.personas.owner).get(url("product_detail", world.product.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Public 2025" in html
    assert "€9.90" in html
    assert url("product_edit", world.product.pk) not in html  # reps do not edit the catalogue


def test_account_page_shows_the_360_view(world: Any, client_for: Any) -> None:
    mine = world.mine
    response = client_for(world.personas.owner).get(url("account_detail", mine.account.pk))
    html = response.content.decode()
    for text in (mine.account.legal_name, str(mine.contact), mine.opportunity.name,
                 mine.case.subject, mine.sales_document.number, mine.attachment.name,
                 mine.activity.subject, mine.account.siren, "Olivia Owner"):
        assert text in html, text
    for name, param in (("opportunity_create", "account"), ("contact_create", "account"),
                        ("case_create", "account"), ("quote_create", "account")):
        assert f"{url(name)}?{param}={mine.account.pk}" in html
    assert url("account_edit", mine.account.pk) in html
    assert "Log a call" in html
    assert "Add a note" in html
    assert 'id="timeline-list"' in html
    assert url("attachment_upload", "account", mine.account.pk) in html


def test_account_page_query_count_does_not_grow_with_related_records(
        world: Any, client_for: Any, django_assert_max_num_queries: Any) -> None:
    owner, account = world.personas.owner, world.mine.account
    client = client_for(owner)
    page = url("account_detail", account.pk)

    def add(n: int) -> None:
        contact = factories.contact(by=owner, account=account, last_name=f"Extra{n}")
        factories.opportunity(by=owner, account=account, contact=contact, name=f"Deal {n}")
        factories.activity(by=owner, contact=contact, subject=f"Call {n}")
        factories.case(by=owner, account=account, contact=contact)
        for kind in ("quote", "order", "contract", "invoice", "credit_note"):
            factories.sales_document(by=owner, account=account, kind=kind)
        factories.attachment(by=owner, on=contact, name=f"file{n}.txt")

    add(0)
    client.get(page)  # warm caches (session, content types)
    with CaptureQueriesContext(db_connection) as few:
        assert client.get(page).status_code == 200
    for n in range(1, 12):
        add(n)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(page)
    assert response.status_code == 200
    assert response.content.decode().count('class="timeline-item') == 10  # bounded
    with django_assert_max_num_queries(30):
        client.get(page)


def test_lead_page_offers_conversion_until_converted(world: Any, client_for: Any) -> None:
    lead = world.mine.lead
    client = client_for(world.personas.owner)
    assert url("lead_convert", lead.pk) in client.get(url("lead_detail", lead.pk)).content.decode()
    lead.status = "converted"
    lead.converted_at = timezone.now()
    lead.converted_account_id = world.mine.account.pk
    lead.save()
    html = client.get(url("lead_detail", lead.pk)).content.decode()
    assert url("lead_convert", lead.pk) not in html
    assert url("account_detail", world.mine.account.pk) in html


def test_opportunity_page_links_a_new_quote_and_lists_its_documents(world: Any,
                                                                     client_for: Any) -> None:
    opp = world.mine.opportunity
    html = client_for(world.personas.owner).get(url("opportunity_detail", opp.pk)).content.decode()
    assert f"{url('quote_create')}?opportunity={opp.pk}" in html
    assert world.mine.sales_document.number in html
    assert "€12,000.00" in html


def test_document_page_has_lines_totals_edit_and_pdf(world: Any, client_for: Any) -> None:
    doc = world.mine.sales_document
    html = client_for(world.personas.owner).get(url("document_detail", doc.pk)).content.decode()
    assert "Consulting" in html
    assert "€240.00" in html  # 2 × 100 + 20 % VAT
    assert url("quote_edit", doc.pk) in html
    assert url("document_pdf", doc.pk) in html


def test_related_lists_and_timeline_pages(world: Any, client_for: Any) -> None:
    client = client_for(world.personas.owner)
    account = world.mine.account
    for section in ("contacts", "opportunities", "cases", "documents", "attachments"):
        assert client.get(url("account_related", account.pk, section)).status_code == 200
    assert client.get(url("account_related", account.pk, "nothing")).status_code == 404
    response = client.get(url("account_related", account.pk, "documents") + "?kind=quote")
    assert world.mine.sales_document.number in response.content.decode()
    full = client.get(url("timeline", "account", account.pk))
    assert world.mine.activity.subject in full.content.decode()
    assert "<html" in full.content.decode()
    partial = client.get(url("timeline", "account", account.pk), **HTMX)
    assert "<html" not in partial.content.decode()
    assert world.mine.activity.subject in partial.content.decode()


def test_timeline_load_more_pages_by_cursor(world: Any, client_for: Any) -> None:
    owner, contact = world.personas.owner, world.mine.contact
    for n in range(15):
        factories.activity(by=owner, contact=contact, subject=f"Old call {n:02d}")
    client = client_for(owner)
    first = client.get(url("contact_detail", contact.pk)).content.decode()
    assert "Old call 14" in first
    assert "Old call 04" not in first
    assert "Load more" in first
    oldest_shown = Activity.objects.get(subject="Old call 05").pk
    more = client.get(url("timeline", "contact", contact.pk) + f"?before={oldest_shown}",
                      **HTMX).content.decode()
    assert "Old call 04" in more
    assert "Old call 05" not in more


# --- Access ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(KINDS))
def test_outsider_gets_404_on_every_page_of_the_owners_records(world: Any, client_for: Any,
                                                                kind: str) -> None:
    record = world.mine.get(kind)
    assert client_for(world.personas.outsider).get(
        url(KINDS[kind], record.pk)).status_code == 404


def test_outsider_gets_404_on_files_partials_and_writes(world: Any, client_for: Any) -> None:
    mine = world.mine
    client = client_for(world.personas.outsider)
    paths = [
        url("attachment_download", mine.attachment.pk),
        url("attachment_download", mine.attachment.pk) + "?inline=1",
        url("timeline", "account", mine.account.pk),
        url("log_activity", "account", mine.account.pk),
        url("attachment_upload", "account", mine.account.pk),
        url("account_related", mine.account.pk, "contacts"),
    ]
    for path in paths:
        assert client.get(path).status_code == 404, path
    before = Activity.objects.count()
    assert client.post(url("log_activity", "contact", mine.contact.pk),
                       {"kind": "call", "subject": "Sneaky"}).status_code == 404
    assert Activity.objects.count() == before
    assert client.post(url("attachment_upload", "account", mine.account.pk),
                       {"file": SimpleUploadedFile("x.pdf", PDF)}).status_code == 404


@pytest.mark.parametrize("persona", ["owner", "manager", "teammate", "admin"])
def test_who_sees_the_owners_account_page(world: Any, client_for: Any, persona: str) -> None:
    account = world.mine.account
    response = client_for(world.personas[persona]).get(url("account_detail", account.pk))
    assert response.status_code == 200
    assert account.legal_name in response.content.decode()


@pytest.mark.parametrize("persona", ["owner", "teammate", "manager", "outsider", "admin",
                                     "data_manager", "marketing", "service"])
def test_every_page_follows_the_policy_for_every_persona(world: Any, client_for: Any,
                                                         persona: str) -> None:
    """200 exactly when the policy lets the persona see the record, else 404 (never a 500)."""
    for records in (world.mine, world.theirs):  # the shared world's files are elsewhere
        default_storage.save(records.attachment.file.name, ContentFile(b"notes"))
    user = world.personas[persona]
    client = client_for(user)
    pages = {**KINDS, "attachment": "attachment_download"}
    for records in (world.mine, world.theirs):
        for kind, name in pages.items():
            obj = records.get(kind)
            expected = 200 if policy.can(user, "view", obj) else 404
            assert client.get(url(name, obj.pk)).status_code == expected, (kind, obj.pk)
        for target in ("account", "contact", "opportunity", "case"):
            obj = records.get(target)
            expected = 200 if policy.can(user, "view", obj) else 404
            assert client.get(url("timeline", target, obj.pk)).status_code == expected


def test_an_outsiders_files_do_not_show_on_the_owners_view_of_its_own_records(
        world: Any, client_for: Any) -> None:
    html = client_for(world.personas.owner).get(
        url("account_detail", world.mine.account.pk)).content.decode()
    assert world.theirs.attachment.name not in html
    assert world.theirs.contact.last_name not in html


def test_marketing_reads_the_account_but_not_its_deals(world: Any, client_for: Any) -> None:
    html = client_for(world.personas.marketing).get(
        url("account_detail", world.mine.account.pk)).content.decode()
    assert world.mine.account.legal_name in html
    assert world.mine.opportunity.name not in html  # deals follow the scope, not the role
    assert url("account_edit", world.mine.account.pk) not in html


# --- Attachments ----------------------------------------------------------------------------

def upload(client: Any, target: str, pk: int, name: str, content: bytes, **extra: Any) -> Any:
    return client.post(url("attachment_upload", target, pk),
                       {"file": SimpleUploadedFile(name, content)}, **extra)


def test_upload_without_javascript_redirects_to_the_record(world: Any, client_for: Any) -> None:
    client = client_for(world.personas.owner)
    response = upload(client, "account", world.mine.account.pk, "offer.pdf", PDF)
    assert response.status_code == 302
    assert response["Location"].startswith(url("account_detail", world.mine.account.pk))
    attachment = Attachment.objects.get(name="offer.pdf")
    assert attachment.account_id == world.mine.account.pk
    assert "offer.pdf" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(("target", "kind"), [("contact", "contact"),
                                              ("opportunity", "opportunity"), ("case", "case"),
                                              ("salesdocument", "sales_document")])
def test_upload_with_htmx_returns_the_files_section(world: Any, client_for: Any, target: str,
                                                    kind: str) -> None:
    record = world.mine.get(kind)
    response = upload(client_for(world.personas.owner), target, record.pk, "photo.png", PNG,
                      **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<section")
    assert 'id="attachments"' in html
    attachment = Attachment.objects.get(name="photo.png")
    assert getattr(attachment, f"{kind}_id") == record.pk
    assert f'<img src="{url("attachment_download", attachment.pk)}?inline=1"' in html


def test_refused_type_is_a_readable_error_not_a_500(world: Any, client_for: Any) -> None:
    client = client_for(world.personas.owner)
    account = world.mine.account
    response = upload(client, "account", account.pk, "setup.exe", b"MZ\x90\x00", **HTMX)
    assert response.status_code == 200  # htmx swaps it in place
    html = response.content.decode()
    assert "are not accepted" in html
    assert 'aria-invalid="true"' in html
    plain = upload(client, "account", account.pk, "setup.exe", b"MZ")
    assert plain.status_code == 422
    assert "are not accepted" in plain.content.decode()
    empty = upload(client, "account", account.pk, "empty.pdf", b"", **HTMX)
    assert "empty" in empty.content.decode()
    missing = client.post(url("attachment_upload", "account", account.pk), {}, **HTMX)
    assert "Choose a file" in missing.content.decode()
    assert not Attachment.objects.filter(name__in=["setup.exe", "empty.pdf"]).exists()


def test_too_large_file_is_refused_with_the_limit(world: Any, client_for: Any,
                                                  settings: Any) -> None:
    settings.COMPTOIR_ATTACHMENT_MAX_BYTES = 10
    response = upload(client_for(world.personas.owner), "account", world.mine.account.pk,
                      "big.pdf", PDF, **HTMX)
    assert "larger than the limit" in response.content.decode()


def test_unknown_upload_target_is_404(world: Any, client_for: Any) -> None:
    response = upload(client_for(world.personas.owner), "lead", world.mine.lead.pk, "a.pdf", PDF)
    assert response.status_code == 404


@pytest.mark.parametrize(("name", "content", "content_type"), [
    ("photo.png", PNG, "image/png"), ("offer.pdf", PDF, "application/pdf")])
def test_images_and_pdfs_preview_inline(world: Any, client_for: Any, name: str,
                                        content: bytes, content_type: str) -> None:
    owner = world.personas.owner
    attachment = factories.attachment(by=owner, on=world.mine.account, name=name,
                                      content=content)
    client = client_for(owner)
    html = client.get(url("account_detail", world.mine.account.pk)).content.decode()
    src = f'{url("attachment_download", attachment.pk)}?inline=1'
    assert (f'<img src="{src}"' if content_type.startswith("image") else
            f'<iframe class="attachment-preview pdf" src="{src}"') in html
    response = client.get(src)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert b"".join(response.streaming_content) == content
    download = client.get(url("attachment_download", attachment.pk))
    assert download["Content-Disposition"].startswith("attachment")


def test_svg_is_never_served_inline(world: Any, client_for: Any) -> None:
    owner = world.personas.owner
    attachment = factories.attachment(by=owner, on=world.mine.account, name="logo.svg",
                                      content=SVG)
    client = client_for(owner)
    response = client.get(url("attachment_download", attachment.pk) + "?inline=1")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    html = client.get(url("account_detail", world.mine.account.pk)).content.decode()
    assert "logo.svg" in html
    assert f'src="{url("attachment_download", attachment.pk)}' not in html  # no preview


# --- Quick log ------------------------------------------------------------------------------

def test_quick_log_form_opens_in_place_and_as_a_page(world: Any, client_for: Any) -> None:
    client = client_for(world.personas.owner)
    path = url("log_activity", "account", world.mine.account.pk)
    fragment = client.get(path + "?kind=call", **HTMX).content.decode()
    assert "<html" not in fragment
    assert "autofocus" in fragment
    assert 'hx-post="' in fragment
    page = client.get(path + "?kind=note")
    assert page.status_code == 200
    assert "<html" in page.content.decode()
    assert "data-cancel-url" in page.content.decode()


@pytest.mark.parametrize(("target", "kind"), [("account", "account"), ("contact", "contact"),
                                              ("opportunity", "opportunity"), ("case", "case")])
def test_quick_log_creates_the_activity_and_returns_its_entry(world: Any, client_for: Any,
                                                              target: str, kind: str) -> None:
    record = world.mine.get(kind)
    response = client_for(world.personas.owner).post(
        url("log_activity", target, record.pk),
        {"kind": "call", "subject": "Called about the renewal", "body": "Wants a discount",
         "done": "on"}, **HTMX)
    assert response.status_code == 200
    activity = Activity.objects.get(subject="Called about the renewal")
    assert activity.kind == "call"
    assert activity.done
    assert activity.owner_id == world.personas.owner.pk
    assert activity.account_id == world.mine.account.pk  # derived by the service
    if target != "account":
        assert getattr(activity, f"{kind}_id") == record.pk
    html = response.content.decode()
    assert html.lstrip().startswith(
        f'<li class="timeline-item kind-call" id="activity-{activity.pk}"')
    assert 'hx-swap-oob="innerHTML"' in html
    assert "Call logged." in html


def test_quick_note_takes_its_subject_from_the_text(world: Any, client_for: Any) -> None:
    client = client_for(world.personas.owner)
    response = client.post(url("log_activity", "contact", world.mine.contact.pk),
                           {"kind": "note", "body": "Prefers e-mail\nafter 5 pm"})
    assert response.status_code == 302
    note = Activity.objects.get(kind="note", contact=world.mine.contact)
    assert note.subject == "Prefers e-mail"
    assert note.done


def test_quick_log_errors_stay_in_the_form(world: Any, client_for: Any) -> None:
    client = client_for(world.personas.owner)
    path = url("log_activity", "account", world.mine.account.pk)
    response = client.post(path, {"kind": "call", "subject": "", "body": ""}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#quicklog"
    assert "Write a subject or a note." in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    plain = client.post(path, {"kind": "call", "subject": "x" * 201, "body": "kept"})
    assert plain.status_code == 422
    assert "kept" in plain.content.decode()  # nothing lost on error


# --- Commercial history and ERP -------------------------------------------------------------

def test_overdue_invoices_are_flagged_with_open_amounts(world: Any, client_for: Any) -> None:
    owner, account = world.personas.owner, world.mine.account
    late = factories.sales_document(by=owner, account=account, kind="invoice", status="posted",
                                    due_date=timezone.localdate() - dt.timedelta(days=10))
    paid = factories.sales_document(by=owner, account=account, kind="invoice", status="paid",
                                    due_date=timezone.localdate() - dt.timedelta(days=40),
                                    amount_due=Decimal("0"))
    assert late.amount_due == Decimal("240.00")
    client = client_for(owner)
    html = client.get(url("account_detail", account.pk)).content.decode()
    assert "Invoices" in html
    assert late.number in html
    assert paid.number in html
    assert html.count('<span class="badge badge-danger">Overdue</span>') >= 2  # row + summary
    assert "Open amount due" in html
    assert "€240.00" in html
    detail = client.get(url("document_detail", late.pk)).content.decode()
    assert "Overdue" in detail
    paid_page = client.get(url("document_detail", paid.pk)).content.decode()
    assert "badge-danger\">Overdue" not in paid_page
    SalesDocument.objects.filter(pk=late.pk).update(amount_due=0)
    html = client.get(url("account_detail", account.pk)).content.decode()
    assert '<span class="badge badge-danger">Overdue</span>' not in html


MAPPING = """
system = "erp"

[streams.customers]
target = "account"
key = "id"
[streams.customers.fields]
legal_name = "name"
siren = "siren"
"""


def test_erp_owned_fields_carry_the_mark_and_the_last_sync(world: Any, client_for: Any) -> None:
    account = world.mine.account
    client = client_for(world.personas.owner)
    page = url("account_detail", account.pk)
    assert "from ERP" not in client.get(page).content.decode()
    connection = Connection.objects.create(name="erp-prod", label="ERP production",
                                           connector="files", mapping=MAPPING,
                                           owned_fields={"account": ["siren", "credit_limit"]})
    SyncRun.objects.create(connection=connection, status="succeeded", read=42, created=3,
                           started_at=timezone.now(), finished_at=timezone.now())
    # An account the ERP never sent: its fields stay Comptoir's.
    assert "from ERP" not in client.get(page).content.decode()
    ExternalRef.objects.create(system="erp", object_type="account", external_id="C-0042",
                               object_id=account.pk)
    html = client.get(page).content.decode()
    assert "from ERP · erp" in html
    assert html.count('class="erp-mark"') == 3  # SIREN in the header, SIREN and limit in facts
    assert "C-0042" in html
    assert "42 read, 3 created" in html
    assert "Succeeded" in html
    ExternalRef.objects.filter(external_id="C-0042").update(deleted_at=timezone.now())
    html = client.get(page).content.decode()
    assert "deleted there" in html
    assert "from ERP" not in html  # a tombstone no longer masters anything
