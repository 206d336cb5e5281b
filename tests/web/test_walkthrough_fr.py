"""A walk through every page each role can reach, in French, on the demo data set.

Follows the links a person can click from the home page (same site, GET), and reads each
page's visible text and the texts a screen reader speaks (titles, labels, placeholders). A
French page must not show an English sentence the catalogue translates, a raw code
(``net_45_eom``), ``None`` or an error page. The demo data is the realistic set a new user
meets first.
"""

from __future__ import annotations

import gettext
import re
from collections import deque
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client

import comptoir
from comptoir.access.models import User

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ("admin", "claire.dubois", "marc.lefebvre", "thomas.girard", "sarah.lambert",
         "paul.nguyen")
MAX_PAGES = 160
SKIP_PREFIXES = ("/api/", "/admin/", "/static/", "/media/", "/logout", "/language")
SKIP_SUFFIXES = (".pdf", ".csv", ".xlsx", ".ics", ".vcf", ".json", ".zip")
SPOKEN_ATTRS = ("title", "aria-label", "placeholder", "alt")
SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
TEXT_FREE = {"script", "style", "code", "pre", "textarea", "template"}
# Words of English that French never uses: a text outside the catalogue (hard-coded, or a
# value shown raw) is caught by them.
ENGLISH_WORDS = re.compile(
    r"\b(the|your|you|with|this|will|have|has|been|which|should|could|there|please|cancel|"
    r"save|edit|delete|created|updated|deleted|loading|none|yes|true|false|unknown|"
    r"failed|pending|queued|running|done)\b", re.IGNORECASE)


class _Page(HTMLParser):
    """Text nodes and spoken attributes outside code, plus the page's links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in TEXT_FREE:
            self._skip += 1
        values = dict(attrs)
        if tag == "a" and values.get("href") and "download" not in values:
            self.links.append(str(values["href"]))
        if tag == "input" and values.get("type") == "hidden":
            return
        self.texts.extend(str(values[a]) for a in SPOKEN_ATTRS if values.get(a))

    def handle_endtag(self, tag: str) -> None:
        if tag in TEXT_FREE and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(data)


def _english_sentences() -> set[str]:
    """The catalogue's English texts of at least two words whose French differs."""
    mo = Path(comptoir.__file__).parent / "locale" / "fr" / "LC_MESSAGES" / "django.mo"
    with mo.open("rb") as fh:
        catalog: dict[Any, str] = gettext.GNUTranslations(fh)._catalog  # type: ignore[attr-defined]
    out = set()
    for key, french in catalog.items():
        msgid = key[0] if isinstance(key, tuple) else key
        if not isinstance(msgid, str) or "\x04" in msgid or "%" in msgid or "{" in msgid:
            continue
        text = " ".join(msgid.split())
        if len(text.split()) >= 2 and len(text) >= 8 and text != " ".join(french.split()):
            out.add(text)
    return out


def _internal(href: str, here: str) -> str | None:
    href = urldefrag(href)[0]
    if not href or href.startswith(("mailto:", "tel:", "javascript:", "http://", "https://")):
        return None
    if not href.startswith("/"):
        return None
    path = urlsplit(href).path
    if path.startswith(SKIP_PREFIXES) or path.endswith(SKIP_SUFFIXES) or "export" in path:
        return None
    return href


def _page_key(href: str) -> str:
    """One visit per path and set of parameter names: page 2 of a list is the same page."""
    parts = urlsplit(href)
    names = sorted({p.split("=")[0] for p in parts.query.split("&") if p})
    # numbers in paths are records: visit a few of each kind, not all
    return re.sub(r"\d+", "N", parts.path) + "?" + "&".join(names)


@pytest.fixture
def demo() -> None:
    call_command("demo", "--accounts", "40", "--seed", "11", stdout=StringIO())


def _walk(client: Client, english: set[str]) -> tuple[int, list[str]]:
    seen_keys: dict[str, int] = {}
    queue, visited, problems = deque(["/"]), set(), []
    while queue and len(visited) < MAX_PAGES:
        url = queue.popleft()
        if url in visited:
            continue
        key = _page_key(url)
        if seen_keys.get(key, 0) >= 2:
            continue
        seen_keys[key] = seen_keys.get(key, 0) + 1
        visited.add(url)
        response = client.get(url, follow=True)
        if response.status_code >= 500 or response.status_code == 404:
            problems.append(f"{url}: HTTP {response.status_code}")
            continue
        if "text/html" not in response.get("Content-Type", "") or response.status_code != 200:
            continue
        page = _Page()
        page.feed(response.content.decode())
        for raw in page.texts:
            text = " ".join(raw.split())
            if text in english:
                problems.append(f"{url}: English text “{text}”")
            elif SNAKE.match(text):
                problems.append(f"{url}: raw code “{text}”")
            elif text in ("None", "null", "undefined", "nan", "NaN"):
                problems.append(f"{url}: “{text}”")
            elif ENGLISH_WORDS.search(text):
                problems.append(f"{url}: English word in “{text}”")
        for href in page.links:
            target = _internal(href, url)
            if target and target not in visited:
                queue.append(target)
    return len(visited), problems


@pytest.mark.parametrize("username", ROLES)
def test_every_reachable_page_speaks_french(demo: None, username: str) -> None:
    user = User.objects.get(username=username)
    user.language = "fr"
    user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    visited, problems = _walk(client, _english_sentences())
    assert visited > 15, f"only {visited} pages reached"
    assert not problems, "\n".join(sorted(set(problems)))
