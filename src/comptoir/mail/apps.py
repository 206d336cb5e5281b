"""Outgoing e-mail: messages composed from a record (templates, signatures, attachments),
queued and sent by the worker through the company's SMTP relay, logged on the record."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "comptoir.mail"
    label = "mail"
    verbose_name = _("E-mail")

    def ready(self) -> None:
        from comptoir.access.policy import Rule, register
        from comptoir.core import health

        from . import checks
        from .models import OutgoingEmail

        # An e-mail is seen with the record's account, and by its sender's scope.
        register(OutgoingEmail, Rule(account_path="account", owner_path="sender"))
        if checks.smtp_checks not in health.EXTRA_CHECKS:
            health.EXTRA_CHECKS.append(checks.smtp_checks)
