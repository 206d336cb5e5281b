"""Composing e-mail from a record and sending it through the company's SMTP relay.

:func:`compose` checks everything a person can get wrong (recipients, merge fields, attachment
sizes) with messages per field, logs the message as an e-mail activity on the record and its
account, and queues the send in the same transaction: the worker's :func:`send_email` task
delivers it. A relay that is down or answers 4xx is tried again later with a growing delay; a
5xx answer ends the message as failed (or bounced when the recipients were refused), with the
server's own words kept on it.

Merge fields (``{{ contact.first_name }}``) are rendered by a Django template engine of their
own: no autoescape (plain text), no loaders, a handful of tags and filters, and a context of
plain strings built from a whitelist of fields: a template never reaches a model attribute.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
from collections.abc import Iterable, Sequence
from email.utils import getaddresses, make_msgid, parseaddr
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address
from django.db import transaction
from django.db.models import F, Model
from django.template import (
    Context,
    Engine,
    Library,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task
from email_validator import EmailNotValidError, validate_email

from comptoir.access import policy
from comptoir.activities.models import Activity
from comptoir.activities.services import activity_create
from comptoir.core.errors import Forbidden, ValidationFailed
from comptoir.core.models import ObjectType
from comptoir.crm.models import Account, Contact, Opportunity
from comptoir.documents.models import Attachment
from comptoir.sales.models import SalesDocument
from comptoir.service.models import Case

from .checks import is_configured
from .models import EmailTemplate, OutgoingEmail, Signature

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 50
SIGNATURE_SEPARATOR = "\n\n-- \n"
# Models an e-mail may be written from, with the object type naming them.
RECORD_TYPES: dict[type[Model], str] = {
    Account: ObjectType.ACCOUNT,
    Contact: ObjectType.CONTACT,
    Opportunity: ObjectType.OPPORTUNITY,
    Case: ObjectType.CASE,
    SalesDocument: ObjectType.SALES_DOCUMENT,
}

# --- Merge fields ---------------------------------------------------------------------------

MERGE_FIELDS: dict[str, tuple[str, ...]] = {
    "contact": ("first_name", "last_name", "full_name", "civility", "job_title", "email"),
    "account": ("name", "legal_name", "city"),
    "opportunity": ("name", "amount", "expected_close_date"),
    "document": ("kind", "number", "issue_date", "valid_until", "total_excl_tax",
                 "total_incl_tax"),
    "sender": ("first_name", "last_name", "full_name", "email", "phone"),
}
"""What a template may use: ``{{ contact.first_name }}``…, and nothing else."""

_SAFE_TAGS = ("if", "with", "firstof", "now", "comment", "spaceless", "templatetag", "verbatim")
_SAFE_FILTERS = ("default", "default_if_none", "upper", "lower", "title", "capfirst", "cut",
                 "first", "last", "length", "slice", "truncatechars", "truncatewords", "yesno",
                 "striptags", "date")
_INVALID = "\x00%s\x00"
_INVALID_RE = re.compile("\x00([^\x00]*)\x00")


def _library() -> Library:
    """No loops (no output blow-up), no include/extends (no files), no padding filters."""
    lib = Library()
    for name in _SAFE_TAGS:
        lib.tags[name] = defaulttags.register.tags[name]
    for name in _SAFE_FILTERS:
        lib.filters[name] = defaultfilters.register.filters[name]
    return lib


_ENGINE = Engine(loaders=[], libraries={}, autoescape=False, string_if_invalid=_INVALID)
_ENGINE.template_builtins = [_library()]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _money(value: Any, currency: str) -> str:
    if value in (None, ""):
        return ""
    amount = formats.number_format(value, 2, use_l10n=True, force_grouping=True)
    return f"{amount} {'€' if currency == 'EUR' else currency}"


def _date(value: Any) -> str:
    return formats.date_format(value, "SHORT_DATE_FORMAT") if value else ""


def record_links(record: Model) -> dict[str, Any]:
    """The account, contact, deal and sales document a record stands for."""
    links: dict[str, Any] = {"account": None, "contact": None, "opportunity": None,
                             "document": None}
    if isinstance(record, Account):
        links["account"] = record
    else:
        links["account"] = getattr(record, "account", None)
    if isinstance(record, Opportunity):
        links["opportunity"] = record
    elif getattr(record, "opportunity_id", None):
        links["opportunity"] = record.opportunity  # type: ignore[attr-defined]
    if isinstance(record, Contact):
        links["contact"] = record
    elif getattr(record, "contact_id", None):
        links["contact"] = record.contact  # type: ignore[attr-defined]
    elif links["opportunity"] is not None and links["opportunity"].contact_id:
        links["contact"] = links["opportunity"].contact  # a quote of a deal: the deal's contact
    if isinstance(record, SalesDocument):
        links["document"] = record
    return links


def merge_context(record: Model, *, sender: Any, contact: Contact | None = None
                  ) -> dict[str, dict[str, str]]:
    """Plain strings only, formatted in the active language: the whitelist of
    :data:`MERGE_FIELDS` filled from the record (``contact``: the addressee, when known)."""
    links = record_links(record)
    contact = contact or links["contact"]
    account, deal, doc = links["account"], links["opportunity"], links["document"]
    ctx: dict[str, dict[str, str]] = {key: dict.fromkeys(names, "")
                                      for key, names in MERGE_FIELDS.items()}
    if contact is not None:
        ctx["contact"].update(
            first_name=contact.first_name, last_name=contact.last_name,
            full_name=str(contact), civility=contact.get_civility_display(),
            job_title=contact.job_title, email=contact.email)
    if account is not None:
        ctx["account"].update(name=account.trade_name or account.legal_name,
                              legal_name=account.legal_name, city=account.billing_city)
    if deal is not None:
        ctx["opportunity"].update(name=deal.name, amount=_money(deal.amount, deal.currency),
                                  expected_close_date=_date(deal.expected_close_date))
    if doc is not None:
        ctx["document"].update(
            kind=str(doc.get_kind_display()), number=doc.number,
            issue_date=_date(doc.issue_date), valid_until=_date(doc.valid_until),
            total_excl_tax=_money(doc.total_excl_tax, doc.currency),
            total_incl_tax=_money(doc.total_incl_tax, doc.currency))
    if sender is not None and getattr(sender, "is_authenticated", False):
        ctx["sender"].update(first_name=sender.first_name, last_name=sender.last_name,
                             full_name=sender.get_full_name() or sender.username,
                             email=sender.email, phone=getattr(sender, "phone", ""))
    return {key: {k: _text(v) for k, v in values.items()} for key, values in ctx.items()}


def render_merge(text: str, context: dict[str, dict[str, str]], *, field: str) -> str:
    """``text`` with its merge fields filled; a syntax error or an unknown field is a
    :class:`ValidationFailed` on ``field``."""
    if "{" not in text:
        return text
    try:
        rendered = _ENGINE.from_string(text).render(Context(context, autoescape=False))
    except TemplateSyntaxError as exc:
        raise ValidationFailed(_("A merge field is not written correctly."),
                               fields={field: [_("Merge field error: %(error)s")
                                               % {"error": exc}]}) from exc
    unknown = sorted(set(_INVALID_RE.findall(rendered)))
    if unknown:
        raise ValidationFailed(_("Unknown merge field."), fields={field: [
            _("Unknown merge field: %(names)s.") % {"names": ", ".join(unknown)}]})
    return rendered


def check_template_text(text: str, *, field: str) -> None:
    """Refuse a template whose merge fields would fail for any record."""
    render_merge(text, {key: dict.fromkeys(names, "") for key, names in MERGE_FIELDS.items()},
                 field=field)


# --- Recipients -----------------------------------------------------------------------------

def _display(name: str, address: str) -> str:
    name = " ".join(name.split())
    if not name:
        return address
    if re.search(r'[,;:<>@()\[\]"\\.]', name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def parse_recipients(user: Any, values: Iterable[Any], *, field: str,
                     errors: dict[str, list[str]]) -> tuple[list[str], list[Contact]]:
    """``values``: contacts, or strings holding addresses (``Name <a@b.fr>``, separated by
    commas or semicolons). Returns the addresses as header values and the contacts named."""
    out: list[str] = []
    contacts: list[Contact] = []
    seen: set[str] = set()
    for value in values:
        if isinstance(value, Contact):
            if not policy.can(user, "view", value):
                errors.setdefault(field, []).append(_("Unknown or not accessible contact."))
                continue
            if not value.email:
                errors.setdefault(field, []).append(
                    _("%(name)s has no e-mail address.") % {"name": value})
                continue
            pairs = [(str(value), value.email)]
            contacts.append(value)
        else:
            raw = str(value or "").replace(";", ",")
            if not raw.strip():
                continue
            pairs = getaddresses([raw])
            if not pairs or any(not addr for _n, addr in pairs):
                errors.setdefault(field, []).append(
                    _("“%(value)s” is not an e-mail address.") % {"value": raw.strip()[:200]})
                continue
        for name, address in pairs:
            try:
                valid = validate_email(address, check_deliverability=False)
            except EmailNotValidError as exc:
                errors.setdefault(field, []).append(
                    _("“%(value)s” is not a valid e-mail address: %(reason)s")
                    % {"value": address[:200], "reason": exc})
                continue
            normalized = valid.normalized
            if normalized.lower() in seen:
                continue
            seen.add(normalized.lower())
            out.append(_display(name, normalized))
    return out, contacts


def record_contacts(user: Any, record: Model) -> list[Contact]:
    """Who an e-mail from ``record`` goes to by default: the record's contact (a quote's, or
    its deal's), else (an account, a quote) the account's contacts with an address that the
    user sees, up to ten."""
    links = record_links(record)
    contact = links["contact"]
    if contact is not None and contact.email and policy.can(user, "view", contact):
        return [contact]
    if isinstance(record, Account | SalesDocument) and links["account"] is not None:
        qs = policy.restrict(Contact.objects.filter(account=links["account"])
                             .exclude(email=""), user)
        return list(qs.order_by("last_name", "id")[:10])
    return []


# --- Signatures and templates ---------------------------------------------------------------

def signature_of(user: Any) -> str:
    pk = getattr(user, "pk", None)
    found = Signature.objects.filter(user_id=pk).first() if pk is not None else None
    return found.text if found else ""


def signature_set(user: Any, text: str) -> Signature:
    """Every user writes their own signature (plain text)."""
    text = text.replace("\r\n", "\n").strip()
    if len(text) > 2000:
        raise ValidationFailed(_("The signature is too long."),
                               fields={"text": [_("At most 2,000 characters.")]})
    signature, _created = Signature.objects.update_or_create(user_id=user.pk,
                                                             defaults={"text": text})
    return signature


def can_manage_templates(user: Any) -> bool:
    return policy.sees_all(user)


@transaction.atomic
def template_save(user: Any, data: dict[str, Any], *, template: EmailTemplate | None = None
                  ) -> EmailTemplate:
    """Data managers and administrators keep the shared templates."""
    if not can_manage_templates(user):
        raise Forbidden(_("Only data managers and administrators change e-mail templates."))
    template = template or EmailTemplate(created_by=user)
    errors: dict[str, list[str]] = {}
    name = str(data.get("name", "")).strip()
    subject = str(data.get("subject", "")).strip()
    body = str(data.get("body", "")).replace("\r\n", "\n").strip()
    language = str(data.get("language", "")) or "fr"
    if not name:
        errors["name"] = [_("Give the template a name.")]
    if not subject:
        errors["subject"] = [_("Give a subject.")]
    if not body:
        errors["body"] = [_("Write the message.")]
    if language not in dict(settings.LANGUAGES):
        errors["language"] = [_("Choose a language.")]
    for field, text in (("subject", subject), ("body", body)):
        try:
            check_template_text(text, field=field)
        except ValidationFailed as exc:
            for key, messages in exc.fields.items():
                errors.setdefault(key, []).extend(messages)
    clash = EmailTemplate.objects.filter(name=name, language=language).exclude(pk=template.pk)
    if name and clash.exists():
        errors.setdefault("name", []).append(
            _("A template of this name exists already in this language."))
    if errors:
        raise ValidationFailed(_("The template could not be saved."), fields=errors)
    template.name, template.subject, template.body = name[:120], subject[:250], body
    template.language = language
    template.active = bool(data.get("active", True))
    template.save()
    return template


def templates_for(user: Any) -> list[EmailTemplate]:
    """Active templates, the user's language first."""
    language = getattr(user, "language", "") or settings.LANGUAGE_CODE
    rows = list(EmailTemplate.objects.filter(active=True))
    return sorted(rows, key=lambda t: (t.language != language, t.name.lower(), t.language))


# --- Compose --------------------------------------------------------------------------------

def _from_address(user: Any) -> tuple[str, str]:
    """``From``: the user's name at the company's address (the relay accepts only that);
    ``Reply-To``: the user's own address, so answers reach them."""
    _name, company = parseaddr(settings.DEFAULT_FROM_EMAIL)
    company = company or settings.DEFAULT_FROM_EMAIL
    name = user.get_full_name() or user.username
    reply_to = user.email or ""
    return _display(name, company), reply_to


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"


def _pdf_for(document: SalesDocument, language: str) -> tuple[str, bytes]:
    from comptoir.sales.pdf import filename_for, render_salesdocument

    with translation.override(language):
        return filename_for(document), render_salesdocument(document)


def compose(user: Any, record: Model, *, to: Sequence[Any], cc: Sequence[Any] = (),
            bcc: Sequence[Any] = (), template: EmailTemplate | int | None = None,
            subject: str = "", body: str = "", attachments: Sequence[Attachment | int] = (),
            attach_pdf: bool = False, html: str = "", language: str | None = None
            ) -> OutgoingEmail:
    """Check, log and queue an e-mail written from ``record`` (an account, contact, deal,
    case or sales document). Empty ``subject``/``body`` take the template's. Raises
    :class:`ValidationFailed` with messages per field (``to``, ``subject``, ``body``,
    ``template``, ``attachments``, ``attach_pdf``), :class:`Forbidden` when the user may not
    see the record."""
    object_type = RECORD_TYPES.get(type(record))
    if object_type is None:
        raise ValidationFailed(_("E-mail is written from an account, a contact, a deal, a case "
                                 "or a sales document."))
    if not policy.can(user, "view", record):
        raise Forbidden(_("You may not send e-mail from this record."))
    if not is_configured():
        raise ValidationFailed(_("Outgoing e-mail is not configured: an administrator must set "
                                 "the SMTP relay (COMPTOIR_SMTP_HOST) first."))
    errors: dict[str, list[str]] = {}

    chosen: EmailTemplate | None = None
    if template not in (None, ""):
        pk = template.pk if isinstance(template, EmailTemplate) else template
        chosen = EmailTemplate.objects.filter(pk=pk, active=True).first()
        if chosen is None:
            errors["template"] = [_("Unknown or inactive template.")]
    language = language or (chosen.language if chosen else None) \
        or getattr(user, "language", "") or settings.LANGUAGE_CODE
    subject = subject.strip() or (chosen.subject if chosen else "")
    body = body.replace("\r\n", "\n").strip() or (chosen.body if chosen else "")

    to_list, to_contacts = parse_recipients(user, to, field="to", errors=errors)
    cc_list, _c = parse_recipients(user, cc, field="cc", errors=errors)
    bcc_list, _b = parse_recipients(user, bcc, field="bcc", errors=errors)
    if not to_list and "to" not in errors:
        errors["to"] = [_("Give at least one recipient.")]
    if len(to_list) + len(cc_list) + len(bcc_list) > MAX_RECIPIENTS:
        errors.setdefault("to", []).append(
            _("At most %(n)d recipients per message.") % {"n": MAX_RECIPIENTS})

    links = record_links(record)
    addressee = next((c for c in to_contacts if links["account"] is None
                      or c.account_id == links["account"].pk), None)
    with translation.override(language):
        context = merge_context(record, sender=user, contact=addressee)
        for field, text in (("subject", subject), ("body", body)):
            try:
                rendered = render_merge(text, context, field=field)
            except ValidationFailed as exc:
                for key, messages in exc.fields.items():
                    errors.setdefault(key, []).extend(messages)
                continue
            if field == "subject":
                subject = " ".join(rendered.split())
            else:
                body = rendered.strip()
    if not subject and "subject" not in errors:
        errors["subject"] = [_("Give a subject.")]
    if len(subject) > 500:
        errors.setdefault("subject", []).append(_("At most 500 characters."))
    if not body and "body" not in errors:
        errors["body"] = [_("Write the message.")]

    files: list[Attachment] = []
    account = links["account"]
    wanted = [a.pk if isinstance(a, Attachment) else a for a in attachments]
    if wanted:
        try:
            ids = {int(pk) for pk in wanted}
        except (TypeError, ValueError):
            ids = set()
            errors["attachments"] = [_("Unknown file.")]
        found = list(policy.restrict(Attachment.objects.filter(pk__in=ids), user))
        if len(found) != len(ids) or any(account is None or a.account_id != account.pk
                                         for a in found):
            errors.setdefault("attachments", []).append(
                _("Only this record's files can be attached."))
        files = found
    total = sum(a.size for a in files)
    pdf: tuple[str, bytes] | None = None
    if attach_pdf:
        if not isinstance(record, SalesDocument):
            errors["attach_pdf"] = [_("Only a sales document has a PDF to attach.")]
        else:
            try:
                pdf = _pdf_for(record, language)
            except ValidationFailed as exc:
                errors["attach_pdf"] = [exc.message]
            else:
                total += len(pdf[1])
    limit = settings.COMPTOIR_MAIL_MAX_ATTACHMENT_BYTES
    if total > limit:
        errors.setdefault("attachments", []).append(
            _("The attachments weigh %(size).1f MB in all; the limit is %(limit).0f MB.")
            % {"size": total / 1024 / 1024, "limit": limit / 1024 / 1024})
    if errors:
        raise ValidationFailed(_("The e-mail could not be sent: see the fields."),
                               fields=errors)

    signature = signature_of(user)
    if signature:
        body = f"{body}{SIGNATURE_SEPARATOR}{signature}"
    from_email, reply_to = _from_address(user)
    with transaction.atomic():
        activity = activity_create(user=user, data={
            "kind": Activity.Kind.EMAIL, "subject": subject[:200],
            "body": f"{_('To')}: {', '.join(to_list)}\n\n{body}",
            "done": True, "start_at": timezone.now(),
            **_activity_links(record, links, addressee),
        })
        email = OutgoingEmail.objects.create(
            sender=user, from_email=from_email, reply_to=reply_to, to=to_list, cc=cc_list,
            bcc=bcc_list, subject=subject, body=body, html=html, language=language,
            message_id=make_msgid(domain=_domain(settings.DEFAULT_FROM_EMAIL)),
            object_type=object_type, object_id=record.pk,
            account_id=account.pk if account is not None else None, activity=activity,
            pdf_document=record if pdf is not None and isinstance(record, SalesDocument)
            else None)
        if files:
            email.attachments.set(files)
        if pdf is not None:
            email.pdf_name = pdf[0]
            email.pdf_file.save(pdf[0], ContentFile(pdf[1]), save=False)
            email.save(update_fields=["pdf_name", "pdf_file"])
        pk = email.pk
        transaction.on_commit(lambda: send_email.enqueue(pk))
    return email


def _activity_links(record: Model, links: dict[str, Any], addressee: Contact | None
                    ) -> dict[str, Any]:
    """The activity sits on the record, its deal, its contact (or the addressee) and account."""
    account = links["account"]
    data: dict[str, Any] = {}
    if isinstance(record, Case):
        data["case_id"] = record.pk
    if links["opportunity"] is not None and (
            account is None or links["opportunity"].account_id == account.pk):
        data["opportunity_id"] = links["opportunity"].pk
    contact = links["contact"] if isinstance(record, Contact) else (addressee or links["contact"])
    if contact is not None and (account is None or contact.account_id == account.pk):
        data["contact_id"] = contact.pk
    if account is not None:
        data["account_id"] = account.pk
    return data


# --- Sending (the worker) -------------------------------------------------------------------

class _Temporary(Exception):
    """The relay may accept the message later (4xx, unreachable, timed out)."""


class _Permanent(Exception):
    def __init__(self, reason: str, bounces: list[dict[str, Any]] | None = None) -> None:
        super().__init__(reason)
        self.bounces = bounces or []


def _smtp_text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _bounces(refused: dict[str, tuple[int, Any]]) -> list[dict[str, Any]]:
    return [{"address": address, "code": int(code), "reason": _smtp_text(reason)}
            for address, (code, reason) in refused.items()]


def build_message(email: OutgoingEmail) -> EmailMessage:
    """The MIME message: UTF-8 headers and body (Django encodes non-ASCII subjects, names and
    file names), the kept Message-ID (the same on every attempt), the attachments."""
    headers = {"Message-ID": email.message_id} if email.message_id else {}
    cls = EmailMultiAlternatives if email.html else EmailMessage
    message = cls(subject=email.subject, body=email.body, from_email=email.from_email,
                  to=list(email.to), cc=list(email.cc), bcc=list(email.bcc),
                  reply_to=[email.reply_to] if email.reply_to else None, headers=headers)
    if email.html and isinstance(message, EmailMultiAlternatives):
        message.attach_alternative(email.html, "text/html")
    for attachment in email.attachments.all().order_by("id"):
        with attachment.file.open("rb") as handle:
            message.attach(attachment.name, handle.read(), attachment.content_type)
    if email.pdf_file:
        with email.pdf_file.open("rb") as handle:
            message.attach(email.pdf_name or "document.pdf", handle.read(), "application/pdf")
    return message


def _transmit(message: EmailMessage) -> dict[str, tuple[int, Any]]:
    """Send through the configured backend; over SMTP, also return the recipients the relay
    refused while accepting others (Django's backend drops that answer)."""
    backend = get_connection(fail_silently=False)
    if not isinstance(backend, SmtpBackend):
        backend.send_messages([message])
        return {}
    backend.open()
    try:
        assert backend.connection is not None
        encoding = message.encoding or settings.DEFAULT_CHARSET
        sender = sanitize_address(message.from_email, encoding)
        recipients = [sanitize_address(a, encoding) for a in message.recipients()]
        refused = backend.connection.sendmail(sender, recipients,
                                              message.message().as_bytes(linesep="\r\n"))
    finally:
        backend.close()
    return dict(refused or {})


def _deliver(message: EmailMessage) -> dict[str, tuple[int, Any]]:
    """Classify the relay's answer: :class:`_Temporary` or :class:`_Permanent`."""
    try:
        return _transmit(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [int(code) for code, _r in exc.recipients.values()]
        reason = "; ".join(f"{address}: {code} {_smtp_text(text)}"
                           for address, (code, text) in exc.recipients.items())
        if codes and all(code >= 500 for code in codes):
            raise _Permanent(reason, _bounces(exc.recipients)) from exc
        raise _Temporary(reason) from exc
    except smtplib.SMTPResponseException as exc:
        reason = f"{exc.smtp_code} {_smtp_text(exc.smtp_error)}"
        if 500 <= int(exc.smtp_code) < 600:
            raise _Permanent(reason) from exc
        raise _Temporary(reason) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise _Temporary(f"{exc.__class__.__name__}: {exc}".rstrip(": ")) from exc


def retry_delay(attempts: int) -> dt.timedelta:
    """1, 2, 4… minutes after each failed attempt, at most an hour."""
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def deliver(email_id: int) -> str:
    """Send one queued e-mail (claimed first, so two workers never send it twice); returns
    its new status."""
    now = timezone.now()
    claimed = OutgoingEmail.objects.filter(pk=email_id, status=OutgoingEmail.Status.QUEUED) \
        .update(status=OutgoingEmail.Status.SENDING, attempts=F("attempts") + 1,
                claimed_at=now)
    if not claimed:
        return "skipped"
    email = OutgoingEmail.objects.select_related("sender").get(pk=email_id)
    try:
        message = build_message(email)
    except OSError as exc:  # a file gone from the disk: no later attempt will find it
        return _finish(email, OutgoingEmail.Status.FAILED,
                       _("An attachment could not be read: %(error)s") % {"error": exc})
    try:
        refused = _deliver(message)
    except _Permanent as exc:
        status = OutgoingEmail.Status.BOUNCED if exc.bounces else OutgoingEmail.Status.FAILED
        return _finish(email, status, str(exc), bounces=exc.bounces)
    except _Temporary as exc:
        if email.attempts >= settings.COMPTOIR_MAIL_MAX_ATTEMPTS:
            return _finish(email, OutgoingEmail.Status.FAILED,
                           _("Gave up after %(n)d attempts: %(error)s")
                           % {"n": email.attempts, "error": exc})
        when = timezone.now() + retry_delay(email.attempts)
        OutgoingEmail.objects.filter(pk=email.pk).update(
            status=OutgoingEmail.Status.QUEUED, last_error=str(exc)[:2000],
            next_attempt_at=when, claimed_at=None)
        log.info("e-mail %s: temporary failure (%s), next attempt at %s", email.pk, exc, when)
        send_email.using(run_after=when).enqueue(email.pk)
        return OutgoingEmail.Status.QUEUED
    bounces = _bounces(refused)
    return _finish(email, OutgoingEmail.Status.SENT,
                   "; ".join(f"{b['address']}: {b['code']} {b['reason']}" for b in bounces),
                   bounces=bounces, sent=True)


def _finish(email: OutgoingEmail, status: str, error: str, *,
            bounces: list[dict[str, Any]] | None = None, sent: bool = False) -> str:
    OutgoingEmail.objects.filter(pk=email.pk).update(
        status=status, last_error=error[:2000], bounces=bounces or [], next_attempt_at=None,
        claimed_at=None, sent_at=timezone.now() if sent else None)
    if status != OutgoingEmail.Status.SENT:
        log.warning("e-mail %s %s: %s", email.pk, status, error)
    return status


@task()
def send_email(email_id: int) -> str:
    """The worker's task: send one queued e-mail (see :func:`deliver`)."""
    return deliver(email_id)


STUCK_AFTER = dt.timedelta(minutes=15)
LATE_AFTER = dt.timedelta(minutes=2)


def mail_due() -> str | None:
    """A periodic job: queue again e-mails whose planned attempt was lost (a worker stopped
    or the queue emptied), and end sends interrupted midway, which may or may not have gone
    out: they are marked failed, never sent twice unasked."""
    now = timezone.now()
    late = list(OutgoingEmail.objects.filter(
        status=OutgoingEmail.Status.QUEUED, next_attempt_at__lte=now - LATE_AFTER)
        .values_list("pk", flat=True)[:200])
    late += list(OutgoingEmail.objects.filter(
        status=OutgoingEmail.Status.QUEUED, next_attempt_at__isnull=True,
        created_at__lte=now - LATE_AFTER).values_list("pk", flat=True)[:200])
    for pk in late:
        OutgoingEmail.objects.filter(pk=pk).update(next_attempt_at=now + dt.timedelta(minutes=5))
        send_email.enqueue(pk)
    stuck = OutgoingEmail.objects.filter(status=OutgoingEmail.Status.SENDING,
                                         claimed_at__lte=now - STUCK_AFTER).update(
        status=OutgoingEmail.Status.FAILED, claimed_at=None,
        last_error=_("Interrupted while sending: it may or may not have gone out."))
    if late or stuck:
        return f"{len(late)} e-mail(s) queued again, {stuck} interrupted"
    return None


def email_for_activity(activity: Activity) -> OutgoingEmail | None:
    return OutgoingEmail.objects.filter(activity=activity).order_by("-id").first()


def resend(user: Any, email: OutgoingEmail) -> OutgoingEmail:
    """Queue a failed or bounced e-mail again (its sender, or anyone who may change the
    record's account)."""
    if email.status not in (OutgoingEmail.Status.FAILED, OutgoingEmail.Status.BOUNCED):
        raise ValidationFailed(_("Only a failed e-mail can be sent again."))
    if email.sender_id != user.pk and not policy.can(user, "change", email):
        raise Forbidden(_("You may not send this e-mail again."))
    with transaction.atomic():
        OutgoingEmail.objects.filter(pk=email.pk).update(
            status=OutgoingEmail.Status.QUEUED, attempts=0, next_attempt_at=None,
            last_error="", bounces=[])
        pk = email.pk
        transaction.on_commit(lambda: send_email.enqueue(pk))
    email.refresh_from_db()
    return email


# --- System e-mail (no record) --------------------------------------------------------------

def send_system_email(to_user: Any, subject: str, body: str) -> OutgoingEmail | None:
    """Queue an e-mail from the CRM itself to one user (notifications, digests): sent by the
    worker's :func:`send_email` task with the same retries, written on no record. Returns
    ``None`` when the user has no address or mail is not configured (nothing to do)."""
    address = (getattr(to_user, "email", "") or "").strip()
    if not address or not is_configured():
        return None
    name = to_user.get_full_name() or to_user.username
    with transaction.atomic():
        email = OutgoingEmail.objects.create(
            sender=None, from_email=settings.DEFAULT_FROM_EMAIL, to=[_display(name, address)],
            subject=" ".join(subject.split())[:500], body=body,
            language=getattr(to_user, "language", "") or settings.LANGUAGE_CODE,
            message_id=make_msgid(domain=_domain(settings.DEFAULT_FROM_EMAIL)),
            object_type="", object_id=to_user.pk)
        pk = email.pk
        transaction.on_commit(lambda: send_email.enqueue(pk))
    return email
