"""CRM → ERP: the outbox consumer that creates promoted accounts as customers in the ERP.

Each outbound connection reads ``account.promoted`` events after its own cursor, in order. For
each, the connector creates (or finds: same SIREN or name) the customer in the ERP, and the
ExternalRef is written with the cursor in one transaction. When the ERP is down the consumer
stops where it is and retries later with a growing delay (30 s, 1 min, 2 min… up to an hour),
so nothing is skipped and nothing is created twice; a record the ERP refuses is quarantined
with its reason and the consumer moves on.

When the ERP answers with an existing party that another CRM account is already linked to,
that account keeps its link: moving it would cut the customer the ERP's invoices and orders
sync to. The promoted account stays unlinked and the two are put in the duplicate review queue
("same ERP party", ``quality.dedupe.pair_propose``) for the data manager to merge. An existing
party no account is linked to (a retry after a crash, or a company the ERP knew) is linked to
the promoted account. Every outcome is written in the promoted account's audit trail.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from comptoir.core.models import AuditEntry, ExternalRef, ObjectType, OutboxEvent
from comptoir.crm.models import Account
from comptoir.quality.dedupe import pair_propose

from .engine.errors import SyncError, TransientError
from .models import Connection, OutboundState, QuarantinedRecord
from .services import connection_connector, connection_mapping

log = logging.getLogger(__name__)

TOPIC = "account.promoted"
MAX_BACKOFF = dt.timedelta(hours=1)


def _account_data(account: Account) -> dict[str, Any]:
    fields = ("legal_name", "trade_name", "siren", "siret", "vat_number", "billing_street",
              "billing_postcode", "billing_city", "billing_country", "phone", "email",
              "website")
    return {"id": account.pk, **{name: getattr(account, name) or "" for name in fields}}


def backoff(attempts: int) -> dt.timedelta:
    return min(dt.timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def outbound_process(connection: Connection, *, now: dt.datetime | None = None,
                     limit: int = 100) -> dict[str, int]:
    """Push the pending promotions of one connection; returns what happened."""
    now = now or timezone.now()
    done = {"created": 0, "linked": 0, "merge_proposed": 0, "skipped": 0, "quarantined": 0,
            "waiting": 0}
    state, _created = OutboundState.objects.get_or_create(connection=connection)
    if state.next_attempt_at is not None and now < state.next_attempt_at:
        done["waiting"] = 1
        return done
    events = list(OutboxEvent.objects.filter(id__gt=state.last_event_id, topic=TOPIC)
                  .order_by("id")[:limit])
    if not events:
        return done
    system = connection_mapping(connection).system
    connector = connection_connector(connection)
    push = getattr(connector, "push_account", None)
    if push is None:
        state.last_error = f"The {connection.connector} connector cannot create customers."
        state.save(update_fields=["last_error", "updated_at"])
        return done
    try:
        for event in events:
            account = Account.objects.filter(pk=event.object_id).first()
            known = ExternalRef.objects.filter(system=system, object_type=ObjectType.ACCOUNT,
                                               object_id=event.object_id,
                                               deleted_at__isnull=True).exists()
            if account is None or known:
                _advance(state, event.pk)
                done["skipped"] += 1
                continue
            try:
                party_id, created = push(_account_data(account))
            except TransientError as exc:
                state.attempts += 1
                state.next_attempt_at = now + backoff(state.attempts)
                state.last_error = exc.message
                state.save(update_fields=["attempts", "next_attempt_at", "last_error",
                                          "updated_at"])
                log.warning("outbound %s: %s; retry at %s", connection.name, exc.message,
                            state.next_attempt_at)
                return done
            except SyncError as exc:  # the ERP refuses this one: set it aside, go on
                with transaction.atomic():
                    QuarantinedRecord.objects.create(
                        connection=connection, stream="outbound:account",
                        external_id=str(account.pk), position=f"account {account.pk}",
                        payload={k: str(v) for k, v in _account_data(account).items()},
                        reason=exc.message)
                    _advance(state, event.pk)
                done["quarantined"] += 1
                continue
            with transaction.atomic():
                outcome = _link(connection, system, account, str(party_id), created=created)
                _advance(state, event.pk)
            done[outcome] += 1
    finally:
        connector.close()
    return done


def _link(connection: Connection, system: str, account: Account, external_id: str, *,
          created: bool) -> str:
    """Link ``account`` to the ERP party, unless another live account holds that party: then
    propose the two for merging. Returns the outcome: created, linked or merge_proposed."""
    ref = (ExternalRef.objects.select_for_update()
           .filter(system=system, object_type=ObjectType.ACCOUNT, external_id=external_id)
           .first())
    holder = None
    if ref is not None and ref.deleted_at is None and ref.object_id != account.pk:
        holder = Account.objects.filter(pk=ref.object_id).first()
    changes: dict[str, list[object]] = {"erp_party": [None, f"{system}:{external_id}"]}
    if holder is None:
        ExternalRef.objects.update_or_create(
            system=system, object_type=ObjectType.ACCOUNT, external_id=external_id,
            defaults={"object_id": account.pk, "content_hash": "", "deleted_at": None})
        outcome = "created" if created else "linked"
    else:
        pair = pair_propose(object_type=ObjectType.ACCOUNT, first_id=account.pk,
                            second_id=holder.pk, system=system, external_id=external_id)
        changes.update({"same_as_account": [None, holder.pk], "duplicate_pair": [None, pair.pk]})
        outcome = "merge_proposed"
        log.info("outbound %s: account %s matched %s party %s, already account %s's; "
                 "proposed for merge (pair %s)", connection.name, account.pk, system,
                 external_id, holder.pk, pair.pk)
    changes["erp_outcome"] = [None, outcome]
    # the audit entry alone, no outbox event: an ``account.promoted`` event would come back here
    AuditEntry.objects.create(object_type=ObjectType.ACCOUNT, object_id=account.pk,
                              action=AuditEntry.Action.PROMOTE,
                              source=f"outbound:{connection.name}"[:40], changes=changes)
    return outcome


def _advance(state: OutboundState, event_id: int) -> None:
    state.last_event_id = event_id
    state.attempts = 0
    state.next_attempt_at = None
    state.last_error = ""
    state.save(update_fields=["last_event_id", "attempts", "next_attempt_at", "last_error",
                              "updated_at"])


def outbound_due() -> dict[str, dict[str, int]]:
    """The worker's periodic job: every outbound connection, when its retry delay allows."""
    out = {}
    for connection in Connection.objects.filter(
            enabled=True, direction__in=(Connection.Direction.OUTBOUND,
                                         Connection.Direction.BOTH)):
        try:
            result = outbound_process(connection)
        except SyncError as exc:
            log.warning("outbound %s: %s", connection.name, exc.message)
            continue
        if any(result.values()):
            out[connection.name] = result
    return out
