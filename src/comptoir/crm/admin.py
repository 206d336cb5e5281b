"""Back office for pipelines and stages (R14); records themselves are worked in the app/API."""

from django.contrib import admin

from .models import LostReason, Pipeline, Stage


class StageInline(admin.TabularInline):
    model = Stage
    extra = 1
    ordering = ("order",)


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ("name", "is_default")
    inlines = [StageInline]


@admin.register(LostReason)
class LostReasonAdmin(admin.ModelAdmin):
    """The picklist offered when a deal is lost; empty means free text."""

    list_display = ("name", "order", "active")
    list_editable = ("order", "active")
