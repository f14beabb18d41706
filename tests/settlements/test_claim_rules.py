"""The subsidy arithmetic, pinned with the published rules of real programs
(issue 17): Nanning's pro-rating by days with amounts in 万元 truncated to
four decimals, Beijing's 20 % capped at ¥2,000,000 a year, Baoding's 30 %
above ¥300,000 capped at ¥300,000, Qingyang's 30 %, and the phase-down by
service date."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import translation

from programs.models import PhaseStep, Program
from settlements.claim_rules import arithmetic_lines, compute, days_inclusive, round_by_rule
from settlements.models import Contract, Invoice
from tests.accounts.factories import DistrictFactory
from tests.programs.factories import ProgramFactory

pytestmark = pytest.mark.django_db

D = Decimal


def contract(
    amount: str, starts: datetime.date, ends: datetime.date, kind: str = "gpu"
) -> Contract:
    return Contract(
        number="HT-1",
        supplier_uscc="91110108MA00000000",
        buyer_uscc="91130600MA00000000",
        signed_on=starts,
        service_starts_on=starts,
        service_ends_on=ends,
        amount=D(amount),
        service_kind=kind,
    )


def invoice(
    amount: str, *, number: str = "00000000000000000001", kind: str = "gpu", paid: bool = True
) -> Invoice:
    return Invoice(
        number=number,
        issued_on=datetime.date(2025, 3, 5),
        amount=D(amount),
        supplier_uscc="91110108MA00000000",
        service_kind=kind,
        paid_on=datetime.date(2025, 3, 10) if paid else None,
    )


def program(**kw: object) -> Program:
    fields: dict[str, object] = {
        "district": DistrictFactory(code="450100"),
        "payout_mode": Program.PayoutMode.REIMBURSE,
        "base_rate": D("1.00"),
        "per_charge_cap": None,
    }
    fields.update(kw)
    made = ProgramFactory(**fields)
    made.phase_steps.all().delete()
    return made


def test_nanning_pro_rating_gives_exactly_8_3676_wan_yuan() -> None:
    # A contract of ¥200,000 over 729 days, of which 305 fall in the funded
    # year 2025: (305 / 729) × 200,000 = 83,676.2688… → 8.3676 万元, truncated.
    nanning = program(
        service_starts_on=datetime.date(2025, 1, 1),
        service_ends_on=datetime.date(2025, 12, 31),
        claim_rounding=Program.ClaimRounding.WAN4_DOWN,
    )
    deal = contract("200000.00", datetime.date(2025, 3, 2), datetime.date(2027, 2, 28))
    assert deal.term_days == 729
    result = compute(program=nanning, contract=deal, invoices=[invoice("200000.00")])
    assert result.overlap_days == 305
    assert result.prorated == D("83676.00")
    assert result.prorated / 10000 == D("8.3676")
    assert result.amount == D("83676.00")  # at a rate of 100 % the pro-rated sum is the subsidy
    assert result.refusals == []


def test_wan_yuan_amounts_are_truncated_not_rounded() -> None:
    rule = Program.ClaimRounding.WAN4_DOWN
    assert round_by_rule(D("83676.2688"), rule) == D("83676.00")
    assert round_by_rule(D("83676.99"), rule) == D("83676.00")  # rounding would give 8.3677 万元
    assert round_by_rule(D("83676.99"), Program.ClaimRounding.FEN_HALF_UP) == D("83676.99")
    assert round_by_rule(D("83676.995"), Program.ClaimRounding.FEN_HALF_UP) == D("83677.00")
    assert round_by_rule(D("83676.99"), Program.ClaimRounding.YUAN_DOWN) == D("83676.00")


def test_beijing_twenty_percent_capped_at_two_million_a_year() -> None:
    beijing = program(base_rate=D("0.20"), claim_cap_per_year=D("2000000.00"))
    deal = contract("12000000.00", datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    result = compute(program=beijing, contract=deal, invoices=[invoice("12000000.00")])
    assert result.rounded == D("2400000.00")
    assert result.amount == D("2000000.00")
    # Another claim in the same year has room for what is left only.
    again = compute(
        program=beijing,
        contract=deal,
        invoices=[invoice("12000000.00")],
        already_in_year=D("1500000.00"),
    )
    assert again.amount == D("500000.00")
    full = compute(
        program=beijing,
        contract=deal,
        invoices=[invoice("12000000.00")],
        already_in_year=D("2000000.00"),
    )
    assert full.amount == 0
    assert any("cap" in refusal for refusal in full.refusals)


def test_baoding_thirty_percent_above_the_minimum_spend() -> None:
    baoding = program(
        base_rate=D("0.30"),
        claim_min_spend=D("300000.00"),
        claim_cap=D("300000.00"),
        claim_cap_per_year=D("300000.00"),
    )
    year = (datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    at_minimum = compute(
        program=baoding, contract=contract("300000.00", *year), invoices=[invoice("300000.00")]
    )
    assert at_minimum.amount == D("90000.00")
    assert at_minimum.refusals == []
    below = compute(
        program=baoding, contract=contract("299999.99", *year), invoices=[invoice("299999.99")]
    )
    assert any("minimum" in refusal for refusal in below.refusals)
    large = compute(
        program=baoding, contract=contract("5000000.00", *year), invoices=[invoice("5000000.00")]
    )
    assert large.rounded == D("1500000.00")
    assert large.amount == D("300000.00")


def test_only_paid_gpu_npu_invoices_count_and_never_more_than_the_contract() -> None:
    qingyang = program(base_rate=D("0.30"))
    deal = contract("100000.00", datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    result = compute(
        program=qingyang,
        contract=deal,
        invoices=[
            invoice("60000.00", number="00000000000000000001"),
            invoice("30000.00", number="00000000000000000002", kind="storage"),
            invoice("20000.00", number="00000000000000000003", paid=False),
            invoice("50000.00", number="00000000000000000004", kind="npu"),
        ],
    )
    assert [(i.number[-1], i.counted, i.reason) for i in result.invoices] == [
        ("1", True, ""),
        ("2", False, "service"),
        ("3", False, "unpaid"),
        ("4", True, ""),
    ]
    assert result.invoiced_paid == D("110000.00")
    assert result.eligible_spend == D("100000.00")  # the contract's amount
    assert result.amount == D("30000.00")


def test_excluded_invoices_leave_the_spend() -> None:
    plain = program(base_rate=D("0.30"))
    deal = contract("100000.00", datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    invoices = [invoice("60000.00", number="A0000001"), invoice("40000.00", number="A0000002")]
    result = compute(
        program=plain, contract=deal, invoices=invoices, excluded=frozenset({"A0000002"})
    )
    assert result.eligible_spend == D("60000.00")
    assert result.amount == D("18000.00")


def test_phase_down_applies_by_service_date() -> None:
    stepped = program(
        base_rate=D("0.30"),
        service_starts_on=datetime.date(2026, 1, 1),
        service_ends_on=datetime.date(2026, 12, 31),
    )
    PhaseStep.objects.create(program=stepped, starts_on=datetime.date(2026, 7, 1), rate=D("0.20"))
    PhaseStep.objects.create(program=stepped, starts_on=datetime.date(2027, 1, 1), rate=D("0"))
    deal = contract("365000.00", datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    result = compute(program=stepped, contract=deal, invoices=[invoice("365000.00")])
    # ¥1,000 a day: 181 days at 30 % and 184 days at 20 %.
    assert [(s[2], s[3]) for s in result.segments] == [(181, D("0.30")), (184, D("0.20"))]
    assert result.amount == D("54300.00") + D("36800.00")


def test_service_outside_the_funded_period_is_refused() -> None:
    funded = program(
        service_starts_on=datetime.date(2026, 1, 1), service_ends_on=datetime.date(2026, 12, 31)
    )
    deal = contract("100000.00", datetime.date(2025, 1, 1), datetime.date(2025, 12, 31))
    result = compute(program=funded, contract=deal, invoices=[invoice("100000.00")])
    assert result.overlap_days == 0
    assert any("outside" in refusal for refusal in result.refusals)


def test_days_are_counted_with_both_ends() -> None:
    assert days_inclusive(datetime.date(2026, 1, 1), datetime.date(2026, 1, 1)) == 1
    assert days_inclusive(datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)) == 365


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_arithmetic_reads_as_lines_in_both_languages(language: str) -> None:
    nanning = program(
        service_starts_on=datetime.date(2025, 1, 1),
        service_ends_on=datetime.date(2025, 12, 31),
        claim_rounding=Program.ClaimRounding.WAN4_DOWN,
    )
    deal = contract("200000.00", datetime.date(2025, 3, 2), datetime.date(2027, 2, 28))
    data = compute(program=nanning, contract=deal, invoices=[invoice("200000.00")]).as_json()
    with translation.override(language):
        lines = arithmetic_lines(data)
    hows = " ".join(how for _, how, _ in lines)
    assert "305" in hows and "729" in hows
    amounts = [amount for _, _, amount in lines]
    assert any("83,676.00" in amount for amount in amounts)
    assert len(lines) >= 5


def test_obligation_kinds_are_the_programs_target_kinds() -> None:
    from programs.models import AGREEMENT_TARGET_KINDS
    from settlements.models import Obligation

    assert [kind for kind, _ in AGREEMENT_TARGET_KINDS] == list(Obligation.Kind.values)


@pytest.mark.parametrize(
    ("targets", "ok"),
    [
        ([{"kind": "headcount", "target": "20"}], True),
        ([{"kind": "headcount", "target": "0"}], False),
        ([{"kind": "profit", "target": "1"}], False),
        ([{"kind": "headcount", "target": "2"}, {"kind": "headcount", "target": "3"}], False),
        ({"kind": "headcount"}, False),
    ],
)
def test_agreement_targets_are_checked_in_the_program_form(targets: object, ok: bool) -> None:
    from programs.admin import agreement_targets_problem

    assert (agreement_targets_problem(targets) is None) is ok
