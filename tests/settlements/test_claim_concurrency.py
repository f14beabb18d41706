"""Sixteen finance officers approve sixteen claims at once against a budget
that holds eleven of them (threads against PostgreSQL): the budget is never
exceeded, each claim is approved once, and every approval is audited."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import Membership
from audit.models import AuditEvent
from programs.models import Program
from settlements import claims as services
from settlements.models import Claim
from tests.accounts.factories import EnterpriseFactory
from tests.settlements.claim_factories import actor, build, make_contract, to_finance
from tests.settlements.test_concurrency import THREADS, race
from tests.vouchers.factories import member, official

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_sixteen_concurrent_approvals_never_exceed_the_budget() -> None:
    # Each claim: ¥300,000 of compute at 30 % = ¥90,000; the budget holds 11.
    world = build(total_budget=Decimal("1000000.00"), settlement_four_eyes_threshold=None)
    claims = []
    for _ in range(THREADS):
        enterprise = EnterpriseFactory(district=world.district)
        admin = member(enterprise)
        contract = make_contract(world, enterprise=enterprise, admin=admin, amount="300000.00")
        claim = services.claim_create(actor=actor(admin), program=world.program, contract=contract)
        claim = services.claim_submit(
            actor=actor(admin),
            claim=claim,
            declaration=True,
            payee_bank="中国银行",
            payee_account="6216610200016589",
        )
        claims.append(to_finance(world, claim))
    officers = [official(world.district, Membership.Role.FINANCE_OFFICER) for _ in range(THREADS)]

    outcomes = race(
        lambda i: services.claim_approve(
            actor=actor(officers[i]), claim=Claim.objects.get(pk=claims[i].pk)
        )
    )

    assert "error" not in " ".join(outcomes)
    assert outcomes.count("done") == 11
    assert outcomes.count("refused") == 5
    program = Program.objects.get(pk=world.program.pk)
    assert program.reserved_amount == Decimal("990000.00")
    assert program.committed_amount <= program.total_budget
    approved = Claim.objects.filter(program=program, status=Claim.Status.APPROVED)
    assert approved.count() == 11
    assert AuditEvent.objects.filter(event_type="claim.approved").count() == 11
    assert Claim.objects.filter(program=program, status=Claim.Status.FINANCE).count() == 5
