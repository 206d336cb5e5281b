"""``{% load feeds %}``: the Follow button of record headers, and links for feed entries."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from comptoir.feeds.services import FOLLOWABLE, is_following, notification_text

register = template.Library()


def follow_context(*, request: Any, object_type: str, pk: int, following: bool,
                   csrf_token: Any = None, title: str = "") -> dict[str, Any]:
    """What ``web/feeds/follow_button.html`` needs (the tag and the toggle view share it)."""
    return {
        "url": reverse("web:follow", args=[object_type, pk]),
        "following": following,
        "next": request.get_full_path() if request is not None else "",
        "csrf_token": csrf_token,
        "title": title,
    }


@register.inclusion_tag("web/feeds/follow_button.html", takes_context=True)
def follow_button(context: template.Context, obj: Any) -> dict[str, Any]:
    """A Follow / Following toggle for ``obj`` (htmx swaps it in place; works without JS)."""
    from comptoir.web.objects import object_type_of

    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    object_type = object_type_of(obj)
    if object_type not in FOLLOWABLE:
        return {"hidden": True}
    return follow_context(request=request, object_type=object_type, pk=obj.pk,
                          following=is_following(user, object_type, obj.pk),
                          csrf_token=context.get("csrf_token"), title=str(obj))


@register.simple_tag
def record_url(object_type: str, pk: Any) -> str:
    """The page of a record named by type and id; empty when it has none."""
    from comptoir.web.objects import detail_url_for

    if pk in (None, ""):
        return ""
    try:
        return detail_url_for(object_type, int(pk))
    except (KeyError, NoReverseMatch, ValueError):
        return ""


@register.filter
def notification_sentence(notification: Any) -> str:
    return notification_text(notification)


@register.filter
def duration(seconds: Any) -> str:
    """A length of time for people: "45 s", "3 min", "2 h 05", "4 days"."""
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    if seconds in (None, ""):
        return ""
    s = int(float(seconds))
    if s < 60:
        return _("%(n)d s") % {"n": s}
    if s < 3600:
        return _("%(n)d min") % {"n": s // 60}
    if s < 86400:
        return _("%(h)d h %(m)02d") % {"h": s // 3600, "m": s % 3600 // 60}
    days = s // 86400
    return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}


RUN_TONES = {"succeeded": "success", "failed": "danger", "running": "info",
             "pending": "warning", "cancelled": "neutral"}


@register.filter
def run_tone(status: Any) -> str:
    """The badge tone of a sync run's status."""
    return RUN_TONES.get(str(status), "neutral")


@register.filter
def ago(value: Any) -> str:
    """"just now", "3 hours ago": how long ago something happened."""
    from django.utils import timezone
    from django.utils.timesince import timesince
    from django.utils.translation import gettext as _

    if not value:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(value, depth=1)}
