"""The home "Today" card: times and dates are whole, apart from the chip that follows them,
and aligned, on a desktop and on a phone (issue 14, defect 11)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from comptoir.testing import factories

pytestmark = pytest.mark.django_db(transaction=True)

MEASURE = """
() => Array.from(document.querySelectorAll('.agenda-item')).map((li) => {
  const time = li.querySelector('.agenda-time');
  const chip = li.querySelector('.agenda-what .badge');
  const t = time.getBoundingClientRect();
  const range = document.createRange();
  range.selectNodeContents(time);
  const text = range.getBoundingClientRect();
  return {text: time.textContent.trim(), left: t.left, right: t.right, width: t.width,
          textRight: text.right, scroll: time.scrollWidth, client: time.clientWidth,
          chipLeft: chip.getBoundingClientRect().left};
})
"""


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_today_dates_are_whole_and_apart_from_their_chip(open_as: Any, world: Any,
                                                         owner: Any, phone: bool) -> None:
    account = world.mine.account
    now = timezone.localtime()
    today = now.date()
    factories.activity(by=owner, kind="meeting", subject="Visite de l’atelier",
                       start_at=now.replace(hour=23, minute=30, second=0, microsecond=0),
                       account_id=account.pk, owner_id=owner.pk)
    factories.activity(by=owner, kind="task", subject="Relancer le devis",
                       due_at=timezone.make_aware(dt.datetime.combine(today, dt.time.min)),
                       owner_id=owner.pk)
    for days in (3, 40):  # overdue: shown with their date, the widest entry of the column
        factories.activity(by=owner, kind="task", subject=f"En retard de {days} jours",
                           due_at=now - dt.timedelta(days=days), account_id=account.pk,
                           owner_id=owner.pk)
    page = open_as(owner, "/", phone=phone, language="fr")
    card = page.locator("section[aria-labelledby='home-today']")
    expect(card.locator(".agenda-item")).to_have_count(4)
    rows = page.evaluate(MEASURE)
    assert [r["text"] for r in rows][-2:] == [
        (now - dt.timedelta(days=d)).strftime("%d/%m/%Y") for d in (3, 40)]
    for row in rows:
        assert row["text"], row
        assert row["scroll"] <= row["client"] + 1, f"cut: {row}"
        assert row["textRight"] <= row["right"] + 0.5, f"runs out of its column: {row}"
        assert row["chipLeft"] - row["textRight"] >= 6, f"glued to the chip: {row}"
    assert len({round(r["left"]) for r in rows}) == 1  # one column, aligned
    assert len({round(r["width"]) for r in rows}) == 1
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1
