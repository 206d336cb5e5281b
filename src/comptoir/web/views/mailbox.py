"""My mailbox: each user connects their own IMAP mailbox for logging, tests the connection, and
reads the e-mails logged on records (the text only within the owner's scope).

Secrets (password, OAuth2 client secret and refresh token) are write-only: the form never
renders them, and a field left empty keeps the stored value. "Test connection" checks what
the form holds (with the stored secrets where left empty) without saving it, and says what
failed: the server cannot be reached, the password is refused, a folder is missing.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from comptoir.access import policy
from comptoir.core.errors import DomainError
from comptoir.mailbox import services
from comptoir.mailbox.models import LoggedMessage, Mailbox
from comptoir.web.settings_forms import apply_errors

_SECRET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


class MailboxForm(forms.Form):
    address = forms.EmailField(label=_l("E-mail address"), required=False,
                               help_text=_l("Messages from or to this address are yours."))
    host = forms.CharField(label=_l("IMAP server"), max_length=255,
                           help_text=_l("For example imap.gmail.com or outlook.office365.com."))
    port = forms.IntegerField(label=_l("Port"), min_value=1, max_value=65535, initial=993)
    security = forms.ChoiceField(label=_l("Security"), choices=Mailbox.Security.choices,
                                 initial=Mailbox.Security.SSL)
    username = forms.CharField(label=_l("User name"), max_length=255)
    auth_kind = forms.ChoiceField(label=_l("Sign-in"), choices=Mailbox.AuthKind.choices,
                                  initial=Mailbox.AuthKind.PASSWORD)
    password = forms.CharField(label=_l("Password"), required=False, max_length=500,
                               widget=_SECRET,
                               help_text=_l("Never shown again; leave empty to keep it."))
    oauth_provider = forms.ChoiceField(label=_l("OAuth2 provider"), required=False,
                                       choices=Mailbox.Provider.choices)
    oauth_client_id = forms.CharField(label=_l("OAuth2 client id"), required=False,
                                      max_length=255)
    oauth_client_secret = forms.CharField(label=_l("OAuth2 client secret"), required=False,
                                          max_length=500, widget=_SECRET,
                                          help_text=_l("Leave empty to keep it."))
    oauth_refresh_token = forms.CharField(label=_l("OAuth2 refresh token"), required=False,
                                          max_length=2000, widget=_SECRET,
                                          help_text=_l("Leave empty to keep it."))
    folders = forms.CharField(label=_l("Folders"), max_length=500, initial="INBOX, Sent",
                              help_text=_l("Folders to log, separated by commas."))
    enabled = forms.BooleanField(label=_l("Log my e-mails"), required=False, initial=True)


def _initial(box: Mailbox | None) -> dict[str, Any]:
    if box is None:
        return {}
    return {name: getattr(box, name) for name in services.FIELDS}


def _candidate(user: Any, box: Mailbox | None, data: dict[str, Any]) -> Mailbox:
    """An unsaved mailbox with what the form holds, the stored secrets where left empty."""
    probe = Mailbox(user=user)
    if box is not None:
        for name in (*services.SECRETS, "oauth_access_token", "oauth_expires_at"):
            setattr(probe, name, getattr(box, name))
    for name in services.FIELDS:
        setattr(probe, name, data[name])
    for name in services.SECRETS:
        if data.get(name):
            setattr(probe, name, data[name])
    return probe


@login_required
def mailbox_settings(request: HttpRequest) -> HttpResponse:
    box = services.mailbox_of(request.user)
    form = MailboxForm(request.POST if request.method == "POST" else None, initial=_initial(box))
    status = 200
    test: dict[str, Any] | None = None
    if request.method == "POST":
        if not form.is_valid():
            status = 422
        elif request.POST.get("action") == "test":
            probe = _candidate(request.user, box, form.cleaned_data)
            try:
                folders = services.check_connection(probe)
                test = {"ok": True, "message": _("Connected: signed in and opened %(folders)s.")
                        % {"folders": ", ".join(folders)}}
            except services.MailboxProblem as exc:
                test = {"ok": False, "message": exc.message, "problem": exc.problem}
        else:
            try:
                services.mailbox_save(user=request.user, data=form.cleaned_data, mailbox=box)
            except DomainError as exc:
                apply_errors(form, exc)
                status = 422
            else:
                messages.success(request, _("Mailbox saved."))
                return HttpResponseRedirect(reverse("web:mailbox_settings"))
    return render(request, "web/mailbox/settings.html", {
        "title": _("My mailbox"), "form": form, "mailbox": box, "test": test,
        "has_password": bool(box and box.password),
    }, status=status)


@login_required
def logged_message(request: HttpRequest, pk: int) -> HttpResponse:
    """A logged e-mail: seen with its activity; its text only within the owner's scope."""
    message = LoggedMessage.objects.select_related("activity", "owner").filter(pk=pk).first()
    if message is None:
        raise Http404
    sees_activity = message.activity is not None and policy.can(request.user, "view",
                                                                message.activity)
    if not sees_activity and not policy.can(request.user, "view", message):
        raise Http404
    return render(request, "web/mailbox/message.html", {
        "title": message.subject or _("(no subject)"), "message": message,
        "text": services.readable_text(request.user, message),
        "attachments": list(message.attachments.all())
        if services.readable_text(request.user, message) is not None else [],
    })


urlpatterns = [
    path("mailbox/", mailbox_settings, name="mailbox_settings"),
    path("mailbox/messages/<int:pk>/", logged_message, name="mailbox_message"),
]
