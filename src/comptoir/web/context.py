"""What every page's frame needs: the sidebar for the user's role and the unread count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from comptoir.access.models import Role
from comptoir.access.policy import sees_all


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str | Promise
    prefixes: tuple[str, ...]  # url names (or their prefix before "_") that light it up
    shortcut: str = ""


NAV: tuple[NavItem, ...] = (
    NavItem("home", _("Home"), ("home",)),
    NavItem("account_list", _("Accounts"), ("account",)),
    NavItem("contact_list", _("Contacts"), ("contact",)),
    NavItem("lead_list", _("Leads"), ("lead",)),
    NavItem("board", _("Deals"), ("board", "opportunity")),
    NavItem("activity_list", _("Activities"), ("activity", "log")),
    NavItem("case_list", _("Cases"), ("case",)),
    NavItem("product_list", _("Catalogue"), ("product",)),
    NavItem("document_list", _("Documents"), ("document", "quote")),
)
DATA_NAV = NavItem("sync", _("Sync"), ("sync",))
QUALITY_NAV = NavItem("quality_duplicates", _("Data quality"), ("quality",))
SETTINGS_NAV = NavItem("settings", _("Settings"), ("settings",))

NEW_MENU: tuple[tuple[str, str | Promise], ...] = (
    ("account_create", _("Account")),
    ("contact_create", _("Contact")),
    ("lead_create", _("Lead")),
    ("opportunity_create", _("Deal")),
    ("activity_create", _("Activity")),
    ("case_create", _("Case")),
    ("quote_create", _("Quote")),
)


def _active(item: NavItem, url_name: str) -> bool:
    return any(url_name == p or url_name.startswith(p + "_") for p in item.prefixes)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    url_name = match.url_name if match and match.namespace == "web" else ""
    items = list(NAV)
    if sees_all(user):
        items.extend((DATA_NAV, QUALITY_NAV))
    if user.is_superuser or getattr(user, "role", "") == Role.ADMIN:
        items.append(SETTINGS_NAV)
    nav = [{"url": reverse(f"web:{i.url_name}"), "label": i.label,
            "active": _active(i, url_name or "")} for i in items]
    return {
        "nav": nav,
        "new_menu": [{"url": reverse(f"web:{name}"), "label": label} for name, label in NEW_MENU],
        "unread_notifications": _unread(user),
    }


def _unread(user: Any) -> int:
    try:
        from comptoir.feeds.services import unread_count
    except ImportError:  # the feeds area is optional for the frame
        return 0
    return unread_count(user)
