"""The account page in a real browser: log a call in two clicks, upload and preview files, phone
width."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from comptoir.activities.models import Activity
from comptoir.documents.models import Attachment

from .conftest import PHONE

pytestmark = pytest.mark.django_db(transaction=True)



def _png(size: int = 16) -> bytes:
    """A valid size×size red PNG, built here rather than pasted."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xcc\x22\x22" * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


PNG = _png()
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
SHOTS = os.environ.get("COMPTOIR_SCREENSHOTS", "")


def shot(page: Any, name: str) -> None:
    """Screenshots for the closing note, only when asked (``COMPTOIR_SCREENSHOTS=<dir>``)."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def world(personas: Any) -> Any:
    from comptoir.testing.personas import make_world

    return make_world(personas)


def test_rep_logs_a_call_in_two_clicks_and_sees_it_on_the_timeline(open_as: Any,
                                                                   world: Any) -> None:
    account = world.mine.account
    page = open_as(world.personas.owner, f"/accounts/{account.pk}/")
    expect(page.get_by_role("heading", name=account.legal_name, level=1)).to_be_visible()
    timeline = page.locator("#timeline-list")
    expect(timeline.get_by_role("link", name=world.mine.activity.subject)).to_be_visible()
    url_before = page.url

    page.get_by_role("link", name="Log a call").click()  # click 1
    subject = page.get_by_label("Subject")
    expect(subject).to_be_focused()  # ready to type, no third click
    subject.fill("Called Camille about the renewal")
    subject.press("Enter")  # click 2 (or Save)

    first = timeline.locator("li.timeline-item").first
    expect(first).to_contain_text("Called Camille about the renewal")
    expect(page.locator("#quicklog form")).to_have_count(0)  # the form closed
    expect(page.get_by_role("status").filter(has_text="Call logged.")).to_have_count(1)
    assert page.url == url_before  # no page change
    activity = Activity.objects.get(subject="Called Camille about the renewal")
    assert activity.account_id == account.pk
    assert activity.kind == "call"
    assert activity.done

    # A note the same way; Esc closes an opened form without leaving the page.
    page.get_by_role("link", name="Add a note").click()
    page.get_by_label("Notes").fill("Prefers e-mail after 5 pm")
    page.get_by_role("button", name="Save").click()
    expect(timeline.locator("li.timeline-item").first).to_contain_text("Prefers e-mail")
    page.get_by_role("link", name="Log a call").click()
    page.get_by_label("Subject").press("Escape")
    expect(page.locator("#quicklog form")).to_have_count(0)
    assert page.url == url_before
    shot(page, "account-after-log")


def test_rep_uploads_an_image_and_a_pdf_and_sees_their_previews(open_as: Any, world: Any,
                                                                tmp_path: Path) -> None:
    account = world.mine.account
    image, pdf = tmp_path / "site-photo.png", tmp_path / "signed-offer.pdf"
    image.write_bytes(PNG)
    pdf.write_bytes(PDF)
    page = open_as(world.personas.owner, f"/accounts/{account.pk}/")
    files = page.locator("#attachments")

    files.get_by_label("Add a file").set_input_files(str(image))
    files.get_by_role("button", name="Upload").click()
    expect(page.locator("#attachments").get_by_role("status")).to_contain_text("site-photo.png")
    preview = page.get_by_role("img", name="Preview of site-photo.png")
    expect(preview).to_be_visible()
    page.wait_for_function(
        "document.querySelector('img[alt=\"Preview of site-photo.png\"]').naturalWidth > 0")

    page.locator("#attachments").get_by_label("Add a file").set_input_files(str(pdf))
    page.locator("#attachments").get_by_role("button", name="Upload").click()
    frame = page.locator('iframe[title="Preview of signed-offer.pdf"]')
    expect(frame).to_be_visible()
    src = frame.get_attribute("src")
    assert src
    assert src.endswith("?inline=1")
    status, content_type, disposition = page.evaluate(
        """async (src) => {
             const r = await fetch(src), h = r.headers;
             return [r.status, h.get("content-type"), h.get("content-disposition")];
           }""", src)
    assert status == 200
    assert content_type == "application/pdf"
    assert disposition.startswith("inline")
    expect(page.get_by_role("link", name="signed-offer.pdf")).to_be_visible()
    assert Attachment.objects.filter(account=account).count() == 3

    # A refused type says why, in place, and nothing is stored.
    bad = tmp_path / "setup.exe"
    bad.write_bytes(b"MZ")
    page.locator("#attachments").get_by_label("Add a file").set_input_files(str(bad))
    page.locator("#attachments").get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    assert Attachment.objects.filter(account=account).count() == 3
    shot(page, "account-files")


def test_account_page_fits_a_phone(open_as: Any, world: Any) -> None:
    account = world.mine.account
    page = open_as(world.personas.owner, f"/accounts/{account.pk}/", phone=True)
    expect(page.get_by_role("heading", name=account.legal_name, level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Log a call")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"]
    page.get_by_role("link", name="Log a call").click()
    expect(page.get_by_label("Subject")).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
    shot(page, "account-phone")
