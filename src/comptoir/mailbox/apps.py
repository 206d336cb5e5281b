"""Mailbox logging: each user's mailbox (IMAP) fetched incrementally by the worker; messages
to or from a contact, a lead or an account's domain are logged on that record, once."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailboxConfig(AppConfig):
    name = "comptoir.mailbox"
    label = "mailbox"
    verbose_name = _("Mailboxes")

    def ready(self) -> None:
        from comptoir.access.policy import Rule, register

        from .models import LoggedMessage

        # A logged message's text is private: its owner's scope only (the owner, their
        # managers; admins and data managers see everything). Not through the account.
        register(LoggedMessage, Rule(account_path=None, owner_path="owner"))
