"""Administration writes: users, teams, territories and their rules (R14).

Only administrators (role ``admin``) and superusers call these; the web settings pages and,
later, the API both go through them. Each function is one transaction and validates what it
is given, raising :mod:`comptoir.core.errors` exceptions with messages per field.

Why no ``record_change``: the audit trail and the outbox are keyed by
:class:`~comptoir.core.models.ObjectType` and read by the feeds, the search index and the
outbound connectors, which know nothing of users, teams or territories (and must not receive
e-mail addresses of staff as record events). These changes are written with plain saves inside
``transaction.atomic`` and logged, with who did it, to the ``comptoir.admin`` logger.

The visibility policy caches a scope on each *user object* (one request). After a change of
manager, team or territory the instances at hand forget theirs; other users' next requests load
fresh user objects, so they see the new scope at once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from comptoir.core.errors import Conflict, Forbidden, ValidationFailed
from comptoir.core.services import full_clean, save

from .models import Role, Team, Territory, TerritoryRule, User
from .policy import forget_scope, subordinate_ids

log = logging.getLogger("comptoir.admin")

USER_FIELDS = ("username", "first_name", "last_name", "email", "role", "manager_id",
               "language", "phone")
TEAM_FIELDS = ("name", "leader_id")
TERRITORY_FIELDS = ("name", "priority", "default_owner_id", "active")


def is_administrator(user: Any) -> bool:
    """Who may change the organisation and the configuration: admins and superusers."""
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
        and (getattr(user, "is_superuser", False) or getattr(user, "role", None) == Role.ADMIN)
    )


def require_administrator(user: Any) -> None:
    if not is_administrator(user):
        raise Forbidden(_("Only administrators can change the settings."))


def _who(user: Any) -> str:
    return str(getattr(user, "username", "") or "?")


def _pick(data: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    return {k: data[k] for k in allowed if k in data}


def _users_exist(ids: Iterable[int], field: str) -> list[int]:
    wanted = sorted({int(i) for i in ids})
    found = set(User.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    if missing := [i for i in wanted if i not in found]:
        raise ValidationFailed(_("Unknown user."),
                               fields={field: [_("Unknown user: %(ids)s.") % {
                                   "ids": ", ".join(map(str, missing))}]})
    return wanted


# --- Users ---------------------------------------------------------------------------------

def _check_manager(target: User, manager_id: int | None) -> None:
    if manager_id is None:
        return
    if target.pk is not None and (manager_id == target.pk
                                  or manager_id in subordinate_ids(target.pk)):
        raise ValidationFailed(_("This would make a loop in the hierarchy."), fields={
            "manager_id": [_("Choose someone who is not this user nor one of their reports.")]})
    if not User.objects.filter(pk=manager_id).exists():
        raise ValidationFailed(_("Unknown user."), fields={"manager_id": [_("Unknown user.")]})


def _check_password(password: str, target: User) -> None:
    try:
        password_validation.validate_password(password, target)
    except ValidationError as exc:
        raise ValidationFailed(_("Choose another password."),
                               fields={"password": [str(m) for m in exc.messages]}) from exc


def _normalise_user(values: dict[str, Any]) -> None:
    for key in ("username", "first_name", "last_name", "email", "phone"):
        if isinstance(values.get(key), str):
            values[key] = values[key].strip()


@transaction.atomic
def user_create(*, user: Any, data: Mapping[str, Any], password: str | None = None,
                team_ids: Iterable[int] | None = None) -> User:
    """A new user. Without ``password`` they cannot sign in until they follow a link from
    :func:`password_set_link_parts` (given by the administrator)."""
    require_administrator(user)
    values = _pick(data, USER_FIELDS)
    _normalise_user(values)
    target = User(**values)
    _check_manager(target, target.manager_id)
    if values.get("username") and User.objects.filter(
            username__iexact=values["username"]).exists():
        raise Conflict(_("This username is taken."),
                       fields={"username": [_("This username is taken.")]})
    if password:
        _check_password(password, target)
        target.set_password(password)
    else:
        target.set_unusable_password()
    full_clean(target, exclude=["password"])
    save(target)
    if team_ids is not None:
        target.teams.set(_users_teams(team_ids))
    log.info("%s created user %s (role %s)", _who(user), target.username, target.role)
    return target


def _users_teams(team_ids: Iterable[int]) -> list[int]:
    wanted = sorted({int(i) for i in team_ids})
    found = set(Team.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    if len(found) != len(wanted):
        raise ValidationFailed(_("Unknown team."), fields={"teams": [_("Unknown team.")]})
    return wanted


@transaction.atomic
def user_update(*, user: Any, target: User, data: Mapping[str, Any],
                team_ids: Iterable[int] | None = None) -> User:
    """Change a user's profile, role, manager and teams (never their password: see
    :func:`password_set_link_parts`)."""
    require_administrator(user)
    values = _pick(data, USER_FIELDS)
    _normalise_user(values)
    if "manager_id" in values and values["manager_id"] != target.manager_id:
        _check_manager(target, values["manager_id"])
    if "username" in values and values["username"].lower() != target.username.lower() \
            and User.objects.filter(username__iexact=values["username"]).exists():
        raise Conflict(_("This username is taken."),
                       fields={"username": [_("This username is taken.")]})
    losing_admin = (target.role == Role.ADMIN and values.get("role", Role.ADMIN) != Role.ADMIN
                    and not target.is_superuser)
    # The acting administrator stays one, so Comptoir always keeps an active administrator.
    if losing_admin and target.pk == getattr(user, "pk", None):
        raise ValidationFailed(_("You cannot remove your own administrator role."),
                               fields={"role": [_("Ask another administrator to do it.")]})
    for key, value in values.items():
        setattr(target, key, value)
    full_clean(target, exclude=["password"])
    save(target)
    if team_ids is not None:
        target.teams.set(_users_teams(team_ids))
    forget_scope(target)
    forget_scope(user)
    log.info("%s updated user %s: %s", _who(user), target.username, sorted(values))
    return target


@transaction.atomic
def user_set_active(*, user: Any, target: User, active: bool) -> User:
    """Deactivate (or reactivate) a user. Users are never deleted: their records keep them as
    owner and their history keeps their name; a deactivated user cannot sign in nor use an API
    token."""
    require_administrator(user)
    if target.is_active == active:
        return target
    if not active and target.pk == getattr(user, "pk", None):
        raise ValidationFailed(_("You cannot deactivate yourself."))
    User.objects.filter(pk=target.pk).update(is_active=active)
    target.is_active = active
    forget_scope(target)
    log.info("%s %s user %s", _who(user), "reactivated" if active else "deactivated",
             target.username)
    return target


def password_set_link_parts(*, user: Any, target: User) -> tuple[str, str]:
    """``(uidb64, token)`` for a one-time "choose your password" link (Django's password reset
    token: valid ``PASSWORD_RESET_TIMEOUT`` seconds, void once the password changes)."""
    require_administrator(user)
    if not target.is_active:
        raise ValidationFailed(_("Reactivate this user first."))
    return urlsafe_base64_encode(force_bytes(target.pk)), default_token_generator.make_token(target)


# --- Teams ---------------------------------------------------------------------------------

def _team_values(data: Mapping[str, Any]) -> dict[str, Any]:
    values = _pick(data, TEAM_FIELDS)
    if isinstance(values.get("name"), str):
        values["name"] = values["name"].strip()
    if values.get("leader_id") is not None:
        _users_exist([values["leader_id"]], "leader_id")
    return values


@transaction.atomic
def team_create(*, user: Any, data: Mapping[str, Any],
                member_ids: Iterable[int] = ()) -> Team:
    require_administrator(user)
    team = Team(**_team_values(data))
    full_clean(team)
    save(team)
    team.members.set(_users_exist(member_ids, "members"))
    log.info("%s created team %s", _who(user), team.name)
    return team


@transaction.atomic
def team_update(*, user: Any, team: Team, data: Mapping[str, Any],
                member_ids: Iterable[int] | None = None) -> Team:
    require_administrator(user)
    for key, value in _team_values(data).items():
        setattr(team, key, value)
    full_clean(team)
    save(team)
    if member_ids is not None:
        team.members.set(_users_exist(member_ids, "members"))
    forget_scope(user)
    log.info("%s updated team %s", _who(user), team.name)
    return team


@transaction.atomic
def team_delete(*, user: Any, team: Team) -> None:
    """Delete a team: its members lose the territories they saw through it, nothing else."""
    require_administrator(user)
    name = team.name
    team.delete()
    forget_scope(user)
    log.info("%s deleted team %s", _who(user), name)


# --- Territories ---------------------------------------------------------------------------

def _territory_values(data: Mapping[str, Any]) -> dict[str, Any]:
    values = _pick(data, TERRITORY_FIELDS)
    if isinstance(values.get("name"), str):
        values["name"] = values["name"].strip()
    if values.get("default_owner_id") is not None:
        _users_exist([values["default_owner_id"]], "default_owner_id")
    return values


def _territory_links(territory: Territory, member_ids: Iterable[int] | None,
                     team_ids: Iterable[int] | None) -> None:
    if member_ids is not None:
        territory.members.set(_users_exist(member_ids, "members"))
    if team_ids is not None:
        territory.teams.set(_users_teams(team_ids))


@transaction.atomic
def territory_create(*, user: Any, data: Mapping[str, Any], member_ids: Iterable[int] = (),
                     team_ids: Iterable[int] = ()) -> Territory:
    """A territory; accounts join it when its rules match (on creation, or on reassignment)."""
    require_administrator(user)
    territory = Territory(**_territory_values(data))
    full_clean(territory)
    save(territory)
    _territory_links(territory, member_ids, team_ids)
    log.info("%s created territory %s", _who(user), territory.name)
    return territory


@transaction.atomic
def territory_update(*, user: Any, territory: Territory, data: Mapping[str, Any],
                     member_ids: Iterable[int] | None = None,
                     team_ids: Iterable[int] | None = None) -> Territory:
    require_administrator(user)
    for key, value in _territory_values(data).items():
        setattr(territory, key, value)
    full_clean(territory)
    save(territory)
    _territory_links(territory, member_ids, team_ids)
    forget_scope(user)
    log.info("%s updated territory %s", _who(user), territory.name)
    return territory


_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PREFIX = re.compile(r"^[0-9A-Z]{1,10}$")
_NAF_PREFIX = re.compile(r"^[0-9]{1,2}(\.[0-9]{0,2}[A-Z]?)?$")


def clean_rule_value(kind: str, value: str) -> str:
    """The value as accounts store it (``62.01`` for a NAF prefix ``6201``); ``ValueError``
    with a message for the user when it cannot match anything."""
    from comptoir.crm.models import HeadcountBand  # the band codes are the account's

    raw = (value or "").strip().upper().replace(" ", "")
    if not raw:
        raise ValueError(_("Enter a value."))
    if kind == TerritoryRule.Kind.COUNTRY:
        if not _COUNTRY.match(raw):
            raise ValueError(_("Enter a two-letter country code (FR, BE…)."))
        return raw
    if kind == TerritoryRule.Kind.POSTCODE_PREFIX:
        if not _PREFIX.match(raw):
            raise ValueError(_("Enter the first characters of a postcode (69, 750…)."))
        return raw
    if kind == TerritoryRule.Kind.NAF_PREFIX:
        if "." not in raw and len(raw) > 2:
            raw = f"{raw[:2]}.{raw[2:]}"
        if not _NAF_PREFIX.match(raw):
            raise ValueError(_("Enter the start of a NAF code (62, 62.01, 62.01Z…)."))
        return raw
    if kind == TerritoryRule.Kind.HEADCOUNT_BAND:
        if raw not in HeadcountBand.values:
            raise ValueError(_("Choose one of the INSEE headcount bands."))
        return raw
    raise ValueError(_("Unknown kind of rule."))


@transaction.atomic
def territory_rule_add(*, user: Any, territory: Territory, kind: str, value: str
                       ) -> TerritoryRule:
    """Add a condition. Accounts already created move only on reassignment
    (``crm.services.accounts_assign_territories``)."""
    require_administrator(user)
    if kind not in TerritoryRule.Kind.values:
        raise ValidationFailed(_("Unknown kind of rule."), fields={"kind": [_("Choose a kind.")]})
    try:
        cleaned = clean_rule_value(kind, value)
    except ValueError as exc:
        raise ValidationFailed(str(exc), fields={"value": [str(exc)]}) from exc
    if territory.rules.filter(kind=kind, value__iexact=cleaned).exists():
        raise Conflict(_("This rule already exists."),
                       fields={"value": [_("This territory already has this rule.")]})
    rule = TerritoryRule(territory=territory, kind=kind, value=cleaned)
    full_clean(rule)
    save(rule)
    log.info("%s added rule %s %s to territory %s", _who(user), kind, cleaned, territory.name)
    return rule


@transaction.atomic
def territory_rule_delete(*, user: Any, rule: TerritoryRule) -> None:
    require_administrator(user)
    log.info("%s removed rule %s %s from territory %s", _who(user), rule.kind, rule.value,
             rule.territory_id)
    rule.delete()
