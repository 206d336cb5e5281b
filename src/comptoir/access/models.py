"""Users, teams, roles, territories and API tokens. The visibility policy is in ``policy``."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    REP = "rep", _("Sales rep")
    MANAGER = "manager", _("Sales manager")
    MARKETING = "marketing", _("Marketing")
    SERVICE = "service", _("Customer service")
    DATA_MANAGER = "data_manager", _("Data manager")
    ADMIN = "admin", _("Administrator")


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.REP)
    manager = models.ForeignKey(
        "self",
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    language = models.CharField(
        _("language"), max_length=5, choices=[("fr", "Français"), ("en", "English")], default="fr"
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    leader = models.ForeignKey(
        User, verbose_name=_("leader"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="led_teams",
    )
    members = models.ManyToManyField(User, verbose_name=_("members"), related_name="teams",
                                     blank=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Territory(models.Model):
    """A slice of the market. Accounts are assigned to the first territory whose rules match."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    priority = models.PositiveIntegerField(
        _("priority"), default=100, help_text=_("Lower numbers are tried first.")
    )
    default_owner = models.ForeignKey(
        User, verbose_name=_("default owner"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="default_territories",
    )
    members = models.ManyToManyField(User, verbose_name=_("members"), blank=True,
                                     related_name="territories")
    teams = models.ManyToManyField(Team, verbose_name=_("teams"), blank=True,
                                   related_name="territories")
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("territory")
        verbose_name_plural = _("territories")
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name


class TerritoryRule(models.Model):
    """One condition; a territory matches when all its rules of different kinds match and, within
    one kind, any value matches (e.g. postcode 75 or 92, and NAF 62)."""

    class Kind(models.TextChoices):
        POSTCODE_PREFIX = "postcode_prefix", _("Postcode starts with")
        COUNTRY = "country", _("Country")
        NAF_PREFIX = "naf_prefix", _("NAF code starts with")
        HEADCOUNT_BAND = "headcount_band", _("Headcount band")

    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=20)

    class Meta:
        verbose_name = _("territory rule")
        verbose_name_plural = _("territory rules")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the token itself is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, help_text=_("First characters, to recognise it."))
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @property
    def is_valid(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class LoginThrottle(models.Model):
    """Failed sign-ins counted per user name and per client address (see ``throttle``).

    One row per key, in the database so every web process sees the same counts. The user name
    is stored hashed: people sometimes type their password into the user name field.
    """

    scope = models.CharField(max_length=4)  # "user" or "ip"
    key = models.CharField(max_length=64)
    failures = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("failed sign-ins")
        verbose_name_plural = _("failed sign-ins")
        constraints = [models.UniqueConstraint(fields=["scope", "key"],
                                               name="access_login_throttle_key")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key[:12]} ({self.failures})"
