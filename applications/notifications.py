"""Queueing e-mail notices after the change that causes them has committed."""

from __future__ import annotations

from django.db import transaction

from vouchers.models import Voucher

from .models import ApplicationEvent


def notify_applicant(*, event: ApplicationEvent) -> None:
    """E-mail the applicant about ``event`` once the current transaction commits."""
    from .tasks import send_application_notice

    event_id = event.pk
    transaction.on_commit(lambda: send_application_notice.delay(event_id))


def notify_voucher_issued(*, voucher: Voucher) -> None:
    """E-mail the enterprise its new voucher's code and certificate link once
    the current transaction (the issuance) commits."""
    from vouchers.tasks import send_voucher_issued_notice

    voucher_id = voucher.pk
    transaction.on_commit(lambda: send_voucher_issued_notice.delay(voucher_id))
