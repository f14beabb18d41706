"""Telling the applicant's people about a submission or a decision: a
notification each (notices.notify), e-mailed after the change commits."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from notices.models import Notification
from notices.services import notify

from .models import Application, ApplicationEvent

#: Which events of an application its people are told about.
NOTICE_KINDS: dict[str, str] = {
    ApplicationEvent.Action.SUBMITTED: Notification.Kind.APPLICATION_SUBMITTED,
    ApplicationEvent.Action.RESUBMITTED: Notification.Kind.APPLICATION_SUBMITTED,
    ApplicationEvent.Action.APPROVED: Notification.Kind.APPLICATION_APPROVED,
    ApplicationEvent.Action.REJECTED: Notification.Kind.APPLICATION_REJECTED,
    ApplicationEvent.Action.RETURNED: Notification.Kind.APPLICATION_RETURNED,
}


def application_params(application: Application, event: ApplicationEvent) -> dict[str, object]:
    """What the notice of ``event`` says, in no language (notices.kinds renders it)."""
    program = application.program
    amount = event.amount if event.amount is not None else application.requested_amount
    return {
        "number": application.pk,
        "program": program.name,
        "program_en": program.name_en,
        "district": program.district.name,
        "district_en": program.district.name_en,
        "amount": str(amount),
        "unit": program.unit,
        "note": event.note,
    }


def notify_applicant(*, event: ApplicationEvent, email_now: bool = False) -> int:
    """Notify the applicant's members of ``event`` (in the transaction that
    records it; their e-mails go after the commit); returns how many were
    told. An event is told once: ``notified_at`` marks it."""
    if event.action not in NOTICE_KINDS or event.notified_at is not None:
        return 0
    application = event.application
    told = notify(
        enterprise=application.enterprise,
        kind=NOTICE_KINDS[event.action],
        params=application_params(application, event),
        url=reverse("application_detail", args=[application.pk]),
        email_now=email_now,
    )
    event.notified_at = timezone.now()
    event.save(update_fields=["notified_at"])
    return len(told)
