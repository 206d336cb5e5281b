"""Background tasks of mailbox logging: thin, each calls one service."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from .models import Mailbox
from .services import MailboxProblem, fetch_mailbox, mailboxes_due


@task()
def fetch_one(mailbox_id: int) -> dict[str, Any]:
    """Fetch one mailbox; a problem is stored on the mailbox (``last_error``), not raised."""
    mailbox = Mailbox.objects.select_related("user").filter(pk=mailbox_id).first()
    if mailbox is None or not mailbox.enabled:
        return {"skipped": True}
    try:
        return fetch_mailbox(mailbox).as_dict()
    except MailboxProblem as exc:
        return {"error": exc.message, "problem": exc.problem}


@task()
def fetch_all() -> int:
    """Queue a fetch of every mailbox that is due (what the worker's scheduler runs)."""
    return mailboxes_due()
