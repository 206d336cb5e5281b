from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "comptoir.web"
    label = "web"
    verbose_name = _("Web application")

    def ready(self) -> None:
        from django.contrib import admin

        from .views.auth import ThrottledAdminAuthenticationForm

        # The back office's sign-in is throttled like the application's.
        admin.site.login_form = ThrottledAdminAuthenticationForm
