"""redemption_reverse: refunds onto the voucher, never more than covered."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from common.errors import BusinessError, Code
from tests.accounts.factories import ComputePlatformFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import frozen, issue, platform_actor, shanghai
from vouchers.ledger import ledger_differences
from vouchers.models import Redemption, Voucher
from vouchers.periodic import vouchers_expire_due
from vouchers.services import redemption_reverse, voucher_redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def env():
    platform = ComputePlatformFactory()
    program = ProgramFactory(voucher_validity_days=30)
    bind(program, platform)
    return program, platform


def charge(voucher, platform, billed="1000", reference="inv-1"):
    return voucher_redeem(
        actor=platform_actor(platform),
        platform=platform,
        voucher_code=voucher.code,
        reference=reference,
        occurred_at=timezone.now(),
        billed_amount=Decimal(billed),
    )


def reverse(redemption_id, platform, amount, reference="rev-1", reason="Job failed"):
    return redemption_reverse(
        actor=platform_actor(platform),
        platform=platform,
        redemption_id=redemption_id,
        amount=Decimal(amount),
        reference=reference,
        reason=reason,
    )


def test_a_partial_reversal_puts_the_amount_back(env) -> None:
    program, platform = env
    voucher = issue(program, amount="1000")
    redemption = charge(voucher, platform)  # 300
    result = reverse(redemption.id, platform, "100")
    assert result.as_dict() == {
        "id": result.id,
        "redemption": redemption.id,
        "amount": "100.00",
        "balance_after": "800.00",
        "replayed": False,
    }
    assert Redemption.objects.get().status == Redemption.Status.PARTIALLY_REVERSED
    reverse(redemption.id, platform, "200", reference="rev-2")
    assert Redemption.objects.get().status == Redemption.Status.REVERSED
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("1000")
    assert ledger_differences() == []


def test_never_more_than_was_covered_in_total(env) -> None:
    program, platform = env
    voucher = issue(program)
    redemption = charge(voucher, platform)
    reverse(redemption.id, platform, "250")
    with pytest.raises(BusinessError) as err:
        reverse(redemption.id, platform, "50.01", reference="rev-2")
    assert (err.value.code, err.value.field) == (Code.VALIDATION_ERROR, "amount")


def test_a_reversal_reopens_an_exhausted_voucher(env) -> None:
    program, platform = env
    voucher = issue(program, amount="300")
    redemption = charge(voucher, platform)
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.EXHAUSTED
    reverse(redemption.id, platform, "10")
    voucher.refresh_from_db()
    assert (voucher.status, voucher.balance) == (Voucher.Status.ACTIVE, Decimal("10"))


def test_a_reversal_after_expiry_goes_on_to_the_program_budget(env) -> None:
    program, platform = env
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(program, amount="1000")
        redemption = charge(voucher, platform)
    with frozen(shanghai(2026, 7, 3)):
        vouchers_expire_due()
        result = reverse(redemption.id, platform, "300")
    voucher.refresh_from_db()
    program.refresh_from_db()
    assert (voucher.status, voucher.balance, result.balance_after) == ("expired", 0, 0)
    assert program.returned_amount == Decimal("1000")
    assert list(voucher.ledger.values_list("kind", flat=True))[-2:] == ["reversal", "expiry"]
    assert ledger_differences() == []


def test_a_reversal_replays_and_conflicts_by_reference(env) -> None:
    program, platform = env
    voucher = issue(program)
    redemption = charge(voucher, platform)
    first = reverse(redemption.id, platform, "10")
    again = reverse(redemption.id, platform, "10")
    assert again.replayed and again.id == first.id
    with pytest.raises(BusinessError) as err:
        reverse(redemption.id, platform, "11")
    assert err.value.code == Code.REFERENCE_CONFLICT
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("710")


def test_another_platforms_redemption_is_not_found(env) -> None:
    program, platform = env
    redemption = charge(issue(program), platform)
    with pytest.raises(BusinessError) as err:
        reverse(redemption.id, ComputePlatformFactory(), "1")
    assert err.value.code == Code.REDEMPTION_NOT_FOUND
