"""A settlement's life from the services: drawn when its period ends,
submitted, reviewed line by line, returned and resubmitted, approved by
finance (four eyes above the threshold) and paid in parts."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from audit.models import AuditEvent
from common.errors import BusinessError, Code
from settlements.models import Settlement, SettlementLine
from settlements.services import (
    settlement_approve,
    settlement_line_reject,
    settlement_pass_on,
    settlement_payment_record,
    settlement_return,
    settlement_start_review,
    settlement_submit,
    settlements_draw,
)
from tests.settlements.factories import (
    actor,
    build,
    charge,
    drawn,
    last_month_instant,
    refund,
)
from tests.vouchers.factories import platform_actor
from vouchers.ledger import ledger_differences
from vouchers.models import LedgerEntry

pytestmark = pytest.mark.django_db


def submit(world, settlement, amount=None, number="INV-1"):
    return settlement_submit(
        actor=platform_actor(world.platform),
        platform=world.platform,
        settlement_id=settlement.pk,
        invoice_number=number,
        invoice_amount=settlement.amount_due if amount is None else Decimal(amount),
    )


def test_a_period_is_drawn_once_it_has_ended_with_its_charges_and_reversals() -> None:
    world = build()
    at = last_month_instant()
    first = charge(world, billed="1000", reference="inv-1", at=at)
    charge(world, billed="2000", reference="inv-2", at=at + datetime.timedelta(hours=1))
    refund(world, first.id, amount="100", reference="ref-1", at=at + datetime.timedelta(hours=2))
    # This month's charge is not drawn: its period has not ended.
    charge(world, billed="500", reference="inv-now", at=timezone.now())
    settlement = drawn(world)
    assert settlement.status == Settlement.Status.DRAFT
    assert settlement.line_count == 3
    assert settlement.covered == Decimal("900.00")  # 30 % of 3,000
    assert settlement.reversed == Decimal("100.00")
    assert settlement.amount_due == Decimal("800.00")
    assert settlements_draw() == []  # idempotent
    assert SettlementLine.objects.count() == 3


def test_the_whole_life_with_a_return_a_rejected_line_and_two_payments() -> None:
    world = build()
    at = last_month_instant()
    good = charge(world, billed="1000", reference="inv-1", at=at)
    bad = charge(world, billed="2000", reference="inv-2", at=at)
    settlement = drawn(world)
    with pytest.raises(BusinessError) as mismatch:
        submit(world, settlement, amount="1.00")
    assert mismatch.value.code == Code.SETTLEMENT_AMOUNT_MISMATCH
    settlement = submit(world, settlement)
    with pytest.raises(BusinessError) as again:
        submit(world, settlement)
    assert again.value.code == Code.SETTLEMENT_NOT_OPEN

    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    settlement = settlement_return(
        actor=actor(world.reviewer), settlement=settlement, reason="Invoice is unreadable"
    )
    assert settlement.status == Settlement.Status.RETURNED
    settlement = submit(world, settlement, number="INV-1b")
    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)

    line = SettlementLine.objects.get(settlement=settlement, redemption_id=bad.id)
    balance_before = world.voucher.__class__.objects.get(pk=world.voucher.pk).balance
    settlement_line_reject(actor=actor(world.reviewer), line=line, reason="No such job")
    voucher = world.voucher.__class__.objects.get(pk=world.voucher.pk)
    assert voucher.balance == balance_before + Decimal("600.00")
    assert LedgerEntry.objects.filter(voucher=voucher, kind="reversal").count() == 1
    assert ledger_differences() == []
    settlement.refresh_from_db()
    assert settlement.amount_due == Decimal("300.00")
    assert settlement.rejected == Decimal("600.00")
    # The rejection's reversal is never a line of a later period.
    assert settlements_draw() == []

    with pytest.raises(PermissionDenied):  # a reviewer does not approve
        settlement_approve(actor=actor(world.reviewer), settlement=settlement)
    with pytest.raises(BusinessError):  # not passed on yet
        settlement_approve(actor=actor(world.finance), settlement=settlement)
    settlement = settlement_pass_on(actor=actor(world.reviewer), settlement=settlement)
    with pytest.raises(PermissionDenied):  # another district's finance officer
        settlement_approve(actor=actor(world.outsider_finance), settlement=settlement)
    settlement = settlement_approve(actor=actor(world.finance), settlement=settlement)
    assert settlement.status == Settlement.Status.APPROVED
    assert settlement.approved_amount == Decimal("300.00")

    today = timezone.localdate()
    with pytest.raises(BusinessError):
        settlement_payment_record(
            actor=actor(world.finance),
            settlement=settlement,
            amount=Decimal("300.01"),
            paid_on=today,
            payer_account="JH-FIN-01",
            bank_reference="B1",
        )
    settlement_payment_record(
        actor=actor(world.finance),
        settlement=settlement,
        amount=Decimal("100.00"),
        paid_on=today,
        payer_account="JH-FIN-01",
        bank_reference="B1",
    )
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.APPROVED
    settlement_payment_record(
        actor=actor(world.finance),
        settlement=settlement,
        amount=Decimal("200.00"),
        paid_on=today,
        payer_account="JH-FIN-01",
        bank_reference="B2",
    )
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.PAID
    assert settlement.paid_amount == Decimal("300.00")
    assert good.id  # the good line stayed included
    kinds = list(
        AuditEvent.objects.filter(object_type__contains="settlement", object_id=str(settlement.pk))
        .order_by("id")
        .values_list("event_type", flat=True)
    )
    assert kinds == [
        "settlement.drawn",
        "settlement.submitted",
        "settlement.review_started",
        "settlement.returned",
        "settlement.submitted",
        "settlement.review_started",
        "settlement.line_rejected",
        "settlement.passed_to_finance",
        "settlement.approved",
        "settlement.payment_recorded",
        "settlement.payment_recorded",
        "settlement.paid",
    ]


def test_above_the_threshold_two_different_finance_officers_approve() -> None:
    world = build(threshold=Decimal("100.00"))
    charge(world, billed="1000", reference="inv-1", at=last_month_instant())
    settlement = submit(world, drawn(world))
    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    settlement = settlement_pass_on(actor=actor(world.reviewer), settlement=settlement)
    settlement = settlement_approve(actor=actor(world.finance), settlement=settlement)
    assert settlement.status == Settlement.Status.UNDER_REVIEW
    assert settlement.first_approved_by == world.finance
    with pytest.raises(PermissionDenied):
        settlement_approve(actor=actor(world.finance), settlement=settlement)
    settlement = settlement_approve(actor=actor(world.finance_2), settlement=settlement)
    assert settlement.status == Settlement.Status.APPROVED
    assert settlement.approved_amount == Decimal("300.00")
