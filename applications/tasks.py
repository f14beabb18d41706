"""Celery tasks of applications: e-mail notices of submissions and decisions."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.models import Membership

from .models import ApplicationEvent

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
