"""Every answer under ``/api/`` is JSON, errors in the one format — unknown paths included.

The API's own handlers (``api.errors``) cover what happens inside an endpoint. What happens
around it does not go through them: a path no route matches (Django's HTML 404), a method the
path does not take (ninja's plain-text 405), a crash outside ninja (Django's HTML 500), a
refused host (400). This middleware rewrites those answers, status and ``Allow`` header kept,
so a client never has to parse an HTML page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _

from .errors import error_body

PREFIX = "/api/"
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 412: "precondition_failed",
         413: "too_large", 415: "unsupported_media_type", 422: "validation_error",
         429: "rate_limited", 500: "server_error"}


def _message(status: int, response: HttpResponseBase) -> str:
    if status == 404:
        return _("No such API path. The API's paths are listed at /api/v1/docs.")
    if status == 405:
        allowed = response.get("Allow", "")
        return _("This path does not take this method; it takes: %(methods)s.") % {
            "methods": allowed or "-"}
    if status >= 500:
        return _("Something went wrong on our side; it has been logged.")
    return _("The request cannot be served.")


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        status = response.status_code
        if (status < 400 or not request.path.startswith(PREFIX)
                or response.get("Content-Type", "").startswith("application/json")):
            return response
        code = CODES.get(status, "server_error" if status >= 500 else "error")
        rewritten: HttpResponse = JsonResponse(
            error_body(status, code, _message(status, response)), status=status)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if response.has_header(header):
                rewritten[header] = response[header]
        return rewritten
