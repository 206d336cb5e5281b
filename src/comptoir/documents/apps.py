from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    name = "comptoir.documents"
    label = "documents"
    verbose_name = _("Documents")

    def ready(self) -> None:
        from . import signals  # noqa: F401
