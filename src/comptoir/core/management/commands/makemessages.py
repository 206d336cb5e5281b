"""Django's ``makemessages``, also reading ``_l(...)`` (``gettext_lazy`` imported as ``_l``
where a module needs both the lazy and the immediate form)."""

from __future__ import annotations

from django.core.management.commands.makemessages import Command as MakeMessagesCommand


class Command(MakeMessagesCommand):
    xgettext_options = [*MakeMessagesCommand.xgettext_options, "--keyword=_l"]
