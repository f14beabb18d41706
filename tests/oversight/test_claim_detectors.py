"""The claim detectors: an invoice used twice, claims just inside the
program's limits, a contract claimed by both parties, a supplier raising its
prices when the program opened, and a supplier's buyers sharing contacts.

Contracts, invoices and claims are plain rows (the claim services are not
needed to read them); every date is a China-time day counted back from
today, so the tests pass at any hour and on any day.
"""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from accounts.models import Enterprise, User
from audit.services import Actor
from oversight.detectors import (
    DETECTORS,
    Candidate,
    Detector,
    Period,
    detect_claims_near_threshold,
    detect_invoice_reuse,
    detect_price_rise_before_subsidy,
    detect_supplier_and_buyer_claims,
    detect_supplier_shared_contacts,
    flag_summary,
)
from oversight.flags import anomalies_detect
from oversight.models import AnomalyFlag, DetectorSettings
from programs.models import Program
from settlements.models import Claim, Contract, Invoice, ServiceKind
from tests.accounts.factories import DistrictFactory, EnterpriseFactory, UserFactory
from tests.programs.factories import ProgramFactory

pytestmark = pytest.mark.django_db

Status = Claim.Status
BUYER, SUPPLIER = Contract.Side.BUYER, Contract.Side.SUPPLIER
_numbers = itertools.count(1)


# --- builders ------------------------------------------------------------------


def today() -> datetime.date:
    return timezone.localdate()


def day(days_ago: int) -> datetime.date:
    return today() - datetime.timedelta(days=days_ago)


def moment(days_ago: int, hour: int = 10) -> datetime.datetime:
    """10:00 China time, ``days_ago`` days before today (always in the past)."""
    return datetime.datetime.combine(
        day(days_ago), datetime.time(hour), tzinfo=timezone.get_default_timezone()
    )


def run() -> Period:
    """Today's run: its window is the 30 days ending today."""
    return Period.ending(today())


def clerk() -> User:
    user: User = UserFactory()
    return user


def program(district: str = "420103", **terms: Any) -> Program:
    """A reimbursement program of ``district``."""
    made: Program = ProgramFactory(
        district=DistrictFactory(code=district),
        payout_mode=Program.PayoutMode.REIMBURSE,
        **terms,
    )
    return made


def contract(
    recorded_by: Enterprise,
    *,
    supplier: Enterprise | None = None,
    buyer: Enterprise | None = None,
    supplier_uscc: str | None = None,
    number: str | None = None,
    side: str = BUYER,
    signed_days_ago: int = 40,
    term_days: int = 365,
    amount: str = "365000.00",
    kind: str = ServiceKind.GPU,
) -> Contract:
    """A contract as ``recorded_by`` recorded it: as the buyer (the default,
    from ``supplier``) or as the supplier (to ``buyer``)."""
    if side == BUYER:
        buyer = recorded_by
    else:
        supplier = recorded_by
    assert buyer is not None
    starts = day(signed_days_ago)
    return Contract.objects.create(
        enterprise=recorded_by,
        side=side,
        number=number or f"HT-{next(_numbers):05d}",
        supplier_uscc=supplier.uscc if supplier is not None else str(supplier_uscc),
        supplier_name=supplier.name if supplier is not None else "某算力公司",
        supplier_enterprise=supplier,
        buyer_uscc=buyer.uscc,
        buyer_name=buyer.name,
        signed_on=starts,
        service_starts_on=starts,
        service_ends_on=starts + datetime.timedelta(days=term_days - 1),
        amount=Decimal(amount),
        service_kind=kind,
        created_by=clerk(),
    )


def invoice(of: Contract, number: str, amount: str = "100000.00") -> Invoice:
    return Invoice.objects.create(
        contract=of,
        number=number,
        issued_on=of.signed_on,
        amount=Decimal(amount),
        supplier_uscc=of.supplier_uscc,
        service_kind=of.service_kind,
        paid_on=of.signed_on,
    )


def claim(
    in_program: Program,
    on: Contract,
    *,
    days_ago: int | None = 2,
    status: str = Status.SUBMITTED,
    claimed: str = "30000.00",
    eligible: str = "100000.00",
    service_year: int = 2026,
) -> Claim:
    """A claim by the contract's recorder, submitted ``days_ago`` days ago
    (None: never submitted)."""
    return Claim.objects.create(
        program=in_program,
        enterprise=on.enterprise,
        contract=on,
        contract_key=on.key,
        status=status,
        claimed_amount=Decimal(claimed),
        arithmetic={"eligible_spend": eligible},
        service_year=service_year,
        submitted_at=moment(days_ago) if days_ago is not None else None,
    )


def summary_of(candidate: Candidate) -> str:
    flag = AnomalyFlag(
        detector=candidate.detector, evidence=candidate.evidence, score=candidate.score
    )
    with translation.override("en"):
        return flag_summary(flag)


def test_the_claim_detectors_are_registered() -> None:
    assert DETECTORS[Detector.INVOICE_REUSED] is detect_invoice_reuse
    assert DETECTORS[Detector.CLAIM_NEAR_THRESHOLD] is detect_claims_near_threshold
    assert DETECTORS[Detector.SUPPLIER_AND_BUYER_CLAIM] is detect_supplier_and_buyer_claims
    assert DETECTORS[Detector.PRICE_RISE_BEFORE_SUBSIDY] is detect_price_rise_before_subsidy
    assert DETECTORS[Detector.SUPPLIER_SHARED_CONTACTS] is detect_supplier_shared_contacts


# --- (m) one invoice number under several contracts or programs -------------------


def test_an_invoice_number_under_two_enterprises_contracts_is_flagged_in_both_districts() -> None:
    supplier = EnterpriseFactory()
    first, second = EnterpriseFactory(), EnterpriseFactory(division="420104")
    jianghan, other = program("420103"), program("420104")
    earlier = contract(first, supplier=supplier)
    invoice(earlier, "2442 0000 0000 0000 1234")
    # Rejected long ago: its claimed invoice rows are gone, its invoice is not.
    rejected = claim(jianghan, earlier, days_ago=200, status=Status.REJECTED)
    later = contract(second, supplier=supplier)
    invoice(later, "24420000000000001234")
    fresh = claim(other, later, days_ago=2)

    found = detect_invoice_reuse(run())
    assert {c.district_id for c in found} == {jianghan.district_id, other.district_id}
    by_district = {c.district_id: c for c in found}
    mine = by_district[other.district_id]
    assert mine.subject == "invoice:24420000000000001234"
    assert (mine.program_id, mine.enterprise_id) == (other.pk, second.pk)
    assert by_district[jianghan.district_id].enterprise_id == first.pk
    evidence = mine.evidence
    assert (evidence["contract_count"], evidence["program_count"]) == (2, 2)
    assert evidence["measured"] == "2"
    assert evidence["claim_ids"] == [rejected.pk, fresh.pk]
    assert {row["contract"] for row in evidence["invoices"]} == {earlier.key, later.key}
    assert {row["status"] for row in evidence["claims"]} == {"rejected", "submitted"}
    assert summary_of(mine) == (
        "Invoice number 24420000000000001234 is used 2 times: under 2 contracts, "
        "claimed in 2 programs."
    )


def test_one_contract_claimed_again_in_another_program_is_flagged() -> None:
    buyer, supplier = EnterpriseFactory(), EnterpriseFactory()
    first, second = program("420103"), program("420103")
    held = contract(buyer, supplier=supplier)
    invoice(held, "INV-9")
    claim(first, held, days_ago=90, status=Status.WITHDRAWN)
    claim(second, held, days_ago=3)
    [candidate] = detect_invoice_reuse(run())
    assert (candidate.evidence["contract_count"], candidate.evidence["program_count"]) == (1, 2)
    assert candidate.program_id is None  # two programs of the one district


def test_one_contract_recorded_by_both_parties_and_claimed_again_in_its_program_is_not() -> None:
    buyer, supplier = EnterpriseFactory(), EnterpriseFactory()
    jianghan = program()
    bought = contract(buyer, supplier=supplier, number="HT-1")
    sold = contract(supplier, buyer=buyer, side=SUPPLIER, number="HT-1")
    assert bought.key == sold.key
    invoice(bought, "INV-1")
    invoice(sold, "INV-1")
    # Withdrawn, then claimed again in the same program: still one use.
    claim(jianghan, bought, days_ago=20, status=Status.WITHDRAWN)
    claim(jianghan, bought, days_ago=2)
    assert detect_invoice_reuse(run()) == []


def test_a_reused_invoice_whose_claims_are_all_older_than_the_window_is_not_reported() -> None:
    supplier = EnterpriseFactory()
    jianghan = program()
    for enterprise in (EnterpriseFactory(), EnterpriseFactory()):
        recorded = contract(enterprise, supplier=supplier)
        invoice(recorded, "INV-OLD")
        claim(jianghan, recorded, days_ago=45)
    assert detect_invoice_reuse(run()) == []
    assert len(detect_invoice_reuse(Period.ending(day(40)))) == 1


# --- (n) claims just inside the program's limits -----------------------------------


def limits(**terms: Any) -> Program:
    return program(
        claim_min_spend=Decimal("100000.00"),
        claim_cap=Decimal("50000.00"),
        **terms,
    )


def test_an_enterprise_with_two_claims_just_inside_the_limits_is_flagged() -> None:
    jianghan = limits()
    enterprise = EnterpriseFactory(name="擦线科技有限公司")
    low = claim(
        jianghan,
        contract(enterprise, supplier=EnterpriseFactory()),
        eligible="103000.00",
        days_ago=100,
    )
    high = claim(
        jianghan,
        contract(enterprise, supplier=EnterpriseFactory()),
        claimed="48000.00",
        eligible="400000.00",
        days_ago=2,
    )
    [candidate] = detect_claims_near_threshold(run())
    assert candidate.subject == f"enterprise:{enterprise.uscc}"
    assert (candidate.district_id, candidate.program_id) == (jianghan.district_id, jianghan.pk)
    assert candidate.enterprise_id == enterprise.pk
    evidence = candidate.evidence
    assert (evidence["measured"], evidence["threshold"], evidence["margin"]) == ("2", "2", "0.05")
    rows = {row["claim"]: row for row in evidence["claims"]}
    assert rows[low.pk]["near"] == [
        {"limit": "min_spend", "limit_amount": "100000", "figure": "103000"}
    ]
    assert rows[high.pk]["near"] == [{"limit": "cap", "limit_amount": "50000", "figure": "48000"}]
    assert summary_of(candidate) == (
        "擦线科技有限公司 claimed 2 contracts just inside the program's limits "
        "(within 5% of a minimum or cap) in the past year (limit 2)."
    )


def test_a_supplier_whose_contracts_are_claimed_just_inside_the_limits_is_flagged() -> None:
    jianghan = limits()
    supplier = EnterpriseFactory(name="卖方算力有限公司")
    for eligible in ("100000.00", "104999.00"):
        claim(jianghan, contract(EnterpriseFactory(), supplier=supplier), eligible=eligible)
    [candidate] = detect_claims_near_threshold(run())
    assert candidate.subject == f"supplier:{supplier.uscc}"
    assert candidate.enterprise_id == supplier.pk
    assert "Contracts of supplier 卖方算力有限公司 were claimed" in summary_of(candidate)


def test_claims_clear_of_the_limits_or_capped_exactly_are_not_flagged() -> None:
    jianghan = limits()
    enterprise, supplier = EnterpriseFactory(), EnterpriseFactory()
    # 6 % above the minimum, and a claim the cap cut to exactly 50,000.
    claim(jianghan, contract(enterprise, supplier=supplier), eligible="106000.00")
    claim(jianghan, contract(enterprise, supplier=supplier), claimed="50000.00")
    # One claim near the limits is chance.
    claim(jianghan, contract(EnterpriseFactory(), supplier=EnterpriseFactory()), eligible="101000")
    assert detect_claims_near_threshold(run()) == []


def test_a_year_total_just_under_the_yearly_cap_counts_with_the_programs_own_threshold() -> None:
    jianghan = program(claim_cap_per_year=Decimal("100000.00"))
    enterprise = EnterpriseFactory()
    first = claim(
        jianghan,
        contract(enterprise, supplier=EnterpriseFactory()),
        days_ago=60,
        claimed="60000.00",
    )
    second = claim(
        jianghan, contract(enterprise, supplier=EnterpriseFactory()), days_ago=2, claimed="36000.00"
    )
    assert detect_claims_near_threshold(run()) == []  # one claim: under the default of 2
    DetectorSettings.objects.create(program=jianghan, claim_near_min_claims=1)
    found = detect_claims_near_threshold(run())
    [candidate] = [c for c in found if c.subject == f"enterprise:{enterprise.uscc}"]
    [row] = candidate.evidence["claims"]
    assert row["claim"] == second.pk != first.pk
    assert row["near"] == [{"limit": "cap_per_year", "limit_amount": "100000", "figure": "96000"}]


# --- (o) the same contract claimed by its supplier and its buyer -------------------


def test_a_contract_claimed_by_both_parties_is_flagged_wherever_they_claimed() -> None:
    buyer = EnterpriseFactory(name="买方有限公司")
    supplier = EnterpriseFactory(name="卖方有限公司")
    jianghan, other = program("420103"), program("420104")
    bought = contract(buyer, supplier=supplier, number="HT-77")
    sold = contract(supplier, buyer=buyer, side=SUPPLIER, number="HT-77")
    rejected = claim(jianghan, bought, days_ago=120, status=Status.REJECTED)
    live = claim(other, sold, days_ago=1)

    found = detect_supplier_and_buyer_claims(run())
    assert {c.district_id for c in found} == {jianghan.district_id, other.district_id}
    candidate = next(c for c in found if c.district_id == other.district_id)
    assert candidate.subject == f"contract:{bought.key}"
    assert candidate.enterprise_id == supplier.pk
    evidence = candidate.evidence
    assert evidence["claim_ids"] == [rejected.pk, live.pk]
    assert (evidence["buyer_claims"], evidence["supplier_claims"]) == (1, 1)
    assert summary_of(candidate) == (
        f"Contract {bought.key} is claimed both by its buyer, 买方有限公司, and by its "
        "supplier, 卖方有限公司 (2 claims)."
    )


def test_one_partys_claims_and_the_other_partys_draft_are_not_flagged() -> None:
    buyer, supplier = EnterpriseFactory(), EnterpriseFactory()
    jianghan = program()
    bought = contract(buyer, supplier=supplier, number="HT-78")
    sold = contract(supplier, buyer=buyer, side=SUPPLIER, number="HT-78")
    claim(jianghan, bought, days_ago=30, status=Status.WITHDRAWN)
    claim(jianghan, bought, days_ago=2)
    claim(jianghan, sold, days_ago=None, status=Status.DRAFT)  # asks for nothing yet
    assert detect_supplier_and_buyer_claims(run()) == []


# --- (p) a supplier raising its prices when the program opened ---------------------


def priced(supplier: Enterprise, per_day: str, *, signed_days_ago: int, **kw: Any) -> Contract:
    """A one-year contract costing ``per_day`` a day."""
    return contract(
        EnterpriseFactory(),
        supplier=supplier,
        amount=str(Decimal(per_day) * 365),
        signed_days_ago=signed_days_ago,
        **kw,
    )


def opened_60_days_ago(**terms: Any) -> Program:
    return program(application_opens_on=day(60), **terms)


def test_contracts_dearer_per_day_after_the_program_opened_are_flagged() -> None:
    supplier = EnterpriseFactory(name="涨价算力有限公司")
    jianghan = opened_60_days_ago()
    earlier = [
        priced(supplier, "100", signed_days_ago=300),
        priced(supplier, "90", signed_days_ago=200),
        priced(supplier, "110", signed_days_ago=100),
    ]
    priced(supplier, "500", signed_days_ago=100, kind=ServiceKind.STORAGE)  # another kind
    dear = claim(jianghan, priced(supplier, "140", signed_days_ago=30))
    claim(jianghan, priced(supplier, "120", signed_days_ago=20))  # 1.2×: within the ratio

    [candidate] = detect_price_rise_before_subsidy(run())
    assert candidate.subject == (f"supplier:{supplier.uscc}/kind:gpu/program:{jianghan.pk}")
    assert candidate.score == Decimal("1.4000")
    assert candidate.enterprise_id == supplier.pk
    evidence = candidate.evidence
    assert (evidence["median_price_per_day"], evidence["threshold"]) == ("100", "1.3")
    assert evidence["opened_on"] == day(60).isoformat()
    assert {row["contract_id"] for row in evidence["earlier"]} == {c.pk for c in earlier}
    assert evidence["claim_ids"] == [dear.pk]
    assert summary_of(candidate) == (
        "Contracts for GPU compute signed with 涨价算力有限公司 since the program opened on "
        f"{day(60).isoformat()} cost up to 1.4× its usual price per day before (limit 1.3×)."
    )


def test_claims_opening_earlier_than_applications_set_the_day_the_program_opened() -> None:
    supplier = EnterpriseFactory()
    jianghan = opened_60_days_ago(claim_opens_on=day(90))
    priced(supplier, "100", signed_days_ago=300)
    priced(supplier, "100", signed_days_ago=200)
    claim(jianghan, priced(supplier, "150", signed_days_ago=80))
    [candidate] = detect_price_rise_before_subsidy(run())
    assert candidate.evidence["opened_on"] == day(90).isoformat()


def test_a_modest_rise_or_too_little_history_is_not_flagged_unless_the_program_says() -> None:
    supplier, newcomer = EnterpriseFactory(), EnterpriseFactory()
    jianghan = opened_60_days_ago()
    priced(supplier, "100", signed_days_ago=300)
    priced(supplier, "100", signed_days_ago=200)
    claim(jianghan, priced(supplier, "125", signed_days_ago=30))
    # One earlier contract says nothing about a usual price.
    priced(newcomer, "100", signed_days_ago=300)
    claim(jianghan, priced(newcomer, "300", signed_days_ago=30))
    assert detect_price_rise_before_subsidy(run()) == []
    DetectorSettings.objects.create(program=jianghan, price_rise_ratio=Decimal("1.2"))
    [candidate] = detect_price_rise_before_subsidy(run())
    assert candidate.evidence["supplier_uscc"] == supplier.uscc


def test_the_same_earlier_contract_recorded_by_both_parties_counts_once() -> None:
    supplier, buyer = EnterpriseFactory(), EnterpriseFactory()
    jianghan = opened_60_days_ago()
    contract(buyer, supplier=supplier, number="HT-OLD", amount="36500", signed_days_ago=300)
    contract(
        supplier,
        buyer=buyer,
        side=SUPPLIER,
        number="HT-OLD",
        amount="36500",
        signed_days_ago=300,
    )
    claim(jianghan, priced(supplier, "200", signed_days_ago=30))
    assert detect_price_rise_before_subsidy(run()) == []


# --- (q) a supplier's buyers sharing a representative or phone ---------------------


def test_a_supplier_whose_claiming_buyers_share_contacts_is_flagged() -> None:
    supplier = EnterpriseFactory(
        name="关联算力有限公司", legal_representative="王五", contact_phone="027-8888 6666"
    )
    jianghan, other = program("420103"), program("420104")
    same_rep = EnterpriseFactory(legal_representative="王五")
    same_phone = EnterpriseFactory(contact_phone="02788886666")
    pair = [EnterpriseFactory(legal_representative="赵六") for _ in range(2)]
    unrelated = EnterpriseFactory()
    claims = [
        claim(jianghan, contract(same_rep, supplier=supplier), days_ago=200),
        claim(jianghan, contract(same_phone, supplier=supplier), days_ago=2),
        claim(other, contract(pair[0], supplier=supplier), days_ago=50),
        claim(jianghan, contract(pair[1], supplier=supplier), days_ago=5),
        claim(jianghan, contract(unrelated, supplier=supplier), days_ago=5),
    ]

    found = detect_supplier_shared_contacts(run())
    assert {c.district_id for c in found} == {jianghan.district_id, other.district_id}
    candidate = next(c for c in found if c.district_id == jianghan.district_id)
    assert candidate.subject == f"supplier:{supplier.uscc}"
    assert candidate.enterprise_id == supplier.pk
    evidence = candidate.evidence
    assert (evidence["measured"], evidence["threshold"], evidence["buyers"]) == ("4", "3", 5)
    assert sorted(evidence["claim_ids"]) == sorted(c.pk for c in claims[:4])
    shared = {(g["shared"], g["value"]) for g in evidence["groups"]}
    assert shared == {
        ("legal_representative", "王五"),
        ("legal_representative", "赵六"),
        ("contact_phone", "02788886666"),
    }
    with translation.override("en"):
        messages = " ".join(evidence["messages"])
    assert "has the same legal representative, 王五" in messages
    assert "gives the same contact phone" in messages
    assert summary_of(candidate) == (
        "4 claiming buyers of supplier 关联算力有限公司 share a legal representative or contact "
        "phone with one another or with the supplier (limit 3)."
    )


def test_two_linked_buyers_or_a_buyer_that_is_the_supplier_itself_are_not_flagged() -> None:
    supplier = EnterpriseFactory(legal_representative="王五", contact_phone="027-1111")
    jianghan = program()
    claim(jianghan, contract(EnterpriseFactory(legal_representative="王五"), supplier=supplier))
    claim(jianghan, contract(EnterpriseFactory(contact_phone="0271111"), supplier=supplier))
    claim(jianghan, contract(EnterpriseFactory(), supplier=supplier))
    # The supplier claiming its own sale is not one of its buyers.
    claim(jianghan, contract(supplier, buyer=EnterpriseFactory(), side=SUPPLIER))
    assert detect_supplier_shared_contacts(run()) == []


# --- running them ------------------------------------------------------------------


def test_detection_files_claim_flags_once_on_each_programs_district() -> None:
    supplier = EnterpriseFactory()
    jianghan, other = program("420103"), program("420104")
    for in_program in (jianghan, other):
        recorded = contract(EnterpriseFactory(), supplier=supplier)
        invoice(recorded, "DUP-1")
        claim(in_program, recorded, days_ago=3)
    report = anomalies_detect(day=today(), actor=Actor.system("test"))
    flags = [f for f in report.created if f.detector == Detector.INVOICE_REUSED]
    assert {f.district_id for f in flags} == {jianghan.district_id, other.district_id}
    assert {(f.period_start, f.period_end) for f in flags} == {(day(29), today())}
    again = anomalies_detect(day=today() + datetime.timedelta(days=1), actor=Actor.system("t"))
    assert not [f for f in again.created if f.detector == Detector.INVOICE_REUSED]
