"""Claims through their services: every state, every guard a claim deserves
to be refused by, four eyes, the budget, and the audit trail."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.models import Membership
from audit.models import AuditEvent
from common.errors import BusinessError
from programs.models import Program
from settlements import claims as services
from settlements.models import Claim, ClaimedInvoice, Contract
from tests.accounts.factories import DistrictFactory, EnterpriseFactory, make_uscc
from tests.settlements.claim_factories import (
    actor,
    approved,
    baoding_program,
    build,
    make_contract,
    pay,
    submitted,
    to_finance,
)
from tests.vouchers.factories import member

pytestmark = pytest.mark.django_db

D = Decimal


def events_of(claim: Claim) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="settlements.claim", object_id=str(claim.pk))
        .order_by("id")
        .values_list("event_type", flat=True)
    )


def refused(call, *, containing: str = "") -> BusinessError:  # type: ignore[no-untyped-def]
    with pytest.raises(BusinessError) as err:
        call()
    assert containing.lower() in err.value.message.lower(), err.value.message
    return err.value


# --- The whole life ----------------------------------------------------------------


def test_a_claim_from_draft_to_paid_with_every_step_audited() -> None:
    world = build()
    contract = make_contract(world)  # ¥1,200,000 of GPU compute in 2026
    claim = services.claim_create(
        actor=actor(world.admin), program=world.program, contract=contract
    )
    assert claim.status == Claim.Status.DRAFT
    assert claim.claimed_amount == D("300000.00")  # 30 % is 360,000, capped at 300,000
    claim = services.claim_submit(
        actor=actor(world.admin),
        claim=claim,
        declaration=True,
        payee_bank="中国银行",
        payee_account="6216 6102 0001 6589",
    )
    assert claim.status == Claim.Status.SUBMITTED
    assert claim.payee_account == "6216610200016589"
    assert ClaimedInvoice.objects.filter(claim=claim).count() == 1
    claim = to_finance(world, claim, recommended=D("280000.00"))
    assert claim.status == Claim.Status.FINANCE
    assert claim.amount_for_approval == D("280000.00")
    # Above the ¥200,000 threshold: two finance officers.
    claim = services.claim_approve(actor=actor(world.finance), claim=claim)
    assert claim.status == Claim.Status.FINANCE and claim.first_approved_by == world.finance
    refused_twice = pytest.raises(PermissionDenied)
    with refused_twice:
        services.claim_approve(actor=actor(world.finance), claim=claim)
    claim = services.claim_approve(actor=actor(world.finance_2), claim=claim)
    assert claim.status == Claim.Status.APPROVED
    assert claim.approved_amount == D("280000.00")
    world.program.refresh_from_db()
    assert world.program.reserved_amount == D("280000.00")
    pay(world, claim, D("100000.00"), ref="BK-1")
    claim.refresh_from_db()
    assert claim.status == Claim.Status.APPROVED and claim.outstanding == D("180000.00")
    pay(world, claim, ref="BK-2")
    claim.refresh_from_db()
    world.program.refresh_from_db()
    assert claim.status == Claim.Status.PAID
    assert claim.paid_amount == claim.approved_amount
    assert world.program.reserved_amount == 0
    assert world.program.paid_out_amount == D("280000.00")
    assert world.program.issued_amount == 0  # no voucher: check_ledger stays whole
    assert events_of(claim) == [
        "claim.created",
        "claim.submitted",
        "claim.check_started",
        "claim.passed_to_assessor",
        "claim.assessed",
        "claim.first_approval",
        "claim.approved",
        "claim.payment_recorded",
        "claim.payment_recorded",
        "claim.paid",
    ]


def test_returned_claim_keeps_what_was_entered_and_is_resubmitted() -> None:
    world = build()
    claim = submitted(world)
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    claim = services.claim_return(
        actor=actor(world.reviewer), claim=claim, reason="请补充交付验收单。"
    )
    assert claim.status == Claim.Status.RETURNED
    assert claim.return_reason == "请补充交付验收单。"
    assert claim.payee_account == "6216610200016589"
    assert claim.claimed_amount == D("300000.00")
    # While returned the contract and its invoices stay held.
    assert ClaimedInvoice.objects.filter(claim=claim).count() == 1
    claim = services.claim_submit(
        actor=actor(world.admin),
        claim=claim,
        declaration=True,
        payee_bank=claim.payee_bank,
        payee_account=claim.payee_account,
    )
    assert claim.status == Claim.Status.SUBMITTED
    assert claim.return_reason == ""
    assert events_of(claim)[-2:] == ["claim.returned", "claim.submitted"]


def test_the_check_excludes_an_invoice_with_its_reason() -> None:
    world = build()
    contract = make_contract(
        world,
        amount="1000000.00",
        invoices=[("00000000000000000101", "600000.00"), ("00000000000000000102", "400000.00")],
    )
    claim = submitted(world, contract)
    assert claim.claimed_amount == D("300000.00")
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    claim = services.claim_exclude_invoice(
        actor=actor(world.reviewer),
        claim=claim,
        number="00000000000000000102",
        reason="发票抬头与合同不符。",
    )
    assert claim.checked_amount == D("180000.00")
    held = ClaimedInvoice.objects.get(number="00000000000000000102")
    assert held.excluded and held.exclusion_reason == "发票抬头与合同不符。"
    claim = services.claim_pass_on(
        actor=actor(world.reviewer), claim=claim, findings="见排除理由。", assessor=world.assessor
    )
    refused(
        lambda: services.claim_assess(
            actor=actor(world.assessor), claim=claim, findings="x", recommended=D("180000.01")
        ),
        containing="at most",
    )
    claim = services.claim_assess(
        actor=actor(world.assessor), claim=claim, findings="同意。", recommended=D("180000.00")
    )
    claim = services.claim_approve(actor=actor(world.finance), claim=claim)
    assert claim.status == Claim.Status.APPROVED  # 180,000 is under the threshold
    assert claim.approved_amount == D("180000.00")


def test_rejection_frees_the_contract_and_its_invoices() -> None:
    world = build()
    contract = make_contract(world)
    claim = submitted(world, contract)
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    claim = services.claim_reject(actor=actor(world.reviewer), claim=claim, reason="关联交易。")
    assert claim.status == Claim.Status.REJECTED
    assert not ClaimedInvoice.objects.filter(claim=claim).exists()
    again = submitted(world, contract)
    assert again.status == Claim.Status.SUBMITTED


def test_withdrawn_draft_and_a_claim_without_assessment_goes_straight_to_finance() -> None:
    world = build(claim_requires_assessment=False, settlement_four_eyes_threshold=None)
    contract = make_contract(world)
    draft = services.claim_create(
        actor=actor(world.admin), program=world.program, contract=contract
    )
    draft = services.claim_withdraw(actor=actor(world.admin), claim=draft)
    assert draft.status == Claim.Status.WITHDRAWN
    claim = submitted(world, contract)
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    claim = services.claim_pass_on(actor=actor(world.reviewer), claim=claim, findings="齐全。")
    assert claim.status == Claim.Status.FINANCE
    claim = services.claim_approve(actor=actor(world.finance), claim=claim)
    assert claim.status == Claim.Status.APPROVED


# --- Who may act ---------------------------------------------------------------------


def test_roles_count_only_in_the_programs_own_district() -> None:
    world = build()
    claim = submitted(world)
    with pytest.raises(PermissionDenied):
        services.claim_start_check(actor=actor(world.outsider_reviewer), claim=claim)
    with pytest.raises(PermissionDenied):
        services.claim_start_check(actor=actor(world.finance), claim=claim)
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    claim = services.claim_pass_on(
        actor=actor(world.reviewer), claim=claim, findings="ok", assessor=world.assessor
    )
    other_assessor = Membership.objects.create(
        user=member(EnterpriseFactory()), role=Membership.Role.ASSESSOR, district=world.district
    ).user
    with pytest.raises(PermissionDenied):  # not the one assigned
        services.claim_assess(
            actor=actor(other_assessor), claim=claim, findings="x", recommended=D("1")
        )
    claim = services.claim_assess(
        actor=actor(world.assessor), claim=claim, findings="ok", recommended=claim.claimed_amount
    )
    for outsider in (world.outsider_finance, world.reviewer, world.assessor, world.admin):
        with pytest.raises(PermissionDenied):
            services.claim_approve(actor=actor(outsider), claim=claim)


def test_the_reviewer_who_checked_never_approves() -> None:
    world = build(settlement_four_eyes_threshold=None)
    both = world.reviewer
    Membership.objects.create(
        user=both, role=Membership.Role.FINANCE_OFFICER, district=world.district
    )
    claim = to_finance(world, submitted(world))
    with pytest.raises(PermissionDenied):
        services.claim_approve(actor=actor(both), claim=claim)


def test_the_assessor_must_be_engaged_by_the_district() -> None:
    world = build()
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=submitted(world))
    elsewhere = Membership.objects.create(
        user=member(EnterpriseFactory()),
        role=Membership.Role.ASSESSOR,
        district=DistrictFactory(code="620100"),
    ).user
    refused(
        lambda: services.claim_pass_on(
            actor=actor(world.reviewer), claim=claim, findings="ok", assessor=elsewhere
        ),
        containing="not an assessor",
    )
    refused(
        lambda: services.claim_pass_on(actor=actor(world.reviewer), claim=claim, findings="ok"),
        containing="assessor",
    )


def test_another_enterprise_cannot_touch_the_contract_or_claim() -> None:
    world = build()
    contract = make_contract(world)
    stranger = member(EnterpriseFactory())
    with pytest.raises(PermissionDenied):
        services.claim_create(actor=actor(stranger), program=world.program, contract=contract)
    with pytest.raises(PermissionDenied):
        services.invoice_record(
            actor=actor(stranger),
            contract=contract,
            number="12345678",
            issued_on=datetime.date(2026, 1, 5),
            amount=D("1.00"),
            service_kind="gpu",
        )


# --- Guards ----------------------------------------------------------------------------


def test_a_contract_is_claimed_once() -> None:
    world = build()
    contract = make_contract(world)
    submitted(world, contract)
    second = services.claim_create(
        actor=actor(world.admin), program=world.program, contract=contract
    )
    refused(
        lambda: services.claim_submit(
            actor=actor(world.admin),
            claim=second,
            declaration=True,
            payee_bank="中国银行",
            payee_account="6216610200016589",
        ),
        containing="already claimed",
    )


def test_a_contract_is_claimed_once_even_in_another_program_of_another_district() -> None:
    world = build()
    contract = make_contract(world)
    submitted(world, contract)
    langfang = baoding_program(DistrictFactory(code="131000"), name="廊坊算力券")
    second = services.claim_create(actor=actor(world.admin), program=langfang, contract=contract)
    refused(
        lambda: services.claim_submit(
            actor=actor(world.admin),
            claim=second,
            declaration=True,
            payee_bank="中国银行",
            payee_account="6216610200016589",
        ),
        containing="already claimed",
    )


def test_an_invoice_number_is_claimed_once_in_any_program_of_any_district() -> None:
    world = build()
    submitted(world, make_contract(world, invoices=[("00000000000000007777", "1200000.00")]))
    # Another enterprise elsewhere records a contract carrying the same invoice number.
    other = EnterpriseFactory(division="131000")
    other_admin = member(other)
    refused(
        lambda: make_contract(
            world,
            enterprise=other,
            admin=other_admin,
            invoices=[("0000 0000 0000 0000 7777", "1200000.00")],
        ),
        containing="already claimed",
    )


def test_an_invoice_recorded_twice_before_either_claim_is_refused_at_the_second_submission() -> (
    None
):
    world = build()
    first = make_contract(world, invoices=[("00000000000000008888", "1200000.00")])
    other = EnterpriseFactory(district=world.district)
    other_admin = member(other)
    second = make_contract(
        world,
        enterprise=other,
        admin=other_admin,
        invoices=[("00000000000000008888", "1200000.00")],
    )
    submitted(world, first)
    claim = services.claim_create(actor=actor(other_admin), program=world.program, contract=second)
    refused(
        lambda: services.claim_submit(
            actor=actor(other_admin),
            claim=claim,
            declaration=True,
            payee_bank="中国银行",
            payee_account="6216610200016589",
        ),
        containing="00000000000000008888",
    )


def _supplier_and_buyer(world, priority: str):  # type: ignore[no-untyped-def]
    Program.objects.filter(pk=world.program.pk).update(claim_priority=priority)
    world.program.refresh_from_db()
    supplier = EnterpriseFactory(district=world.district)
    supplier_admin = member(supplier)
    number = "HT-SHARED-1"
    buyer_contract = make_contract(world, number=number, supplier_uscc=supplier.uscc)
    supplier_contract = make_contract(
        world,
        enterprise=supplier,
        admin=supplier_admin,
        number=number,
        supplier_uscc=world.enterprise.uscc,  # the counterparty: the buyer
        side=Contract.Side.SUPPLIER,
        invoices=[("00000000000000009001", "1200000.00")],
    )
    assert buyer_contract.key == supplier_contract.key
    return supplier_admin, buyer_contract, supplier_contract


def test_supplier_with_priority_supersedes_the_buyers_undecided_claim() -> None:
    world = build()
    supplier_admin, buyer_contract, supplier_contract = _supplier_and_buyer(
        world, Program.ClaimPriority.SUPPLIER_FIRST
    )
    buyer_claim = submitted(world, buyer_contract)
    supplier_claim = services.claim_create(
        actor=actor(supplier_admin), program=world.program, contract=supplier_contract
    )
    supplier_claim = services.claim_submit(
        actor=actor(supplier_admin),
        claim=supplier_claim,
        declaration=True,
        payee_bank="工商银行",
        payee_account="6222020200011111",
    )
    buyer_claim.refresh_from_db()
    assert supplier_claim.status == Claim.Status.SUBMITTED
    assert buyer_claim.status == Claim.Status.REJECTED
    assert "priority" in buyer_claim.rejection_reason
    assert events_of(buyer_claim)[-1] == "claim.superseded"


def test_the_side_without_priority_is_refused_when_the_other_has_claimed() -> None:
    world = build()
    supplier_admin, buyer_contract, supplier_contract = _supplier_and_buyer(
        world, Program.ClaimPriority.SUPPLIER_FIRST
    )
    claim = services.claim_create(
        actor=actor(supplier_admin), program=world.program, contract=supplier_contract
    )
    services.claim_submit(
        actor=actor(supplier_admin),
        claim=claim,
        declaration=True,
        payee_bank="工商银行",
        payee_account="6222020200011111",
    )
    buyer = services.claim_create(
        actor=actor(world.admin), program=world.program, contract=buyer_contract
    )
    refused(
        lambda: services.claim_submit(
            actor=actor(world.admin),
            claim=buyer,
            declaration=True,
            payee_bank="中国银行",
            payee_account="6216610200016589",
        ),
        containing="already claimed",
    )


def test_only_the_side_the_program_names_may_claim() -> None:
    world = build()  # buyer only
    supplier = EnterpriseFactory(district=world.district)
    supplier_contract = make_contract(
        world,
        enterprise=supplier,
        admin=member(supplier),
        side=Contract.Side.SUPPLIER,
        documents=False,
    )
    refused(
        lambda: services.claim_create(
            actor=actor(supplier_contract.created_by),
            program=world.program,
            contract=supplier_contract,
        ),
        containing="only the buyer",
    )


def _submit(world, contract, **kw):  # type: ignore[no-untyped-def]
    """Start a claim on ``contract`` and submit it (when called): a closed
    window already refuses the start."""
    fields = {"declaration": True, "payee_bank": "中国银行", "payee_account": "6216610200016589"}
    fields.update(kw)

    def start_and_submit():  # type: ignore[no-untyped-def]
        claim = services.claim_create(
            actor=actor(world.admin), program=world.program, contract=contract
        )
        return services.claim_submit(actor=actor(world.admin), claim=claim, **fields)

    return start_and_submit


def test_contract_signed_before_the_programs_date_is_refused() -> None:
    world = build()
    old = make_contract(world, signed_on=datetime.date(2025, 6, 30))
    refused(_submit(world, old), containing="signed on or after")


def test_contract_longer_than_the_programs_term_is_refused() -> None:
    world = build()
    long = make_contract(world, starts=datetime.date(2026, 1, 1), ends=datetime.date(2027, 1, 31))
    refused(_submit(world, long), containing="at most 366 days")


def test_a_closed_window_is_refused() -> None:
    today = timezone.localdate()
    world = build(
        claim_opens_on=today - datetime.timedelta(days=60),
        claim_closes_on=today - datetime.timedelta(days=1),
    )
    refused(_submit(world, make_contract(world)), containing="claims closed")
    later = build(
        claim_opens_on=today + datetime.timedelta(days=1),
        claim_closes_on=today + datetime.timedelta(days=20),
    )
    refused(_submit(later, make_contract(later)), containing="claims open")


def test_the_window_turns_on_the_date_in_shanghai() -> None:
    # 16:30 UTC on the last day in UTC is already the next day in Shanghai.
    import time_machine

    with time_machine.travel(
        datetime.datetime(2026, 1, 23, 16, 30, tzinfo=datetime.UTC), tick=False
    ):
        world = build(
            claim_opens_on=datetime.date(2026, 1, 4), claim_closes_on=datetime.date(2026, 1, 23)
        )
        contract = make_contract(world, signed_on=datetime.date(2025, 12, 20))
        refused(_submit(world, contract), containing="claims closed")


def test_spend_below_the_minimum_is_refused() -> None:
    world = build()
    refused(_submit(world, make_contract(world, amount="299999.99")), containing="minimum")


def test_yearly_cap_counts_the_enterprises_other_claims() -> None:
    world = build()
    submitted(world, make_contract(world, amount="600000.00"))  # 180,000
    second = submitted(world, make_contract(world, amount="600000.00"))
    assert second.claimed_amount == D("120000.00")  # what is left of 300,000
    refused(_submit(world, make_contract(world, amount="600000.00")), containing="cap")


def test_declaration_documents_and_payee_are_required() -> None:
    world = build()
    refused(_submit(world, make_contract(world), declaration=False), containing="declare")
    refused(_submit(world, make_contract(world), payee_account="abc"), containing="account")
    bare = make_contract(world, documents=False)
    refused(_submit(world, bare), containing="signed contract")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("counterparty_uscc", "91110108MA0000000X", ""),
        ("amount", D("-1"), "greater than zero"),
        ("amount", D("1.001"), "two decimals"),
        ("service_kind", "mining", "what the contract buys"),
    ],
)
def test_contract_input_is_checked(field: str, value: object, message: str) -> None:
    world = build()
    fields = {
        "number": "HT-9",
        "counterparty_uscc": make_uscc("110108", serial=912345),
        "counterparty_name": "供应商",
        "signed_on": datetime.date(2025, 12, 1),
        "service_starts_on": datetime.date(2026, 1, 1),
        "service_ends_on": datetime.date(2026, 12, 31),
        "amount": D("1000.00"),
        "service_kind": "gpu",
    }
    fields[field] = value
    err = refused(
        lambda: services.contract_record(
            actor=actor(world.admin), enterprise=world.enterprise, **fields
        ),
        containing=message,
    )
    assert err.field == field


def test_related_parties_are_flagged_on_the_contract_and_claim() -> None:
    world = build()
    supplier = EnterpriseFactory(
        district=world.district, legal_representative=world.enterprise.legal_representative
    )
    contract = make_contract(world, supplier_uscc=supplier.uscc)
    assert [flag["code"] for flag in contract.flags] == ["shared_legal_representative"]
    claim = submitted(world, contract)
    assert claim.flags == contract.flags


def test_the_budget_is_never_exceeded() -> None:
    world = build(total_budget=D("400000.00"), settlement_four_eyes_threshold=None)
    first = to_finance(world, submitted(world))
    other = EnterpriseFactory(district=world.district)
    other_admin = member(other)
    second_contract = make_contract(world, enterprise=other, admin=other_admin)
    claim = services.claim_create(
        actor=actor(other_admin), program=world.program, contract=second_contract
    )
    claim = services.claim_submit(
        actor=actor(other_admin),
        claim=claim,
        declaration=True,
        payee_bank="中国银行",
        payee_account="6216610200016589",
    )
    second = to_finance(world, claim)
    approved(world, first)
    refused(lambda: approved(world, second), containing="budget")
    world.program.refresh_from_db()
    assert world.program.reserved_amount == D("300000.00")


def test_payout_mode_is_fixed_once_a_claim_exists() -> None:
    from programs.services import program_update

    world = build()
    services.claim_create(
        actor=actor(world.admin), program=world.program, contract=make_contract(world)
    )
    with pytest.raises(BusinessError) as refusal:
        program_update(
            actor=actor(world.manager),
            program=world.program,
            changes={"payout_mode": Program.PayoutMode.DEDUCT_AT_PLATFORM},
        )
    assert refusal.value.field == "payout_mode"


def test_no_draft_is_started_once_the_window_has_closed_and_the_program_is_not_offered() -> None:
    from settlements.claim_views import _claim_programs

    today = timezone.localdate()
    world = build(
        claim_opens_on=today - datetime.timedelta(days=60),
        claim_closes_on=today - datetime.timedelta(days=1),
    )
    refused(
        lambda: services.claim_create(
            actor=actor(world.admin), program=world.program, contract=make_contract(world)
        ),
        containing="claims closed",
    )
    assert world.program not in _claim_programs()
    still_open = build(claim_closes_on=today)
    assert still_open.program in _claim_programs()
