from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CaldavConfig(AppConfig):
    name = "comptoir.caldav"
    label = "caldav"
    verbose_name = _("Agenda sync")
