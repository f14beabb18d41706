"""Telling an enterprise about its vouchers: issued, about to expire, low
balance; a notification each (notices.notify), e-mailed after the commit."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from notices.models import Notification
from notices.services import notify

from .models import Voucher, VoucherReminder

#: The notification each recorded reminder becomes.
REMINDER_KINDS: dict[str, str] = {
    VoucherReminder.Kind.ISSUED: Notification.Kind.VOUCHER_ISSUED,
    VoucherReminder.Kind.EXPIRY_30: Notification.Kind.VOUCHER_EXPIRING,
    VoucherReminder.Kind.EXPIRY_7: Notification.Kind.VOUCHER_EXPIRING,
    VoucherReminder.Kind.LOW_BALANCE: Notification.Kind.VOUCHER_LOW_BALANCE,
}


def notify_voucher_issued(*, voucher: Voucher) -> None:
    """E-mail the enterprise its new voucher's code and certificate link once
    the current transaction (the issuance) commits."""
    from .tasks import send_voucher_issued_notice

    voucher_id = voucher.pk
    transaction.on_commit(lambda: send_voucher_issued_notice.delay(voucher_id))


def voucher_params(voucher: Voucher) -> dict[str, object]:
    """What a voucher's notice says, in no language (notices.kinds renders it)."""
    program = voucher.program
    return {
        "voucher_id": voucher.pk,
        "code": voucher.code,
        "program": program.name,
        "program_en": program.name_en,
        "amount": str(voucher.face_value),
        "balance": str(voucher.available),
        "unit": voucher.unit,
        "valid_from": timezone.localtime(voucher.valid_from).date().isoformat(),
        "until": voucher.valid_until.isoformat(),
    }


def notify_reminder(*, reminder: VoucherReminder) -> int:
    """Notify the voucher's enterprise of a recorded reminder, e-mailing at
    once (the reminder's delivery runs after its commit); returns how many
    were told."""
    voucher = reminder.voucher
    told = notify(
        enterprise=voucher.enterprise,
        kind=REMINDER_KINDS[reminder.kind],
        params=voucher_params(voucher),
        url=reverse("voucher_detail", args=[voucher.pk]),
        email_now=True,
        # Whom to tell was recorded with the reminder (and counted in its
        # audit event): a redelivery tells exactly them.
        addresses=[(email, language) for email, language in reminder.recipients],
    )
    return len(told)
