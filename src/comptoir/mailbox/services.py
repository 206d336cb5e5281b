"""Mailbox logging: connect to a user's IMAP mailbox, fetch new messages incrementally and log
those that concern a contact, a lead or an account, once for everyone who received them.

How a fetch goes (:func:`fetch_mailbox`), per folder and per batch of UIDs:

1. The folder's UIDVALIDITY is compared with the cursor's; a changed one restarts the folder
   from UID 1 (messages already logged are recognised by their Message-ID, nothing doubles).
2. Only the headers are fetched first (``BODY.PEEK``: nothing is marked read). Messages logged
   already (by another user's mailbox) just record this mailbox as having seen them.
3. The batch's addresses are matched in one query per kind: users (our side), contacts (e-mail
   or other e-mail, case-insensitive), leads, then accounts by the company domain of the
   remaining addresses (free-mail domains skipped). The mailbox's user must see the record.
4. Only the matched messages are fetched whole, and each is logged in its own transaction:
   the :class:`LoggedMessage` row (unique normalised Message-ID, so concurrent fetches of one
   message by two users' mailboxes create it once) and its e-mail activity (done) on the
   contact or account, owned by the mailbox's user.
5. The cursor moves after each batch, so a stopped fetch resumes where it was.

**The logging address** (``COMPTOIR_LOG_ADDRESS``, e.g. ``log@crm.example.com``): users put it
in BCC or forward to it from any mail client. The mailbox whose address it is (set up once by
an administrator like any mailbox) logs each message with **the user whose address sent it**
as owner; a message from someone who is not a user is ignored.

**Privacy.** A logged message's text is private by default: the activity shows the subject and
date to whoever sees the record, but the text (kept on the message, not on the activity) is
read only by the owner's scope (:func:`readable_text`). The owner may make it public
(:func:`message_set_private`), which copies the text onto the activity.

**OAuth2 (XOAUTH2).** The SASL string is built by :func:`xoauth2_string`. TODO: refreshing the
access token from the refresh token needs the provider's token endpoint (network):
``POST https://oauth2.googleapis.com/token`` (Gmail) or
``POST https://login.microsoftonline.com/common/oauth2/v2.0/token`` (Microsoft 365) with
``grant_type=refresh_token``, ``client_id``, ``client_secret``, ``refresh_token`` (and for
Microsoft ``scope=https://outlook.office.com/IMAP.AccessAsUser.All offline_access``), storing
``access_token`` and ``expires_in`` on the mailbox. Until then a mailbox uses the access token
stored on it and reports clearly when there is none or it has expired.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import logging
import re
import socket
import ssl
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from comptoir.access import policy
from comptoir.access.models import User
from comptoir.activities.models import Activity
from comptoir.activities.services import activity_create, activity_update
from comptoir.core.errors import DomainError, Forbidden, ValidationFailed
from comptoir.core.secrets import MissingSecret, resolve_secret
from comptoir.crm.models import Account, Contact, Lead
from comptoir.documents.services import detect_type
from comptoir.quality.identifiers import FREE_MAIL_DOMAINS, company_domain

from . import parsing
from .models import LoggedAttachment, LoggedMessage, Mailbox, MailboxFolder

log = logging.getLogger(__name__)

BATCH = 200  # UIDs per round trip; one query per kind of record per batch
TIMEOUT = 30.0  # seconds for the IMAP socket
DEFAULT_INTERVAL_MINUTES = 5
MAX_MESSAGE_BYTES = 30 * 1024 * 1024  # larger messages are logged from their headers only
FETCH_LEASE = dt.timedelta(minutes=30)  # a claim older than this is from a dead worker
SOURCE = "mailbox"


# --- Errors ---------------------------------------------------------------------------------

class MailboxProblem(DomainError):
    """What went wrong talking to the server, said so that the user knows what to fix.

    ``problem``: ``unreachable`` (DNS, refused, timeout), ``tls``, ``credentials``,
    ``folder`` (a folder to log does not exist), ``config`` (missing secret or token),
    ``protocol`` (the server answered something unexpected)."""

    status = 400
    code = "mailbox_problem"

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem


# --- Secrets and OAuth2 ---------------------------------------------------------------------

def secret(value: str) -> str:
    """``env:NAME`` reads the secret from the environment, as connection secrets do."""
    try:
        return str(resolve_secret(value))
    except MissingSecret as exc:
        raise MailboxProblem("config", _("The environment variable %(name)s holding the "
                                         "secret is not set.") % {"name": exc.name}) from None


def xoauth2_string(username: str, access_token: str) -> str:
    """The SASL XOAUTH2 initial response (Google and Microsoft document the same format)."""
    return f"user={username}\x01auth=Bearer {access_token}\x01\x01"


def oauth_access_token(mailbox: Mailbox) -> str:
    """The access token to sign in with. See the module's TODO: no refresh yet."""
    token = secret(mailbox.oauth_access_token) if mailbox.oauth_access_token else ""
    if token and (mailbox.oauth_expires_at is None or mailbox.oauth_expires_at > timezone.now()):
        return token
    raise MailboxProblem("config", _("No valid OAuth2 access token: refreshing it from the "
                                     "refresh token is not available yet."))


# --- Connection -----------------------------------------------------------------------------

def _where(mailbox: Mailbox) -> str:
    return f"{mailbox.host}:{mailbox.port}"


def connect(mailbox: Mailbox) -> imaplib.IMAP4:
    """A signed-in connection, or :class:`MailboxProblem` saying exactly what failed."""
    context = ssl.create_default_context()
    try:
        if mailbox.security == Mailbox.Security.SSL:
            imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(mailbox.host, mailbox.port,
                                                    ssl_context=context, timeout=TIMEOUT)
        else:
            imap = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=TIMEOUT)
            if mailbox.security == Mailbox.Security.STARTTLS:
                imap.starttls(ssl_context=context)
    except ssl.SSLError as exc:
        raise MailboxProblem("tls", _("The secure connection to %(where)s failed: %(why)s")
                             % {"where": _where(mailbox), "why": exc.reason or exc}) from exc
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxProblem("unreachable", _("The server %(where)s cannot be reached: %(why)s")
                             % {"where": _where(mailbox), "why": _reason(exc)}) from exc
    try:
        if mailbox.auth_kind == Mailbox.AuthKind.XOAUTH2:
            sasl = xoauth2_string(mailbox.username, oauth_access_token(mailbox))
            imap.authenticate("XOAUTH2", lambda _challenge: sasl.encode())
        else:
            imap.login(mailbox.username, secret(mailbox.password))
    except imaplib.IMAP4.error as exc:
        _close(imap)
        raise MailboxProblem("credentials", _("The server refused the user name or password "
                                              "(%(why)s).") % {"why": _reason(exc)}) from exc
    except OSError as exc:
        _close(imap)
        raise MailboxProblem("unreachable", _("The connection to %(where)s was lost: %(why)s")
                             % {"where": _where(mailbox), "why": _reason(exc)}) from exc
    except MailboxProblem:
        _close(imap)
        raise
    return imap


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return _("no answer (timeout)")
    if isinstance(exc, ConnectionRefusedError):
        return _("connection refused")
    if isinstance(exc, socket.gaierror):
        return _("unknown host name")
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return str(text)


def _close(imap: imaplib.IMAP4) -> None:
    with contextlib.suppress(Exception):
        imap.logout()


@contextlib.contextmanager
def session(mailbox: Mailbox) -> Iterator[imaplib.IMAP4]:
    imap = connect(mailbox)
    try:
        yield imap
    finally:
        _close(imap)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _select(imap: imaplib.IMAP4, folder: str) -> int:
    """Open ``folder`` read-only (nothing gets marked read); returns its UIDVALIDITY."""
    try:
        typ, _data = imap.select(_quote(folder), readonly=True)
    except imaplib.IMAP4.error as exc:
        raise MailboxProblem("folder", _("The folder %(folder)s does not exist on the server.")
                             % {"folder": folder}) from exc
    if typ != "OK":
        raise MailboxProblem("folder", _("The folder %(folder)s does not exist on the server.")
                             % {"folder": folder})
    _typ, values = imap.response("UIDVALIDITY")
    try:
        return int(values[0])
    except (TypeError, ValueError, IndexError) as exc:
        raise MailboxProblem("protocol", _("The server gave no UIDVALIDITY for %(folder)s.")
                             % {"folder": folder}) from exc


def check_connection(mailbox: Mailbox) -> list[str]:
    """Sign in and open every folder to log; returns the folders checked. Raises
    :class:`MailboxProblem` (unreachable, credentials, folder…) otherwise."""
    names = mailbox.folder_names()
    if not names:
        raise MailboxProblem("folder", _("Give at least one folder to log."))
    try:
        with session(mailbox) as imap:
            for name in names:
                _select(imap, name)
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise MailboxProblem("unreachable", _("The connection to %(where)s was lost: %(why)s")
                             % {"where": _where(mailbox), "why": _reason(exc)}) from exc
    return names


# --- Matching -------------------------------------------------------------------------------

@dataclass
class Matches:
    """What a batch of addresses refers to (lower-case address → ids)."""

    users: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # (id, account)
    leads: dict[str, list[int]] = field(default_factory=dict)
    accounts: dict[str, list[int]] = field(default_factory=dict)  # domain → ids


def match_addresses(addresses: Iterable[str]) -> Matches:
    """One query per kind for a whole batch of addresses.

    Case-insensitive through ``LOWER(email) IN (…)``: the indexes that make this a lookup
    instead of a scan are expression indexes on ``LOWER(email)`` (see the report / docs)."""
    addrs = sorted({a.lower() for a in addresses if a and "@" in a})
    found = Matches()
    if not addrs:
        return found
    for uid, email in (User.objects.annotate(e=Lower("email")).filter(e__in=addrs,
                                                                       is_active=True)
                       .values_list("id", "e")):
        found.users.setdefault(email, uid)
    rows = (Contact.objects.annotate(e1=Lower("email"), e2=Lower("email_secondary"))
            .filter(Q(e1__in=addrs) | Q(e2__in=addrs)).order_by("id")
            .values_list("id", "account_id", "e1", "e2"))
    for cid, account_id, e1, e2 in rows:
        for email in {e1, e2} & set(addrs):
            found.contacts.setdefault(email, []).append((cid, account_id))
    leads = (Lead.objects.annotate(e=Lower("email")).filter(e__in=addrs)
             .exclude(status=Lead.Status.CONVERTED).order_by("id").values_list("id", "e"))
    for lid, email in leads:
        found.leads.setdefault(email, []).append(lid)
    left = [a for a in addrs if a not in found.users and a not in found.contacts
            and a not in found.leads]
    domains = sorted({d for d in (company_domain(a) for a in left) if d}
                     - FREE_MAIL_DOMAINS)
    if domains:
        q = Q()
        for d in domains:
            q |= Q(email__iendswith=f"@{d}") | Q(website__icontains=d)
        for aid, email, website in (Account.objects.filter(q).order_by("id")
                                    .values_list("id", "email", "website")):
            for d in {company_domain(email, ""), company_domain("", website)} & set(domains):
                found.accounts.setdefault(d, []).append(aid)
    return found


@dataclass
class Target:
    contact_id: int | None = None
    account_id: int | None = None
    lead_id: int | None = None


def _visible(model: Any, ids: set[int], user: Any) -> set[int]:
    if not ids:
        return set()
    return set(policy.restrict(model.objects.filter(pk__in=ids), user)
               .values_list("pk", flat=True))


def choose_target(addresses: list[str], matches: Matches, owner: Any,
                  internal: set[str]) -> Target | None:
    """The record a message is logged on: the first external address (sender first) that is
    a contact the owner sees; else a lead; else an account by its domain."""
    external = [a for a in addresses if a not in internal and a not in matches.users]
    contact_ids = {c for a in external for c, _acc in matches.contacts.get(a, [])}
    visible = _visible(Contact, contact_ids, owner)
    for a in external:
        for cid, account_id in matches.contacts.get(a, []):
            if cid in visible:
                return Target(contact_id=cid, account_id=account_id)
    lead_ids = _visible(Lead, {lid for a in external for lid in matches.leads.get(a, [])}, owner)
    for a in external:
        for lid in matches.leads.get(a, []):
            if lid in lead_ids:
                return Target(lead_id=lid)
    domains = [company_domain(a) for a in external]
    account_ids = _visible(Account, {i for d in domains for i in matches.accounts.get(d, [])},
                           owner)
    for d in domains:
        for aid in matches.accounts.get(d, []):
            if aid in account_ids:
                return Target(account_id=aid)
    return None


# --- Logging --------------------------------------------------------------------------------

def _activity_body(parsed: parsing.Parsed, private: bool) -> str:
    if private:
        return ""
    return parsed.body_text


def _keep_attachments(message: LoggedMessage, found: list[parsing.Attachment]) -> None:
    """Keep the files that pass the upload checks; note the others with the reason."""
    limit = settings.COMPTOIR_ATTACHMENT_MAX_BYTES
    for item in found:
        name = get_valid_filename(item.name) or "attachment"
        content_type = detect_type(name)
        size = len(item.data)
        refused = ""
        if size == 0:
            refused = _("The file is empty.")
        elif size > limit:
            refused = _("The file is larger than the limit of %(mb).0f MB.") % {
                "mb": limit / 1024 / 1024}
        elif content_type not in settings.COMPTOIR_ATTACHMENT_TYPES:
            refused = _("Files of type %(type)s are not accepted.") % {"type": content_type}
        kept = LoggedAttachment(message=message, name=name[:255], content_type=content_type,
                                size=size, refused=refused[:200])
        if not refused:
            kept.file.save(name, ContentFile(item.data), save=False)
        kept.save()


def log_message(parsed: parsing.Parsed, *, mailbox: Mailbox, owner: Any,
                target: Target | None) -> tuple[LoggedMessage, bool]:
    """Log ``parsed`` once: returns the message and whether this call created it. Safe when
    several mailboxes log the same message at once (the unique Message-ID decides)."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                message, created = LoggedMessage.objects.get_or_create(
                    message_id=parsed.message_id,
                    defaults={
                        "thread_id": parsed.thread_id, "in_reply_to": parsed.in_reply_to,
                        "from_address": parsed.from_address, "from_name": parsed.from_name,
                        "to": parsed.to, "cc": parsed.cc, "sent_at": parsed.sent_at,
                        "subject": parsed.subject, "body_text": parsed.body_text,
                        "owner": owner,
                        "contact_id": target.contact_id if target else None,
                        "lead_id": target.lead_id if target else None,
                        "account_id": target.account_id if target else None,
                    })
                if created and target and (target.contact_id or target.account_id):
                    activity = activity_create(user=owner, source=SOURCE, data={
                        "kind": Activity.Kind.EMAIL, "done": True,
                        "subject": (parsed.subject or _("(no subject)"))[:200],
                        "body": _activity_body(parsed, message.private),
                        "start_at": parsed.sent_at, "done_at": parsed.sent_at or timezone.now(),
                        "contact_id": target.contact_id,
                        "account_id": None if target.contact_id else target.account_id,
                        "owner_id": owner.pk,
                    })
                    message.activity = activity
                    message.save(update_fields=["activity"])
                if created:
                    _keep_attachments(message, parsed.attachments)
                message.mailboxes.add(mailbox)
                return message, created
        except IntegrityError:
            # Another process created it between our look and our insert: read theirs.
            continue
    message = LoggedMessage.objects.get(message_id=parsed.message_id)
    message.mailboxes.add(mailbox)
    return message, False


# --- Fetching -------------------------------------------------------------------------------

@dataclass
class FetchResult:
    seen: int = 0  # messages looked at
    logged: int = 0  # messages logged by this fetch
    already: int = 0  # messages logged before (by this or another mailbox)
    folders: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"seen": self.seen, "logged": self.logged, "already": self.already,
                "folders": self.folders}


_FETCH_HEAD = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def _fetch(imap: imaplib.IMAP4, uids: list[int], what: str) -> dict[int, tuple[int, bytes]]:
    """``UID FETCH`` → uid → (size or 0, bytes)."""
    typ, data = imap.uid("FETCH", ",".join(map(str, uids)), what)
    if typ != "OK":
        raise MailboxProblem("protocol", _("The server refused to send the messages."))
    out: dict[int, tuple[int, bytes]] = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item[0], item[1]
        uid = _FETCH_HEAD.search(head)
        if uid is None:
            continue
        size = _SIZE.search(head)
        out[int(uid.group(1))] = (int(size.group(1)) if size else 0, body or b"")
    return out


def _search_from(imap: imaplib.IMAP4, last_uid: int) -> list[int]:
    typ, data = imap.uid("SEARCH", "UID", f"{last_uid + 1}:*")
    if typ != "OK":
        raise MailboxProblem("protocol", _("The server refused to list the messages."))
    # "n:*" always includes the last message, even when its UID is below n.
    return sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > last_uid)


def log_address() -> str:
    return (getattr(settings, "COMPTOIR_LOG_ADDRESS", "") or "").strip().lower()


def _internal(mailbox: Mailbox) -> set[str]:
    return {a.lower() for a in (mailbox.address, mailbox.user.email, log_address()) if a}


def _fetch_folder(imap: imaplib.IMAP4, mailbox: Mailbox, name: str,
                  result: FetchResult) -> None:
    uidvalidity = _select(imap, name)
    cursor, _created = MailboxFolder.objects.get_or_create(mailbox=mailbox, name=name)
    if cursor.uidvalidity != uidvalidity:
        # A new UIDVALIDITY: the old UIDs mean nothing now; start over (dedupe by Message-ID).
        cursor.uidvalidity, cursor.last_uid = uidvalidity, 0
        cursor.save(update_fields=["uidvalidity", "last_uid"])
    uids = _search_from(imap, cursor.last_uid)
    is_log = bool(log_address()) and mailbox.address.lower() == log_address()
    internal = _internal(mailbox)
    count = 0
    for start in range(0, len(uids), BATCH):
        batch = uids[start:start + BATCH]
        heads = _fetch(imap, batch, "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS ("
                       + " ".join(parsing.HEADER_FIELDS) + ")])")
        parsed = {uid: parsing.parse(raw) for uid, (_size, raw) in heads.items()}
        count += len(parsed)
        known = set(LoggedMessage.objects.filter(
            message_id__in=[p.message_id for p in parsed.values()])
            .values_list("message_id", flat=True))
        if known:
            through = LoggedMessage.mailboxes.through
            ids = LoggedMessage.objects.filter(message_id__in=known).values_list("id", flat=True)
            through.objects.bulk_create(
                [through(loggedmessage_id=i, mailbox_id=mailbox.pk) for i in ids],
                ignore_conflicts=True)
            result.already += len(known)
        todo = {uid: p for uid, p in parsed.items() if p.message_id not in known}
        matches = match_addresses(a for p in todo.values() for a in p.addresses())
        chosen: dict[int, tuple[Any, Target]] = {}
        owners: dict[int, Any] = {}
        for uid, p in todo.items():
            owner: Any = mailbox.user
            if is_log:
                sender = matches.users.get(p.from_address)
                if sender is None:
                    continue  # only users' own messages are logged through the log address
                owner = owners.get(sender) or User.objects.get(pk=sender)
                owners[sender] = owner
            target = choose_target(p.addresses(), matches, owner, internal)
            if target is not None:
                chosen[uid] = (owner, target)
        small = [u for u in chosen if heads[u][0] <= MAX_MESSAGE_BYTES]
        full = _fetch(imap, small, "(UID BODY.PEEK[])") if small else {}
        for uid, (owner, target) in chosen.items():
            message = parsing.parse(full[uid][1]) if uid in full else parsed[uid]
            message.message_id = parsed[uid].message_id  # the key the batch looked up
            _msg, created = log_message(message, mailbox=mailbox, owner=owner, target=target)
            result.logged += int(created)
            result.already += int(not created)
        cursor.last_uid = max(batch)
        cursor.save(update_fields=["last_uid"])
    result.seen += count
    result.folders[name] = count


def _claim(mailbox: Mailbox) -> bool:
    now = timezone.now()
    return bool(Mailbox.objects.filter(pk=mailbox.pk).filter(
        Q(fetching_since__isnull=True) | Q(fetching_since__lt=now - FETCH_LEASE))
        .update(fetching_since=now))


def fetch_mailbox(mailbox: Mailbox) -> FetchResult:
    """Fetch and log what is new in ``mailbox``'s folders. A problem (unreachable server,
    refused password, missing folder) is stored on the mailbox (``last_error``) and raised."""
    result = FetchResult()
    if not _claim(mailbox):
        return result  # another worker is fetching it right now
    error = ""
    try:
        with session(mailbox) as imap:
            for name in mailbox.folder_names():
                _fetch_folder(imap, mailbox, name, result)
    except MailboxProblem as exc:
        error = exc.message
        raise
    except (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort) as exc:
        error = _("The connection to %(where)s was lost: %(why)s") % {
            "where": _where(mailbox), "why": _reason(exc)}
        raise MailboxProblem("unreachable", error) from exc
    finally:
        mailbox.last_error = error
        mailbox.last_fetch_at = timezone.now()
        mailbox.fetching_since = None
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_error=error, last_fetch_at=mailbox.last_fetch_at, fetching_since=None)
    return result


def mailboxes_due(now: dt.datetime | None = None) -> int:
    """Periodic job (``COMPTOIR_PERIODIC_JOBS``): queue a fetch of every enabled mailbox not
    fetched for ``COMPTOIR_MAILBOX_INTERVAL`` minutes (default 5). Returns how many."""
    from .tasks import fetch_one

    now = now or timezone.now()
    minutes = int(getattr(settings, "COMPTOIR_MAILBOX_INTERVAL", DEFAULT_INTERVAL_MINUTES))
    due = Mailbox.objects.filter(enabled=True, fetching_since__isnull=True).filter(
        Q(last_fetch_at__isnull=True) | Q(last_fetch_at__lt=now - dt.timedelta(minutes=minutes)))
    count = 0
    for pk in due.values_list("pk", flat=True):
        # Mark it fetched-now so the next round does not queue it again before it runs.
        if Mailbox.objects.filter(pk=pk, fetching_since__isnull=True).update(last_fetch_at=now):
            fetch_one.enqueue(pk)
            count += 1
    return count


# --- Settings of a mailbox (the web form) ---------------------------------------------------

SECRETS = ("password", "oauth_client_secret", "oauth_refresh_token")
FIELDS = ("address", "host", "port", "security", "username", "auth_kind", "oauth_provider",
          "oauth_client_id", "folders", "enabled")


def mailbox_of(user: Any) -> Mailbox | None:
    return Mailbox.objects.filter(user=user).order_by("id").first()


def mailbox_save(*, user: Any, data: Mapping[str, Any], mailbox: Mailbox | None = None
                 ) -> Mailbox:
    """Create or change ``user``'s mailbox. Secrets are write-only: an empty value keeps the
    stored one. Changing the server or user name restarts the cursors."""
    if mailbox is not None and mailbox.user_id != user.pk:
        raise Forbidden(_("This is not your mailbox."))
    box = mailbox or Mailbox(user=user)
    before = (box.host, box.port, box.username)
    for name in FIELDS:
        if name in data:
            setattr(box, name, data[name])
    for name in SECRETS:
        if data.get(name):
            setattr(box, name, str(data[name]))
    errors: dict[str, list[str]] = {}
    if box.auth_kind == Mailbox.AuthKind.PASSWORD and not box.password:
        errors["password"] = [_("Give the password.")]
    if box.auth_kind == Mailbox.AuthKind.XOAUTH2 and not box.oauth_provider:
        errors["oauth_provider"] = [_("Choose the provider.")]
    if not box.folder_names():
        errors["folders"] = [_("Give at least one folder to log.")]
    if errors:
        raise ValidationFailed(_("Some fields are not valid."), fields=errors)
    with transaction.atomic():
        box.save()
        if mailbox is not None and before != (box.host, box.port, box.username):
            MailboxFolder.objects.filter(mailbox=box).delete()
    return box


# --- Reading and privacy --------------------------------------------------------------------

def readable_text(user: Any, message: LoggedMessage) -> str | None:
    """The message's text if ``user`` may read it (public, or in the owner's scope), else
    ``None``: the activity is seen with its record; the text is the owner's scope's."""
    if not message.private or policy.can(user, "view", message):
        return message.body_text
    return None


def logged_message_of(activity: Activity) -> LoggedMessage | None:
    return LoggedMessage.objects.filter(activity=activity).first()


def message_set_private(*, message: LoggedMessage, user: Any, private: bool) -> LoggedMessage:
    """The owner (or their scope) decides whether everyone who sees the record reads the
    text: public copies it onto the activity, private takes it off."""
    if not policy.can(user, "view", message):
        raise Forbidden(_("Only the owner of this e-mail may change who reads it."))
    with transaction.atomic():
        message.private = private
        message.save(update_fields=["private"])
        if message.activity is not None:
            activity_update(activity=message.activity, user=user, source=SOURCE,
                            data={"body": "" if private else message.body_text})
    return message
