"""The seam between approving an application and issuing its voucher."""

from __future__ import annotations

from audit.services import Actor
from vouchers.models import Voucher
from vouchers.services import voucher_issue

from .models import Application


def application_approved(*, actor: Actor, application: Application) -> Voucher:
    """Issue the voucher of an approved application, and link it.

    Called by :func:`applications.services.application_approve` inside the
    approval's transaction, with the program row locked and the approved
    amount already added to ``program.reserved_amount``; issuance moves that
    amount from reserved to issued, so approval and voucher commit together
    or not at all. The application names its voucher (the foreign key points
    down, from applications to vouchers).
    """
    if application.approved_amount is None:
        raise ValueError("an application is approved with an amount")
    voucher = voucher_issue(
        actor=actor,
        program=application.program,
        enterprise=application.enterprise,
        amount=application.approved_amount,
        from_reservation=True,
        application=application,
    )
    application.voucher = voucher
    application.save(update_fields=["voucher"])
    return voucher
