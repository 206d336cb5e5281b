"""``GET /search``: global search, as you type, over every object the caller may see (R9)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from comptoir.api.crud import ERRORS
from comptoir.api.listing import BadRequest

from .services import MAX_LIMIT, MIN_QUERY_LENGTH, SEARCHABLE_TYPES, search

router = Router()

_TEXT_HELP = (f"The words to find, at least {MIN_QUERY_LENGTH} characters; the last one is "
              "read as a prefix.")
_TYPES_HELP = ("Object types to search, comma-separated, among: "
               f"{', '.join(SEARCHABLE_TYPES)}. All of them when omitted; an unknown one is "
               "refused.")
_LIMIT_HELP = (f"Hits to return, 1 to {MAX_LIMIT}. A value out of range is refused (422), "
               "not clamped.")


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
def search_endpoint(
    request: HttpRequest, q: str = Query("", description=_TEXT_HELP),
    types: str | None = Query(None, description=_TYPES_HELP),
    limit: int = Query(20, ge=1, le=MAX_LIMIT, description=_LIMIT_HELP),
) -> Any:
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
    hits = search(request.user, q, types=wanted or None, limit=limit)
    return {"q": q, "items": hits}
