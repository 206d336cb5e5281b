"""Sign-in, sign-out and the language switch."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path
from django.utils import formats, timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.access import throttle

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


class ThrottledAuthenticationForm(AuthenticationForm):
    """The sign-in form, refused for a while after too many failures (``access.throttle``).

    The same words whether the user name exists or not; a locked user name is refused even
    with the right password.
    """

    locked_until: datetime | None = None

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        address = throttle.client_ip(self.request)
        until = throttle.locked_until(username, address)
        if until is not None:
            raise self._locked(until)
        try:
            cleaned = super().clean()
        except ValidationError:
            if self.get_user() is None:  # a wrong password, not a known user refused entry
                until = throttle.record_failure(username, address)
                if until is not None:
                    raise self._locked(until) from None
            raise
        if self.get_user() is not None:
            throttle.record_success(username)
        return cleaned

    def _locked(self, until: datetime) -> ValidationError:
        self.locked_until = until
        minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
        return ValidationError(
            _("Too many failed sign-in attempts. Try again at %(time)s (in %(minutes)s min).")
            % {"time": formats.time_format(timezone.localtime(until)), "minutes": minutes},
            code="locked")


class ThrottledAdminAuthenticationForm(ThrottledAuthenticationForm, AdminAuthenticationForm):
    """The back office's sign-in form, throttled like the application's."""


class SignInView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True
    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        until = getattr(form, "locked_until", None)
        if until is not None:
            response.status_code = 429
            seconds = max(1, math.ceil((until - timezone.now()).total_seconds()))
            response["Retry-After"] = str(seconds)
        return response


def _safe_next(request: HttpRequest, fallback: str = "/") -> str:
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or fallback
    if url_has_allowed_host_and_scheme(target, {request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return fallback


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; a signed-in user keeps the choice on their profile."""
    code = request.POST.get("language", "")
    response = HttpResponseRedirect(_safe_next(request))
    if code not in LANGUAGE_CODES:
        return response
    user = request.user
    if user.is_authenticated and getattr(user, "language", code) != code:
        user.language = code  # type: ignore[union-attr]
        user.save(update_fields=["language"])
    translation.activate(code)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, code, max_age=365 * 24 * 3600,
                        samesite="Lax", secure=settings.LANGUAGE_COOKIE_SECURE)
    return response


urlpatterns = [
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", set_language, name="language"),
]
