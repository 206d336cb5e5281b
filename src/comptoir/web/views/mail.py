"""E-mail written from a record: the compose page (templates, the record's files, the quote
PDF), one sent e-mail's status, and the small settings page (my signature; the shared
templates for data managers and administrators).

The domain service (``comptoir.mail.services.compose``) checks everything; its field errors
are shown next to the fields with a 422. Sending happens in the worker; the page says the
e-mail is queued and links to its status.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_http_methods, require_POST

from comptoir.access import policy
from comptoir.core.errors import DomainError, Forbidden, ValidationFailed
from comptoir.crm.models import Account, Contact, Opportunity
from comptoir.documents.models import Attachment
from comptoir.mail import services
from comptoir.mail.checks import is_configured
from comptoir.mail.models import EmailTemplate, OutgoingEmail
from comptoir.sales.models import SalesDocument
from comptoir.service.models import Case
from comptoir.web.objects import detail_url, detail_url_for
from comptoir.web.views.records import apply_domain_error

TARGETS: dict[str, type[Model]] = {
    "account": Account,
    "contact": Contact,
    "opportunity": Opportunity,
    "case": Case,
    "document": SalesDocument,
}
ATTACHMENT_LIMIT = 50


def _record(request: HttpRequest, target: str, pk: int) -> Any:
    """The record if the user sees it; a 404 otherwise (never tells it exists)."""
    model = TARGETS.get(target)
    if model is None:
        raise Http404
    return get_object_or_404(policy.restrict(model._default_manager.all(), request.user), pk=pk)


def _record_files(request: HttpRequest, record: Any) -> list[Attachment]:
    """The files that may go with the message: the record's account's, as the user sees
    them, the record's own first."""
    account_id = record.pk if isinstance(record, Account) else record.account_id
    rows = list(policy.restrict(Attachment.objects.filter(account_id=account_id), request.user)
                .order_by("-created_at", "-id")[:ATTACHMENT_LIMIT])
    field = {Contact: "contact_id", Opportunity: "opportunity_id", Case: "case_id",
             SalesDocument: "sales_document_id"}.get(type(record))
    if field:
        rows.sort(key=lambda a: getattr(a, field) != record.pk)
    return rows


class ComposeForm(forms.Form):
    template = forms.ChoiceField(label=_l("Template"), required=False)
    to = forms.CharField(label=_l("To"), max_length=4000, required=False,
                         help_text=_l("Addresses separated by commas."))
    cc = forms.CharField(label=_l("Cc"), max_length=4000, required=False)
    bcc = forms.CharField(label=_l("Bcc"), max_length=4000, required=False)
    subject = forms.CharField(label=_l("Subject"), max_length=500, required=False)
    body = forms.CharField(label=_l("Message"), required=False,
                           widget=forms.Textarea(attrs={"rows": 12}),
                           help_text=_l("Your signature is added below."))
    attach_pdf = forms.BooleanField(label=_l("Attach the PDF"), required=False)
    attachments = forms.MultipleChoiceField(label=_l("Files of the record"), required=False,
                                            widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, templates: list[EmailTemplate], files: list[Attachment],
                 with_pdf: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        template_field = self.fields["template"]
        assert isinstance(template_field, forms.ChoiceField)
        template_field.choices = [("", _("No template"))] + [
            (str(t.pk), f"{t.name} ({t.get_language_display()})") for t in templates]
        files_field = self.fields["attachments"]
        assert isinstance(files_field, forms.MultipleChoiceField)
        files_field.choices = [(str(a.pk), a.name) for a in files]
        if not files:
            del self.fields["attachments"]
        if not with_pdf:
            del self.fields["attach_pdf"]


def _default_to(request: HttpRequest, record: Any) -> str:
    return ", ".join(services._display(str(c), c.email)
                     for c in services.record_contacts(request.user, record))


def _apply_template(request: HttpRequest, record: Any, form_data: dict[str, Any],
                    template: EmailTemplate | None) -> dict[str, Any]:
    """Fill subject and body from the template, merge fields rendered for this record (what
    will be sent, shown before sending). A field that cannot be rendered keeps the template's
    text: sending shows the error next to it."""
    if template is None:
        return form_data
    contact = next(iter(services.record_contacts(request.user, record)), None)
    context = services.merge_context(record, sender=request.user, contact=contact)
    for field in ("subject", "body"):
        text = getattr(template, field)
        try:
            form_data[field] = services.render_merge(text, context, field=field)
        except ValidationFailed:
            form_data[field] = text
    return form_data


@login_required
@require_http_methods(["GET", "POST"])
def compose(request: HttpRequest, target: str, pk: int) -> HttpResponse:
    record = _record(request, target, pk)
    templates = services.templates_for(request.user)
    files = _record_files(request, record)
    is_quote = isinstance(record, SalesDocument)
    form_kwargs: dict[str, Any] = {"templates": templates, "files": files, "with_pdf": is_quote}
    status = 200
    if request.method == "POST":
        form = ComposeForm(request.POST, **form_kwargs)
        if form.is_valid():
            data = form.cleaned_data
            try:
                email = services.compose(
                    request.user, record, to=[data["to"]], cc=[data["cc"]], bcc=[data["bcc"]],
                    template=data["template"] or None, subject=data["subject"],
                    body=data["body"], attachments=[int(a) for a in data.get("attachments", [])],
                    attach_pdf=bool(data.get("attach_pdf")))
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(request, format_html(
                    '{} <a href="{}">{}</a>', _("E-mail queued: it goes out in a moment."),
                    reverse("web:mail_detail", args=[email.pk]), _("See its status")))
                return HttpResponseRedirect(detail_url(record))
        status = 422
    else:
        chosen = None
        if request.GET.get("template"):
            chosen = EmailTemplate.objects.filter(pk=request.GET["template"].strip() or 0,
                                                  active=True).first() \
                if request.GET["template"].isdigit() else None
        initial: dict[str, Any] = {
            "to": request.GET.get("to", _default_to(request, record)),
            "cc": request.GET.get("cc", ""), "bcc": request.GET.get("bcc", ""),
            "subject": request.GET.get("subject", ""), "body": request.GET.get("body", ""),
            "template": str(chosen.pk) if chosen else "",
            "attach_pdf": is_quote and request.GET.get("attach_pdf", "on") == "on",
        }
        if chosen is not None and "apply" in request.GET:
            initial = _apply_template(request, record, initial, chosen)
        form = ComposeForm(initial=initial, **form_kwargs)
    ctx = {"form": form, "record": record, "record_url": detail_url(record), "target": target,
           "configured": is_configured(), "title": _("Send an e-mail"),
           "merge_fields": [f"{{{{ {k}.{n} }}}}" for k, names in services.MERGE_FIELDS.items()
                            for n in names],
           "compose_url": request.path}
    return render(request, "web/mail/compose.html", ctx, status=status)


@login_required
def mail_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One e-mail: to whom, its status, the relay's answer."""
    email = get_object_or_404(policy.restrict(OutgoingEmail.objects.select_related(
        "sender", "activity"), request.user), pk=pk)
    try:
        record_url = detail_url_for(email.object_type, email.object_id)
    except KeyError:
        record_url = ""
    return render(request, "web/mail/detail.html", {
        "email": email, "record_url": record_url, "title": email.subject,
        "attachments": list(email.attachments.all()),
        "can_resend": email.status in ("failed", "bounced")})


@login_required
@require_POST
def mail_resend(request: HttpRequest, pk: int) -> HttpResponse:
    email = get_object_or_404(policy.restrict(OutgoingEmail.objects.all(), request.user), pk=pk)
    try:
        services.resend(request.user, email)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("E-mail queued again."))
    return HttpResponseRedirect(reverse("web:mail_detail", args=[pk]))


# --- Settings: my signature, the shared templates -------------------------------------------

class SignatureForm(forms.Form):
    text = forms.CharField(label=_l("My signature"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 5}),
                           help_text=_l("Added below every e-mail you send."))


class TemplateForm(forms.Form):
    name = forms.CharField(label=_l("Name"), max_length=120, required=False)
    language = forms.ChoiceField(label=_l("Language"), choices=settings.LANGUAGES)
    subject = forms.CharField(label=_l("Subject"), max_length=250, required=False)
    body = forms.CharField(label=_l("Message"), required=False,
                           widget=forms.Textarea(attrs={"rows": 10}))
    active = forms.BooleanField(label=_l("Active"), required=False, initial=True)


@login_required
@require_http_methods(["GET", "POST"])
def mail_settings(request: HttpRequest) -> HttpResponse:
    status = 200
    signature_form = SignatureForm(initial={"text": services.signature_of(request.user)})
    if request.method == "POST":
        signature_form = SignatureForm(request.POST)
        if signature_form.is_valid():
            try:
                services.signature_set(request.user, signature_form.cleaned_data["text"])
            except DomainError as exc:
                apply_domain_error(signature_form, exc)
            else:
                messages.success(request, _("Signature saved."))
                return HttpResponseRedirect(reverse("web:mail_settings"))
        status = 422
    manage = services.can_manage_templates(request.user)
    return render(request, "web/mail/settings.html", {
        "signature_form": signature_form, "manage": manage, "title": _("E-mail"),
        "templates": list(EmailTemplate.objects.all()) if manage else [],
        "configured": is_configured()}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if not services.can_manage_templates(request.user):
        raise Http404
    template = get_object_or_404(EmailTemplate, pk=pk) if pk else None
    status = 200
    if request.method == "POST":
        form = TemplateForm(request.POST)
        if form.is_valid():
            try:
                services.template_save(request.user, form.cleaned_data, template=template)
            except (ValidationFailed, Forbidden) as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(request, _("Template saved."))
                return HttpResponseRedirect(reverse("web:mail_settings"))
        status = 422
    else:
        form = TemplateForm(initial={
            "name": template.name, "language": template.language, "subject": template.subject,
            "body": template.body, "active": template.active} if template else {
            "language": request.user.language, "active": True})  # type: ignore[union-attr]
    return render(request, "web/mail/template_form.html", {
        "form": form, "template": template,
        "title": _("Edit the template") if template else _("New e-mail template"),
        "merge_fields": [f"{{{{ {k}.{n} }}}}" for k, names in services.MERGE_FIELDS.items()
                         for n in names]}, status=status)


urlpatterns = [
    path("mail/compose/<str:target>/<int:pk>/", compose, name="mail_compose"),
    path("mail/<int:pk>/", mail_detail, name="mail_detail"),
    path("mail/<int:pk>/resend/", mail_resend, name="mail_resend"),
    path("settings/mail/", mail_settings, name="mail_settings"),
    path("settings/mail/templates/new/", template_edit, name="mail_template_create"),
    path("settings/mail/templates/<int:pk>/", template_edit, name="mail_template_edit"),
]
