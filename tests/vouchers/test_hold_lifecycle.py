"""Holds: create, capture (at most the held amount), release, expiry."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from common.errors import BusinessError, Code
from tests.accounts.factories import ComputePlatformFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import frozen, issue, platform_actor
from vouchers.ledger import ledger_differences
from vouchers.models import Hold, Voucher
from vouchers.periodic import holds_release_expired
from vouchers.services import hold_capture, hold_create, hold_release

pytestmark = pytest.mark.django_db


@pytest.fixture
def env():
    platform = ComputePlatformFactory()
    program = ProgramFactory()
    bind(program, platform)
    voucher = issue(program, amount="1000")
    return voucher, platform


def create(voucher, platform, amount="400", reference="job-1", **kw):
    return hold_create(
        actor=platform_actor(platform),
        platform=platform,
        voucher_code=voucher.code,
        reference=reference,
        amount=Decimal(amount),
        **kw,
    )


def capture(hold_id, platform, billed="1000", reference="inv-1", **kw):
    return hold_capture(
        actor=platform_actor(platform),
        platform=platform,
        hold_id=hold_id,
        reference=reference,
        occurred_at=timezone.now(),
        billed_amount=Decimal(billed),
        **kw,
    )


def test_a_hold_reserves_part_of_the_balance(env) -> None:
    voucher, platform = env
    result = create(voucher, platform)
    body = result.as_dict()
    assert (body["status"], body["amount"], body["balance_after"]) == ("open", "400.00", "600.00")
    voucher.refresh_from_db()
    assert (voucher.balance, voucher.held, voucher.available) == (
        Decimal("1000"),
        Decimal("400"),
        Decimal("600"),
    )
    assert result.expires_at - result.hold.created_at == datetime.timedelta(seconds=3600)


def test_a_hold_larger_than_what_is_available_is_refused(env) -> None:
    voucher, platform = env
    create(voucher, platform, amount="700")
    with pytest.raises(BusinessError) as err:
        create(voucher, platform, amount="301", reference="job-2")
    assert err.value.code == Code.INSUFFICIENT_BALANCE


@pytest.mark.parametrize("seconds", [0, 86401, "60", True])
def test_expires_in_is_between_one_second_and_a_day(env, seconds) -> None:
    voucher, platform = env
    with pytest.raises(BusinessError) as err:
        create(voucher, platform, expires_in=seconds)
    assert err.value.field == "expires_in"


def test_capture_covers_the_charge_and_releases_the_rest(env) -> None:
    voucher, platform = env
    hold = create(voucher, platform, amount="400")
    result = capture(hold.id, platform, billed="1000")  # 30 % = 300
    assert (result.covered, result.payable_by_enterprise, result.balance_after) == (
        Decimal("300.00"),
        Decimal("700.00"),
        Decimal("700.00"),
    )
    voucher.refresh_from_db()
    assert (voucher.balance, voucher.held) == (Decimal("700"), Decimal("0"))
    assert Hold.objects.get().status == Hold.Status.CAPTURED
    kinds = list(voucher.ledger.values_list("kind", flat=True))
    assert kinds == ["issue", "hold", "capture", "release"]
    assert ledger_differences() == []


def test_capture_covers_at_most_the_held_amount(env) -> None:
    voucher, platform = env
    hold = create(voucher, platform, amount="100")
    result = capture(hold.id, platform, billed="1000")
    assert result.covered == Decimal("100.00")
    voucher.refresh_from_db()
    assert voucher.available == Decimal("900")


def test_capture_beyond_the_hold_is_refused_when_partial_is_not_allowed(env) -> None:
    voucher, platform = env
    hold = create(voucher, platform, amount="100")
    with pytest.raises(BusinessError) as err:
        capture(hold.id, platform, billed="1000", allow_partial=False)
    assert err.value.code == Code.INSUFFICIENT_BALANCE
    assert Hold.objects.get().status == Hold.Status.OPEN


def test_a_hold_captured_twice_is_not_open_unless_it_is_a_replay(env) -> None:
    voucher, platform = env
    hold = create(voucher, platform)
    first = capture(hold.id, platform)
    first_again = hold_capture(
        actor=platform_actor(platform),
        platform=platform,
        hold_id=hold.id,
        reference="inv-1",
        occurred_at=first.redemption.occurred_at,
        billed_amount=Decimal("1000"),
    )
    assert first_again.replayed and first_again.id == first.id
    with pytest.raises(BusinessError) as err:
        capture(hold.id, platform, reference="inv-2")
    assert err.value.code == Code.HOLD_NOT_OPEN


def test_a_hold_taking_everything_captured_in_full_exhausts_the_voucher(env) -> None:
    voucher, platform = env
    hold = create(voucher, platform, amount="1000")
    capture(hold.id, platform, billed="5000")
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.EXHAUSTED


def test_release_gives_the_hold_back(env) -> None:
    voucher, platform = env
    hold = create(voucher, platform)
    result = hold_release(actor=platform_actor(platform), platform=platform, hold_id=hold.id)
    assert result.as_dict()["status"] == "released"
    assert result.balance_after == Decimal("1000")
    with pytest.raises(BusinessError) as err:
        hold_release(actor=platform_actor(platform), platform=platform, hold_id=hold.id)
    assert err.value.code == Code.HOLD_NOT_OPEN
    assert ledger_differences() == []


def test_another_platforms_hold_is_not_found(env) -> None:
    voucher, platform = env
    hold = create(voucher, platform)
    with pytest.raises(BusinessError) as err:
        hold_release(
            actor=platform_actor(platform), platform=ComputePlatformFactory(), hold_id=hold.id
        )
    assert err.value.code == Code.HOLD_NOT_FOUND
    with pytest.raises(BusinessError) as err:
        capture(hold.id, ComputePlatformFactory())
    assert err.value.code == Code.HOLD_NOT_FOUND


def test_a_hold_past_its_expiry_cannot_be_captured_and_the_task_releases_it(env) -> None:
    voucher, platform = env
    hold = create(voucher, platform, expires_in=60)
    later = timezone.now() + datetime.timedelta(seconds=61)
    with frozen(later):
        with pytest.raises(BusinessError) as err:
            capture(hold.id, platform)
        assert err.value.code == Code.HOLD_NOT_OPEN
        assert holds_release_expired() == 1
        assert holds_release_expired() == 0
    voucher.refresh_from_db()
    assert voucher.held == 0
    assert Hold.objects.get().status == Hold.Status.EXPIRED
    assert ledger_differences() == []


def test_the_same_hold_again_is_replayed_and_a_different_one_conflicts(env) -> None:
    voucher, platform = env
    first = create(voucher, platform)
    again = create(voucher, platform)
    assert again.replayed and again.id == first.id
    voucher.refresh_from_db()
    assert voucher.held == Decimal("400")
    with pytest.raises(BusinessError) as err:
        create(voucher, platform, amount="401")
    assert err.value.code == Code.REFERENCE_CONFLICT
