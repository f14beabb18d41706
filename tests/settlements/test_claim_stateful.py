"""Whatever the sequence of claims, approvals, rejections and payments:
paid ≤ approved ≤ claimed on every claim, the program's budget is never
exceeded, and every step that happened is in the audit chain (and nothing
that was refused)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from audit.models import AuditEvent
from audit.verification import audit_verify
from common.errors import BusinessError
from programs.models import Program
from settlements import claims as services
from settlements.models import Claim
from tests.accounts.factories import EnterpriseFactory
from tests.settlements.claim_factories import actor, build, make_contract, to_finance
from tests.vouchers.factories import member

pytestmark = pytest.mark.django_db

D = Decimal
spend = st.integers(min_value=300_000, max_value=1_500_000).map(lambda n: D(f"{n}.00"))
share = st.sampled_from([D("0.25"), D("0.5"), D("1")])


class ClaimMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = build(total_budget=D("700000.00"))
        self.claims: list[int] = []
        self.expected_events: dict[int, int] = {}
        self.refs = 0

    def _claim(self, index: int) -> Claim | None:
        if not self.claims:
            return None
        return Claim.objects.get(pk=self.claims[index % len(self.claims)])

    def _counted(self, claim: Claim, steps: int) -> None:
        self.expected_events[claim.pk] = self.expected_events.get(claim.pk, 0) + steps

    @rule(amount=spend)
    def claim(self, amount: Decimal) -> None:
        enterprise = EnterpriseFactory(district=self.world.district)
        admin = member(enterprise)
        contract = make_contract(self.world, enterprise=enterprise, admin=admin, amount=str(amount))
        claim = services.claim_create(
            actor=actor(admin), program=self.world.program, contract=contract
        )
        claim = services.claim_submit(
            actor=actor(admin),
            claim=claim,
            declaration=True,
            payee_bank="中国银行",
            payee_account="6216610200016589",
        )
        claim = to_finance(self.world, claim)
        self.claims.append(claim.pk)
        # created, submitted, check started, passed to the assessor, assessed
        self._counted(claim, 5)

    @rule(index=st.integers(0, 20), second=st.booleans())
    def approve(self, index: int, second: bool) -> None:
        claim = self._claim(index)
        if claim is None:
            return
        officer = self.world.finance_2 if second else self.world.finance
        try:
            services.claim_approve(actor=actor(officer), claim=claim)
        except BusinessError:
            return
        except Exception as exc:  # PermissionDenied: the same officer twice
            assert "another finance officer" in str(exc) or "may approve" in str(exc)
            return
        self._counted(claim, 1)

    @rule(index=st.integers(0, 20))
    def reject(self, index: int) -> None:
        claim = self._claim(index)
        if claim is None:
            return
        try:
            services.claim_reject(
                actor=actor(self.world.reviewer), claim=claim, reason="不符合条件。"
            )
        except BusinessError:
            return
        self._counted(claim, 1)

    @rule(index=st.integers(0, 20), part=share)
    def pay(self, index: int, part: Decimal) -> None:
        claim = self._claim(index)
        if claim is None:
            return
        amount = (claim.outstanding * part).quantize(D("0.01"))
        self.refs += 1
        try:
            services.claim_payment_record(
                actor=actor(self.world.finance),
                claim=claim,
                amount=amount,
                paid_on=timezone.localdate(claim.approved_at or claim.created_at),
                payer_account="保定市财政局",
                bank_reference=f"BK-{self.refs}",
            )
        except BusinessError:
            return
        claim.refresh_from_db()
        self._counted(claim, 2 if claim.status == Claim.Status.PAID else 1)

    @invariant()
    def amounts_are_ordered(self) -> None:
        for claim in Claim.objects.filter(pk__in=self.claims):
            assert claim.paid_amount <= (claim.approved_amount or 0) <= claim.claimed_amount
            if claim.approved_amount is not None:
                assert claim.approved_amount <= claim.amount_for_approval

    @invariant()
    def budget_holds(self) -> None:
        program = Program.objects.get(pk=self.world.program.pk)
        assert program.committed_amount <= program.total_budget
        decided = Claim.objects.filter(program=program, status__in=Claim.DECIDED)
        approved = sum((c.approved_amount or D(0) for c in decided), D(0))
        paid = sum((c.paid_amount for c in decided), D(0))
        assert program.reserved_amount == approved - paid
        assert program.paid_out_amount == paid
        assert program.issued_amount == 0

    @invariant()
    def every_step_is_audited(self) -> None:
        for pk, expected in self.expected_events.items():
            found = AuditEvent.objects.filter(
                object_type="settlements.claim", object_id=str(pk)
            ).count()
            assert found == expected, (pk, found, expected)


def test_random_sequences_keep_the_money_ordered_and_audited() -> None:
    run_state_machine_as_test(
        ClaimMachine,
        settings=settings(
            max_examples=8,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
    result = audit_verify()
    assert result.ok, result.problem
