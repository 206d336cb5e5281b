"""One error format for every failure: ``{"error": {"status", "code", "message", "fields"}}``."""

import logging
from typing import Any

from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    ValidationError,
)
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from comptoir.core.errors import BUSY_RETRY_AFTER, DomainError, database_busy
from comptoir.core.services import validation_error_fields

log = logging.getLogger(__name__)


def error_body(status: int, code: str, message: str,
               fields: dict[str, list[str]] | None = None,
               details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error shape; ``details`` only for errors that carry more (duplicates found)."""
    error: dict[str, Any] = {"status": status, "code": code, "message": message,
                             "fields": fields or {}}
    if details:
        error["details"] = details
    return {"error": error}


def _loc_to_field(loc: list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "form", "file", "header", "cookie"):
        parts = parts[1:]  # where the value came from (only there: a field may be ``file``)
    parts = [p for p in parts if p not in ("payload", "filters")]  # the view's parameter
    # pydantic adds the union member / literal type to the location; keep what names the field
    # (exact type names: ``street`` or ``interest`` are fields)
    parts = [p for p in parts if not p.startswith(("literal[", "function-"))
             and p not in ("int", "str")]
    return ".".join(parts) or "__all__"


def register_handlers(api: NinjaAPI) -> None:
    def respond(request: HttpRequest, status: int, code: str, message: str,
                fields: dict[str, list[str]] | None = None,
                details: dict[str, Any] | None = None) -> HttpResponse:
        return api.create_response(request, error_body(status, code, message, fields, details),
                                   status=status)

    @api.exception_handler(NinjaValidationError)
    def on_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        fields: dict[str, list[str]] = {}
        status = 422
        for err in exc.errors:
            loc = list(err.get("loc", []))
            if loc and loc[0] == "body" and err.get("type") == "json_invalid":
                status = 400
            fields.setdefault(_loc_to_field(loc), []).append(str(err.get("msg", "")))
        if status == 400:
            return respond(request, 400, "bad_request", _("The request body is not valid JSON."),
                           fields)
        return respond(request, 422, "validation_error", _("Some fields are not valid."), fields)

    @api.exception_handler(DomainError)
    def on_domain(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return respond(request, exc.status, exc.code, exc.message, exc.fields,
                       getattr(exc, "details", None))

    @api.exception_handler(AuthenticationError)
    def on_auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return respond(request, 401, "unauthorized",
                       _("Authentication required: send a valid bearer token or sign in."))

    @api.exception_handler(PermissionDenied)
    def on_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return respond(request, 403, "forbidden", str(exc) or _("You are not allowed to do this."))

    @api.exception_handler(Http404)
    def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
        return respond(request, 404, "not_found", _("Not found."))

    @api.exception_handler(ObjectDoesNotExist)
    def on_missing(request: HttpRequest, exc: ObjectDoesNotExist) -> HttpResponse:
        return respond(request, 404, "not_found", _("Not found."))

    @api.exception_handler(ValidationError)
    def on_django_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return respond(request, 422, "validation_error", _("Some fields are not valid."),
                       validation_error_fields(exc))

    @api.exception_handler(IntegrityError)
    def on_integrity(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
        return respond(request, 409, "conflict",
                       _("This change conflicts with existing data: %(e)s") % {"e": exc})

    @api.exception_handler(RequestDataTooBig)
    def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return respond(request, 413, "too_large", _("The request body is too large."))

    @api.exception_handler(HttpError)
    def on_http(request: HttpRequest, exc: HttpError) -> HttpResponse:
        codes = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "too_large",
                 422: "validation_error", 429: "rate_limited"}
        return respond(request, exc.status_code, codes.get(exc.status_code, "error"),
                       str(exc.message))

    @api.exception_handler(Exception)
    def on_crash(request: HttpRequest, exc: Exception) -> HttpResponse:
        if database_busy(exc):
            log.warning("Database busy: %s %s answered 503", request.method, request.path)
            response = respond(request, 503, "busy",
                               _("The database is busy with other writes: nothing was saved. "
                                 "Try again in a few seconds."))
            response["Retry-After"] = str(BUSY_RETRY_AFTER)
            return response
        log.exception("Unhandled API error")
        return respond(request, 500, "server_error",
                       _("Something went wrong on our side; it has been logged."))
