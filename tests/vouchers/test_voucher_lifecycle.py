"""The voucher's state machine: every transition allowed and refused."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from accounts.models import Membership
from audit.models import AuditEvent
from audit.services import Actor
from common.errors import BusinessError, Code
from tests.accounts.factories import ComputePlatformFactory, DistrictFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import frozen, issue, official, platform_actor, shanghai
from vouchers.ledger import ledger_differences
from vouchers.models import Hold, LedgerEntry, Receivable, Voucher
from vouchers.periodic import vouchers_activate_due, vouchers_expire_due
from vouchers.services import (
    hold_create,
    voucher_action_refusal,
    voucher_claw_back,
    voucher_redeem,
    voucher_resume,
    voucher_revoke,
    voucher_suspend,
)

pytestmark = pytest.mark.django_db

Status = Voucher.Status


@pytest.fixture
def setup() -> dict:
    program = ProgramFactory(voucher_validity_days=30)
    platform = ComputePlatformFactory()
    bind(program, platform)
    manager = official(program.district, Membership.Role.PROGRAM_MANAGER)
    return {"program": program, "platform": platform, "manager": Actor.for_user(manager)}


def _redeem(voucher: Voucher, platform, billed: str, ref: str) -> None:
    voucher_redeem(
        actor=platform_actor(platform),
        platform=platform,
        reference=ref,
        occurred_at=timezone.now(),
        voucher_code=voucher.code,
        billed_amount=Decimal(billed),
    )


def _events(voucher: Voucher) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="vouchers.voucher", object_id=str(voucher.pk))
        .order_by("id")
        .values_list("event_type", flat=True)
    )


# -- activation at valid-from, at the Asia/Shanghai boundary ------------------


def test_activation_happens_exactly_at_valid_from_in_shanghai_time(setup) -> None:
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(setup["program"], valid_from=shanghai(2026, 7, 1))
    # 2026-06-30 15:59:59 UTC is 23:59:59 in Shanghai: not yet.
    with frozen(datetime.datetime(2026, 6, 30, 15, 59, 59, tzinfo=datetime.UTC)):
        assert vouchers_activate_due() == 0
    voucher.refresh_from_db()
    assert voucher.status == Status.ISSUED
    with frozen(datetime.datetime(2026, 6, 30, 16, 0, 0, tzinfo=datetime.UTC)):
        assert vouchers_activate_due() == 1
        assert vouchers_activate_due() == 0  # idempotent
    voucher.refresh_from_db()
    assert voucher.status == Status.ACTIVE
    assert "voucher.activated" in _events(voucher)


def test_an_issued_voucher_cannot_be_activated_early() -> None:
    voucher = Voucher(
        valid_from=timezone.now() + datetime.timedelta(days=1),
        expires_at=timezone.now() + datetime.timedelta(days=30),
    )
    with pytest.raises(TransitionNotAllowed):
        voucher.activate()


# -- expiry at the boundary ---------------------------------------------------


def test_expiry_happens_at_the_first_moment_after_the_last_valid_shanghai_day(setup) -> None:
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(setup["program"], amount="1000")  # valid through 2026-06-30
    assert voucher.expires_at == shanghai(2026, 7, 1)
    with frozen(datetime.datetime(2026, 6, 30, 15, 59, 59, tzinfo=datetime.UTC)):
        assert vouchers_expire_due() == 0
    with frozen(datetime.datetime(2026, 6, 30, 16, 0, 0, tzinfo=datetime.UTC)):
        assert vouchers_expire_due() == 1
        assert vouchers_expire_due() == 0
    voucher.refresh_from_db()
    program = setup["program"]
    program.refresh_from_db()
    assert voucher.status == Status.EXPIRED
    assert voucher.balance == 0
    assert program.returned_amount == Decimal("1000")
    assert voucher.ledger.last().kind == LedgerEntry.Kind.EXPIRY
    assert "voucher.expired" in _events(voucher)
    assert ledger_differences() == []


def test_expiry_releases_open_holds_before_returning_the_remainder(setup) -> None:
    platform = setup["platform"]
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(setup["program"], amount="1000")
        hold_create(
            actor=platform_actor(platform),
            platform=platform,
            reference="h",
            amount=Decimal("400"),
            voucher_code=voucher.code,
            expires_in=86400,
        )
    with frozen(shanghai(2026, 7, 1, 0, 0, 1)):
        vouchers_expire_due()
    voucher.refresh_from_db()
    assert (voucher.status, voucher.balance, voucher.held) == (Status.EXPIRED, 0, 0)
    assert Hold.objects.get().status == Hold.Status.EXPIRED
    kinds = list(voucher.ledger.values_list("kind", flat=True))
    assert kinds == ["issue", "hold", "release", "expiry"]
    assert ledger_differences() == []


def test_a_voucher_cannot_expire_before_its_expiry(setup) -> None:
    voucher = issue(setup["program"])
    with pytest.raises(TransitionNotAllowed):
        voucher.expire()


# -- suspend / resume ---------------------------------------------------------


def test_a_program_manager_suspends_and_resumes_with_a_reason(setup) -> None:
    voucher = issue(setup["program"])
    voucher = voucher_suspend(actor=setup["manager"], voucher=voucher, reason="Unusual usage")
    assert (voucher.status, voucher.status_reason) == (Status.SUSPENDED, "Unusual usage")
    with pytest.raises(BusinessError) as err:
        _redeem(voucher, setup["platform"], "10", "r1")
    assert err.value.code == Code.VOUCHER_NOT_ACTIVE
    voucher = voucher_resume(actor=setup["manager"], voucher=voucher, reason="Explained")
    assert voucher.status == Status.ACTIVE
    assert _events(voucher)[-2:] == ["voucher.suspended", "voucher.resumed"]


def test_suspending_or_resuming_needs_a_reason(setup) -> None:
    voucher = issue(setup["program"])
    with pytest.raises(BusinessError) as err:
        voucher_suspend(actor=setup["manager"], voucher=voucher, reason="  ")
    assert err.value.field == "reason"


def test_resuming_an_active_voucher_is_refused(setup) -> None:
    voucher = issue(setup["program"])
    with pytest.raises(BusinessError, match="active"):
        voucher_resume(actor=setup["manager"], voucher=voucher, reason="x")


def test_suspending_an_issued_voucher_is_refused(setup) -> None:
    voucher = issue(setup["program"], valid_from=timezone.now() + datetime.timedelta(days=2))
    with pytest.raises(BusinessError):
        voucher_suspend(actor=setup["manager"], voucher=voucher, reason="x")


def test_a_suspended_voucher_past_its_expiry_cannot_be_resumed(setup) -> None:
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(setup["program"])
        voucher = voucher_suspend(actor=setup["manager"], voucher=voucher, reason="x")
    with frozen(shanghai(2026, 7, 2)), pytest.raises(BusinessError, match="validity"):
        voucher_resume(actor=setup["manager"], voucher=voucher, reason="x")


@pytest.mark.parametrize("role", [Membership.Role.REVIEWER, Membership.Role.AUDITOR])
def test_reviewers_and_auditors_may_not_suspend(setup, role) -> None:
    voucher = issue(setup["program"])
    user = official(setup["program"].district, role)
    assert voucher_action_refusal(voucher=voucher, user=user, action="suspend")
    with pytest.raises(PermissionDenied):
        voucher_suspend(actor=Actor.for_user(user), voucher=voucher, reason="x")


def test_a_program_manager_of_another_district_may_not_suspend(setup) -> None:
    voucher = issue(setup["program"])
    other = official(DistrictFactory(code="520100", name="贵阳市"), Membership.Role.PROGRAM_MANAGER)
    with pytest.raises(PermissionDenied):
        voucher_suspend(actor=Actor.for_user(other), voucher=voucher, reason="x")


def test_a_system_actor_may_not_suspend(setup) -> None:
    voucher = issue(setup["program"])
    with pytest.raises(PermissionDenied):
        voucher_suspend(actor=Actor.system("x"), voucher=voucher, reason="x")


# -- exhausted ↔ active -------------------------------------------------------


def test_a_voucher_used_up_becomes_exhausted_and_refuses_further_charges(setup) -> None:
    voucher = issue(setup["program"], amount="30")
    _redeem(voucher, setup["platform"], "100", "r1")  # 30 % of 100 = 30
    voucher.refresh_from_db()
    assert (voucher.status, voucher.balance) == (Status.EXHAUSTED, 0)
    with pytest.raises(BusinessError) as err:
        _redeem(voucher, setup["platform"], "10", "r2")
    assert err.value.code == Code.VOUCHER_EXHAUSTED
    assert "voucher.exhausted" in _events(voucher)


def test_exhaustion_waits_while_something_is_held(setup) -> None:
    voucher = issue(setup["program"])
    voucher.balance = Decimal("0")
    voucher.held = Decimal("0")
    assert voucher._meta.get_field("status")  # a plain predicate check
    voucher.held = Decimal("5")
    voucher.balance = Decimal("5")
    with pytest.raises(TransitionNotAllowed):
        voucher.exhaust()


# -- revoke -------------------------------------------------------------------


@pytest.mark.parametrize("state", ["issued", "active", "suspended", "exhausted"])
def test_revocation_returns_the_remainder_from_every_open_state(setup, state) -> None:
    program = setup["program"]
    later = timezone.now() + datetime.timedelta(days=2)
    voucher = issue(program, amount="100", valid_from=later if state == "issued" else None)
    if state == "suspended":
        voucher = voucher_suspend(actor=setup["manager"], voucher=voucher, reason="x")
    if state == "exhausted":
        _redeem(voucher, setup["platform"], "1000", "r1")
    voucher = voucher_revoke(actor=setup["manager"], voucher=voucher, reason="Fraud")
    program.refresh_from_db()
    assert (voucher.status, voucher.balance) == (Status.REVOKED, 0)
    assert program.returned_amount == (Decimal("0") if state == "exhausted" else Decimal("100"))
    assert ledger_differences() == []


@pytest.mark.parametrize("action", ["revoke", "suspend", "resume"])
def test_a_revoked_voucher_refuses_every_further_move(setup, action) -> None:
    voucher = voucher_revoke(actor=setup["manager"], voucher=issue(setup["program"]), reason="x")
    service = {"revoke": voucher_revoke, "suspend": voucher_suspend, "resume": voucher_resume}[
        action
    ]
    with pytest.raises(BusinessError):
        service(actor=setup["manager"], voucher=voucher, reason="again")


def test_revocation_needs_the_revoke_role(setup) -> None:
    user = official(setup["program"].district, Membership.Role.REVIEWER)
    with pytest.raises(PermissionDenied):
        voucher_revoke(actor=Actor.for_user(user), voucher=issue(setup["program"]), reason="x")


# -- clawback -----------------------------------------------------------------


def test_clawback_recovers_what_was_covered_and_raises_a_receivable(setup) -> None:
    program = setup["program"]
    voucher = issue(program, amount="1000")
    _redeem(voucher, setup["platform"], "1000", "r1")  # covers 300
    receivable = voucher_claw_back(
        actor=setup["manager"], voucher=voucher, reason="Left the district within 3 years"
    )
    voucher.refresh_from_db()
    program.refresh_from_db()
    assert (voucher.status, voucher.balance) == (Status.CLAWED_BACK, 0)
    assert receivable.amount == Decimal("300")
    assert receivable.enterprise == voucher.enterprise
    # 700 remainder + 300 recovered: the whole face value is back in the budget.
    assert program.returned_amount == Decimal("1000")
    kinds = list(voucher.ledger.values_list("kind", flat=True))
    assert kinds == ["issue", "capture", "revocation", "clawback"]
    assert Receivable.objects.count() == 1
    assert "voucher.clawed_back" in _events(voucher)
    assert ledger_differences() == []


def test_clawback_of_an_expired_voucher_recovers_only_what_was_covered(setup) -> None:
    program = setup["program"]
    with frozen(shanghai(2026, 6, 1, 9)):
        voucher = issue(program, amount="1000")
        _redeem(voucher, setup["platform"], "100", "r1")  # 30
    with frozen(shanghai(2026, 7, 5)):
        vouchers_expire_due()
        voucher.refresh_from_db()
        voucher_claw_back(
            actor=setup["manager"], voucher=voucher, reason="Breach", amount=Decimal("20")
        )
    program.refresh_from_db()
    assert program.returned_amount == Decimal("970") + Decimal("20")
    assert ledger_differences() == []


def test_clawback_with_nothing_covered_is_refused(setup) -> None:
    voucher = issue(setup["program"])
    assert "Nothing" in voucher_action_refusal(
        voucher=voucher, user=setup["manager"].user, action="clawback"
    )
    with pytest.raises(BusinessError, match="Nothing"):
        voucher_claw_back(actor=setup["manager"], voucher=voucher, reason="x")


def test_clawback_of_an_issued_voucher_is_refused(setup) -> None:
    voucher = issue(setup["program"], valid_from=timezone.now() + datetime.timedelta(days=3))
    with pytest.raises(BusinessError):
        voucher_claw_back(actor=setup["manager"], voucher=voucher, reason="x")


def test_clawback_cannot_recover_more_than_was_covered(setup) -> None:
    voucher = issue(setup["program"], amount="1000")
    _redeem(voucher, setup["platform"], "100", "r1")
    with pytest.raises(BusinessError, match="At most"):
        voucher_claw_back(actor=setup["manager"], voucher=voucher, reason="x", amount=Decimal("31"))


def test_the_admin_offers_only_allowed_actions(setup) -> None:
    voucher = issue(setup["program"])
    user = setup["manager"].user
    allowed = {
        a
        for a in ("suspend", "resume", "revoke", "clawback")
        if voucher_action_refusal(voucher=voucher, user=user, action=a) is None
    }
    assert allowed == {"suspend", "revoke"}


def test_revocation_and_clawback_are_offered_and_work_while_something_is_held(setup) -> None:
    platform = setup["platform"]
    voucher = issue(setup["program"], amount="1000")
    _redeem(voucher, platform, "100", "r1")
    hold_create(
        actor=platform_actor(platform),
        platform=platform,
        reference="h",
        amount=Decimal("200"),
        voucher_code=voucher.code,
    )
    voucher.refresh_from_db()
    user = setup["manager"].user
    assert voucher_action_refusal(voucher=voucher, user=user, action="revoke") is None
    assert voucher_action_refusal(voucher=voucher, user=user, action="clawback") is None
    voucher_claw_back(actor=setup["manager"], voucher=voucher, reason="Breach")
    voucher.refresh_from_db()
    assert (voucher.status, voucher.balance, voucher.held) == (Status.CLAWED_BACK, 0, 0)
    assert Hold.objects.get().status == Hold.Status.EXPIRED
    assert ledger_differences() == []
