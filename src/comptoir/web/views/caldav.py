"""My agenda sync (CalDAV) and a meeting's attendees (issue 16, parts 3 and 4).

The password is write-only: the form never renders it, and a field left empty keeps the stored
one. "Test connection" checks what the form holds (with the stored password where left empty)
without saving it, and says what failed: the server cannot be reached, the password is
refused, the calendar does not exist. "Sync now" runs one sync in the request (the worker
syncs every agenda periodically).

Attendees are edited on a small page of their own, reached from the activity's page: one
e-mail address per line, each a colleague or a contact the editor sees.
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
from django.views.decorators.http import require_GET

from comptoir.access import policy
from comptoir.activities.calendar import starts
from comptoir.activities.ical import activity_ics
from comptoir.activities.models import Activity
from comptoir.activities.services import ATTENDEE_KINDS, attendees_from_emails, attendees_set
from comptoir.caldav import services
from comptoir.caldav.models import CalendarAccount
from comptoir.core.errors import DomainError
from comptoir.web.objects import detail_url
from comptoir.web.settings_forms import apply_errors


class AgendaForm(forms.Form):
    server_url = forms.URLField(label=_l("CalDAV server"), max_length=500, assume_scheme="https",
                                help_text=_l("For example https://cloud.example.com/remote.php/dav/"
                                             " or https://caldav.fastmail.com/."))
    username = forms.CharField(label=_l("User name"), max_length=255)
    password = forms.CharField(
        label=_l("Password"), required=False, max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_l("An app password if your provider offers one. Never shown again; leave "
                     "empty to keep it."))
    calendar = forms.CharField(label=_l("Calendar"), max_length=500,
                               help_text=_l("The calendar's address, or its name."))
    enabled = forms.BooleanField(label=_l("Keep my agenda in step"), required=False,
                                 initial=True)


def _candidate(user: Any, account: CalendarAccount | None, data: dict[str, Any]
               ) -> CalendarAccount:
    probe = CalendarAccount(user=user, password=account.password if account else "")
    for name in services.FIELDS:
        setattr(probe, name, data[name])
    if data.get("password"):
        probe.password = data["password"]
    return probe


@login_required
def agenda_settings(request: HttpRequest) -> HttpResponse:
    account = services.account_of(request.user)
    initial = {n: getattr(account, n) for n in services.FIELDS} if account else {}
    form = AgendaForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    test: dict[str, Any] | None = None
    action = request.POST.get("action", "save")
    if request.method == "POST" and action == "sync":
        if account is None:
            raise Http404
        try:
            result = services.sync_account(account)
        except services.CalendarProblem as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Agenda synced: %(pushed)s sent, %(pulled)s received.")
                             % {"pushed": result.pushed, "pulled": result.pulled})
        return HttpResponseRedirect(reverse("web:caldav_settings"))
    if request.method == "POST":
        if not form.is_valid():
            status = 422
        elif action == "test":
            probe = _candidate(request.user, account, form.cleaned_data)
            try:
                services.check_connection(probe)
                test = {"ok": True, "message": _("Signed in and found the calendar.")}
            except services.CalendarProblem as exc:
                test = {"ok": False, "message": exc.message, "problem": exc.problem}
        else:
            try:
                services.account_save(user=request.user, data=form.cleaned_data,
                                      account=account)
            except DomainError as exc:
                apply_errors(form, exc)
                status = 422
            else:
                messages.success(request, _("Agenda sync saved."))
                return HttpResponseRedirect(reverse("web:caldav_settings"))
    return render(request, "web/caldav/settings.html", {
        "title": _("My agenda sync"), "form": form, "account": account, "test": test,
        "has_password": bool(account and account.password),
    }, status=status)


class AttendeesForm(forms.Form):
    attendees = forms.CharField(
        label=_l("Attendees"), required=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_l("One e-mail address per line: a colleague or one of your contacts."))


def _activity(request: HttpRequest, pk: int) -> Activity:
    activity = (policy.restrict(Activity.objects.select_related("owner"), request.user)
                .filter(pk=pk).first())
    if activity is None:
        raise Http404
    return activity


@login_required
def activity_attendees(request: HttpRequest, pk: int) -> HttpResponse:
    activity = _activity(request, pk)
    if not policy.can(request.user, "change", activity) or activity.kind not in ATTENDEE_KINDS:
        raise Http404
    current = "\n".join(a.email for a in activity.attendees.order_by("id") if a.email)
    form = AttendeesForm(request.POST if request.method == "POST" else None,
                         initial={"attendees": current})
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            status = 422
        else:
            emails = form.cleaned_data["attendees"].replace(",", "\n").replace(";", "\n")
            try:
                users, contacts = attendees_from_emails(request.user, emails.splitlines())
                attendees_set(activity=activity, user=request.user, users=users,
                              contacts=contacts)
            except DomainError as exc:
                apply_errors(form, exc)
                status = 422
            else:
                messages.success(request, _("Attendees saved."))
                return HttpResponseRedirect(detail_url(activity))
    return render(request, "web/caldav/attendees.html", {
        "title": _("Attendees of %(subject)s") % {"subject": activity.subject},
        "activity": activity, "form": form,
        "attendees": list(activity.attendees.select_related("user", "contact").order_by("id")),
    }, status=status)


@login_required
@require_GET
def activity_invitation(request: HttpRequest, pk: int) -> HttpResponse:
    """The invitation (``METHOD:REQUEST`` with ORGANIZER and ATTENDEE lines) as a file."""
    activity = _activity(request, pk)
    if starts(activity) is None:
        raise Http404
    body = activity_ics(activity, url=request.build_absolute_uri(detail_url(activity)),
                        method="REQUEST")
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8; method=REQUEST")
    response["Content-Disposition"] = f'attachment; filename="invitation-{activity.pk}.ics"'
    response["Cache-Control"] = "private, no-cache"
    return response


urlpatterns = [
    path("calendar/sync/", agenda_settings, name="caldav_settings"),
    path("activities/<int:pk>/attendees/", activity_attendees, name="activity_attendees"),
    path("activities/<int:pk>/invitation.ics", activity_invitation,
         name="activity_invitation"),
]
