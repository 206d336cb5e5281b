"""Back office for the organisation: users and roles, teams, territories and their rules."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import ApiToken, Team, Territory, TerritoryRule, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "first_name", "last_name", "role", "manager", "is_active")
    list_filter = ("role", "is_active", "teams")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Comptoir"), {"fields": ("role", "manager", "language", "phone")}),
    )
    autocomplete_fields = ("manager",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "leader")
    filter_horizontal = ("members",)
    search_fields = ("name",)


class TerritoryRuleInline(admin.TabularInline):
    model = TerritoryRule
    extra = 1


@admin.register(Territory)
class TerritoryAdmin(admin.ModelAdmin):
    list_display = ("name", "priority", "default_owner", "active")
    list_editable = ("priority", "active")
    filter_horizontal = ("members", "teams")
    inlines = [TerritoryRuleInline]
    search_fields = ("name",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created by their owner (API or CLI); here they can only be seen and revoked."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "expires_at",
                    "revoked_at")
    readonly_fields = ("user", "name", "prefix", "token_hash", "created_at", "last_used_at")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
