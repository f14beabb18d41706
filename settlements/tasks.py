"""Celery tasks of the settlements app (idempotent; when they run is declared
in ``config/beat.py``)."""

from __future__ import annotations

from celery import shared_task

from .receivables import receivable_reminder_deliver, receivables_remind
from .services import settlements_draw


@shared_task(name="settlements.draw")
def draw_settlements() -> int:
    """Draw the settlements of every period that has ended."""
    return len(settlements_draw())


@shared_task(name="settlements.receivables_remind")
def remind_receivables() -> int:
    """Record the reminders of receivables' due dates that are due today
    (each once); their e-mails go after the commit."""
    return receivables_remind()


@shared_task(
    name="settlements.deliver_receivable_reminder", autoretry_for=(OSError,), max_retries=5
)
def deliver_receivable_reminder(reminder_id: int) -> int:
    """E-mail one recorded reminder of a receivable."""
    return receivable_reminder_deliver(reminder_id=reminder_id)
