"""API authentication: personal bearer tokens (stored hashed) or the browser session."""

import secrets
from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from comptoir.access.models import ApiToken, User

TOKEN_PREFIX = "cpt_"


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if not token.startswith(TOKEN_PREFIX):
            return None
        row = (ApiToken.objects.select_related("user")
               .filter(token_hash=ApiToken.hash(token)).first())
        if row is None or not row.is_valid or not row.user.is_active:
            return None
        now = timezone.now()
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.user
        return row.user


class Session(SessionAuth):
    """Session auth (CSRF-checked on unsafe methods) for the web application's own calls."""


def issue_token(user: User, name: str, *, days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token; the raw value is returned once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[:12], token_hash=ApiToken.hash(raw),
        expires_at=timezone.now() + timedelta(days=days) if days else None,
    )
    return token, raw


API_AUTH = [BearerToken(), Session()]
