"""The signed-in user, their API tokens."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.responses import Status

from comptoir.api.auth import issue_token
from comptoir.api.crud import ERRORS
from comptoir.core.errors import NotFound

from .models import ApiToken
from .policy import scope_of

router = Router(tags=["me"])


class MeOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    role: str
    language: str
    manager_id: int | None
    sees_all: bool
    scope_user_ids: list[int]
    territory_ids: list[int]


@router.get("/me", response={200: MeOut, **ERRORS})
def me(request: HttpRequest) -> Any:
    """Who you are and what your visibility scope is."""
    user: Any = request.user
    scope = scope_of(user)
    return {"id": user.pk, "username": user.username, "first_name": user.first_name,
            "last_name": user.last_name, "email": user.email, "role": user.role,
            "language": user.language, "manager_id": user.manager_id,
            "sees_all": scope.sees_all, "scope_user_ids": sorted(scope.user_ids),
            "territory_ids": sorted(scope.territory_ids)}


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    days: int | None = Field(None, ge=1, le=3650, description="Validity; none = no expiry")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(..., description="Shown once; store it now.")


@router.get("/me/tokens", response={200: list[TokenOut], **ERRORS})
def token_list(request: HttpRequest) -> Any:
    mine = ApiToken.objects.filter(user_id=request.user.pk or 0)
    return list(mine.order_by("-created_at"))


@router.post("/me/tokens", response={201: TokenCreated, **ERRORS})
def token_create(request: HttpRequest, payload: TokenIn) -> Any:
    token, raw = issue_token(request.user, payload.name, days=payload.days)  # type: ignore[arg-type]
    data = TokenOut.from_orm(token).dict()
    return Status(201, {**data, "token": raw})


@router.delete("/me/tokens/{int:pk}", response={204: None, **ERRORS})
def token_revoke(request: HttpRequest, pk: int) -> Any:
    updated = ApiToken.objects.filter(pk=pk, user_id=request.user.pk or 0,
                                      revoked_at__isnull=True).update(revoked_at=timezone.now())
    if not updated:
        raise NotFound(_("No such active token."))
    return Status(204, None)
