"""THE visibility policy. Every read and write path asks it; nothing else decides who sees what.

Rules (documented for users in ``docs/access.md``):

* **admin**, **data manager** and superusers see and change everything.
* Everyone else has a *scope*: themselves plus every user below them in the manager hierarchy,
  at any depth. The scope's *territories* are those its users belong to, directly or through a
  team.
* An **account** is visible when its owner is in the scope or it lies in one of the scope's
  territories. Everything attached to an account (contacts, opportunities, activities, cases,
  sales documents and their lines, attachments) is visible with it; records with an owner are
  also visible to their owner's scope even when attached elsewhere.
* A **lead** (not yet attached to an account) is visible to its owner's scope.
* **Catalogue** (products, price lists) is readable by all signed-in users, changed by data
  managers and admins.
* Role extensions: **marketing** reads all leads, accounts and contacts (segments) and changes
  leads; **service** reads all accounts and contacts and reads and changes all cases.
* ``change`` follows ``view`` within the scope; ``delete`` needs ownership in the scope (the
  owner or one of their managers): seeing a territory's accounts does not let a teammate delete
  them.
* ``transfer`` (changing the owner of an existing record) needs the same right as ``delete``:
  the owner, their managers, data managers and admins (as in Salesforce: the owner, the roles
  above them and administrators). A record without owner attached to an account is the account
  owner's side's to give; an account or lead without owner is given one by a data manager or an
  admin. Taking a record one may merely edit would otherwise grant its deletion. The new owner
  must be one the user may *assign*: themselves or someone in their scope (anyone for data
  managers and admins). Services ask :func:`require_assignable` with the record; the check
  reads the current owner from the database, locked, never from the instance in hand.
* **Territory** (``territory_id``) is set by data managers and admins only, on creation as on
  change (:func:`require_territory_right`); everyone else gets the assignment rules.
* **Links set by id** (a parent account, the account of a contact…) must reach a record the
  user sees; a hidden one is refused with the very message of a missing one
  (:func:`require_link`), so no answer tells whether an id exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from django.db import transaction
from django.db.models import Model, Q, QuerySet

from .models import Role, Territory, User

Action = Literal["view", "change", "delete", "transfer"]

ALL_SEEING_ROLES = frozenset({Role.ADMIN, Role.DATA_MANAGER})


@dataclass(frozen=True)
class Rule:
    """How one model hangs off the policy."""

    account_path: str | None  # lookup from the model to its Account ("" for Account itself)
    owner_path: str | None  # lookup to the owning user
    public_read: bool = False  # catalogue: every signed-in user reads it
    role_read_all: frozenset[str] = frozenset()
    role_change_all: frozenset[str] = frozenset()


_RULES: dict[str, Rule] = {}


def register(model: type[Model], rule: Rule) -> None:
    _RULES[model._meta.label_lower] = rule


def rule_for(model: type[Model]) -> Rule:
    try:
        return _RULES[model._meta.label_lower]
    except KeyError as exc:  # a model nobody registered must never be served unfiltered
        raise LookupError(f"No visibility rule registered for {model._meta.label}") from exc


@dataclass(frozen=True)
class Scope:
    user_ids: frozenset[int]
    territory_ids: frozenset[int]
    sees_all: bool
    role: str


def sees_all(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and (user.is_superuser or getattr(user, "role", None) in ALL_SEEING_ROLES)
    )


def subordinate_ids(user_id: int) -> set[int]:
    """All users below ``user_id`` in the hierarchy, any depth (cycles tolerated)."""
    found: set[int] = set()
    frontier = {user_id}
    while frontier:
        below = set(
            User.objects.filter(manager_id__in=frontier).values_list("id", flat=True)
        ) - found - {user_id}
        found |= below
        frontier = below
    return found


def scope_of(user: Any) -> Scope:
    """The user's scope, computed once per user object (one request)."""
    cached = getattr(user, "_comptoir_scope", None)
    if cached is not None:
        return cached
    if not getattr(user, "is_authenticated", False):
        scope = Scope(frozenset(), frozenset(), False, "")
    elif sees_all(user):
        scope = Scope(frozenset({user.pk}), frozenset(), True, user.role)
    else:
        user_ids = frozenset({user.pk} | subordinate_ids(user.pk))
        territory_ids = frozenset(
            Territory.objects.filter(
                Q(members__in=user_ids) | Q(teams__members__in=user_ids), active=True
            ).values_list("id", flat=True)
        )
        scope = Scope(user_ids, territory_ids, False, user.role)
    user._comptoir_scope = scope
    return scope


def forget_scope(user: Any) -> None:
    """Drop the cached scope (after changing teams, territories or the hierarchy)."""
    if hasattr(user, "_comptoir_scope"):
        del user._comptoir_scope


def _prefix(path: str, field: str) -> str:
    return f"{path}__{field}" if path else field


def _account_q(scope: Scope, path: str) -> Q:
    q = Q(**{f"{_prefix(path, 'owner_id')}__in": scope.user_ids})
    if scope.territory_ids:
        q |= Q(**{f"{_prefix(path, 'territory_id')}__in": scope.territory_ids})
    return q


def visibility_q(model: type[Model], user: Any, action: Action = "view") -> Q | None:
    """The filter for ``model`` and ``user``; ``None`` means no restriction."""
    rule = rule_for(model)
    scope = scope_of(user)
    if scope.sees_all:
        return None
    if not scope.user_ids:
        return Q(pk__in=[])
    if action == "view" and (rule.public_read or scope.role in rule.role_read_all):
        return None
    if action == "change" and scope.role in rule.role_change_all:
        return None
    if action in ("delete", "transfer"):
        account_owner = (Q(**{f"{_prefix(rule.account_path, 'owner_id')}__in": scope.user_ids})
                         if rule.account_path is not None else None)
        if rule.owner_path is not None:
            owned = Q(**{f"{rule.owner_path}_id__in": scope.user_ids})
            if account_owner is not None and rule.account_path != "":
                # an unowned child (loaded by an import) is the account owner's to delete
                owned |= Q(**{f"{rule.owner_path}__isnull": True}) & account_owner
            return owned
        return account_owner if account_owner is not None else Q(pk__in=[])
    q = Q(pk__in=[])
    if rule.account_path is not None:
        q = _account_q(scope, rule.account_path)
    if rule.owner_path is not None:
        q |= Q(**{f"{rule.owner_path}_id__in": scope.user_ids})
    return q


def index_visibility_q(model: type[Model], user: Any, *, owner: str, account_owner: str,
                       account_territory: str) -> Q | None:
    """What ``user`` may view among copies of ``model``'s rows kept in an index (search).

    The same rule as ``visibility_q(model, user, "view")``, role extensions included, read
    from the model's registered rule; but on the ids the index stores with each copy (the
    record's owner, its account's owner and territory; an account's own for an account)
    instead of joins, which a query over millions of rows cannot afford. ``None`` means no
    restriction.
    """
    rule = rule_for(model)
    scope = scope_of(user)
    if scope.sees_all:
        return None
    if not scope.user_ids:
        return Q(pk__in=[])
    if rule.public_read or scope.role in rule.role_read_all:
        return None
    q = Q(pk__in=[])
    if rule.account_path is not None:
        q = Q(**{f"{account_owner}__in": scope.user_ids})
        if scope.territory_ids:
            q |= Q(**{f"{account_territory}__in": scope.territory_ids})
    if rule.owner_path is not None:
        q |= Q(**{f"{owner}__in": scope.user_ids})
    return q


def restrict(queryset: QuerySet[Any], user: Any, action: Action = "view") -> QuerySet[Any]:
    """Filter ``queryset`` to what ``user`` may ``action``. Every read path goes through here."""
    q = visibility_q(queryset.model, user, action)
    return queryset if q is None else queryset.filter(q)


def can(user: Any, action: Action, obj: Model, *, lock: bool = False) -> bool:
    """Whether ``user`` may ``action`` ``obj``, decided on its row in the database (never on
    the instance in hand, which may be stale or already changed in memory). ``lock`` takes a
    row lock (inside a transaction) so the answer holds until the transaction ends: a
    concurrent transfer of ownership waits instead of slipping between check and write."""
    qs = restrict(type(obj)._default_manager.filter(pk=obj.pk), user, action)
    if lock and transaction.get_connection().in_atomic_block:
        return bool(list(qs.select_for_update(of=("self",)).only("pk")[:1]))
    return qs.exists()


def assignable_owner_ids(user: Any) -> frozenset[int] | None:
    """Users ``user`` may name as owner; ``None`` means anyone."""
    scope = scope_of(user)
    return None if scope.sees_all else scope.user_ids


def _owner_attname(model: type[Model]) -> str | None:
    path = rule_for(model).owner_path
    return f"{path}_id" if path and "__" not in path else None


def may_transfer(user: Any, record: Model) -> bool:
    """Whether ``user`` may change the owner of ``record`` (an existing record): the delete
    right, read from the database."""
    return record.pk is not None and can(user, "transfer", record, lock=True)


def require_assignable(user: Any, owner_id: int | None, *, record: Model | None = None
                       ) -> None:
    """Refuse an owner ``user`` may not give records to (a field error on ``owner``).

    Every service that writes an owner calls it: a form offering only allowed owners is a
    courtesy, this is the rule. With ``record`` (an update), a new owner also needs the right
    to transfer the record (:func:`may_transfer`): refused with 403 and a field error on
    ``owner`` otherwise. The current owner is read from the database, not from ``record``,
    which the caller may already have changed.
    """
    from django.utils.translation import gettext as _

    from comptoir.core.errors import Forbidden, ValidationFailed

    if record is not None and record.pk is not None:
        attname = _owner_attname(type(record))
        row = type(record)._default_manager.filter(pk=record.pk)
        if transaction.get_connection().in_atomic_block:
            row = row.select_for_update()  # the owner stays what it is until the write
        current = row.values_list(attname, flat=True).first() if attname else None
        if owner_id == current:
            return  # unchanged: nothing is given to anyone
        if not may_transfer(user, record):
            raise Forbidden(
                _("Only the owner of this record, their managers, data managers and "
                  "administrators can give it to someone else."),
                fields={"owner": [_("You may not change the owner of this record.")]},
            )
    allowed = assignable_owner_ids(user)
    if owner_id is not None and allowed is not None and owner_id not in allowed:
        raise ValidationFailed(
            _("You may only assign records to yourself or to people in your team."),
            fields={"owner": [_("Not a user you may assign to.")]},
        )


def require_territory_right(user: Any, territory_id: int | None,
                            current: int | None = None) -> None:
    """Refuse setting ``territory_id`` (other than ``current``) to anyone but data managers
    and admins (a 403 with a field error on ``territory``)."""
    from django.utils.translation import gettext as _

    from comptoir.core.errors import Forbidden

    if territory_id != current and not sees_all(user):
        raise Forbidden(
            _("Only data managers and administrators can place an account in a territory."),
            fields={"territory": [_("Set by the territory rules or by a data manager.")]},
        )


def require_link(user: Any, model: type[Model], pk: Any, *, field: str, message: str,
                 field_message: str, action: Action = "view") -> Model:
    """The ``model`` record ``pk`` that a record being written points to, if ``user`` may
    ``action`` it; else a field error on ``field`` — the same for a missing id and a hidden
    one, so the answer never tells whether a record exists."""
    from comptoir.core.errors import ValidationFailed

    found = None
    if pk is not None and str(pk).isdigit() and len(str(pk)) <= 18:
        found = restrict(model._default_manager.filter(pk=int(pk)), user, action).first()
    if found is None:
        raise ValidationFailed(message, fields={field: [field_message]})
    return found


def can_manage_catalogue(user: Any) -> bool:
    return sees_all(user)


def users_in_scope(user: Any) -> Iterable[int]:
    return scope_of(user).user_ids


def restrict_under(queryset: QuerySet[Any], user: Any, account: Model) -> QuerySet[Any]:
    """Children of one account: all visible when the account is, else the general rule.

    Callers pass ``queryset`` already filtered to the account; knowing the account is visible
    spares the database the scope subquery on every nested list.
    """
    if rule_for(type(account)).account_path == "":
        # Only an account seen through the scope brings its children along; one read through a
        # role extension (marketing, service) does not: those roles read the children their
        # own rules allow, through ``restrict`` below.
        scope = scope_of(user)
        if scope.sees_all or getattr(account, "owner_id", None) in scope.user_ids \
                or getattr(account, "territory_id", None) in scope.territory_ids:
            return queryset
    return restrict(queryset, user)
