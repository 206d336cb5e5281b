"""The lost-reason picklist, for administrators: add, rename, reorder, retire.

A lost deal keeps its reason as text, so renaming or retiring an option leaves closed deals as
they were (their history is what happened); the picklist only decides what is offered from now
on. A retired reason stays in the table, inactive, and can come back; with no active reason
left, people type the reason in free text (``crm.services.lost_reason_choices``).

Like the other configuration writes, these are plain saves in one transaction, logged to
``comptoir.admin`` with who made them. Order is kept as 10, 20, 30… among the active reasons
and renumbered on every move; a reactivated reason goes last.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from comptoir.access.admin_services import require_administrator
from comptoir.core.errors import Conflict, ValidationFailed
from comptoir.core.services import full_clean, save

from .models import LostReason

log = logging.getLogger("comptoir.admin")

STEP = 10


def _who(user: Any) -> str:
    return str(getattr(user, "username", "") or "?")


def _clean_name(reason: LostReason, name: str) -> None:
    reason.name = " ".join((name or "").split())
    if not reason.name:
        raise ValidationFailed(_("Give the reason a name."),
                               fields={"name": [_("This field is required.")]})
    twin = LostReason.objects.filter(name__iexact=reason.name).exclude(pk=reason.pk).first()
    if twin is not None:
        message = (_("This reason exists already.") if twin.active else
                   _("This reason exists already, deactivated: reactivate it instead."))
        raise Conflict(message, fields={"name": [message]})
    full_clean(reason)


def _last_order() -> int:
    return int(LostReason.objects.filter(active=True).aggregate(m=Max("order"))["m"] or 0)


def _active_ids() -> list[int]:
    return list(LostReason.objects.filter(active=True).order_by("order", "name", "id")
                .values_list("pk", flat=True))


def _renumber(ids: list[int]) -> None:
    for position, pk in enumerate(ids, start=1):
        LostReason.objects.filter(pk=pk).exclude(order=position * STEP).update(
            order=position * STEP)


@transaction.atomic
def lost_reason_create(*, user: Any, name: str) -> LostReason:
    """A new reason, offered last."""
    require_administrator(user)
    reason = LostReason(order=_last_order() + STEP)
    _clean_name(reason, name)
    save(reason)
    log.info("%s added lost reason %s", _who(user), reason.name)
    return reason


@transaction.atomic
def lost_reason_rename(*, user: Any, reason: LostReason, name: str) -> LostReason:
    """A new name for what is offered from now on; deals already lost keep the old text."""
    require_administrator(user)
    old = reason.name
    _clean_name(reason, name)
    if reason.name != old:
        save(reason)
        log.info("%s renamed lost reason %s to %s", _who(user), old, reason.name)
    return reason


@transaction.atomic
def lost_reason_move(*, user: Any, reason: LostReason, offset: int) -> LostReason:
    """Move an active reason up (``offset=-1``) or down (``+1``) in the list offered."""
    require_administrator(user)
    ids = _active_ids()
    if reason.pk not in ids:
        raise ValidationFailed(_("Only active reasons are ordered: reactivate it first."))
    i = ids.index(reason.pk)
    j = max(0, min(len(ids) - 1, i + offset))
    ids.insert(j, ids.pop(i))
    _renumber(ids)
    reason.refresh_from_db(fields=["order"])
    return reason


@transaction.atomic
def lost_reason_set_active(*, user: Any, reason: LostReason, active: bool) -> LostReason:
    """Retire a reason (no longer offered; deals keep it) or offer it again, last."""
    require_administrator(user)
    if reason.active == active:
        return reason
    reason.active = active
    if active:
        reason.order = _last_order() + STEP
    save(reason)
    _renumber(_active_ids())
    reason.refresh_from_db(fields=["order"])
    log.info("%s %s lost reason %s", _who(user), "reactivated" if active else "deactivated",
             reason.name)
    return reason
