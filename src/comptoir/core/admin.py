"""Back office for custom fields; the audit trail and the outbox are read-only."""

from django.contrib import admin

from .models import AuditEntry, CustomField, ExternalRef, OutboxEvent


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ("object_type", "name", "label", "type", "required", "active")
    list_filter = ("object_type", "type", "active")


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by services only; nobody edits it by hand."""

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "object_type", "object_id", "action", "user", "source")
    list_filter = ("object_type", "action", "source")


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "topic", "object_id", "created_at")
    list_filter = ("topic",)


@admin.register(ExternalRef)
class ExternalRefAdmin(ReadOnlyAdmin):
    list_display = ("system", "object_type", "external_id", "object_id", "synced_at")
    list_filter = ("system", "object_type")
    search_fields = ("external_id",)
