from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccessConfig(AppConfig):
    name = "comptoir.access"
    label = "access"
    verbose_name = _("Access")

    def ready(self) -> None:
        from .rules import register_all

        register_all()
