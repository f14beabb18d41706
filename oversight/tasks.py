"""Oversight's Celery task: the daily anomaly detection, and its beat schedule.

The task keeps the name it had when it lived in ``audit``
("audit.detect_anomalies"), and so does its periodic task row: beat rows
and queued messages name tasks by that string.
"""

from __future__ import annotations

import datetime

from celery import shared_task
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from audit.services import Actor

from .flags import anomalies_detect


@shared_task(name="audit.detect_anomalies", ignore_result=True)
def audit_detect_anomalies(day: str | None = None, days: int = 1) -> list[int]:
    """Run the anomaly detectors over yesterday (or ``day``, ISO date); return
    the ids of the new flags. Idempotent: a second run flags nothing new."""
    report = anomalies_detect(
        day=datetime.date.fromisoformat(day) if day else None,
        days=days,
        actor=Actor.system("audit.detect_anomalies"),
    )
    return [flag.pk for flag in report.created]


def install_detection_schedule() -> list[tuple[str, bool]]:
    """The daily detection run (04:30 China time, after the night's usage is in)."""
    daily, _created = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="4",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Asia/Shanghai",
    )
    name = "audit: daily anomaly detection"
    wanted = {"task": "audit.detect_anomalies", "crontab": daily, "interval": None, "enabled": True}
    existing = PeriodicTask.objects.filter(name=name).first()
    if existing is None:
        PeriodicTask.objects.create(name=name, **wanted)
        return [(name, True)]
    # Saving makes beat reload its schedule: only when something differs.
    if any(getattr(existing, key) != value for key, value in wanted.items()):
        for key, value in wanted.items():
            setattr(existing, key, value)
        existing.save()
    return [(name, False)]
