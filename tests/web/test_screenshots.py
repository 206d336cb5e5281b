"""Screenshots of the pages people meet first, in French, at 1440 px and 390 px, checked.

Taken by the suite so someone looks at them (issue 14): the home page of every role, the
account, lead and deal lists, an account page, the deals board and the merge page. Saved under
``COMPTOIR_SCREENSHOTS_DIR`` when set (kept after the run), else under the test's temporary
directory. On each page the test asserts what can be asserted:

* no horizontal scrolling of the page itself (a wide table scrolls inside its own box);
* no "None" and no raw code (``net_45_eom``, ``followed_record_changed``) in the visible text;
* no placeholder cut by its input.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from comptoir.quality import dedupe
from comptoir.quality.models import DuplicatePair
from comptoir.testing import factories as f

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": 1440, "phone": 390}

# Visible text, one entry per text node, with the element it sits in (for the message).
VISIBLE_TEXT = """
() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const text = node.textContent.trim();
    if (!text) continue;
    const el = node.parentElement;
    if (!el || el.closest('script, style, template, noscript, [hidden], .visually-hidden')) {
      continue;
    }
    const box = el.getBoundingClientRect();
    const css = getComputedStyle(el);
    if (!box.width || !box.height || css.visibility === 'hidden') continue;
    out.push({text, where: el.tagName.toLowerCase() + (el.className ? '.' +
              String(el.className).trim().split(/\\s+/).join('.') : '')});
  }
  return out;
}
"""

# Inputs whose placeholder does not fit: the text's width against the box's inner width.
CUT_PLACEHOLDERS = """
() => {
  const canvas = document.createElement('canvas').getContext('2d');
  return Array.from(document.querySelectorAll('input[placeholder], textarea[placeholder]'))
    .filter((el) => !el.value && el.offsetParent !== null && el.type !== 'hidden')
    .map((el) => {
      const css = getComputedStyle(el);
      canvas.font = css.font;
      const inner = el.clientWidth - parseFloat(css.paddingLeft) - parseFloat(css.paddingRight);
      return {name: el.name || el.id, placeholder: el.placeholder, inner,
              needs: canvas.measureText(el.placeholder).width};
    })
    .filter((p) => p.needs > p.inner + 1);
}
"""

NONE = re.compile(r"\b(None|True|False)\b")  # Python values printed as they are
# a snake_case word standing alone: not part of an e-mail, a file name, a path or a URL
RAW_CODE = re.compile(r"(?<![\w@./:-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@/-]|\.\w)")


def _screenshots_dir(tmp_path: Path) -> Path:
    wanted = os.environ.get("COMPTOIR_SCREENSHOTS_DIR")
    folder = Path(wanted) if wanted else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _data(world: Any) -> dict[str, Any]:
    """A working day's worth of records: today's agenda, deals closing, leads, a pair."""
    p = world.personas
    owner, account = p.owner, world.mine.account
    now = timezone.localtime()
    today = now.date()
    day = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    f.activity(by=owner, kind="meeting", owner_id=owner.pk, account_id=account.pk,
               subject="Visite de l’atelier de Vénissieux avec le directeur technique",
               start_at=day + dt.timedelta(hours=10), end_at=day + dt.timedelta(hours=11))
    f.activity(by=owner, kind="call", owner_id=owner.pk, account_id=account.pk,
               subject="Rappeler Mme Lefèvre au sujet du devis", start_at=day + dt.timedelta(
                   hours=16, minutes=30))
    f.activity(by=owner, kind="task", owner_id=owner.pk, subject="Préparer la revue trimestrielle",
               due_at=day)
    f.activity(by=owner, kind="call", owner_id=owner.pk, account_id=account.pk,  # reminded now
               subject="Confirmer la livraison", start_at=now + dt.timedelta(minutes=10))
    f.activity(by=owner, kind="task", owner_id=owner.pk, account_id=account.pk,
               subject="Envoyer l’offre révisée", due_at=now - dt.timedelta(days=12))
    for i, (name, amount) in enumerate((("Extension du contrat de maintenance", "123456.78"),
                                        ("Renouvellement des licences", "8400"))):
        f.opportunity(by=owner, account=account, name=name, amount=Decimal(amount),
                      expected_close_date=today + dt.timedelta(days=i))
    for i, company in enumerate(("Boulangerie Martin & Fils", "Transports Rhône-Alpes Logistique",
                                 "Cabinet d’architectes Moreau")):
        f.lead(by=owner, company_name=company, last_name=f"Durand{i}", first_name="Claire",
               email=f"claire.durand{i}@example.fr")
    f.case(by=p.service, account=account, subject="Machine à l’arrêt depuis ce matin",
           priority="urgent")
    data = {"email": "contact@dupont-conseil.fr", "phone": "04 72 00 00 01",
            "billing_street": "12 rue de la République", "billing_postcode": "69002",
            "billing_city": "Lyon"}
    a = f.account(by=owner, legal_name="Dupont Conseil SARL", siren=f.siren(9001), **data)
    b = f.account(by=owner, legal_name="Dupont Conseil", **data)
    dedupe.dedupe_run("account")
    pair = DuplicatePair.objects.get(left_id=a.pk, right_id=b.pk)
    return {"account": account, "pair": pair, **_imports(p)}


def _imports(p: Any) -> dict[str, Any]:
    """An import waiting for its mapping (values the lists do not know) and one done."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from comptoir.integration import imports

    def upload(name: str, text: str, kind: str) -> Any:
        return imports.import_create(user=p.data_manager, object_type=kind,
                                     upload=SimpleUploadedFile(name, text.encode("utf-8")))

    f.account(by=p.owner, legal_name="Quincaillerie Centrale")
    waiting = upload("contacts salon 2026.csv",
                     "Civilité;Prénom;Nom;E-mail;Société;Propriétaire\n"
                     "Mlle;Zoë;Lefèvre;zoe@exemple.fr;Quincaillerie Centrale;Olivia Owner\n"
                     "Docteur;Noël;Martin;noel@exemple.fr;Quincaillerie Centrale;Jean Inconnu\n"
                     "M.;Ørjan;Dupont;pas-un-email;Société Inconnue;\n", "contact")
    done = upload("clients.csv", "Raison sociale;Code postal;Ville\n"
                  "Menuiserie Capture;69002;Lyon\n;75011;Paris\n", "account")
    dry = imports.import_dry_run_start(done, user=p.data_manager)
    imports.execute_import_dry_run.call(dry.pk)
    done.refresh_from_db()
    run = imports.import_run_start(done, user=p.data_manager)
    imports.execute_import_run.call(run.pk)
    return {"import_waiting": waiting, "import_done": done}


def _pages(world: Any, made: dict[str, Any]) -> list[tuple[str, Any, str]]:
    p = world.personas
    homes = [(f"home-{name}", user, "/") for name, user in (
        ("rep", p.owner), ("manager", p.manager), ("admin", p.admin),
        ("data-manager", p.data_manager), ("marketing", p.marketing), ("service", p.service))]
    return [*homes,
            ("list-accounts", p.owner, "/accounts/"),
            ("list-leads", p.owner, "/leads/"),
            ("list-deals", p.owner, "/deals/list/"),
            ("account", p.owner, f"/accounts/{made['account'].pk}/"),
            ("board", p.owner, "/deals/board/"),
            ("merge", p.data_manager, f"/quality/pairs/{made['pair'].pk}/"),
            ("activity-form", p.owner, "/activities/new/?kind=meeting"),
            ("import-mapping", p.data_manager, f"/imports/{made['import_waiting'].pk}/"),
            ("import-result", p.data_manager, f"/imports/{made['import_done'].pk}/"),
            ("import-refused", p.data_manager,
             f"/imports/{made['import_done'].pk}/refused/"),
            ("sirene", p.data_manager, "/quality/sirene/"),
            ("calendar", p.owner, "/calendar/"),
            ("mailbox", p.owner, "/mailbox/"),
            ("home-rep-dark", p.owner, "/")]


def _problems(page: Any) -> list[str]:
    problems = []
    overflow = page.evaluate("document.documentElement.scrollWidth - "
                             "document.documentElement.clientWidth")
    if overflow > 1:
        problems.append(f"the page scrolls sideways by {overflow} px")
    for item in page.evaluate(VISIBLE_TEXT):
        if NONE.search(item["text"]):
            problems.append(f"a Python value in {item['where']}: {item['text'][:120]!r}")
        raw = RAW_CODE.findall(item["text"])
        if raw:
            problems.append(f"raw code {raw} in {item['where']}: {item['text'][:120]!r}")
    for cut in page.evaluate(CUT_PLACEHOLDERS):
        problems.append(f"placeholder cut in {cut['name']}: {cut['placeholder']!r} needs "
                        f"{cut['needs']:.0f} px, has {cut['inner']:.0f} px")
    return problems


@pytest.mark.parametrize("size", list(WIDTHS), ids=list(WIDTHS))
def test_screenshots_in_french(open_as: Any, world: Any, tmp_path: Path, size: str) -> None:
    folder = _screenshots_dir(tmp_path)
    made = _data(world)
    found: dict[str, list[str]] = {}
    for name, user, path in _pages(world, made):
        page = open_as(user, path, phone=size == "phone", language="fr")
        if name.endswith("-dark"):
            page.emulate_media(color_scheme="dark")
        if size == "desktop":
            page.set_viewport_size({"width": WIDTHS[size], "height": 900})
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(folder / f"{name}-{size}.png"), full_page=True)
        problems = _problems(page)
        if problems:
            found[f"{name} ({size}, {path})"] = problems
        page.context.close()
    assert len(list(folder.glob(f"*-{size}.png"))) >= 12
    assert not found, "\n".join(f"{page}:\n  " + "\n  ".join(lines)
                                for page, lines in found.items())
