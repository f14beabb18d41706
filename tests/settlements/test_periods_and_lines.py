"""Which lines fall in which period (Asia/Shanghai, by the day a line was
recorded), quarters, and what rejecting a line does to the voucher."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from common.errors import BusinessError
from settlements.models import Settlement, SettlementLine
from settlements.periods import parse_period, period_at, period_of
from settlements.services import (
    settlement_line_reject,
    settlement_start_review,
    settlement_submit,
    settlements_draw,
)
from tests.settlements.factories import actor, build, charge, drawn, last_month_instant, refund
from tests.vouchers.factories import platform_actor
from vouchers.ledger import ledger_differences
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db
SHANGHAI = timezone.get_default_timezone()


def test_periods_are_calendar_months_and_quarters_in_shanghai() -> None:
    assert parse_period("2026-11") == period_of(datetime.date(2026, 11, 30), "month")
    assert parse_period("2026-Q4").first_day == datetime.date(2026, 10, 1)
    assert parse_period("2026-Q4").next_first_day == datetime.date(2027, 1, 1)
    assert parse_period("2026-Q4").label == "2026-Q4"
    for bad in (
        "2026-13",
        "2026-Q5",
        "26-01",
        "2026-1",
        "",
        "2026-11 ",
        "2026-11\n",
        "0000-01",
        "9999-Q4",
        "٢٠٢٦-11",
    ):
        assert parse_period(bad) is None
    # 16:30 UTC on 30 November is 00:30 on 1 December in Shanghai.
    late = datetime.datetime(2026, 11, 30, 16, 30, tzinfo=datetime.UTC)
    assert period_at(late, "month").label == "2026-12"
    assert period_at(late - datetime.timedelta(hours=1), "month").label == "2026-11"


def test_a_charge_just_after_midnight_in_shanghai_is_in_the_new_month() -> None:
    world = build()
    first_of_this_month = period_of(timezone.localdate(), "month").first_day
    midnight = datetime.datetime.combine(first_of_this_month, datetime.time(), tzinfo=SHANGHAI)
    charge(world, billed="100", reference="before", at=midnight - datetime.timedelta(minutes=1))
    charge(world, billed="100", reference="after", at=midnight + datetime.timedelta(minutes=1))
    settlement = drawn(world)  # only last month has ended
    assert list(settlement.lines.values_list("reference", flat=True)) == ["before"]
    assert (
        settlement.period
        == period_of(first_of_this_month - datetime.timedelta(days=1), "month").label
    )


def test_a_period_is_not_drawn_in_its_first_minute_after_the_end() -> None:
    world = build()
    charge(world, billed="100", reference="inv", at=last_month_instant())
    end = period_of(timezone.localdate(), "month").bounds()[0]
    assert settlements_draw(now=end + datetime.timedelta(seconds=30)) == []
    assert len(settlements_draw(now=end + datetime.timedelta(seconds=61))) == 1


def test_a_quarterly_program_is_drawn_by_quarter() -> None:
    world = build()
    world.program.settlement_period = "quarter"
    world.program.save(update_fields=["settlement_period"])
    at = last_month_instant()
    charge(world, billed="100", reference="inv", at=at)
    quarter = period_at(at, "quarter")
    with time_machine.travel(quarter.bounds()[1] + datetime.timedelta(minutes=5), tick=False):
        settlements_draw()
    settlement = Settlement.objects.get()
    assert settlement.period == quarter.label
    assert settlement.starts_at == quarter.bounds()[0]


def test_a_late_line_joins_its_periods_open_draft() -> None:
    world = build()
    at = last_month_instant()
    charge(world, billed="100", reference="one", at=at)
    settlement = drawn(world)
    charge(world, billed="100", reference="two", at=at + datetime.timedelta(hours=1))
    settlements_draw()
    settlement.refresh_from_db()
    assert settlement.line_count == 2
    assert settlement.amount_due == Decimal("60.00")


def test_programs_that_reimburse_have_no_settlements() -> None:
    world = build()
    charge(world, billed="100", reference="one", at=last_month_instant())
    world.program.payout_mode = "reimburse"
    world.program.save(update_fields=["payout_mode"])
    assert settlements_draw() == []


def under_review(world):
    settlement = drawn(world)
    settlement = settlement_submit(
        actor=platform_actor(world.platform),
        platform=world.platform,
        settlement_id=settlement.pk,
        invoice_number="INV",
        invoice_amount=settlement.amount_due,
    )
    return settlement_start_review(actor=actor(world.reviewer), settlement=settlement)


def test_rejecting_a_partly_refunded_charge_gives_back_the_rest_and_drops_its_refund() -> None:
    world = build()
    at = last_month_instant()
    first = charge(world, billed="1000", reference="inv-1", at=at)  # 300 covered
    refund(world, first.id, amount="100", reference="ref-1", at=at + datetime.timedelta(hours=1))
    settlement = under_review(world)
    assert settlement.amount_due == Decimal("200.00")
    balance = Voucher.objects.get(pk=world.voucher.pk).balance
    line = settlement.lines.get(kind="capture")
    settlement_line_reject(actor=actor(world.reviewer), line=line, reason="Duplicate job")
    settlement.refresh_from_db()
    assert settlement.amount_due == Decimal("0.00")
    assert set(settlement.lines.values_list("status", flat=True)) == {"rejected"}
    assert Voucher.objects.get(pk=world.voucher.pk).balance == balance + Decimal("200.00")
    assert ledger_differences() == []


def test_a_reversal_line_cannot_be_rejected_nor_a_line_twice() -> None:
    world = build()
    at = last_month_instant()
    first = charge(world, billed="1000", reference="inv-1", at=at)
    charge(world, billed="1000", reference="inv-2", at=at)
    refund(world, first.id, amount="100", reference="ref-1", at=at + datetime.timedelta(hours=1))
    settlement = under_review(world)
    with pytest.raises(BusinessError):
        settlement_line_reject(
            actor=actor(world.reviewer), line=settlement.lines.get(kind="reversal"), reason="x"
        )
    capture = settlement.lines.get(reference="inv-2")
    settlement_line_reject(actor=actor(world.reviewer), line=capture, reason="No job")
    with pytest.raises(BusinessError):
        settlement_line_reject(actor=actor(world.reviewer), line=capture, reason="again")
    with pytest.raises(BusinessError):
        settlement_line_reject(actor=actor(world.reviewer), line=capture, reason="  ")
    assert SettlementLine.objects.filter(status="rejected").count() == 1


def test_a_refund_of_an_earlier_period_is_a_negative_line_of_the_period_it_is_made_in() -> None:
    world = build()
    at = last_month_instant()
    first = charge(world, billed="1000", reference="inv-1", at=at)
    drawn(world)
    # Refunded this month: a line of this month's settlement, once this month ends.
    refund(world, first.id, amount="50", reference="ref-late", at=timezone.now())
    next_month = period_of(timezone.localdate(), "month").bounds()[1]
    settlements_draw(now=next_month + datetime.timedelta(minutes=5))
    this_month = Settlement.objects.exclude(pk=Settlement.objects.order_by("starts_at")[0].pk).get()
    assert this_month.reversed == Decimal("50.00")
    assert this_month.amount_due == Decimal("-50.00")
