"""The operator's running statement of this month does not count a district's
rejection of a settled charge as a refund of the platform's."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from platforms.selectors import settlement_statement
from settlements.services import settlement_line_reject, settlement_start_review, settlement_submit
from tests.settlements.factories import actor, build, charge, drawn, last_month_instant, refund
from tests.vouchers.factories import platform_actor

pytestmark = pytest.mark.django_db


def test_a_rejection_this_month_is_not_netted_in_this_months_statement() -> None:
    world = build()
    rejected = charge(world, billed="1000", reference="inv-old", at=last_month_instant())
    settlement = drawn(world)
    settlement = settlement_submit(
        actor=platform_actor(world.platform),
        platform=world.platform,
        settlement_id=settlement.pk,
        invoice_number="INV",
        invoice_amount=settlement.amount_due,
    )
    settlement = settlement_start_review(actor=actor(world.reviewer), settlement=settlement)
    now = timezone.now()
    fresh = charge(world, billed="100", reference="inv-new", at=now)
    refund(world, fresh.id, amount="10", reference="ref-new", at=now)
    settlement_line_reject(
        actor=actor(world.reviewer),
        line=settlement.lines.get(redemption_id=rejected.id),
        reason="No such job",
    )
    statement = settlement_statement(
        platform=world.platform, month=timezone.localdate().replace(day=1)
    )
    (row,) = statement.rows
    assert row.covered == Decimal("30.00")
    assert row.reversed == Decimal("10.00")  # the platform's own refund only
