"""Background tasks of data quality: thin, each calls one service."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from .dedupe import dedupe_run, refresh_all_indexes


@task()
def run_dedupe(object_type: str) -> dict[str, Any]:
    """The batch detection over one object type's whole base (review queue + index)."""
    return dedupe_run(object_type).as_dict()


@task()
def refresh_indexes() -> None:
    """Add recently changed records to the duplicate lookup indexes."""
    refresh_all_indexes()
