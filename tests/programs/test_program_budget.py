"""program_budget: every figure of the budget, redeemed summed from the ledger side."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from programs.selectors import program_budget
from tests.accounts.factories import ComputePlatformFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import issue, platform_actor
from vouchers.services import redemption_reverse, voucher_redeem

pytestmark = pytest.mark.django_db


def test_redeemed_is_what_platforms_charged_net_of_reversals() -> None:
    platform = ComputePlatformFactory()
    program = ProgramFactory(
        total_budget=Decimal("10000.00"), base_rate=Decimal("0.30"), per_charge_cap=None
    )
    bind(program, platform)
    voucher = issue(program, amount="1000.00")
    charge = voucher_redeem(
        actor=platform_actor(platform),
        platform=platform,
        voucher_code=voucher.code,
        reference="inv-1",
        occurred_at=timezone.now(),
        billed_amount=Decimal("500.00"),
    )
    assert charge.covered == Decimal("150.00")
    redemption_reverse(
        actor=platform_actor(platform),
        platform=platform,
        redemption_id=charge.redemption.pk,
        amount=Decimal("50.00"),
        reference="rev-1",
    )
    program.refresh_from_db()
    budget = program_budget(program=program)
    assert budget.issued == Decimal("1000.00")
    assert budget.redeemed == Decimal("100.00")
    assert budget.remaining == Decimal("9000.00")
