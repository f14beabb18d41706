"""Claim tests' world: Baoding's reimbursement program (数智券: 30 % of the
spend, above ¥300,000, at most ¥300,000 per enterprise a year), an
enterprise with a contract, its invoices and proofs, and the district's
reviewer, assessor and two finance officers.

Dates are fixed calendar dates of the program's funded year, and the
claim window is opened around today (Shanghai) so that the tests pass at
any hour and with the clock moved."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import District, Enterprise, Membership, User
from audit.services import Actor
from programs.models import Program
from settlements import claims as services
from settlements.models import Claim, Contract, ContractDocument
from tests.accounts.factories import DistrictFactory, EnterpriseFactory, make_uscc
from tests.programs.factories import ProgramFactory
from tests.vouchers.factories import member, official

Role = Membership.Role

#: A minimal valid PDF (checked by content like every upload).
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def actor(user: User) -> Actor:
    return Actor.for_user(user)


def upload(name: str = "proof.pdf", content: bytes | None = None) -> SimpleUploadedFile:
    body = content if content is not None else PDF + name.encode()
    return SimpleUploadedFile(name, body, content_type="application/pdf")


@dataclass
class ClaimWorld:
    district: District
    program: Program
    enterprise: Enterprise
    admin: User
    reviewer: User
    assessor: User
    finance: User
    finance_2: User
    manager: User
    outsider_reviewer: User
    outsider_finance: User

    def contract(self, **kw: Any) -> Contract:
        return make_contract(self, **kw)


def assessor_of(district: District) -> User:
    from tests.accounts.factories import UserFactory

    person = UserFactory()
    Membership.objects.create(user=person, role=Role.ASSESSOR, district=district)
    return person


def baoding_program(district: District, **kw: Any) -> Program:
    today = timezone.localdate()
    fields: dict[str, Any] = {
        "district": district,
        "name": "保定市数智券",
        "name_en": "Baoding digital-intelligence voucher",
        "kind": Program.Kind.COMPUTE,
        "payout_mode": Program.PayoutMode.REIMBURSE,
        "base_rate": Decimal("0.30"),
        "total_budget": Decimal("5000000.00"),
        "per_enterprise_cap": Decimal("300000.00"),
        "per_charge_cap": None,
        "claim_min_spend": Decimal("300000.00"),
        "claim_cap": Decimal("300000.00"),
        "claim_cap_per_year": Decimal("300000.00"),
        "claim_opens_on": today - datetime.timedelta(days=30),
        "claim_closes_on": today + datetime.timedelta(days=30),
        "service_starts_on": datetime.date(2026, 1, 1),
        "service_ends_on": datetime.date(2026, 12, 31),
        "contracts_signed_from": datetime.date(2025, 7, 1),
        "contract_max_term_days": 366,
        "settlement_four_eyes_threshold": Decimal("200000.00"),
        "claim_requires_assessment": True,
    }
    fields.update(kw)
    program = ProgramFactory(**fields)
    program.phase_steps.all().delete()
    return program


def build(**program_kw: Any) -> ClaimWorld:
    baoding = District.objects.filter(code="130600").first() or DistrictFactory(code="130600")
    other = District.objects.filter(code="520100").first() or DistrictFactory(code="520100")
    program = baoding_program(baoding, **program_kw)
    enterprise = EnterpriseFactory(district=baoding)
    return ClaimWorld(
        district=baoding,
        program=program,
        enterprise=enterprise,
        admin=member(enterprise),
        reviewer=official(baoding, Role.REVIEWER),
        assessor=assessor_of(baoding),
        finance=official(baoding, Role.FINANCE_OFFICER),
        finance_2=official(baoding, Role.FINANCE_OFFICER),
        manager=official(baoding, Role.PROGRAM_MANAGER),
        outsider_reviewer=official(other, Role.REVIEWER),
        outsider_finance=official(other, Role.FINANCE_OFFICER),
    )


_SERIAL = iter(range(1, 10**6))


def make_contract(
    world: ClaimWorld,
    *,
    enterprise: Enterprise | None = None,
    admin: User | None = None,
    amount: str = "1200000.00",
    starts: datetime.date = datetime.date(2026, 1, 1),
    ends: datetime.date = datetime.date(2026, 12, 31),
    signed_on: datetime.date = datetime.date(2025, 12, 20),
    number: str | None = None,
    supplier_uscc: str | None = None,
    side: str = Contract.Side.BUYER,
    service_kind: str = "gpu",
    invoices: list[tuple[str, str]] | None = None,
    documents: bool = True,
) -> Contract:
    """A contract with, by default, one paid invoice of its whole amount and
    the contract file, payment and delivery proofs attached."""
    enterprise = enterprise or world.enterprise
    admin = admin or world.admin
    contract = services.contract_record(
        actor=actor(admin),
        enterprise=enterprise,
        side=side,
        number=number or f"HT-{next(_SERIAL):06d}",
        counterparty_uscc=supplier_uscc or make_uscc("110108", serial=900000 + next(_SERIAL)),
        counterparty_name="北京算力供应有限公司",
        signed_on=signed_on,
        service_starts_on=starts,
        service_ends_on=ends,
        amount=Decimal(amount),
        service_kind=service_kind,
    )
    for number_, value in invoices if invoices is not None else [(None, amount)]:  # type: ignore[misc]
        services.invoice_record(
            actor=actor(admin),
            contract=contract,
            number=number_ or f"{next(_SERIAL):020d}",
            issued_on=max(signed_on, datetime.date(2026, 1, 5)),
            amount=Decimal(value),
            service_kind=service_kind,
            paid_on=max(signed_on, datetime.date(2026, 1, 10)),
        )
    if documents:
        attach_proofs(contract, admin)
    return contract


def attach_proofs(contract: Contract, admin: User) -> None:
    for kind in (
        ContractDocument.Kind.CONTRACT,
        ContractDocument.Kind.PAYMENT,
        ContractDocument.Kind.DELIVERY,
    ):
        services.contract_document_add(
            actor=actor(admin),
            contract=contract,
            kind=kind,
            upload=upload(f"{kind}-{contract.pk}.pdf"),
        )


def submitted(world: ClaimWorld, contract: Contract | None = None, **kw: Any) -> Claim:
    contract = contract or make_contract(world, **kw)
    admin = (
        world.admin
        if contract.enterprise_id == world.enterprise.pk
        else member(contract.enterprise)
    )
    claim = services.claim_create(actor=actor(admin), program=world.program, contract=contract)
    return services.claim_submit(
        actor=actor(admin),
        claim=claim,
        declaration=True,
        payee_bank="中国银行保定分行",
        payee_account="6216610200016589",
    )


def to_finance(world: ClaimWorld, claim: Claim, *, recommended: Decimal | None = None) -> Claim:
    claim = services.claim_start_check(actor=actor(world.reviewer), claim=claim)
    claim = services.claim_pass_on(
        actor=actor(world.reviewer),
        claim=claim,
        findings="材料真实完整，无重复申报。",
        assessor=world.assessor if world.program.claim_requires_assessment else None,
    )
    if world.program.claim_requires_assessment:
        claim = services.claim_assess(
            actor=actor(world.assessor),
            claim=claim,
            findings="核查合同、发票、付款凭证和交付凭证一致。",
            recommended=claim.claimed_amount if recommended is None else recommended,
        )
    return claim


def approved(world: ClaimWorld, claim: Claim) -> Claim:
    claim = services.claim_approve(actor=actor(world.finance), claim=claim)
    if claim.status == Claim.Status.FINANCE:
        claim = services.claim_approve(actor=actor(world.finance_2), claim=claim)
    return claim


def pay(world: ClaimWorld, claim: Claim, amount: Decimal | None = None, ref: str = "BK-1") -> Any:
    return services.claim_payment_record(
        actor=actor(world.finance),
        claim=claim,
        amount=claim.outstanding if amount is None else amount,
        paid_on=timezone.localdate(),
        payer_account="保定市财政局 1300 0000 0000",
        bank_reference=ref,
    )
