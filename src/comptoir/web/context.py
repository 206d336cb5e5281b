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
from comptoir.integration.imports import can_import


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str | Promise
    prefixes: tuple[str, ...]  # url names (or their prefix before "_") that light it up
    icon: str = ""  # a name known to web/partials/icon.html


NAV: tuple[NavItem, ...] = (
    NavItem("home", _("Home"), ("home",), "home"),
    NavItem("account_list", _("Accounts"), ("account",), "accounts"),
    NavItem("contact_list", _("Contacts"), ("contact",), "contacts"),
    NavItem("lead_list", _("Leads"), ("lead",), "leads"),
    NavItem("board", _("Deals"), ("board", "opportunity"), "deals"),
    NavItem("activity_list", _("Activities"), ("activity", "log"), "activities"),
    NavItem("calendar", _("Calendar"), ("calendar",), "meeting"),
    NavItem("case_list", _("Cases"), ("case",), "cases"),
    NavItem("product_list", _("Catalogue"), ("product",), "catalogue"),
    NavItem("document_list", _("Documents"), ("document", "quote"), "documents"),
)
DATA_NAV = NavItem("sync", _("Sync"), ("sync",), "sync")
IMPORT_NAV = NavItem("imports", _("Import"), ("imports", "import"), "import")
QUALITY_NAV = NavItem("quality_duplicates", _("Data quality"), ("quality",), "quality")
SETTINGS_NAV = NavItem("settings", _("Settings"), ("settings",), "settings")

NEW_MENU: tuple[tuple[str, str | Promise, str], ...] = (
    ("account_create", _("Account"), "accounts"),
    ("contact_create", _("Contact"), "contacts"),
    ("lead_create", _("Lead"), "leads"),
    ("opportunity_create", _("Deal"), "deals"),
    ("activity_create", _("Activity"), "activities"),
    ("case_create", _("Case"), "cases"),
    ("quote_create", _("Quote"), "documents"),
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
        items.extend((DATA_NAV, IMPORT_NAV, QUALITY_NAV))
    elif can_import(user):  # leads they will own
        items.append(IMPORT_NAV)
    if user.is_superuser or getattr(user, "role", "") == Role.ADMIN:
        items.append(SETTINGS_NAV)
    nav = [{"url": reverse(f"web:{i.url_name}"), "label": i.label, "icon": i.icon,
            "active": _active(i, url_name or "")} for i in items]
    return {
        "nav": nav,
        "new_menu": [{"url": reverse(f"web:{name}"), "label": label, "icon": icon}
                     for name, label, icon in NEW_MENU],
        "unread_notifications": _unread(user),
    }


def _unread(user: Any) -> int:
    try:
        from comptoir.feeds.services import unread_count
    except ImportError:  # the feeds area is optional for the frame
        return 0
    return unread_count(user)
