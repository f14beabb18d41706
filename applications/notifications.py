"""Queueing e-mail notices after the change that causes them has committed."""

from __future__ import annotations

from django.db import transaction

from .models import ApplicationEvent


def notify_applicant(*, event: ApplicationEvent) -> None:
    """E-mail the applicant about ``event`` once the current transaction commits."""
    from .tasks import send_application_notice

    event_id = event.pk
    transaction.on_commit(lambda: send_application_notice.delay(event_id))
