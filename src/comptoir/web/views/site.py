"""Site-wide odds and ends every browser asks for, signed in or not."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import path
from django.views.decorators.http import require_GET


@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """``/favicon.ico``: browsers ask for it whatever the page links, and each miss was a
    404 in the logs; the SVG icon of ``base.html`` answers."""
    return HttpResponsePermanentRedirect(static("web/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
]
