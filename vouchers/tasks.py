"""Celery tasks of the vouchers app: each one calls a service and is
idempotent (it may run twice, or late). With no broker configured they run
eagerly; when the periodic ones run is declared in ``config/beat.py``."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.models import Membership

from . import periodic
from .models import ApplicationEvent


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
NOTICE_KINDS: dict[str, str] = {
    ApplicationEvent.Action.SUBMITTED: "submitted",
    ApplicationEvent.Action.RESUBMITTED: "submitted",
    ApplicationEvent.Action.APPROVED: "approved",
    ApplicationEvent.Action.REJECTED: "rejected",
    ApplicationEvent.Action.RETURNED: "returned",
}


@shared_task(name="vouchers.send_application_notice")
@transaction.atomic
def send_application_notice(event_id: int) -> int:
    """E-mail the applicant's members about a submission or a decision, each
    in their preferred language; returns the number of messages sent.

    Idempotent: the event is locked and marked as notified, so a task that
    runs twice sends nothing the second time.
    """
    event = (
        ApplicationEvent.objects.select_for_update(of=("self",))
        .select_related("application__enterprise", "application__program__district")
        .filter(pk=event_id, notified_at__isnull=True)
        .first()
    )
    if event is None or event.action not in NOTICE_KINDS:
        return 0
    kind, note, application = NOTICE_KINDS[event.action], event.note, event.application
    members = (
        Membership.objects.filter(
            enterprise=application.enterprise, role__in=Membership.ENTERPRISE_ROLES
        )
        .select_related("user")
        .filter(user__is_active=True)
    )
    sent = 0
    for membership in members:
        user = membership.user
        with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
            context = {"application": application, "user": user, "kind": kind, "note": note}
            subject = render_to_string(
                f"vouchers/email/application_{kind}_subject.txt", context
            ).strip()
            body = render_to_string(f"vouchers/email/application_{kind}.txt", context)
        send_mail(subject, body, None, [user.email])
        sent += 1
    event.notified_at = timezone.now()
    event.save(update_fields=["notified_at"])
    return sent
