"""Celery tasks of applications."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from .models import ApplicationEvent
from .notifications import notify_applicant


@shared_task(name="vouchers.send_application_notice")
@transaction.atomic
def send_application_notice(event_id: int) -> int:
    """Notify the applicant's members of an event not yet told (a task queued
    before notices were recorded with the event itself); returns how many
    were told.

    Idempotent: the event is locked and marked as notified, so a task that
    runs twice tells nothing the second time.
    """
    event = (
        ApplicationEvent.objects.select_for_update(of=("self",))
        .select_related("application__enterprise", "application__program__district")
        .filter(pk=event_id, notified_at__isnull=True)
        .first()
    )
    if event is None:
        return 0
    return notify_applicant(event=event, email_now=True)
