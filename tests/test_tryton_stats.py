"""The time a sync spends waiting for Tryton is kept on the run, so Comptoir's own share shows."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from comptoir.integration.connectors.tryton_rpc import TrytonClient
from comptoir.integration.mappings import builtin_mapping
from comptoir.integration.models import Connection, SyncRun
from comptoir.integration.services import sync_run
from comptoir.testing.tryton_fixtures import tryton, tryton_template  # noqa: F401


@pytest.fixture
def connection(tryton: Any, db: None) -> Connection:  # noqa: F811
    return Connection.objects.create(
        name="tryton", connector="tryton", mapping=builtin_mapping("tryton"), batch_size=50,
        parameters={"url": tryton.url, "database": tryton.database,
                    "username": tryton.username},
        secrets={"password": tryton.password})


def test_the_client_counts_its_calls(tryton: Any) -> None:  # noqa: F811
    with TrytonClient(tryton.url, tryton.database, tryton.username, tryton.password) as client:
        assert client.stats() == {"calls": 0, "seconds": 0.0, "decode_seconds": 0.0,
                                  "bytes_received": 0}
        client.search_count("party.party", [])  # login, preferences, then the count
        stats = client.stats()
    assert stats["calls"] == 3
    assert stats["seconds"] > 0
    assert stats["bytes_received"] > 0
    assert 0 < stats["decode_seconds"] <= stats["seconds"]


def test_a_sync_keeps_tryton_s_time_and_the_command_shows_it(connection: Connection) -> None:
    run = sync_run(connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error_message
    source = run.details["source"]
    assert source["calls"] > 0
    assert 0 < source["seconds"] < (run.duration_seconds or 0)
    assert source["bytes_received"] > 0

    out = StringIO()
    call_command("sync", "tryton", "--no-progress", stdout=out)  # nothing changed: still calls
    assert re.search(r"^  source: [\d,]+ calls?, [\d.,]+ s answering, [\d.,]+ MB received$",
                     out.getvalue(), re.MULTILINE), out.getvalue()


def test_a_run_failing_on_a_dead_tryton_still_finishes_readably(connection: Connection,
                                                                tryton: Any) -> None:  # noqa: F811
    tryton.kill()
    run = sync_run(connection)
    assert (run.status, run.error_category) == (SyncRun.Status.FAILED, "transient")
    assert run.finished_at is not None
    assert "unreachable" in run.error_message.lower()
    assert run.details["source"]["calls"] == 1  # the refused login
    assert run.details["source"]["bytes_received"] == 0

    out = StringIO()
    with pytest.raises(CommandError, match="failed"):
        call_command("sync", "tryton", "--no-progress", stdout=out)
    assert "failed in" in out.getvalue()
    assert "source: 1 call, " in out.getvalue()
