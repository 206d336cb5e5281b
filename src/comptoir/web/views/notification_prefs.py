"""Notifications by e-mail: each user chooses, per kind, off, immediately, or an hourly or
daily digest (``comptoir.feeds.emails``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from comptoir.core.errors import DomainError
from comptoir.feeds import emails
from comptoir.feeds.models import EmailKind, EmailMode
from comptoir.web.settings_forms import apply_errors


class PreferencesForm(forms.Form):
    """One choice per kind the user may hear about."""

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(EmailKind.choices)
        for kind in emails.kinds_for(user):
            self.fields[kind] = forms.ChoiceField(label=labels[kind], choices=EmailMode.choices,
                                                  widget=forms.RadioSelect)


@login_required
def notification_prefs(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = PreferencesForm(request.POST if request.method == "POST" else None, user=user,
                           initial=emails.preferences_for(user))
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            status = 422
        else:
            try:
                emails.preferences_set(user, form.cleaned_data)
            except DomainError as exc:
                apply_errors(form, exc)
                status = 422
            else:
                messages.success(request, _("Notification e-mails saved."))
                return HttpResponseRedirect(reverse("web:notification_prefs"))
    return render(request, "web/notifications/prefs.html", {
        "title": _("Notifications by e-mail"), "form": form,
        "has_address": bool(getattr(user, "email", "")),
    }, status=status)


urlpatterns = [
    path("notifications/email/", notification_prefs, name="notification_prefs"),
]
