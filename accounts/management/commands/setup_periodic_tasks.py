"""Write every app's beat schedule into django-celery-beat (idempotent).

Each app that has periodic tasks gives its AppConfig an
``install_beat_schedule()`` method returning ``[(task name, created)]``; this
command calls them all, so there is one command for the whole schedule and
accounts imports none of the apps.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create or update the periodic tasks of every app in django-celery-beat."

    def handle(self, *args: Any, **options: Any) -> None:
        for config in apps.get_app_configs():
            install = getattr(config, "install_beat_schedule", None)
            if install is None:
                continue
            for name, created in install():
                self.stdout.write(f"{config.label}: {'created' if created else 'checked'} {name!r}")
