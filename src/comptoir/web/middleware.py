"""Request middleware: the signed-in user's language, the Content-Security-Policy header.

A signed-in user's saved language wins over the browser's, unless they just switched.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation


class BusyDatabaseMiddleware:
    """A save that waited its whole turn for SQLite's write lock gets a "try again" page (503,
    ``Retry-After``) instead of a server error: nothing was written."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception
                          ) -> HttpResponse | None:
        from django.shortcuts import render

        from comptoir.core.errors import BUSY_RETRY_AFTER, database_busy

        if not database_busy(exception):
            return None
        response = render(request, "web/busy.html", status=503)
        response["Retry-After"] = str(BUSY_RETRY_AFTER)
        return response


class UserLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        code = getattr(user, "language", "") if user is not None else ""
        if (code and user is not None and user.is_authenticated
                and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES):
            translation.activate(code)
            request.LANGUAGE_CODE = code
        return self.get_response(request)


# Every script and style comes from our own static files: no inline <script>, no style="…",
# no on…= handlers, no eval (htmx runs with allowEval off, see base.html). Forms post only
# here, and no other site may frame a page.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# django-ninja's Swagger UI (static files of the package, no CDN) sets inline styles and
# shows data: images; it still runs no inline script.
API_DOCS_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
API_DOCS_PATHS = ("/api/v1/docs",)


class ContentSecurityPolicyMiddleware:
    """Adds the ``Content-Security-Policy`` header to every response that has none (except
    Django's own error pages in debug mode, styled and scripted inline)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.DEBUG and response.status_code in (404, 500):
            return response
        if "Content-Security-Policy" not in response:
            docs = request.path.startswith(API_DOCS_PATHS)
            response["Content-Security-Policy"] = (API_DOCS_POLICY if docs
                                                   else CONTENT_SECURITY_POLICY)
        return response
