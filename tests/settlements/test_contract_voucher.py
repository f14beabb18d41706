"""Beijing's way: a contract is pre-approved and a voucher bound to it is
granted; a claim with the invoices and delivery proofs then draws on that
voucher, never beyond its balance, and the ledger stays whole."""

from __future__ import annotations

from decimal import Decimal

import pytest

from programs.models import Program
from settlements import claims as services
from settlements.models import Claim, Contract
from tests.settlements.claim_factories import actor, approved, build, make_contract, pay, to_finance
from vouchers.ledger import ledger_differences
from vouchers.models import LedgerEntry

pytestmark = pytest.mark.django_db

D = Decimal


def beijing():  # type: ignore[no-untyped-def]
    return build(
        payout_mode=Program.PayoutMode.CONTRACT_VOUCHER,
        base_rate=D("0.20"),
        claim_min_spend=None,
        claim_cap=None,
        claim_cap_per_year=D("2000000.00"),
        settlement_four_eyes_threshold=None,
        claim_requires_assessment=False,
        voucher_validity_days=400,
    )


def _submit(world, contract):  # type: ignore[no-untyped-def]
    claim = services.claim_create(
        actor=actor(world.admin), program=world.program, contract=contract
    )
    return services.claim_submit(
        actor=actor(world.admin),
        claim=claim,
        declaration=True,
        payee_bank="北京银行",
        payee_account="6214830100012345",
    )


def test_pre_approval_grants_a_voucher_bound_to_the_contract_and_invoices_redeem_it() -> None:
    world = beijing()
    contract = make_contract(world, amount="5000000.00", invoices=[])
    pre = _submit(world, contract)
    assert pre.stage == Claim.Stage.PREAPPROVAL
    assert pre.claimed_amount == D("1000000.00")  # 20 % of the contract
    pre = approved(world, to_finance(world, pre))
    contract.refresh_from_db()
    assert pre.status == Claim.Status.APPROVED and pre.outstanding == 0
    voucher = contract.voucher
    assert voucher is not None and voucher.face_value == D("1000000.00")
    world.program.refresh_from_db()
    assert world.program.issued_amount == D("1000000.00") and world.program.reserved_amount == 0

    services.invoice_record(
        actor=actor(world.admin),
        contract=contract,
        number="11000000000000000001",
        issued_on=contract.signed_on,
        amount=D("2000000.00"),
        service_kind="gpu",
        paid_on=contract.signed_on,
    )
    redemption = _submit(world, Contract.objects.get(pk=contract.pk))
    assert redemption.stage == Claim.Stage.REDEMPTION
    assert redemption.voucher_id == voucher.pk
    assert redemption.claimed_amount == D("400000.00")
    redemption = approved(world, to_finance(world, redemption))
    voucher.refresh_from_db()
    assert voucher.balance == D("600000.00")
    entry = LedgerEntry.objects.filter(voucher=voucher).order_by("-id").first()
    assert entry is not None and entry.kind == LedgerEntry.Kind.CLAIM
    assert entry.amount == D("400000.00") and entry.balance_after == D("600000.00")
    pay(world, redemption)
    redemption.refresh_from_db()
    world.program.refresh_from_db()
    assert redemption.status == Claim.Status.PAID
    assert world.program.issued_amount == D("1000000.00")  # the voucher's money, spent once
    assert ledger_differences() == []


def test_a_redemption_never_draws_more_than_the_voucher_holds() -> None:
    world = beijing()
    contract = make_contract(world, amount="1000000.00", invoices=[])
    approved(world, to_finance(world, _submit(world, contract)))  # a voucher of 200,000
    services.invoice_record(
        actor=actor(world.admin),
        contract=contract,
        number="11000000000000000002",
        issued_on=contract.signed_on,
        amount=D("1000000.00"),
        service_kind="npu",
        paid_on=contract.signed_on,
    )
    redemption = _submit(world, Contract.objects.get(pk=contract.pk))
    assert redemption.claimed_amount == D("200000.00")
