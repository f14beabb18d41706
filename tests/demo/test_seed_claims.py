"""``seed_demo``'s claims and performance agreements: Baoding's reimbursement
program and a Beijing-style contract voucher, every state of a claim and of
an agreement, walked through the services by the demo's people and listed
by ``--json``.

One seeding run (it takes a while) shared by every assert below."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Membership, User
from audit.models import AuditEvent
from demo.checks import claim_problems, demo_problems
from demo.seed import DEMO_PASSWORD
from programs.models import Program
from settlements.models import Claim, ClaimedInvoice, ContractDocument, PerformanceAgreement
from vouchers.models import LedgerEntry, Receivable

pytestmark = pytest.mark.django_db

Status = Claim.Status
Agreement = PerformanceAgreement.Status


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """The seed sets a password for every demo user (see test_seed_demo)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed_json() -> dict[str, Any]:
    out = io.StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def test_claims_and_agreements_in_every_state(private_media: Any) -> None:
    data = seed_json()
    check_the_json_lists_every_claim_and_agreement(data)
    check_the_programs_and_people(data)
    check_the_claim_stories()
    check_the_contract_voucher()
    check_the_agreement_stories()
    assert demo_problems() == []
    Claim.objects.filter(status=Status.WITHDRAWN).update(status=Status.DRAFT)
    PerformanceAgreement.objects.filter(status=Agreement.ASSESSED).update(status=Agreement.MET)
    assert claim_problems() == [
        "no claim is withdrawn",
        "no performance agreement is assessed",
    ]


def check_the_json_lists_every_claim_and_agreement(data: dict[str, Any]) -> None:
    claims = {c.pk: c for c in Claim.objects.all()}
    assert [row["id"] for row in data["claims"]] == sorted(claims)
    for row in data["claims"]:
        assert set(row) == {
            "id",
            "program",
            "enterprise",
            "status",
            "claimed_amount",
            "approved_amount",
            "paid_amount",
        }
        claim = claims[row["id"]]
        assert (row["program"], row["enterprise"], row["status"]) == (
            claim.program_id,
            claim.enterprise_id,
            claim.status,
        )
        assert row["claimed_amount"] == money(claim.claimed_amount)
        assert row["approved_amount"] == money(claim.approved_amount)
        assert row["paid_amount"] == money(claim.paid_amount)
    assert {row["status"] for row in data["claims"]} == set(Status.values)
    assert any(row["approved_amount"] is None for row in data["claims"])

    agreements = {a.pk: a for a in PerformanceAgreement.objects.select_related("receivable")}
    assert [row["id"] for row in data["agreements"]] == sorted(agreements)
    for row in data["agreements"]:
        assert set(row) == {"id", "enterprise", "program", "status", "receivable"}
        agreement = agreements[row["id"]]
        assert (row["enterprise"], row["program"], row["status"]) == (
            agreement.enterprise_id,
            agreement.program_id,
            agreement.status,
        )
        receivable = agreement.receivable
        assert row["receivable"] == (money(receivable.amount) if receivable else None)
    assert {row["status"] for row in data["agreements"]} == set(Agreement.values)
    assert any(row["receivable"] is None for row in data["agreements"])
    assert any(row["receivable"] is not None for row in data["agreements"])


def check_the_programs_and_people(data: dict[str, Any]) -> None:
    today = timezone.localdate()
    reimburse = Program.objects.filter(payout_mode=Program.PayoutMode.REIMBURSE)
    assert {p.district.code for p in reimburse} == {"130600"}
    current = next(p for p in reimburse if p.claim_opens_on <= today <= p.claim_closes_on)
    assert current.base_rate == Decimal("0.30")
    assert current.claim_min_spend == current.claim_cap == current.claim_cap_per_year
    assert current.claim_cap_per_year == Decimal("300000.00")
    assert current.settlement_four_eyes_threshold == Decimal("200000.00")
    assert current.service_starts_on is not None and current.service_ends_on is not None
    assert current.service_starts_on.year == current.service_ends_on.year
    assert current.requires_agreement and current.claim_requires_assessment
    assert {t["kind"] for t in current.agreement_targets} == {"headcount", "local_tax"}
    assert current.clawback_rule == Program.ClawbackRule.PROPORTIONAL

    beijing = Program.objects.get(payout_mode=Program.PayoutMode.CONTRACT_VOUCHER)
    assert beijing.district.code == "110000"
    assert beijing.base_rate == Decimal("0.20")
    assert beijing.claim_cap_per_year == Decimal("2000000.00")
    assert beijing.contract_max_term_days == 366 and beijing.claim_gpu_npu_only
    assert beijing.contracts_signed_from is not None

    listed = {p["id"] for p in data["programs"]}
    assert {*(p.pk for p in reimburse), beijing.pk} <= listed
    assert "110000" in {d["code"] for d in data["districts"]}
    claimants = set(Claim.objects.values_list("enterprise_id", flat=True))
    assert claimants <= {e["id"] for e in data["enterprises"]}

    logins = {login["email"]: login for login in data["logins"]}
    for code, email in (
        ("130600", "assessor@baoding.example.gov.cn"),
        ("110000", "assessor@beijing.example.gov.cn"),
    ):
        assessor = User.objects.get(email=email)
        assert set(assessor.memberships.values_list("role", "district__code")) == {
            (Membership.Role.ASSESSOR, code)
        }
        assert logins[email]["password"] == DEMO_PASSWORD
    # The claims were walked by the districts' own people.
    assessed = Claim.objects.exclude(assessor=None).select_related("assessor", "program__district")
    assert {(c.program.district.code, c.assessor.email) for c in assessed} == {
        ("130600", "assessor@baoding.example.gov.cn"),
        ("110000", "assessor@beijing.example.gov.cn"),
    }
    assert {
        c.approved_by.email
        for c in Claim.objects.exclude(approved_by=None).select_related("approved_by")
    } <= {
        "finance@baoding.example.gov.cn",
        "finance2@baoding.example.gov.cn",
        "finance@beijing.example.gov.cn",
    }


def check_the_claim_stories() -> None:
    today = timezone.localdate()
    claims = Claim.objects.select_related("contract", "program")
    for claim in claims:
        assert timezone.localdate(claim.created_at) < today  # made at past moments
        kinds = set(claim.contract.documents.values_list("kind", flat=True))
        assert ContractDocument.Kind.CONTRACT in kinds
        if claim.submitted_at and claim.stage != Claim.Stage.PREAPPROVAL:
            assert {ContractDocument.Kind.PAYMENT, ContractDocument.Kind.DELIVERY} <= kinds
    for document in ContractDocument.objects.all():
        assert document.content_type == "application/pdf"
        with document.file.open("rb") as handle:
            assert handle.read(5) == b"%PDF-"

    # The check left an invoice out, with its reason; the amount was recomputed.
    excluded = ClaimedInvoice.objects.select_related("claim").get(excluded=True)
    assert excluded.exclusion_reason and excluded.claim.status == Status.ASSESSMENT
    assert excluded.claim.checked_amount is not None
    assert excluded.claim.checked_amount < excluded.claim.claimed_amount

    # The supplier, who has priority, superseded the buyer's claim on the same contract.
    superseded = claims.get(
        status=Status.REJECTED,
        contract__side="buyer",
        submitted_at__isnull=False,
        rejection_reason__icontains="priority",
    )
    supplier = claims.get(contract_key=superseded.contract_key, contract__side="supplier")
    assert supplier.status == Status.SUBMITTED
    assert AuditEvent.objects.filter(event_type="claim.superseded").exists()

    waiting = claims.get(status=Status.FINANCE)
    assert waiting.first_approved_at is None and waiting.needs_second_approval()
    assert waiting.recommended_amount is not None
    assert waiting.recommended_amount < waiting.claimed_amount
    assert claims.get(status=Status.RETURNED).return_reason
    assert any(c.rejection_reason for c in claims.filter(status=Status.REJECTED))
    for paid in claims.filter(status=Status.PAID):
        assert paid.paid_amount == paid.approved_amount > 0
        assert sum(p.amount for p in paid.payments.all()) == paid.paid_amount
    assert any(c.first_approved_by_id for c in claims.filter(status=Status.PAID))
    partly = [c for c in claims.filter(status=Status.APPROVED) if c.paid_amount > 0]
    assert partly and all(c.paid_amount < (c.approved_amount or 0) for c in partly)


def check_the_contract_voucher() -> None:
    pre = Claim.objects.select_related("contract__voucher").get(
        stage=Claim.Stage.PREAPPROVAL, status=Status.APPROVED
    )
    voucher = pre.contract.voucher
    assert voucher is not None and voucher.face_value == pre.approved_amount
    redemption = Claim.objects.get(stage=Claim.Stage.REDEMPTION, voucher=voucher)
    assert redemption.status in Claim.DECIDED
    assert redemption.approved_amount is not None
    assert 0 < redemption.approved_amount < voucher.face_value
    assert voucher.balance == voucher.face_value - redemption.approved_amount
    assert voucher.ledger.filter(kind=LedgerEntry.Kind.CLAIM).count() == 1


def check_the_agreement_stories() -> None:
    today = timezone.localdate()
    agreements = PerformanceAgreement.objects.select_related("receivable", "claim")
    for agreement in agreements:
        assert agreement.claim is not None and agreement.claim.status in Claim.DECIDED
        if agreement.status == Agreement.ACTIVE:
            assert agreement.assess_on > today
        else:
            assert agreement.assess_on <= today and agreement.assessor is not None
        if agreement.status in PerformanceAgreement.OUTCOMES:
            assert agreement.decided_by not in (None, agreement.assigned_by)
    met = agreements.get(status=Agreement.MET)
    assert met.receivable is None and met.shortfall == 0
    partly = agreements.get(status=Agreement.PARTLY_MET).receivable
    assert partly is not None and partly.status == Receivable.Status.OPEN
    assert 0 < partly.repaid_amount < partly.amount
    missed = [a.receivable for a in agreements.filter(status=Agreement.MISSED)]
    assert all(r is not None for r in missed)
    statuses = {r.status for r in missed if r is not None}
    assert statuses == {Receivable.Status.OPEN, Receivable.Status.WRITTEN_OFF}
    overdue = [r for r in missed if r is not None and r.status == Receivable.Status.OPEN]
    assert all(r.due_on is not None and r.due_on < today for r in overdue)
    kinds = set(
        AuditEvent.objects.filter(event_type__startswith="receivable.").values_list(
            "event_type", flat=True
        )
    )
    assert {"receivable.created", "receivable.repaid", "receivable.written_off"} <= kinds
