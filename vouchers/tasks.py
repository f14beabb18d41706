"""Celery tasks of the vouchers app: each one calls a service and is
idempotent (it may run twice, or late). With no broker configured they run
eagerly; django-celery-beat's schedule is set by ``manage.py
setup_periodic_tasks``."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import periodic


@shared_task(name="vouchers.activate_due")
def activate_due_vouchers() -> int:
    return periodic.vouchers_activate_due()


@shared_task(name="vouchers.expire_due")
def expire_due_vouchers() -> int:
    return periodic.vouchers_expire_due()


@shared_task(name="vouchers.release_expired_holds")
def release_expired_holds() -> int:
    return periodic.holds_release_expired()


@shared_task(name="vouchers.step_programs")
def step_programs() -> dict[str, list[str]]:
    report = periodic.programs_step_phase_down()
    return {"stepped": report.stepped, "closed": report.closed}


@shared_task(name="vouchers.send_reminders")
def send_voucher_reminders() -> int:
    return periodic.voucher_reminders_send()


@shared_task(name="vouchers.deliver_reminder", autoretry_for=(OSError,), max_retries=5)
def deliver_voucher_reminder(reminder_id: int) -> None:
    periodic.reminder_deliver(reminder_id=reminder_id)


@shared_task(name="vouchers.send_voucher_issued_notice", autoretry_for=(OSError,), max_retries=5)
def send_voucher_issued_notice(voucher_id: int) -> None:
    periodic.voucher_issued_notice_send(voucher_id=voucher_id)


# name → (task, crontab fields): the beat schedule that setup_periodic_tasks
# writes (through VouchersConfig.install_beat_schedule). Times are
# Asia/Shanghai (CELERY_TIMEZONE).
SCHEDULE: dict[str, tuple[str, dict[str, str]]] = {
    "Activate vouchers at valid-from": ("vouchers.activate_due", {"minute": "*/5"}),
    "Expire vouchers at expiry": ("vouchers.expire_due", {"minute": "*/5"}),
    "Release expired holds": ("vouchers.release_expired_holds", {"minute": "*"}),
    "Step programs through their phase-down": (
        "vouchers.step_programs",
        {"minute": "5", "hour": "0"},
    ),
    "Voucher reminders": ("vouchers.send_reminders", {"minute": "0", "hour": "9"}),
}


def install_schedule() -> list[tuple[str, bool]]:
    """Create or update this app's periodic tasks; return (name, created) pairs."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    done = []
    for name, (task, fields) in SCHEDULE.items():
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=fields.get("minute", "*"),
            hour=fields.get("hour", "*"),
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=settings.CELERY_TIMEZONE,
        )
        _, created = PeriodicTask.objects.update_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "enabled": True}
        )
        done.append((name, created))
    return done


# Which history entries send which notice.
