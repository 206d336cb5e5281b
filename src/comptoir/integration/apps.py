from pathlib import Path

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationConfig(AppConfig):
    name = "comptoir.integration"
    verbose_name = _("Integration")

    def ready(self) -> None:
        from comptoir.core.services import register_write_guard

        from .engine import files
        from .ownership import refuse_owned_field_edits

        register_write_guard(refuse_owned_field_edits)
        files.XLSX_GUARD = check_xlsx  # the engine stays free of Django and of the settings


def check_xlsx(path: Path) -> None:
    """The sync's XLSX files are refused as the pre-import audit refuses them."""
    from django.conf import settings

    from comptoir.core.archives import ArchiveTooLarge, check_zip_archive

    try:
        check_zip_archive(path, max_bytes=settings.COMPTOIR_IMPORT_MAX_UNCOMPRESSED_BYTES,
                          max_ratio=settings.COMPTOIR_IMPORT_MAX_COMPRESSION_RATIO)
    except ArchiveTooLarge as exc:
        raise ValueError(f"{exc}; refused: save the workbook again, or export it as CSV"
                         ) from None
