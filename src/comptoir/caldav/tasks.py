"""Background tasks of agenda sync: thin, each calls one service."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from .models import CalendarAccount
from .services import CalendarProblem, accounts_due, sync_account


@task()
def sync_one(account_id: int) -> dict[str, Any]:
    """Sync one agenda; a problem is stored on the account (``last_error``), not raised."""
    account = CalendarAccount.objects.select_related("user").filter(pk=account_id).first()
    if account is None or not account.enabled:
        return {"skipped": True}
    try:
        return sync_account(account).as_dict()
    except CalendarProblem as exc:
        return {"error": exc.message, "problem": exc.problem}


@task()
def sync_all() -> int:
    """Queue a sync of every agenda that is due (what the worker's scheduler runs)."""
    return accounts_due()
