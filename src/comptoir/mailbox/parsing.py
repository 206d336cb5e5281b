"""Reading e-mails with the standard library (``email``, ``policy.default``), tolerant of what
real mailboxes hold: odd or wrong charsets, malformed headers, a missing Message-ID, HTML only.

Nothing here touches the database: the fetch service gives bytes and gets plain values back.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import html
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from html.parser import HTMLParser
from typing import Any

HEADER_FIELDS = ("MESSAGE-ID", "IN-REPLY-TO", "REFERENCES", "FROM", "TO", "CC", "DATE",
                 "SUBJECT")
MAX_ID = 255


@dataclass
class Attachment:
    name: str
    content_type: str
    data: bytes


@dataclass
class Parsed:
    message_id: str
    thread_id: str
    in_reply_to: str
    from_address: str
    from_name: str
    to: list[str]
    cc: list[str]
    sent_at: dt.datetime | None
    subject: str
    body_text: str = ""
    attachments: list[Attachment] = field(default_factory=list)

    def addresses(self) -> list[str]:
        """Every address of the message, sender first, without repeats."""
        seen: dict[str, None] = {}
        for a in [self.from_address, *self.to, *self.cc]:
            if a:
                seen.setdefault(a, None)
        return list(seen)


def normalize_message_id(value: str) -> str:
    """``<AbC@Host>`` → ``abc@host``: the dedupe key. Case is dropped (some gateways change
    it); an overlong id becomes its hash so it fits the column."""
    text = " ".join((value or "").split())
    match = re.search(r"<([^<>]+)>", text)
    text = (match.group(1) if match else text).strip().lower()
    if len(text) > MAX_ID:
        text = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return text


def _ids(value: str) -> list[str]:
    return [normalize_message_id(m) for m in re.findall(r"<[^<>]+>", value or "")]


def _header(msg: Message, name: str) -> str:
    """A header as text; a malformed one falls back to its raw, decoded-as-possible value."""
    try:
        value = msg.get(name)
    except Exception:  # policy.default raises on some malformed headers
        value = None
        for key, raw in msg.raw_items() if hasattr(msg, "raw_items") else []:
            if key.lower() == name.lower():
                value = str(email.header.make_header(email.header.decode_header(raw)))
                break
    if value is None:
        return ""
    return " ".join(str(value).split())


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    values = []
    try:
        values = [str(v) for v in msg.get_all(name) or []]
    except Exception:
        values = [_header(msg, name)]
    out = []
    for display, addr in email.utils.getaddresses(values):
        addr = addr.strip().lower()
        if "@" in addr and " " not in addr:
            out.append((display.strip(), addr))
    return out


def _date(msg: Message) -> dt.datetime | None:
    text = _header(msg, "date")
    if not text:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when


def parse(raw: bytes) -> Parsed:
    """Headers, text and attachments of a message (a full one, or only its headers)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    sender = _addresses(msg, "from")
    to = [a for _n, a in _addresses(msg, "to")]
    cc = [a for _n, a in _addresses(msg, "cc")]
    subject = _header(msg, "subject")
    date_text = _header(msg, "date")
    from_address = sender[0][1] if sender else ""
    message_id = normalize_message_id(_header(msg, "message-id"))
    if not message_id:
        # Stable across the mailboxes that received it: only what every copy shares.
        basis = "\n".join([from_address, ",".join(to), ",".join(cc), date_text, subject])
        message_id = "nomid:" + hashlib.sha256(basis.encode()).hexdigest()[:40]
    in_reply_to = (_ids(_header(msg, "in-reply-to")) or [""])[0]
    references = _ids(_header(msg, "references"))
    thread_id = references[0] if references else in_reply_to or message_id
    parsed = Parsed(
        message_id=message_id, thread_id=thread_id[:MAX_ID], in_reply_to=in_reply_to[:MAX_ID],
        from_address=from_address[:254], from_name=(sender[0][0] if sender else "")[:200],
        to=to, cc=cc, sent_at=_date(msg), subject=subject[:500],
    )
    if isinstance(msg, EmailMessage):
        parsed.body_text = body_text(msg)
        parsed.attachments = attachments(msg)
    return parsed


def _content(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, AssertionError, KeyError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("latin-1", errors="replace") \
            if isinstance(payload, bytes) else str(payload)
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    return str(content)


def body_text(msg: EmailMessage) -> str:
    """The text part; else the HTML part converted to text."""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        if msg.get_content_maintype() == "text":
            part = msg
        else:
            return ""
    text = _content(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n").strip()


def attachments(msg: EmailMessage) -> list[Attachment]:
    out: list[Attachment] = []
    try:
        parts = list(msg.iter_attachments())
    except Exception:
        return out
    for part in parts:
        if part.is_multipart():
            continue
        name = part.get_filename() or ""
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        out.append(Attachment(name=name or "attachment", content_type=part.get_content_type(),
                              data=data))
    return out


_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table",
           "blockquote", "pre", "hr", "ul", "ol"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag in _BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
        text = "".join(parser.out)
    except Exception:
        text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
