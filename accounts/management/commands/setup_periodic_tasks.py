"""Write the beat schedule into django-celery-beat (idempotent).

The schedule is declared once, in ``config/beat.py``, and reaches this
command as ``settings.PERIODIC_TASKS``: accounts imports none of the apps
whose tasks it schedules, nor the composition root.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")


def _when(row: Mapping[str, Any]) -> dict[str, Any]:
    """The interval or crontab a row runs on, as PeriodicTask fields."""
    if ("interval" in row) == ("crontab" in row):
        raise ValueError(f"{row['task']}: give either an interval or a crontab")
    if "interval" in row:
        every, period = row["interval"]
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        return {"interval": interval, "crontab": None}
    fields = {name: str(row["crontab"].get(name, "*")) for name in CRONTAB_FIELDS}
    crontab, _ = CrontabSchedule.objects.get_or_create(**fields, timezone=settings.CELERY_TIMEZONE)
    return {"interval": None, "crontab": crontab}


def install_periodic_tasks(schedule: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, bool]]:
    """Create or bring up to date a row per scheduled task; return (name, created) pairs."""
    done = []
    for name, row in schedule.items():
        wanted = {"task": row["task"], **_when(row), "enabled": True}
        existing = PeriodicTask.objects.filter(name=name).first()
        if existing is None:
            PeriodicTask.objects.create(name=name, **wanted)
            done.append((name, True))
            continue
        # Saving a PeriodicTask makes beat reload its whole schedule: save
        # only when something differs, so a second run changes nothing.
        if any(getattr(existing, field) != value for field, value in wanted.items()):
            for field, value in wanted.items():
                setattr(existing, field, value)
            existing.save()
        done.append((name, False))
    return done


class Command(BaseCommand):
    help = "Create or update every periodic task in django-celery-beat."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, created in install_periodic_tasks(settings.PERIODIC_TASKS):
            task = settings.PERIODIC_TASKS[name]["task"]
            self.stdout.write(f"{'created' if created else 'checked'} {name!r} ({task})")
