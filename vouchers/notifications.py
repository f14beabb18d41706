"""Queueing the voucher e-mails after the change that causes them has committed."""

from __future__ import annotations

from django.db import transaction

from .models import Voucher


def notify_voucher_issued(*, voucher: Voucher) -> None:
    """E-mail the enterprise its new voucher's code and certificate link once
    the current transaction (the issuance) commits."""
    from .tasks import send_voucher_issued_notice

    voucher_id = voucher.pk
    transaction.on_commit(lambda: send_voucher_issued_notice.delay(voucher_id))
