"""The light/dark switch of the user menu: Light / Dark / System, remembered by the browser
and applied before the first paint (a script in <head>, not deferred, not inline)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

LIGHT_BG = "rgb(247, 247, 248)"
DARK_BG = "rgb(20, 20, 23)"


def _background(page: Any) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def _choose(page: Any, label: str) -> None:
    page.locator(".user-menu summary").click()
    page.get_by_role("group", name="Appearance").get_by_role("button", name=label).click()


def test_dark_is_chosen_remembered_and_there_before_the_first_paint(
        open_as: Any, live_server: Any, owner: Any) -> None:
    page = open_as(owner, "/")
    expect(page.locator("body")).to_have_css("background-color", LIGHT_BG)
    _choose(page, "Dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("body")).to_have_css("background-color", DARK_BG)
    expect(page.get_by_role("button", name="Dark")).to_have_attribute("aria-pressed", "true")
    # Another page: the colour is dark at the first paint, before any deferred script.
    seen: list[str] = []
    page.expose_function("record", lambda value: seen.append(value))
    page.add_init_script("""
        new MutationObserver((_, obs) => {
            if (document.body) {
                window.record(getComputedStyle(document.documentElement)
                              .getPropertyValue('--bg').trim() + '|' +
                              (document.documentElement.getAttribute('data-theme') || ''));
                obs.disconnect();
            }
        }).observe(document, {childList: true, subtree: true});
    """)
    page.goto(live_server.url + "/accounts/")
    expect(page.locator("body")).to_have_css("background-color", DARK_BG)
    assert seen
    assert seen[0] == "#141417|dark"  # as soon as <body> exists


def test_system_follows_the_os_and_light_overrides_it(open_as: Any, owner: Any) -> None:
    page = open_as(owner, "/")
    page.emulate_media(color_scheme="dark")
    expect(page.locator("body")).to_have_css("background-color", DARK_BG)  # System by default
    _choose(page, "Light")
    expect(page.locator("body")).to_have_css("background-color", LIGHT_BG)
    page.reload()
    expect(page.locator("body")).to_have_css("background-color", LIGHT_BG)
    _choose(page, "System")
    expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile(".+"))
    expect(page.locator("body")).to_have_css("background-color", DARK_BG)
    page.emulate_media(color_scheme="light")
    expect(page.locator("body")).to_have_css("background-color", LIGHT_BG)
    assert page.evaluate("localStorage.getItem('comptoir-theme')") is None


def test_the_switch_is_in_french_and_usable_on_a_phone(open_as: Any, owner: Any) -> None:
    page = open_as(owner, "/", phone=True, language="fr")
    page.locator(".user-menu summary").click()
    group = page.get_by_role("group", name="Apparence")
    for label in ("Clair", "Sombre", "Système"):
        button = group.get_by_role("button", name=label)
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None
        assert box["height"] >= 43  # a finger's tap
    group.get_by_role("button", name="Sombre").click()
    expect(page.locator("body")).to_have_css("background-color", DARK_BG)


def test_the_theme_script_is_a_blocking_file_in_head(owner: Any) -> None:
    client = Client()
    client.force_login(owner)
    html = client.get("/").content.decode()
    head = html.split("</head>", 1)[0]
    tag = re.search(r'<script src="[^"]*/web/js/theme\.js"[^>]*>', head)
    assert tag is not None
    assert "defer" not in tag.group(0)
    assert "async" not in tag.group(0)
    assert head.index("theme.js") < head.index("app.css")  # before the styles load
