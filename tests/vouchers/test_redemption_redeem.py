"""voucher_redeem: coverage, units, refusals, references and evidence."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import ComputePlatform
from audit.models import AuditEvent
from common.errors import BusinessError, Code
from programs.models import Program
from tests.accounts.factories import ComputePlatformFactory
from tests.programs.factories import ProgramFactory, add_steps, bind
from tests.vouchers.factories import frozen, issue, platform_actor, shanghai
from vouchers.ledger import ledger_differences
from vouchers.models import LedgerEntry, Redemption, Voucher
from vouchers.services import hold_create, voucher_redeem

pytestmark = pytest.mark.django_db

EVIDENCE = {
    "signature_input": 'sig1=("@method" "@authority" "@target-uri" "content-digest")',
    "signature": "sig1=:AAAA:",
    "content_digest": "sha-256=:BBBB:",
    "key_id": "key-1",
}


@pytest.fixture
def platform() -> ComputePlatform:
    return ComputePlatformFactory()


@pytest.fixture
def program(platform) -> Program:
    program = ProgramFactory(per_charge_cap=Decimal("500.00"))
    bind(program, platform)
    return program


def redeem(voucher: Voucher, platform: ComputePlatform, **kwargs):
    body = {
        "reference": "inv-000123",
        "occurred_at": timezone.now(),
        "billed_amount": Decimal("120.00"),
    }
    body.update(kwargs)
    return voucher_redeem(
        actor=platform_actor(platform), platform=platform, voucher_code=voucher.code, **body
    )


def refused(code: str, voucher: Voucher, platform: ComputePlatform, **kwargs) -> BusinessError:
    with pytest.raises(BusinessError) as err:
        redeem(voucher, platform, **kwargs)
    assert err.value.code == code, err.value.message
    return err.value


def test_a_cny_voucher_covers_the_bill_times_the_rate(program, platform) -> None:
    voucher = issue(program, amount="1000")
    result = redeem(voucher, platform, billed_amount=Decimal("120.00"))
    assert result.as_dict() | {"created_at": None, "id": None} == {
        "id": None,
        "voucher": voucher.code,
        "reference": "inv-000123",
        "status": "captured",
        "unit": "CNY",
        "billed_amount": "120.00",
        "rate_applied": "0.3000",
        "covered": "36.00",
        "payable_by_enterprise": "84.00",
        "points_used": None,
        "balance_after": "964.00",
        "replayed": False,
        "created_at": None,
    }
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("964.00")


def test_the_share_is_rounded_down_to_the_fen(program, platform) -> None:
    voucher = issue(program)
    assert redeem(voucher, platform, billed_amount=Decimal("0.99")).covered == Decimal("0.29")


def test_the_per_charge_cap_limits_one_charge(program, platform) -> None:
    voucher = issue(program, amount="100000")
    result = redeem(voucher, platform, billed_amount=Decimal("10000.00"))
    assert result.covered == Decimal("500.00")
    assert result.payable_by_enterprise == Decimal("9500.00")


def test_a_short_balance_covers_partly_by_default(program, platform) -> None:
    voucher = issue(program, amount="10")
    result = redeem(voucher, platform, billed_amount=Decimal("100.00"))
    assert (result.covered, result.payable_by_enterprise, result.balance_after) == (
        Decimal("10.00"),
        Decimal("90.00"),
        Decimal("0.00"),
    )


def test_a_short_balance_is_refused_when_partial_coverage_is_not_allowed(program, platform) -> None:
    voucher = issue(program, amount="10")
    refused(Code.INSUFFICIENT_BALANCE, voucher, platform, allow_partial=False)
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("10")
    assert not Redemption.objects.exists()


def test_the_rate_is_the_one_in_force_on_the_usage_date_in_shanghai(program, platform) -> None:
    add_steps(program, (datetime.date(2027, 1, 1), "0.20"), (datetime.date(2028, 1, 1), "0"))
    with frozen(shanghai(2026, 12, 31, 9)):
        voucher = issue(program, amount="1000")
    with frozen(shanghai(2027, 1, 2, 9)):
        late_2026 = redeem(
            voucher,
            platform,
            reference="a",
            occurred_at=datetime.datetime(2026, 12, 31, 15, 59, tzinfo=datetime.UTC),
            billed_amount=Decimal("100"),
        )
        early_2027 = redeem(
            voucher,
            platform,
            reference="b",
            occurred_at=datetime.datetime(2026, 12, 31, 16, 1, tzinfo=datetime.UTC),
            billed_amount=Decimal("100"),
        )
    assert (late_2026.rate_applied, late_2026.covered) == (Decimal("0.30"), Decimal("30.00"))
    assert (early_2027.rate_applied, early_2027.covered) == (Decimal("0.20"), Decimal("20.00"))


def test_a_points_voucher_deducts_points_without_a_rate(platform) -> None:
    program = ProgramFactory(
        unit=Program.Unit.POINTS,
        total_budget=Decimal("1e10"),
        per_enterprise_cap=Decimal("1e10"),
        per_charge_cap=Decimal("10"),
    )
    bind(program, platform)
    voucher = issue(program, amount="1000000")
    usage = [{"model": "glm-5", "input_tokens": 120000, "output_tokens": 8000}]
    result = voucher_redeem(
        actor=platform_actor(platform),
        platform=platform,
        voucher_code=voucher.code,
        reference="job-1",
        occurred_at=timezone.now(),
        points_used=152000,
        usage=usage,
    )
    body = result.as_dict()
    assert (body["covered"], body["points_used"], body["rate_applied"], body["balance_after"]) == (
        "152000",
        152000,
        None,
        "848000",
    )
    assert body["payable_by_enterprise"] == "0"
    assert Redemption.objects.get().usage == usage


def test_a_points_voucher_needs_points(platform) -> None:
    program = ProgramFactory(unit=Program.Unit.POINTS, per_enterprise_cap=Decimal("1e9"))
    bind(program, platform)
    voucher = issue(program, amount="1000")
    err = refused(Code.VALIDATION_ERROR, voucher, platform, billed_amount=None)
    assert err.field == "usage"


def test_a_cny_voucher_needs_the_billed_amount(program, platform) -> None:
    err = refused(Code.VALIDATION_ERROR, issue(program), platform, billed_amount=None)
    assert err.field == "billed_amount"


@pytest.mark.parametrize("amount", [120.0, "120.00", Decimal("-1"), Decimal("0"), Decimal("1.001")])
def test_amounts_that_are_not_positive_decimals_with_two_places_are_refused(
    program, platform, amount
) -> None:
    err = refused(Code.VALIDATION_ERROR, issue(program), platform, billed_amount=amount)
    assert err.field == "billed_amount"


def test_a_code_with_a_typo_is_refused_before_any_lookup(
    program, platform, django_assert_num_queries
) -> None:
    voucher = issue(program)
    typo = voucher.code[:-1] + ("X" if voucher.code[-1] != "X" else "Y")
    with django_assert_num_queries(0), pytest.raises(BusinessError) as err:
        voucher_redeem(
            actor=platform_actor(platform),
            platform=platform,
            voucher_code=typo,
            reference="r",
            occurred_at=timezone.now(),
            billed_amount=Decimal("1"),
        )
    assert (err.value.code, err.value.field) == (Code.VALIDATION_ERROR, "voucher")


def test_an_unknown_code_is_not_found(program, platform) -> None:
    from vouchers.codes import generate_code

    with pytest.raises(BusinessError) as err:
        voucher_redeem(
            actor=platform_actor(platform),
            platform=platform,
            voucher_code=generate_code(),
            reference="r",
            occurred_at=timezone.now(),
            billed_amount=Decimal("1"),
        )
    assert err.value.code == Code.VOUCHER_NOT_FOUND


def test_a_platform_the_program_is_not_bound_to_is_refused(program) -> None:
    refused(Code.PLATFORM_NOT_BOUND, issue(program), ComputePlatformFactory(on_national_list=True))


def test_a_cross_region_program_accepts_any_platform_of_the_national_list(program) -> None:
    Program.objects.filter(pk=program.pk).update(cross_region=True)
    voucher = issue(program)
    national = ComputePlatformFactory(on_national_list=True)
    assert redeem(voucher, national).covered == Decimal("36.00")
    refused(Code.PLATFORM_NOT_BOUND, voucher, ComputePlatformFactory(on_national_list=False))


def test_a_suspended_platform_is_refused(program, platform) -> None:
    voucher = issue(program)
    ComputePlatform.objects.filter(pk=platform.pk).update(status="suspended")
    platform.refresh_from_db()
    refused(Code.PLATFORM_SUSPENDED, voucher, platform)


def test_a_voucher_not_yet_valid_is_not_active(program, platform) -> None:
    voucher = issue(program, valid_from=timezone.now() + datetime.timedelta(days=1))
    refused(Code.VOUCHER_NOT_ACTIVE, voucher, platform)


def test_usage_before_valid_from_is_not_covered(program, platform) -> None:
    voucher = issue(program)
    err = refused(
        Code.VOUCHER_NOT_ACTIVE,
        voucher,
        platform,
        occurred_at=voucher.valid_from - datetime.timedelta(hours=1),
    )
    assert err.field == "occurred_at"


def test_a_voucher_whose_valid_from_has_passed_is_activated_by_the_first_charge(
    program, platform
) -> None:
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(program, valid_from=shanghai(2026, 6, 2))
    with frozen(shanghai(2026, 6, 2, 0, 1)):
        redeem(voucher, platform)
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ACTIVE


def test_a_voucher_past_expiry_is_expired_even_before_the_task_runs(program, platform) -> None:
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(program)
    with frozen(voucher.expires_at):
        refused(Code.VOUCHER_EXPIRED, voucher, platform)


def test_occurred_at_in_the_future_is_refused(program, platform) -> None:
    err = refused(
        Code.VALIDATION_ERROR,
        issue(program),
        platform,
        occurred_at=timezone.now() + datetime.timedelta(hours=1),
    )
    assert err.field == "occurred_at"


def test_a_naive_occurred_at_is_refused(program, platform) -> None:
    refused(
        Code.VALIDATION_ERROR, issue(program), platform, occurred_at=datetime.datetime(2026, 6, 1)
    )


def test_nothing_available_while_everything_is_held_is_insufficient(program, platform) -> None:
    voucher = issue(program, amount="100")
    hold_create(
        actor=platform_actor(platform),
        platform=platform,
        voucher_code=voucher.code,
        reference="h",
        amount=Decimal("100"),
    )
    refused(Code.INSUFFICIENT_BALANCE, voucher, platform)


def test_the_same_redemption_again_is_replayed_and_changes_nothing(program, platform) -> None:
    voucher = issue(program, amount="1000")
    moment = timezone.now()
    first = redeem(voucher, platform, occurred_at=moment)
    redeem(voucher, platform, reference="other", occurred_at=moment)
    again = redeem(voucher, platform, occurred_at=moment)
    assert again.replayed and not first.replayed
    assert again.as_dict() | {"replayed": False} == first.as_dict()
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("928.00")
    assert Redemption.objects.count() == 2


def test_a_different_body_under_a_used_reference_is_a_conflict(program, platform) -> None:
    voucher = issue(program)
    moment = timezone.now()
    redeem(voucher, platform, occurred_at=moment)
    refused(
        Code.REFERENCE_CONFLICT, voucher, platform, occurred_at=moment, billed_amount=Decimal("121")
    )


def test_references_are_unique_per_platform_only(program, platform) -> None:
    other = ComputePlatformFactory()
    bind(program, other)
    voucher = issue(program)
    redeem(voucher, platform)
    assert not redeem(voucher, other).replayed


def test_the_request_evidence_is_kept_with_the_redemption_and_its_ledger_entry(
    program, platform
) -> None:
    voucher = issue(program)
    result = redeem(voucher, platform, request_evidence=EVIDENCE)
    assert Redemption.objects.get(pk=result.id).request_evidence == EVIDENCE
    entry = LedgerEntry.objects.get(redemption_id=result.id)
    assert entry.request_evidence == EVIDENCE
    assert (entry.kind, entry.platform, entry.actor_label) == (
        "capture",
        platform,
        f"key-{platform.slug}",
    )
    event = AuditEvent.objects.get(object_type="vouchers.ledgerentry", object_id=str(entry.pk))
    assert event.platform_id == platform.pk
    assert event.district_id == program.district_id
    assert event.enterprise_id == voucher.enterprise_id
    assert ledger_differences() == []


def test_a_redemption_runs_in_a_bounded_number_of_queries(
    program, platform, django_assert_max_num_queries
) -> None:
    voucher = issue(program)
    with django_assert_max_num_queries(10):
        redeem(voucher, platform)
