"""Oversight's Celery task: the daily anomaly detection (scheduled in config/beat.py).

The task keeps the name it had when it lived in ``audit``
("audit.detect_anomalies"), and so does its periodic task row: beat rows
and queued messages name tasks by that string.
"""

from __future__ import annotations

import datetime

from celery import shared_task

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
