"""The program change page's two charts: budget burn against the projection
(its months add up to the vouchers' ledger) and the phase-down steps."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Membership
from common.formatting import date, rate
from programs.burn import add_months, program_burn
from programs.models import PhaseStep, Program
from tests.accounts.factories import ComputePlatformFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import client_for, issue, official, platform_actor, with_mfa
from vouchers.models import LedgerEntry, Redemption
from vouchers.services import redemption_reverse, voucher_redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def charged(jianghan: Any) -> tuple[Program, datetime.date]:
    """A program with three charges (one last month) and a partial reversal."""
    today = timezone.localdate()
    program = ProgramFactory(district=jianghan, base_rate=Decimal("0.30"))
    this_month = today.replace(day=1)
    PhaseStep.objects.create(program=program, starts_on=this_month, rate=Decimal("0.30"))
    PhaseStep.objects.create(
        program=program, starts_on=datetime.date(today.year + 1, 1, 1), rate=Decimal("0.15")
    )
    PhaseStep.objects.create(
        program=program, starts_on=datetime.date(today.year + 2, 1, 1), rate=Decimal("0")
    )
    platform = ComputePlatformFactory()
    bind(program, platform)
    voucher = issue(program, amount="100000.00")
    charges = [
        voucher_redeem(
            actor=platform_actor(platform),
            platform=platform,
            voucher=voucher,
            reference=f"inv-{n}",
            occurred_at=timezone.now(),
            billed_amount=Decimal(billed),
        )
        for n, billed in enumerate(["1000.00", "2345.50", "100.00"])
    ]
    redemption_reverse(
        actor=platform_actor(platform),
        platform=platform,
        redemption_id=charges[1].id,
        amount=Decimal("3.65"),
        reference="rev-1",
    )
    # The first charge falls in last month (China time), as a platform may
    # have charged it then.
    last_month = add_months(this_month, -1)
    moment = timezone.make_aware(datetime.datetime.combine(last_month, datetime.time(12)))
    Redemption.objects.filter(pk=charges[0].id).update(created_at=moment)
    program.refresh_from_db()
    return program, today


def _ledger_debits(program: Program) -> Decimal:
    entries = LedgerEntry.objects.filter(voucher__program=program)
    captured = entries.filter(kind=LedgerEntry.Kind.CAPTURE).aggregate(s=Sum("amount"))["s"]
    reversed_ = entries.filter(kind=LedgerEntry.Kind.REVERSAL).aggregate(s=Sum("amount"))["s"]
    return captured - reversed_


def test_the_burn_by_month_adds_up_to_the_ledger_debits(charged: Any) -> None:
    program, today = charged
    months = program_burn(program=program, today=today)
    covered = {m.month: m.covered for m in months if m.covered}
    this_month = today.replace(day=1)
    assert set(covered) == {add_months(this_month, -1), this_month}
    # 30 % of each bill: 300.00 last month; 703.65 + 30.00 - 3.65 this month.
    assert covered[add_months(this_month, -1)] == Decimal("300.00")
    assert covered[this_month] == Decimal("730.00")
    assert sum(covered.values()) == _ledger_debits(program) == Decimal("1030.00")
    # The months ahead carry the projection, never a charged amount.
    assert all(m.covered is None for m in months if m.month > this_month)
    assert any(m.projected for m in months if m.month > this_month)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_change_page_draws_the_burn_and_the_steps(
    charged: Any, jianghan: Any, language: str
) -> None:
    program, today = charged
    client = client_for(with_mfa(official(jianghan, Membership.Role.PROGRAM_MANAGER)))
    client.cookies["django_language"] = language
    body = client.get(
        reverse("admin:programs_program_change", args=[program.pk]),
        headers={"accept-language": language},
    ).content.decode()
    assert body.count('class="chart chart-burn"') == 1
    assert body.count('class="chart chart-steps"') == 1
    assert "<script" not in body.split('class="chart chart-burn"')[1].split("</svg>")[0]
    with translation.override(language):
        burn = body.split('class="chart chart-burn"')[1].split("</svg>")[0]
        steps = body.split('class="chart chart-steps"')[1].split("</svg>")[0]
        # The burn runs from eleven months back (every other month labelled)
        # to a year ahead; the table beside it lists each month's amounts.
        this_month = today.replace(day=1)
        assert f"{add_months(this_month, -11):%Y-%m}" in burn
        assert f"{add_months(this_month, 11):%Y-%m}" in burn
        assert f'<th scope="row">{this_month:%Y-%m}</th>' in body
        assert "¥730.00" in body and "¥300.00" in body
        # Each step of the schedule: its date and its rate, in the step's title.
        for starts_on, step_rate in [
            (program.application_opens_on, program.base_rate),
            (this_month, Decimal("0.30")),
            (datetime.date(today.year + 1, 1, 1), Decimal("0.15")),
        ]:
            assert date(starts_on) in steps
            assert rate(step_rate) in steps
        assert date(datetime.date(today.year + 2, 1, 1)) in steps
        # The chart's own title, then one per step: the base rate from the
        # window's opening, the three steps of the schedule.
        assert steps.count("<title>") == 1 + 4
    if language == "zh-hans":
        assert "退坡阶梯" in steps and "自" in steps
