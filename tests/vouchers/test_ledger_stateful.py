"""Property-based: random sequences of voucher operations against a plain
Python model of a voucher; the balances agree after every step and the
ledger checks clean at the end."""

from __future__ import annotations

import datetime
import itertools
from decimal import ROUND_DOWN, Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from common.errors import BusinessError, Code
from tests.accounts.factories import ComputePlatformFactory
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import frozen, issue, platform_actor
from vouchers.ledger import ledger_differences
from vouchers.models import Voucher
from vouchers.services import (
    hold_capture,
    hold_create,
    hold_release,
    redemption_reverse,
    voucher_expire,
    voucher_redeem,
)

RATE = Decimal("0.50")
CAP = Decimal("400.00")
FACE = Decimal("1000.00")
CENT = Decimal("0.01")

money = st.integers(min_value=1, max_value=150_000).map(lambda c: Decimal(c) / 100)


class VoucherModel:
    """What a voucher should do, in plain Python."""

    def __init__(self) -> None:
        self.balance = FACE
        self.held = Decimal("0")
        self.status = "active"
        self.holds: dict[int, tuple[Decimal, bool]] = {}
        self.redemptions: dict[int, list[Decimal]] = {}

    @property
    def available(self) -> Decimal:
        return self.balance - self.held

    def settle(self) -> None:
        if self.status == "active" and self.balance == 0 and self.held == 0:
            self.status = "exhausted"
        elif self.status == "exhausted" and self.balance > 0:
            self.status = "active"

    def usable(self) -> str | None:
        if self.status == "expired":
            return Code.VOUCHER_EXPIRED
        if self.status == "exhausted":
            return Code.VOUCHER_EXHAUSTED
        return None

    @staticmethod
    def wanted(billed: Decimal) -> Decimal:
        return min((billed * RATE).quantize(CENT, rounding=ROUND_DOWN), CAP)


class VoucherMachine(RuleBasedStateMachine):
    holds = Bundle("holds")
    redemptions = Bundle("redemptions")

    def __init__(self) -> None:
        super().__init__()
        self.platform = ComputePlatformFactory()
        program = ProgramFactory(per_charge_cap=CAP, base_rate=RATE)
        bind(program, self.platform)
        self.voucher = issue(program, amount=FACE)
        self.actor = platform_actor(self.platform)
        self.model = VoucherModel()
        self.refs = itertools.count()

    def ref(self) -> str:
        return f"ref-{next(self.refs)}"

    def expect(self, code: str | None, call):  # type: ignore[no-untyped-def]
        if code is None:
            return call()
        with pytest.raises(BusinessError) as err:
            call()
        assert err.value.code == code, (code, err.value.code, err.value.message)
        return None

    @rule(billed=money)
    def redeem(self, billed: Decimal) -> None:
        self._redeem(billed)

    @rule(target=redemptions, billed=money)
    def redeem_kept(self, billed: Decimal):  # type: ignore[no-untyped-def]
        return self._redeem(billed)

    def _redeem(self, billed: Decimal) -> int:
        m = self.model
        wanted = m.wanted(billed)
        code = m.usable() or (
            Code.VALIDATION_ERROR
            if wanted <= 0
            else Code.INSUFFICIENT_BALANCE
            if m.available <= 0
            else None
        )
        result = self.expect(
            code,
            lambda: voucher_redeem(
                actor=self.actor,
                platform=self.platform,
                voucher_code=self.voucher.code,
                reference=self.ref(),
                occurred_at=timezone.now(),
                billed_amount=billed,
            ),
        )
        if result is None:
            return -1
        covered = min(wanted, m.available)
        assert result.covered == covered
        m.balance -= covered
        m.redemptions[result.id] = [covered, Decimal("0")]
        m.settle()
        assert result.balance_after == m.available
        return result.id

    @rule(target=holds, amount=st.integers(min_value=1, max_value=600))
    def hold(self, amount: int):  # type: ignore[no-untyped-def]
        m = self.model
        value = Decimal(amount)
        code = m.usable() or (Code.INSUFFICIENT_BALANCE if value > m.available else None)
        result = self.expect(
            code,
            lambda: hold_create(
                actor=self.actor,
                platform=self.platform,
                voucher_code=self.voucher.code,
                reference=self.ref(),
                amount=value,
            ),
        )
        if result is None:
            return -1
        m.held += value
        m.holds[result.id] = (value, True)
        return result.id

    @rule(hold_id=consumes(holds), billed=money)
    def capture(self, hold_id: int, billed: Decimal) -> None:
        m = self.model
        amount, is_open = m.holds.get(hold_id, (Decimal("0"), False))
        wanted = m.wanted(billed)
        code = (
            Code.HOLD_NOT_FOUND
            if hold_id < 0
            else Code.HOLD_NOT_OPEN
            if not is_open
            else m.usable() or (Code.VALIDATION_ERROR if wanted <= 0 else None)
        )
        result = self.expect(
            code,
            lambda: hold_capture(
                actor=self.actor,
                platform=self.platform,
                hold_id=hold_id if hold_id > 0 else 10**9,
                reference=self.ref(),
                occurred_at=timezone.now(),
                billed_amount=billed,
            ),
        )
        if result is None:
            return
        covered = min(wanted, amount)
        assert result.covered == covered
        m.balance -= covered
        m.held -= amount
        m.holds[hold_id] = (amount, False)
        m.redemptions[result.id] = [covered, Decimal("0")]
        m.settle()

    @rule(hold_id=consumes(holds))
    def release(self, hold_id: int) -> None:
        m = self.model
        amount, is_open = m.holds.get(hold_id, (Decimal("0"), False))
        code = Code.HOLD_NOT_FOUND if hold_id < 0 else None if is_open else Code.HOLD_NOT_OPEN
        result = self.expect(
            code,
            lambda: hold_release(
                actor=self.actor, platform=self.platform, hold_id=hold_id if hold_id > 0 else 10**9
            ),
        )
        if result is None:
            return
        m.held -= amount
        m.holds[hold_id] = (amount, False)
        m.settle()

    @rule(redemption_id=redemptions, share=st.integers(min_value=1, max_value=120))
    def reverse(self, redemption_id: int, share: int) -> None:
        m = self.model
        if redemption_id < 0:
            return
        covered, reversed_ = m.redemptions[redemption_id]
        amount = (covered * share / 100).quantize(CENT, rounding=ROUND_DOWN)
        if amount <= 0:
            return
        code = Code.VALIDATION_ERROR if amount > covered - reversed_ else None
        result = self.expect(
            code,
            lambda: redemption_reverse(
                actor=self.actor,
                platform=self.platform,
                redemption_id=redemption_id,
                amount=amount,
                reference=self.ref(),
            ),
        )
        if result is None:
            return
        m.redemptions[redemption_id][1] += amount
        if m.status != "expired":
            m.balance += amount
        m.settle()
        assert result.balance_after == m.available

    @rule()
    def expire(self) -> None:
        m = self.model
        with frozen(self.voucher.expires_at + datetime.timedelta(seconds=1)):
            changed = voucher_expire(voucher_id=self.voucher.pk)
        assert changed == (m.status != "expired" and m.status != "exhausted")
        if changed:
            m.status = "expired"
            m.balance = Decimal("0")
            m.held = Decimal("0")
            m.holds = {k: (a, False) for k, (a, _) in m.holds.items()}

    @invariant()
    def balances_agree(self) -> None:
        v = Voucher.objects.get(pk=self.voucher.pk)
        assert (v.balance, v.held, v.status) == (
            self.model.balance,
            self.model.held,
            self.model.status,
        )

    def teardown(self) -> None:
        assert ledger_differences() == []


@pytest.mark.django_db
def test_random_operation_sequences_match_the_plain_python_model() -> None:
    run_state_machine_as_test(
        VoucherMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
