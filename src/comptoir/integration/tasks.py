"""Background tasks of the integration: thin, each calls one service."""

from __future__ import annotations

from django_tasks import task

from .models import SyncRun
from .services import sync_run_execute


@task()
def execute_run(run_id: int) -> str:
    """Execute a queued run; its outcome is recorded on the run, not raised."""
    run = SyncRun.objects.select_related("connection").get(pk=run_id)
    if run.trigger == SyncRun.Trigger.RECONCILE:
        from .reconcile import reconcile_execute

        return reconcile_execute(run).status
    return sync_run_execute(run, user=run.requested_by).status
