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
from django.utils.module_loading import import_string

# Schedules installed besides the AppConfigs' own, named by dotted path so
# accounts imports no other app.
EXTRA_SCHEDULES = {"audit": "audit.tasks.install_detection_schedule"}


class Command(BaseCommand):
    help = "Create or update the periodic tasks of every app in django-celery-beat."

    def handle(self, *args: Any, **options: Any) -> None:
        for config in apps.get_app_configs():
            install = getattr(config, "install_beat_schedule", None)
            if install is None:
                continue
            for name, created in install():
                self.stdout.write(f"{config.label}: {'created' if created else 'checked'} {name!r}")
        for label, dotted in EXTRA_SCHEDULES.items():
            if not apps.is_installed(label):
                continue
            for name, created in import_string(dotted)():
                self.stdout.write(f"{label}: {'created' if created else 'checked'} {name!r}")
