"""Record page layout in a real browser: on a phone an account's key facts and actions come
before its timeline, and numbers (phone, SIRET, VAT) never break across lines."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from comptoir.testing import factories

SIREN = "528960354"
SIRET = "52896035400017"
VAT = "FR68528960354"

# How many lines the text node holding ``text`` takes inside ``el``.
LINES = """([el, text]) => {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const at = node.data.indexOf(text);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + text.length);
    const tops = new Set(Array.from(range.getClientRects())
      .filter((r) => r.width > 0).map((r) => Math.round(r.top)));
    return tops.size;
  }
  return -1;
}"""


def _busy_account(owner: Any) -> Any:
    account = factories.account(by=owner, legal_name="Établissements Longuenesse-Villard",
                                phone="+33134380162", siren=SIREN, siret=SIRET,
                                vat_number=VAT, billing_street="12 rue des Tanneurs",
                                billing_postcode="69002", billing_city="Lyon")
    for n in range(12):  # a long timeline
        factories.activity(by=owner, account=account, done=True, kind="note",
                           subject=f"Note {n}", body="Un compte rendu assez long. " * 8)
    return account


def test_phone_shows_key_facts_and_actions_before_the_timeline(open_as: Any) -> None:
    from playwright.sync_api import expect

    owner = factories.user(username="claire")
    account = _busy_account(owner)
    page = open_as(owner, reverse("web:account_detail", args=[account.pk]), phone=True)
    facts = page.locator("section.record-facts")
    timeline = page.locator("#timeline")
    expect(facts).to_be_visible()
    expect(timeline).to_be_visible()
    facts_top = facts.bounding_box()["y"]
    assert facts_top < timeline.bounding_box()["y"]
    assert page.locator(".record-header .actions").bounding_box()["y"] < facts_top
    phone = page.locator("dl.facts a[href='tel:+33134380162']")
    expect(phone).to_be_visible()
    assert phone.bounding_box()["y"] < timeline.bounding_box()["y"]
    assert page.get_by_text("12 rue des Tanneurs").bounding_box()["y"] < \
        timeline.bounding_box()["y"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_numbers_are_never_broken_across_lines(open_as: Any) -> None:
    owner = factories.user(username="karim")
    account = _busy_account(owner)
    for phone in (True, False):
        page = open_as(owner, reverse("web:account_detail", args=[account.pk]), phone=phone)
        facts = page.locator("dl.facts")
        for text in ("01 34 38 01 62", SIRET, VAT):
            dd = facts.locator("dd", has_text=text).first
            assert page.evaluate(LINES, [dd.element_handle(), text]) == 1, (phone, text)


def test_desktop_keeps_facts_beside_the_timeline(open_as: Any) -> None:
    owner = factories.user(username="lea")
    account = _busy_account(owner)
    page = open_as(owner, reverse("web:account_detail", args=[account.pk]))
    page.set_viewport_size({"width": 1440, "height": 900})
    facts = page.locator("section.record-facts").bounding_box()
    timeline = page.locator("#timeline").bounding_box()
    assert facts["x"] > timeline["x"] + timeline["width"] - 1  # the right-hand column
    assert abs(facts["y"] - timeline["y"]) < 200  # at the top, not below the timeline
    side = page.locator("aside.record-side").bounding_box()
    assert side["y"] >= facts["y"] + facts["height"]  # under the facts, no hole between
    assert side["y"] - (facts["y"] + facts["height"]) < 40
