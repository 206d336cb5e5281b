"""Promotion of a prospect to an ERP customer (I7): the request, its review, the decision.

**Raising a request.** A prospect — an account that is not a customer and that no other system
knows (no live external reference, see :func:`ownership.erp_linked`) — that gets an accepted
quote or an order needs its customer record in the ERP. Rather than a hook in every write path
(the app's services, the bulk API, the syncs' loader all write sales documents, and the latter
two in set-based SQL), :func:`promotions_process` reads the ``salesdocument.created`` /
``salesdocument.updated`` events of the outbox after its own cursor, like every other consumer:
one place, every path, nothing lost while it is down. The worker runs it periodically
(:func:`promotions_due`) and the review pages catch up first, bounded
(:func:`promotions_catch_up`), so a data manager never waits for the worker. At most one
pending request per account (a database constraint); a document already judged (a rejected
request) never raises another one. :func:`promotion_request` lets the prospect's sales side (who
may change it) ask by hand. Requests are read through the access policy
(:func:`promotions_visible`): with their account, through the scope.

**Deciding.** Data managers and administrators only. :func:`promotion_review` gives what the
ERP profile still lacks (``profiles.gaps(..., "erp")``) and the existing customers the prospect
may be. :func:`promotion_approve` refuses while gaps remain, else promotes the account
(:func:`account_promote_checked`, which ``POST /accounts/{id}/promote`` calls too:
``crm.services.account_promote``, status customer, ``account.promoted`` event); the outbound
connector then creates the customer in the ERP and writes its external reference — the link.
When the ERP answers with a party another account is already linked to, that account keeps
the link and the two are put in the duplicate review queue instead (``dedupe.pair_propose``).
:func:`promotion_merge` folds the prospect into the customer it turns out to be
(``merge.merge_records``, the customer survives); :func:`promotion_reject` needs a reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.access import policy
from comptoir.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from comptoir.core.models import OutboxEvent
from comptoir.core.services import NON_FIELD
from comptoir.crm.models import Account
from comptoir.sales.models import SalesDocument

from . import dedupe, merge, profiles
from .models import MergeRecord, PromotionCursor, PromotionRequest
from .ownership import erp_linked

CURSOR_NAME = "promotions"
TOPICS = ("salesdocument.created", "salesdocument.updated")
# An update matters only when it may turn a document into a trigger.
RELEVANT_FIELDS = frozenset({"kind", "status", "account_id"})
BATCH = 1000
DUPLICATES_SCANNED = 20  # candidates scored before keeping the customers among them

Status = PromotionRequest.Status
Trigger = PromotionRequest.Trigger


# --- Raising requests from sales documents --------------------------------------------------

def promotion_triggers() -> Q:
    """Documents that make a prospect a customer: an accepted quote, an order not cancelled."""
    return (Q(kind=SalesDocument.Kind.QUOTE, status=SalesDocument.Status.ACCEPTED)
            | (Q(kind=SalesDocument.Kind.ORDER) & ~Q(status=SalesDocument.Status.CANCELLED)))


def promotions_for_documents(document_ids: Iterable[int]) -> int:
    """Raise a pending request for the prospects of these documents that call for one.

    Set-based, idempotent: an account with a pending request, a customer, an account another
    system knows, or a document that already raised a request (even a rejected one) is left
    alone. Returns how many requests were created.
    """
    ids = sorted({int(i) for i in document_ids})
    created = 0
    for start in range(0, len(ids), BATCH):
        created += _raise_for(ids[start:start + BATCH])
    return created


def _raise_for(ids: Sequence[int]) -> int:
    docs = list(SalesDocument.objects.filter(pk__in=ids).filter(promotion_triggers())
                .exclude(account__status=Account.Status.CUSTOMER)
                .order_by("pk").values_list("pk", "kind", "account_id"))
    if not docs:
        return 0
    accounts = {account_id for _pk, _kind, account_id in docs}
    linked = erp_linked("account", sorted(accounts))
    busy = set(PromotionRequest.objects.filter(account_id__in=accounts, status=Status.PENDING)
               .values_list("account_id", flat=True))
    judged = set(PromotionRequest.objects.filter(document_id__in=[d[0] for d in docs])
                 .values_list("document_id", flat=True))
    now = timezone.now()
    rows = []
    for pk, kind, account_id in docs:
        if account_id in linked or account_id in busy or pk in judged:
            continue
        busy.add(account_id)
        trigger = Trigger.ORDER if kind == SalesDocument.Kind.ORDER else Trigger.QUOTE_ACCEPTED
        rows.append(PromotionRequest(account_id=account_id, document_id=pk, trigger=trigger,
                                     requested_at=now))
    # a request raised meanwhile by another process (or by hand) wins: the constraint holds
    PromotionRequest.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _relevant(topic: str, payload: Any) -> bool:
    if topic == "salesdocument.created":
        return True
    changes = payload.get("changes") if isinstance(payload, dict) else None
    return bool(RELEVANT_FIELDS & set(changes or ()))


def promotions_process(*, max_events: int = BATCH * 10, batch: int = BATCH) -> dict[str, int]:
    """Read the sales documents' events after the cursor and raise the requests they call for.

    Each batch and the cursor move commit together; the cursor is claimed with a filtered
    ``update()``, so two workers never handle the same events twice. When no document event
    is left, the cursor jumps to the end of the outbox, so the next call does not scan the
    other topics' events again.
    """
    done = {"events": 0, "requests": 0}
    cursor, _created = PromotionCursor.objects.get_or_create(name=CURSOR_NAME)
    for _attempt in range(100):
        if done["events"] >= max_events:
            break
        start = cursor.last_event_id
        end = (OutboxEvent.objects.filter(id__gt=start).order_by("-id")
               .values_list("id", flat=True).first())
        if end is None:
            break
        size = min(batch, max_events - done["events"])
        rows = list(OutboxEvent.objects.filter(id__gt=start, id__lte=end, topic__in=TOPICS)
                    .order_by("id").values_list("id", "topic", "object_id", "payload")[:size])
        last = rows[-1][0] if len(rows) == size else end
        with transaction.atomic():
            claimed = PromotionCursor.objects.filter(pk=cursor.pk, last_event_id=start).update(
                last_event_id=last, updated_at=timezone.now())
            made = promotions_for_documents(
                [obj for _id, topic, obj, payload in rows if _relevant(topic, payload)]
            ) if claimed == 1 else 0
        if claimed != 1:  # another process handled these events meanwhile
            cursor.refresh_from_db()
            continue
        cursor.last_event_id = last
        done["events"] += len(rows)
        done["requests"] += made
        if last == end:
            break
    return done


def promotions_catch_up(*, limit: int = BATCH) -> dict[str, int]:
    """What the review pages call first: handle the last events, bounded, so a request raised
    a moment ago is there; a large backlog (an import) is left to the worker."""
    return promotions_process(max_events=limit, batch=limit)


def promotions_due(*, budget_seconds: float = 10.0) -> dict[str, int]:
    """The worker's periodic job (``COMPTOIR_PERIODIC_JOBS``): catch up, a few seconds at
    most per call."""
    started = time.monotonic()
    total = {"events": 0, "requests": 0}
    while time.monotonic() - started < budget_seconds:
        done = promotions_process()
        total["events"] += done["events"]
        total["requests"] += done["requests"]
        if done["events"] < BATCH * 10:
            break
    return total if total["requests"] else {}


# --- Asking by hand -------------------------------------------------------------------------

def not_promotable(account: Account) -> str | None:
    """Why ``account`` cannot be promoted (a message), or ``None``."""
    if account.status == Account.Status.CUSTOMER:
        return _("This account is already a customer.")
    if erp_linked("account", [account.pk]):
        return _("This account is already known by the ERP.")
    return None


@transaction.atomic
def promotion_request(*, account: Account, user: Any) -> tuple[PromotionRequest, bool]:
    """Ask for a prospect's promotion by hand (anyone who may change the account: its sales
    side, who then follows the request; marketing and service read accounts, not this).

    Returns ``(request, created)``: the account's pending request when there is one already.
    """
    if not policy.can(user, "view", account):
        raise NotFound(_("Not found, or you cannot see it."))
    if not policy.can(user, "change", account):
        raise Forbidden(_("Only those who may change this account can ask for its creation "
                          "in the ERP."))
    reason = not_promotable(account)
    if reason:
        raise ValidationFailed(reason, fields={"account": [reason]})
    existing = PromotionRequest.objects.filter(account=account, status=Status.PENDING).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            made = PromotionRequest.objects.create(
                account=account, trigger=Trigger.MANUAL,
                requested_by=user if getattr(user, "is_authenticated", False) else None)
    except IntegrityError:  # raised meanwhile by the consumer or another click
        return PromotionRequest.objects.get(account=account, status=Status.PENDING), False
    return made, True


# --- Reading --------------------------------------------------------------------------------

def promotions_visible(user: Any, *, status: str | None = None) -> QuerySet[PromotionRequest]:
    """Requests ``user`` may see, through the policy: all for data managers and
    administrators, else those of the accounts seen through the user's scope (a rep follows
    what became of their ask; the marketing and service read extensions bring none), pending
    first. Each carries ``document_visible``: whether ``user`` may see the document that
    raised it (its number and id are shown only then)."""
    qs = policy.restrict(
        PromotionRequest.objects.select_related("account", "document", "requested_by",
                                                "decided_by"), user)
    qs = qs.annotate(document_visible=Exists(policy.restrict(
        SalesDocument.objects.filter(pk=OuterRef("document_id")), user)))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by(Case(When(status=Status.PENDING, then=Value(0)), default=Value(1),
                            output_field=IntegerField()), "-requested_at", "-id")


def promotion_get(user: Any, pk: int) -> PromotionRequest:
    found = promotions_visible(user).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("Not found, or you cannot see it."))
    return found


@dataclass
class Review:
    """What the data manager needs to decide: the ERP profile's gaps and the customers the
    prospect may already be (best first, with the reasons of their score)."""

    request: PromotionRequest
    gaps: list[profiles.Gap]
    duplicates: list[dedupe.Candidate]

    @property
    def ready(self) -> bool:
        return not self.gaps


def _values(account: Account) -> dict[str, Any]:
    return {f.attname: getattr(account, f.attname) for f in account._meta.concrete_fields}


def customer_duplicates(account: Account, *, user: Any = None, limit: int = 5
                        ) -> list[dedupe.Candidate]:
    """Existing customers (or accounts the ERP knows) that ``account`` may duplicate."""
    found = dedupe.candidates("account", _values(account), user=user,
                              limit=DUPLICATES_SCANNED)
    linked = erp_linked("account", [c.id for c in found])
    return [c for c in found
            if c.record.get("status") == Account.Status.CUSTOMER or c.id in linked][:limit]


def promotion_review(request: PromotionRequest, *, user: Any = None) -> Review:
    """The gaps of the account for the ERP profile, and its possible duplicates among the
    customers (only those ``user`` may see, when given)."""
    account = Account.objects.get(pk=request.account_id)
    return Review(request, profiles.gaps("account", account, "erp"),
                  customer_duplicates(account, user=user))


# --- Deciding -------------------------------------------------------------------------------

def _require_data_manager(user: Any) -> None:
    if not policy.sees_all(user):
        raise Forbidden(_("Only data managers and administrators decide on promotions to the "
                          "ERP."))


def _lock_pending(request: PromotionRequest) -> PromotionRequest:
    locked = PromotionRequest.objects.select_for_update().filter(pk=request.pk).first()
    if locked is None:
        raise NotFound(_("Not found, or you cannot see it."))
    if locked.status != Status.PENDING:
        raise Conflict(_("This request has already been decided: %(status)s.")
                       % {"status": locked.get_status_display()})
    return locked


def _decide(request: PromotionRequest, user: Any, status: str, note: str = "",
            merge_record: MergeRecord | None = None) -> PromotionRequest:
    request.status = status
    request.decided_by = user if getattr(user, "is_authenticated", False) else None
    request.decided_at = timezone.now()
    request.decision_note = note
    request.merge = merge_record
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "merge",
                                "account"])
    return request


def gap_fields(found: Sequence[profiles.Gap]) -> dict[str, list[str]]:
    """Gaps as the field messages of a ``ValidationFailed`` (a gap naming no field, such as a
    probable duplicate, goes under ``__all__``)."""
    out: dict[str, list[str]] = {}
    for gap in found:
        for name in gap.fields or [NON_FIELD]:
            out.setdefault(name, []).append(gap.message)
    return out


@transaction.atomic
def account_promote_checked(*, account: Account, user: Any, source: str = "app") -> Account:
    """Promote ``account`` (``crm.services.account_promote``) only once it meets the ERP
    profile: the one gate of every way in — the review's approval, ``POST
    /accounts/{id}/promote``, the command line — so none lets a half-filled customer through.

    Data managers and administrators only (403 first: a rep learns nothing of the gaps);
    then a 422 naming every gap by field, with the messages the review shows; then a 409
    while no enabled connection sends new customers (the account would become a customer
    the ERP never hears of).
    """
    from comptoir.crm.services import account_promote

    _require_data_manager(user)
    found = profiles.gaps("account", account, "erp")
    if found:
        raise ValidationFailed(_("Complete the account before its creation in the ERP."),
                               fields=gap_fields(found))
    if not outbound_connection_exists():
        raise Conflict(_("No ERP connection sends new customers: add a connection going out of "
                         "Comptoir (or both ways) and enable it, then approve again."))
    return account_promote(account=account, user=user, source=source)


def outbound_connection_exists() -> bool:
    """Whether an enabled connection sends records to the ERP (direction outbound or both).

    Looked up through the app registry: a domain app does not import the integration layer."""
    try:
        connection_model = apps.get_model("integration", "Connection")
    except LookupError:
        return False
    return bool(connection_model.objects.filter(
        enabled=True, direction__in=("outbound", "both")).exists())


@transaction.atomic
def promotion_approve(*, request: PromotionRequest, user: Any, source: str = "app"
                      ) -> PromotionRequest:
    """Approve: the account is promoted (customer, ``account.promoted`` event) and the
    outbound connector creates it in the ERP. Refused while the ERP profile has gaps, and
    while no enabled connection sends new customers: the account would become a customer the
    ERP never hears of (both checked by ``account_promote_checked``)."""
    _require_data_manager(user)
    request = _lock_pending(request)
    account_promote_checked(account=Account.objects.get(pk=request.account_id), user=user,
                            source=source)
    return _decide(request, user, Status.APPROVED)


@transaction.atomic
def promotion_reject(*, request: PromotionRequest, user: Any, note: str) -> PromotionRequest:
    """Reject, with the reason (shown to whoever reads the request later)."""
    _require_data_manager(user)
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(_("Say why the promotion is rejected."),
                               fields={"note": [_("This field is required.")]})
    return _decide(_lock_pending(request), user, Status.REJECTED, note)


@transaction.atomic
def promotion_merge(*, request: PromotionRequest, user: Any, customer_id: int,
                    source: str = "app") -> PromotionRequest:
    """The prospect is in fact an existing customer: merge it into that customer (which
    survives, with its ERP link) and close the request as merged.

    The prospect's requests move to the customer first: the prospect is deleted by the merge
    and its requests would go with it, losing the decision.
    """
    _require_data_manager(user)
    request = _lock_pending(request)
    prospect_id = request.account_id
    customer = Account.objects.filter(pk=customer_id).first()
    if customer is None or customer.pk == prospect_id or not (
            customer.status == Account.Status.CUSTOMER
            or erp_linked("account", [customer.pk])):
        raise ValidationFailed(_("Choose an existing customer to merge the prospect into."),
                               fields={"customer_id": [_("Not a customer.")]})
    request.account = customer
    _decide(request, user, Status.MERGED)
    PromotionRequest.objects.filter(account_id=prospect_id).update(account=customer)
    record = merge.merge_records(object_type="account", survivor_id=customer.pk,
                                 loser_ids=[prospect_id], user=user, source=source)
    request.merge = record
    request.save(update_fields=["merge"])
    return request
