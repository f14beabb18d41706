"""Celery tasks of the vouchers app: each one calls a service and is
idempotent (it may run twice, or late). With no broker configured they run
eagerly; when the periodic ones run is declared in ``config/beat.py``."""

from __future__ import annotations

from celery import shared_task

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


# Which history entries send which notice.
