"""Re-encrypt every encrypted field with the first key of FIELD_ENCRYPTION_KEYS.

Rotation (docs/encryption.md): put the new key first in FIELD_ENCRYPTION_KEYS,
keep the old ones after it, deploy, run this command, then drop the old keys.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.fields import EncryptedCharField


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field with the newest key (the first of FIELD_ENCRYPTION_KEYS)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model in apps.get_models():
            fields = [
                f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedCharField)
            ]
            if not fields:
                continue
            count = 0
            with transaction.atomic():
                for row in (
                    model._default_manager.select_for_update().only("pk", *fields).iterator()
                ):
                    # Reading decrypts with any key; update() encrypts with the first.
                    model._default_manager.filter(pk=row.pk).update(
                        **{name: getattr(row, name) for name in fields}
                    )
                    count += 1
            total += count
            self.stdout.write(
                f"{model._meta.label}: {count} rows re-encrypted ({', '.join(fields)})"
            )
        self.stdout.write(f"{total} rows re-encrypted with the newest key.")
