"""Sign-in throttling: too many failed sign-ins lock a user name, or a client address, for a while.

* ``COMPTOIR_LOGIN_MAX_FAILURES`` failures for one user name within
  ``COMPTOIR_LOGIN_WINDOW_MINUTES`` lock that user name for ``COMPTOIR_LOGIN_LOCKOUT_MINUTES``;
* ``COMPTOIR_LOGIN_IP_MAX_FAILURES`` failures from one address (an IPv6 /64) in the same window
  lock that address for as long.

A locked user name is refused even with the right password. User names nobody has are counted
like real ones, so the answer never tells whether an account exists. A successful sign-in clears
the user name's counter (not the address's). The counts live in the database
(:class:`~comptoir.access.models.LoginThrottle`), shared by every web process; stale rows are
pruned as new failures come in. A threshold of 0 turns that counter off.
"""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from .models import LoginThrottle

USER = "user"
IP = "ip"


def _now() -> datetime:
    return timezone.now()


def _window() -> timedelta:
    return timedelta(minutes=settings.COMPTOIR_LOGIN_WINDOW_MINUTES)


def _lockout() -> timedelta:
    return timedelta(minutes=settings.COMPTOIR_LOGIN_LOCKOUT_MINUTES)


def _limits() -> dict[str, int]:
    return {USER: settings.COMPTOIR_LOGIN_MAX_FAILURES,
            IP: settings.COMPTOIR_LOGIN_IP_MAX_FAILURES}


def client_ip(request: HttpRequest | None) -> str:
    """The client's address; behind a reverse proxy (``COMPTOIR_BEHIND_PROXY``), the one the
    proxy saw, i.e. the last entry it appended to ``X-Forwarded-For``."""
    if request is None:
        return ""
    address = request.META.get("REMOTE_ADDR", "") or ""
    if settings.COMPTOIR_BEHIND_PROXY:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded and forwarded[-1]:
            address = forwarded[-1]
    return address


def _ip_key(address: str) -> str:
    """An IPv4 address as is; an IPv6 address by its /64 (one machine often holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return hashlib.sha256(address.encode()).hexdigest() if address else ""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _user_key(username: str) -> str:
    name = (username or "").strip().casefold()
    return hashlib.sha256(name.encode()).hexdigest() if name else ""


def _keys(username: str, address: str) -> list[tuple[str, str]]:
    limits = _limits()
    keys = [(USER, _user_key(username)), (IP, _ip_key(address))]
    return [(scope, key) for scope, key in keys if key and limits[scope] > 0]


def locked_until(username: str, address: str) -> datetime | None:
    """When the user name or the address may try again, or ``None`` if it may now."""
    keys = _keys(username, address)
    if not keys:
        return None
    now = _now()
    rows = LoginThrottle.objects.filter(locked_until__gt=now)
    found = None
    for scope, key in keys:
        row = rows.filter(scope=scope, key=key).values_list("locked_until", flat=True).first()
        if row is not None and (found is None or row > found):
            found = row
    return found


def record_failure(username: str, address: str) -> datetime | None:
    """Count one failed sign-in; returns the end of the lock if this failure set one."""
    keys = _keys(username, address)
    if not keys:
        return None
    now, window, limits = _now(), _window(), _limits()
    until: datetime | None = None
    with transaction.atomic():
        for scope, key in keys:
            row = _row_for_update(scope, key, now)
            if row.locked_until is not None and row.locked_until > now:
                until = max(until or row.locked_until, row.locked_until)
                continue
            if now - row.window_start > window:
                row.failures, row.window_start = 0, now
            row.failures += 1
            if row.failures >= limits[scope]:
                row.locked_until = now + _lockout()
                row.failures, row.window_start = 0, now
                until = max(until or row.locked_until, row.locked_until)
            row.updated_at = now
            row.save()
        LoginThrottle.objects.filter(updated_at__lt=now - max(window, _lockout())).delete()
    return until


def _row_for_update(scope: str, key: str, now: datetime) -> LoginThrottle:
    rows = LoginThrottle.objects.select_for_update()
    row = rows.filter(scope=scope, key=key).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return LoginThrottle.objects.create(scope=scope, key=key, window_start=now,
                                                updated_at=now)
    except IntegrityError:  # another process counted a failure for the same key just now
        return rows.get(scope=scope, key=key)


def record_success(username: str) -> None:
    """A successful sign-in forgets the user name's failures."""
    key = _user_key(username)
    if key:
        LoginThrottle.objects.filter(scope=USER, key=key).delete()
