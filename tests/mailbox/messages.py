"""Messages for the mailbox tests."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid


def message(*, sender: str, to: str, subject: str = "Hello", body: str = "Hi there.",
            message_id: str | None = "<auto>", cc: str = "", **headers: str) -> EmailMessage:
    """A plain message; ``message_id="<auto>"`` makes a unique one, ``None`` leaves it out."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC))
    if message_id == "<auto>":
        msg["Message-ID"] = make_msgid(domain="mail.example")
    elif message_id is not None:
        msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg
