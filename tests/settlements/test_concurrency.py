"""Sixteen threads race on one settlement (threads against PostgreSQL, then the
figures checked): approvals never approve twice or more than the lines,
payments never pay more than was approved, and drawing twice at once draws
each line once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Membership
from audit.models import AuditEvent
from common.errors import BusinessError
from settlements.models import Payment, Settlement, SettlementLine
from settlements.services import (
    settlement_approve,
    settlement_pass_on,
    settlement_payment_record,
    settlement_start_review,
    settlement_submit,
    settlements_draw,
)
from tests.settlements.factories import actor, build, charge, drawn, last_month_instant
from tests.vouchers.factories import official, platform_actor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 16


def race(work: Callable[[int], Any]) -> list[str]:
    """Run ``work(i)`` in THREADS threads released together; their outcomes."""
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
            result = "done"
        except BusinessError:
            result = "refused"
        except PermissionDenied:
            result = "denied"
        except Exception as exc:  # a crash must fail the test, not hide
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def passed_on(world: Any) -> Settlement:
    at = last_month_instant()
    for n in range(5):
        charge(world, billed="10000", reference=f"inv-{n}", at=at)  # 3,000 covered each
    settlement = drawn(world)
    settlement = settlement_submit(
        actor=platform_actor(world.platform),
        platform=world.platform,
        settlement_id=settlement.pk,
        invoice_number="INV-RACE",
        invoice_amount=settlement.amount_due,
    )
    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    return settlement_pass_on(actor=actor(world.reviewer), settlement=settlement)


def test_sixteen_finance_officers_approving_at_once_approve_once_for_the_lines() -> None:
    world = build(threshold=Decimal("1000.00"))
    settlement = passed_on(world)
    district = world.program.district
    officers = [official(district, Membership.Role.FINANCE_OFFICER) for _ in range(THREADS)]

    outcomes = race(
        lambda i: settlement_approve(
            actor=actor(officers[i]), settlement=Settlement.objects.get(pk=settlement.pk)
        )
    )
    # Above the threshold: one first approval, one second; every other is
    # refused (the settlement is no longer awaiting them).
    assert "error" not in " ".join(outcomes)
    assert outcomes.count("done") == 2
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.APPROVED
    assert settlement.approved_amount == settlement.amount_due == Decimal("15000.00")
    assert settlement.first_approved_by_id != settlement.approved_by_id
    events = AuditEvent.objects.filter(
        object_id=str(settlement.pk),
        event_type__in=["settlement.first_approval", "settlement.approved"],
    )
    assert events.count() == 2


def test_sixteen_payments_at_once_never_pay_more_than_was_approved() -> None:
    world = build()
    settlement = settlement_approve(actor=actor(world.finance), settlement=passed_on(world))
    assert settlement.approved_amount == Decimal("15000.00")
    today = timezone.localdate()

    # Each pays 1,500 (a tenth): ten fit, six must be refused.
    outcomes = race(
        lambda i: settlement_payment_record(
            actor=actor(world.finance),
            settlement=Settlement.objects.get(pk=settlement.pk),
            amount=Decimal("1500.00"),
            paid_on=today,
            payer_account="JH-TREASURY-01",
            bank_reference=f"BANK-{i:02d}",
        )
    )
    assert outcomes == ["done"] * 10 + ["refused"] * 6
    settlement.refresh_from_db()
    assert settlement.status == Settlement.Status.PAID
    assert settlement.paid_amount == settlement.approved_amount
    assert Payment.objects.filter(settlement=settlement).aggregate(t=Sum("amount"))["t"] == Decimal(
        "15000.00"
    )


def test_sixteen_draws_at_once_draw_each_line_once() -> None:
    world = build()
    at = last_month_instant()
    for n in range(20):
        charge(world, billed="100", reference=f"inv-{n}", at=at)

    outcomes = race(lambda i: settlements_draw())
    assert "error" not in " ".join(outcomes), outcomes
    settlement = Settlement.objects.get(platform=world.platform, program=world.program)
    assert SettlementLine.objects.filter(settlement=settlement).count() == 20
    assert settlement.line_count == 20
    assert settlement.amount_due == Decimal("600.00")
