"""``GET /search``: global search, as you type, over every object the caller may see (R9)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from comptoir.api.crud import ERRORS
from comptoir.api.listing import BadRequest

from .services import MAX_LIMIT, MIN_QUERY_LENGTH, SEARCHABLE_TYPES, search

router = Router()


class HitOut(Schema):
    object_type: str
    object_id: int
    title: str
    subtitle: str
    score: float = Field(..., description="Higher is better: 300+ exact, 200+ prefix, "
                                          "100+ typo-tolerant match.")
    match: str = Field(..., description="exact, prefix or fuzzy (the weakest word match).")
    matched: list[str] = Field(..., description="The record's words that matched the query.")


class SearchOut(Schema):
    q: str
    items: list[HitOut]


@router.get("/search", response={200: SearchOut, **ERRORS}, tags=["search"],
            operation_id="search")
def search_endpoint(request: HttpRequest, q: str = "", types: str | None = None,
                    limit: int = 20) -> Any:
    """Records matching ``q`` (the last word as a prefix, typos tolerated), best first.

    ``types``: comma-separated object types (account, contact, lead, opportunity, case,
    salesdocument, product); ``limit``: 1 to 100.
    """
    if len(q.strip()) < MIN_QUERY_LENGTH:
        raise BadRequest(_("The search text is too short."),
                         fields={"q": [_("Type at least %(n)d characters.")
                                       % {"n": MIN_QUERY_LENGTH}]})
    wanted = [t.strip() for t in (types or "").split(",") if t.strip()]
    unknown = [t for t in wanted if t not in SEARCHABLE_TYPES]
    if unknown:
        raise BadRequest(_("Unknown object type."), fields={"types": [
            _("Not searchable: %(types)s. Choose among: %(known)s.")
            % {"types": ", ".join(unknown), "known": ", ".join(SEARCHABLE_TYPES)}]})
    hits = search(request.user, q, types=wanted or None,
                  limit=max(1, min(limit, MAX_LIMIT)))
    return {"q": q, "items": hits}
