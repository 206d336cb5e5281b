from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationConfig(AppConfig):
    name = "comptoir.integration"
    verbose_name = _("Integration")

    def ready(self) -> None:
        from comptoir.core.services import register_write_guard

        from .ownership import refuse_owned_field_edits

        register_write_guard(refuse_owned_field_edits)
