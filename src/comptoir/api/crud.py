"""Declare a resource once; get list, detail, create, PATCH and delete routes, all through the
visibility policy and the domain services."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Header, Query, Router, Schema
from ninja.responses import Status

from comptoir.access import policy
from comptoir.core.errors import DuplicateFound, NotFound, ValidationFailed

from .listing import (
    apply_custom_filters,
    apply_filters,
    check_params,
    cursor_query,
    filter_schema,
    limit_query,
    ordering_query,
    paginate,
)
from .schemas import model_schema

CreateFn = Callable[[Any, dict[str, Any]], models.Model]
UpdateFn = Callable[[Any, Any, dict[str, Any]], models.Model]
DeleteFn = Callable[[Any, Any], None]
# (user, payload) -> existing records it may duplicate: [{"id", "score", "sure", …}]
DuplicatesFn = Callable[[Any, dict[str, Any]], list[dict[str, Any]]]


class ErrorDetail(Schema):
    status: int
    code: str
    message: str
    fields: dict[str, list[str]]
    details: dict[str, Any] | None = None


class ErrorOut(Schema):
    error: ErrorDetail


ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                          409: ErrorOut, 412: ErrorOut, 413: ErrorOut, 422: ErrorOut}

IF_MATCH_HELP = ("The record's ETag as last read (its `version`): the change is refused with "
                 "412 when someone changed the record since. Without it, only the fields sent "
                 "are written, over the record as it is now.")


def etag(obj: models.Model) -> str | None:
    version = getattr(obj, "version", None)
    return None if version is None else f'"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header names (``"3"``, ``W/"3"`` or ``3``); ``*`` or no
    header: no check."""
    if if_match is None or not if_match.strip() or if_match.strip() == "*":
        return None
    raw = if_match.strip()
    if raw.startswith("W/"):
        raw = raw[2:]
    raw = raw.strip().strip('"')
    if not raw.isdigit():
        raise ValidationFailed(_("If-Match must be the ETag read from this record, such as "
                                 "\"3\"."), fields={"If-Match": [_("Not a version.")]})
    return int(raw)


def _with_etag(response: HttpResponse, obj: models.Model) -> None:
    tag = etag(obj)
    if tag is not None:
        response["ETag"] = tag


@dataclass
class Resource:
    model: type[models.Model]
    object_type: str
    path: str
    tag: str
    out_fields: list[str]
    write_fields: list[str]
    filter_fields: list[str]
    ordering: list[str]
    default_ordering: str
    create_fn: CreateFn | None
    update_fn: UpdateFn | None
    delete_fn: DeleteFn | None
    search_fields: list[str] = field(default_factory=list)
    select_related: list[str] = field(default_factory=list)
    prefetch_related: list[str] = field(default_factory=list)
    out_extra: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    write_extra: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    duplicates_fn: DuplicatesFn | None = None

    def __post_init__(self) -> None:
        base = self.model.__name__
        if any(f.name == "version" for f in self.model._meta.concrete_fields) \
                and "version" not in self.out_fields:
            self.out_fields = [*self.out_fields, "version"]
        self.out = model_schema(self.model, ["id", *self.out_fields], name=f"{base}Out",
                                mode="out", extra=self.out_extra)
        self.create = model_schema(self.model, self.write_fields, name=f"{base}Create",
                                   mode="create", extra=self.write_extra)
        self.patch = model_schema(self.model, self.write_fields, name=f"{base}Patch",
                                  mode="patch", extra=self.write_extra)
        self.filters, self.lookups = filter_schema(self.model, self.filter_fields,
                                                   name=f"{base}Filters",
                                                   search=bool(self.search_fields))
        page_fields: dict[str, Any] = {"items": (list[self.out], ...),  # type: ignore[name-defined]
                                       "next_cursor": (str | None, None)}
        from pydantic import create_model

        self.page = create_model(f"{base}Page", __base__=Schema, **page_fields)
        self.created = self.out
        if self.duplicates_fn is not None:
            self.created = create_model(f"{base}Created", __base__=self.out,
                                        duplicates=(list[dict[str, Any]], []))

    def queryset(self) -> Any:
        qs = self.model._default_manager.all()
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        if self.prefetch_related:
            qs = qs.prefetch_related(*self.prefetch_related)
        return qs

    def visible(self, user: Any, action: policy.Action = "view") -> Any:
        return policy.restrict(self.queryset(), user, action)

    def get(self, user: Any, pk: int, action: policy.Action = "view") -> Any:
        obj = self.visible(user, action).filter(pk=pk).first()
        if obj is None:
            raise NotFound(_("No %(what)s with id %(id)s, or you cannot see it.")
                           % {"what": self.model._meta.verbose_name, "id": pk})
        return obj

    def list_page(self, request: HttpRequest, qs: Any, filters: Schema, cursor: str | None,
                  limit: int, ordering: str | None) -> dict[str, Any]:
        check_params(request, self.lookups)
        qs = apply_filters(qs, filters.dict(exclude_none=True), self.lookups, self.search_fields)
        qs = apply_custom_filters(qs, request, self.object_type)
        items, next_cursor = paginate(qs, ordering=ordering or self.default_ordering,
                                      allowed=self.ordering, cursor=cursor, limit=limit)
        return {"items": items, "next_cursor": next_cursor}


def payload_dict(payload: Schema) -> dict[str, Any]:
    return payload.dict(exclude_unset=True)


def register(router: Router, res: Resource) -> None:
    """Add the five standard routes of ``res`` to ``router``."""
    p = res.path
    Out, Page, Filters = res.out, res.page, res.filters
    name = res.model._meta.model_name

    @router.get(f"/{p}", response={200: Page, **ERRORS}, tags=[res.tag],
                operation_id=f"{name}_list", summary=f"List {res.model._meta.verbose_name_plural}")
    def list_(request: HttpRequest, filters: Query[Filters],  # type: ignore[valid-type]
              cursor: str | None = cursor_query(), limit: int = limit_query(),
              ordering: str | None = ordering_query(res.ordering)) -> Any:
        return res.list_page(request, res.visible(request.user), filters, cursor, limit, ordering)

    @router.get(f"/{p}/{{int:pk}}", response={200: Out, **ERRORS}, tags=[res.tag],
                operation_id=f"{name}_detail")
    def detail(request: HttpRequest, response: HttpResponse, pk: int) -> Any:
        """The record; its ``ETag`` header is its version, for ``If-Match`` on a change."""
        obj = res.get(request.user, pk)
        _with_etag(response, obj)
        return obj

    if res.create_fn is not None:
        create_fn = res.create_fn
        Create = res.create

        if res.duplicates_fn is None:
            @router.post(f"/{p}", response={201: Out, **ERRORS}, tags=[res.tag],
                         operation_id=f"{name}_create")
            def create(request: HttpRequest,
                       payload: Create) -> Any:  # type: ignore[valid-type]
                obj = create_fn(request.user, payload_dict(payload))
                return Status(201, res.queryset().get(pk=obj.pk))
        else:
            check = res.duplicates_fn

            @router.post(f"/{p}", response={201: res.created, **ERRORS}, tags=[res.tag],
                         operation_id=f"{name}_create")
            def create_checked(request: HttpRequest,
                               payload: Create,  # type: ignore[valid-type]
                               on_duplicate: Literal["warn", "refuse"] = "warn") -> Any:
                """Creates the record and lists the existing ones it may duplicate (only
                records you may see) in ``duplicates``; with ``on_duplicate=refuse`` an almost
                certain duplicate is a 409 (``code: duplicate``) and nothing is created."""
                # checked once the service has validated and normalised the record; a refusal
                # rolls the creation back
                with transaction.atomic():
                    obj = create_fn(request.user, payload_dict(payload))
                    values = {f.attname: getattr(obj, f.attname)
                              for f in obj._meta.concrete_fields}
                    found = check(request.user, values)
                    if on_duplicate == "refuse" and any(c["sure"] for c in found):
                        raise DuplicateFound(
                            _("This record almost certainly exists already: see the "
                              "candidates, or create it without on_duplicate=refuse."),
                            candidates=[c for c in found if c["sure"]])
                created = res.queryset().get(pk=obj.pk)
                created.duplicates = found
                return Status(201, created)

    if res.update_fn is not None:
        update_fn = res.update_fn
        Patch = res.patch

        @router.patch(f"/{p}/{{int:pk}}", response={200: Out, **ERRORS}, tags=[res.tag],
                      operation_id=f"{name}_update")
        def update(request: HttpRequest, response: HttpResponse, pk: int,
                   payload: Patch,  # type: ignore[valid-type]
                   if_match: str | None = Header(None, alias="If-Match",
                                                 description=IF_MATCH_HELP)) -> Any:
            """Changes the fields sent, and only them (custom values key by key)."""
            obj = res.get(request.user, pk)
            obj._expected_version = expected_version(if_match)
            update_fn(obj, request.user, payload_dict(payload))
            fresh = res.queryset().get(pk=pk)
            _with_etag(response, fresh)
            return fresh

    if res.delete_fn is not None:
        delete_fn = res.delete_fn

        @router.delete(f"/{p}/{{int:pk}}", response={204: None, **ERRORS}, tags=[res.tag],
                       operation_id=f"{name}_delete")
        def delete(request: HttpRequest, pk: int) -> Any:
            obj = res.get(request.user, pk)
            delete_fn(obj, request.user)
            return Status(204, None)


def register_nested(router: Router, parent: Resource, child: Resource, fk: str,
                    name: str) -> None:
    """``GET /<parent>/{id}/<name>``: the child list of one visible parent record."""
    Page, Filters = child.page, child.filters

    @router.get(f"/{parent.path}/{{int:pk}}/{name}", response={200: Page, **ERRORS},
                tags=[parent.tag], operation_id=f"{parent.model._meta.model_name}_{name}")
    def nested(request: HttpRequest, pk: int,
               filters: Query[Filters],  # type: ignore[valid-type]
               cursor: str | None = cursor_query(), limit: int = limit_query(),
               ordering: str | None = ordering_query(child.ordering)) -> Any:
        owner = parent.get(request.user, pk)
        qs = policy.restrict_under(child.queryset().filter(**{fk: owner.pk}), request.user,
                                   owner)
        return child.list_page(request, qs, filters, cursor, limit, ordering)
