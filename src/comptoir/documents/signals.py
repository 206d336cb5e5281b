"""Files follow their rows: a deleted attachment (also by cascade) removes its stored file."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Attachment


@receiver(post_delete, sender=Attachment)
def delete_stored_file(sender: type[Attachment], instance: Attachment, **kwargs: Any) -> None:
    name, storage = instance.file.name, instance.file.storage
    if name:
        transaction.on_commit(lambda: storage.delete(name))
