"""Celery tasks of notices: the e-mails of recorded notifications."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="notices.send_notification_emails", autoretry_for=(OSError,), max_retries=5)
def send_notification_emails(notification_ids: list[int]) -> int:
    return services.notification_emails_send(notification_ids=notification_ids)
