"""The settlement detectors: lines without a signed request that verifies, and a
platform whose share of rejected charges jumps.

Charges reach the server as platforms send them — signed by the stock client
and posted to the API (``tests/platforms/conftest.py``) — at instants of past
months; the settlements are drawn and walked through the settlement services.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone, translation

from accounts.models import ComputePlatform, Membership, User
from audit.services import Actor
from oversight.detectors import (
    DETECTORS,
    Detector,
    Period,
    detect_rejected_share_jump,
    detect_settlement_evidence,
    flag_summary,
)
from oversight.flags import anomalies_detect
from oversight.models import AnomalyFlag, DetectorSettings
from programs.models import Program
from settlements.models import Settlement, SettlementLine
from settlements.periods import period_of
from settlements.services import (
    settlement_approve,
    settlement_line_reject,
    settlement_pass_on,
    settlement_start_review,
    settlement_submit,
    settlements_draw,
)
from tests.accounts.factories import DistrictFactory, EnterpriseFactory
from tests.platforms.conftest import SigningKey, register_key, send, sign
from tests.programs.factories import ProgramFactory, bind
from tests.vouchers.factories import frozen, issue, official, platform_actor
from vouchers.models import Redemption, Voucher
from vouchers.services import voucher_redeem

pytestmark = pytest.mark.django_db


def month_instant(months_back: int, day: int = 3, hour: int = 10) -> datetime.datetime:
    """An instant of the month ``months_back`` months before this one (Shanghai)."""
    first = period_of(timezone.localdate(), "month").first_day
    for _ in range(months_back):
        first = period_of(first - datetime.timedelta(days=1), "month").first_day
    day_of = first + datetime.timedelta(days=day - 1)
    return datetime.datetime.combine(
        day_of, datetime.time(hour), tzinfo=timezone.get_default_timezone()
    )


def window() -> Period:
    """Forty days up to today: last month's end is in it, whatever today is."""
    return Period.ending(timezone.localdate(), 40)


@dataclass
class World:
    program: Program
    platform: ComputePlatform
    signing: SigningKey
    voucher: Voucher
    reviewer: User
    finance: User
    refs: int = 0


def build(months: int = 1) -> World:
    """A Jianghan program deducting at a platform with a signing key, and a
    voucher valid since before the first of ``months`` past months."""
    jianghan = DistrictFactory(code="420103")
    signing = register_key()
    program = ProgramFactory(
        district=jianghan,
        base_rate=Decimal("0.30"),
        per_charge_cap=None,
        voucher_validity_days=400,
    )
    bind(program, signing.platform)
    before = month_instant(months, day=1, hour=1) - datetime.timedelta(days=1)
    with frozen(before):
        voucher = issue(program, EnterpriseFactory(), "500000.00", valid_from=before)
    return World(
        program=program,
        platform=signing.platform,
        signing=signing,
        voucher=voucher,
        reviewer=official(jianghan, Membership.Role.REVIEWER),
        finance=official(jianghan, Membership.Role.FINANCE_OFFICER),
    )


def _reference(world: World) -> str:
    world.refs += 1
    return f"inv-{world.refs:04d}"


def signed_charge(world: World, *, billed: str, at: datetime.datetime) -> Redemption:
    """A charge posted to the API, signed by the platform, recorded at ``at``."""
    body = {
        "voucher": world.voucher.code,
        "reference": _reference(world),
        "occurred_at": timezone.localtime(at).isoformat(),
        "billed_amount": billed,
        "currency": "CNY",
    }
    with time_machine.travel(at, tick=False):
        prepared = sign("POST", "/api/v1/redemptions", world.signing.auth(), json=body)
        response = send(Client(), prepared)
    assert response.status_code == 201, response.content
    return Redemption.objects.get(pk=response.json()["id"])


def signed_refund(world: World, redemption: Redemption, *, amount: str, at: Any) -> None:
    body = {"amount": amount, "reference": _reference(world), "reason": "job re-run"}
    path = f"/api/v1/redemptions/{redemption.pk}/reversals"
    with time_machine.travel(at, tick=False):
        response = send(Client(), sign("POST", path, world.signing.auth(), json=body))
    assert response.status_code == 201, response.content


def unsigned_charge(world: World, *, billed: str, at: datetime.datetime) -> Redemption:
    """A charge that reached the ledger without the platform's signed request."""
    with time_machine.travel(at, tick=False):
        result = voucher_redeem(
            actor=platform_actor(world.platform),
            platform=world.platform,
            voucher_code=world.voucher.code,
            reference=_reference(world),
            occurred_at=at,
            billed_amount=Decimal(billed),
        )
    return Redemption.objects.get(pk=result.id)


def last_months_settlement(world: World) -> Settlement:
    settlements_draw()
    return Settlement.objects.get(
        platform=world.platform,
        program=world.program,
        period=period_of(month_instant(1).date(), "month").label,
    )


# --- (k) lines without a signed request that verifies ------------------------------


def test_a_settlement_whose_lines_are_all_signed_and_verify_is_not_flagged() -> None:
    world = build()
    at = month_instant(1)
    first = signed_charge(world, billed="1000.00", at=at)
    signed_charge(world, billed="2500.00", at=at + datetime.timedelta(hours=2))
    signed_refund(world, first, amount="50.00", at=at + datetime.timedelta(hours=3))
    settlement = last_months_settlement(world)
    assert settlement.line_count == 3
    assert detect_settlement_evidence(window()) == []


def test_an_unsigned_line_and_an_altered_one_are_flagged_with_what_failed() -> None:
    world = build()
    at = month_instant(1)
    signed_charge(world, billed="1000.00", at=at)
    inflated = signed_charge(world, billed="2000.00", at=at + datetime.timedelta(hours=1))
    unsigned = unsigned_charge(world, billed="3000.00", at=at + datetime.timedelta(hours=2))
    # The recorded bill no longer matches what the platform signed.
    Redemption.objects.filter(pk=inflated.pk).update(billed_amount=Decimal("2200.00"))
    settlement = last_months_settlement(world)

    [candidate] = detect_settlement_evidence(window())
    assert candidate.detector == Detector.SETTLEMENT_EVIDENCE
    assert candidate.subject == f"settlement:{settlement.pk}"
    assert candidate.district_id == world.program.district_id
    assert (candidate.program_id, candidate.platform_id) == (world.program.pk, world.platform.pk)
    assert candidate.voucher_id is None  # the platform's evidence, not the enterprise's use
    assert (
        candidate.period.start
        == settlement.starts_at.astimezone(timezone.get_default_timezone()).date()
    )
    evidence = candidate.evidence
    assert evidence["measured"] == "2"
    assert evidence["amount"] == "1500"  # 30 % of 2,000 + 3,000
    by_redemption = {row["redemption_id"]: row for row in evidence["lines"]}
    assert by_redemption[inflated.pk]["check"] == "mismatch"
    assert "billed_amount" in by_redemption[inflated.pk]["problem"]
    assert by_redemption[unsigned.pk]["check"] == "unsigned"
    assert sorted(evidence["redemption_ids"]) == sorted([inflated.pk, unsigned.pk])


def test_a_forged_signature_fails_the_whole_request() -> None:
    world = build()
    charge = signed_charge(world, billed="1000.00", at=month_instant(1))
    evidence = dict(charge.request_evidence)
    evidence["signature"] = evidence["signature"].replace(evidence["signature"][-8:-2], "AAAAAA")
    Redemption.objects.filter(pk=charge.pk).update(request_evidence=evidence)
    last_months_settlement(world)
    [candidate] = detect_settlement_evidence(window())
    [row] = candidate.evidence["lines"]
    assert row["check"] == "signature"


def test_detection_files_the_evidence_flag_once_and_says_it_in_a_sentence() -> None:
    world = build()
    unsigned_charge(world, billed="1000.00", at=month_instant(1))
    last_months_settlement(world)
    assert DETECTORS[Detector.SETTLEMENT_EVIDENCE] is detect_settlement_evidence
    day = timezone.localdate()
    report = anomalies_detect(day=day, days=40, actor=Actor.system("test"))
    [flag] = [f for f in report.created if f.detector == Detector.SETTLEMENT_EVIDENCE]
    with translation.override("en"):
        summary = flag_summary(flag)
    assert "not backed by a signed request" in summary
    assert "¥300.00" in summary
    assert "no signed request is kept with it" in summary
    again = anomalies_detect(day=day, days=40, actor=Actor.system("test"))
    assert not [f for f in again.created if f.detector == Detector.SETTLEMENT_EVIDENCE]


# --- (l) a platform whose rejected share jumps ------------------------------------


def decide(
    world: World, settlement: Settlement, *, reject: Sequence[Redemption] = ()
) -> Settlement:
    """Submit, review (rejecting the lines of ``reject``), pass on and approve."""
    settlement = settlement_submit(
        actor=platform_actor(world.platform),
        platform=world.platform,
        settlement_id=settlement.pk,
        invoice_number=f"INV-{settlement.period}",
        invoice_amount=settlement.amount_due,
    )
    reviewer = Actor.for_user(world.reviewer)
    settlement = settlement_start_review(actor=reviewer, settlement=settlement)
    for redemption in reject:
        line = SettlementLine.objects.get(settlement=settlement, redemption=redemption)
        settlement_line_reject(actor=reviewer, line=line, reason="No such job in the logs")
    settlement = settlement_pass_on(actor=reviewer, settlement=settlement)
    return settlement_approve(actor=Actor.for_user(world.finance), settlement=settlement)


def history(world: World, *, rejected_of_10000: str | None = None) -> None:
    """Two months before last month, each decided: a charge of 10,000 yuan
    billed in two parts, the part of ``rejected_of_10000`` rejected."""
    for months_back in (3, 2):
        at = month_instant(months_back)
        if rejected_of_10000 is None:
            unsigned_charge(world, billed="10000.00", at=at)
            reject: list[Redemption] = []
        else:
            rest = str(Decimal("10000.00") - Decimal(rejected_of_10000))
            unsigned_charge(world, billed=rest, at=at)
            reject = [unsigned_charge(world, billed=rejected_of_10000, at=at)]
        settlements_draw()
        decide(world, Settlement.objects.get(program=world.program, status="draft"), reject=reject)


def last_month(world: World, big: str, small: str) -> Redemption:
    """Last month's two charges; returns the small one."""
    at = month_instant(1)
    unsigned_charge(world, billed=big, at=at)
    return unsigned_charge(world, billed=small, at=at + datetime.timedelta(hours=1))


def test_a_platform_whose_rejected_share_jumps_is_flagged() -> None:
    world = build(months=3)
    history(world)
    small = last_month(world, "9000.00", "1000.00")
    settlement = decide(world, last_months_settlement(world), reject=[small])
    assert settlement.rejected == Decimal("300.00")

    [candidate] = detect_rejected_share_jump(window())
    assert candidate.detector == Detector.REJECTED_SHARE
    assert candidate.subject == f"platform:{world.platform.pk}/program:{world.program.pk}"
    assert candidate.platform_id == world.platform.pk
    assert candidate.score == Decimal("0.1000")  # 300 of 3,000 covered
    evidence = candidate.evidence
    assert evidence["median_share"] == "0"
    assert evidence["threshold"] == "0.05"
    assert [p["share"] for p in evidence["previous"]] == ["0", "0"]
    assert evidence["redemption_ids"] == [small.pk]
    assert evidence["lines"][0]["reason"] == "No such job in the logs"

    flag = AnomalyFlag(
        detector=candidate.detector, evidence=candidate.evidence, score=candidate.score
    )
    with translation.override("en"):
        assert flag_summary(flag) == (
            f"Reviewers rejected 10% of the charges in the {settlement.period} settlement, "
            "against a usual 0% (limit 5%)."
        )


def test_a_small_rejected_share_is_not_flagged() -> None:
    world = build(months=3)
    history(world)
    small = last_month(world, "9600.00", "400.00")
    decide(world, last_months_settlement(world), reject=[small])  # 4 %: under the 5 % floor
    assert detect_rejected_share_jump(window()) == []


def test_a_share_within_the_programs_multiple_of_its_usual_share_is_not_flagged() -> None:
    world = build(months=3)
    # This platform's statements usually lose 5 %: 10 % is within 3 × 5 %.
    history(world, rejected_of_10000="500.00")
    small = last_month(world, "9000.00", "1000.00")
    decide(world, last_months_settlement(world), reject=[small])
    assert detect_rejected_share_jump(window()) == []
    # With a program's own, stricter multiple it is flagged.
    DetectorSettings.objects.create(program=world.program, rejected_jump_multiple=Decimal("1.5"))
    [candidate] = detect_rejected_share_jump(window())
    assert candidate.evidence["median_share"] == "0.05"
    assert candidate.evidence["threshold"] == "0.075"


def test_without_enough_decided_history_nothing_is_flagged() -> None:
    world = build()
    small = last_month(world, "9000.00", "1000.00")
    decide(world, last_months_settlement(world), reject=[small])
    assert detect_rejected_share_jump(window()) == []
