"""Is the demo alive today? What a visitor of the seeded demo must find.

The demo is seeded relative to the day it runs (``demo.calendar``); this
says, for the current Shanghai date, whether that worked: programs open for
applications, vouchers active with balance left, a phase-down step
behind and one ahead, settlements with the platforms in every state
(one with rejected lines, one partly paid), and claims and performance
agreements in every state. ``scripts/check_demo.py`` runs it on the README's demo
database under a moved clock, and the tests run it in both clock passes.
"""

from __future__ import annotations

import datetime

from django.db.models import F
from django.utils import timezone

from programs.models import Program
from programs.selectors import program_is_accepting
from settlements.models import Claim, PerformanceAgreement, Settlement, SettlementLine
from vouchers.models import Voucher


def demo_problems(*, today: datetime.date | None = None) -> list[str]:
    """What is missing from a live demo on ``today`` (Shanghai); empty when alive."""
    today = today or timezone.localdate()
    now = timezone.now()
    problems: list[str] = []
    programs = list(Program.objects.prefetch_related("phase_steps").order_by("pk"))
    if not programs:
        return ["no programs at all: was the demo seeded?"]
    for program in programs:
        label = f"{program.name_en} ({program.district_id})"
        if not program_is_accepting(program, today=today):
            problems.append(
                f"{label} does not accept applications on {today} "
                f"(status {program.status}, window {program.application_opens_on} "
                f"– {program.application_closes_on})"
            )
        steps = sorted(s.starts_on for s in program.phase_steps.all())
        if not any(d <= today for d in steps):
            problems.append(f"{label} has no phase-down step in force on {today}: {steps}")
        if not any(d > today for d in steps):
            problems.append(f"{label} has no phase-down step ahead of {today}: {steps}")
    active = Voucher.objects.filter(
        status=Voucher.Status.ACTIVE, balance__gt=0, valid_from__lte=now, expires_at__gt=now
    )
    if not active.exists():
        problems.append(f"no active voucher with a balance, valid at {now.isoformat()}")
    return problems + settlement_problems() + claim_problems()


def settlement_problems() -> list[str]:
    """Which states of a settlement the demo does not show."""
    problems = []
    present = set(Settlement.objects.values_list("status", flat=True).distinct())
    for status in Settlement.Status.values:
        if status not in present:
            problems.append(f"no settlement is {status}")
    if not SettlementLine.objects.filter(status=SettlementLine.Status.REJECTED).exists():
        problems.append("no settlement has a rejected line")
    partly_paid = Settlement.objects.filter(
        status=Settlement.Status.APPROVED, paid_amount__gt=0
    ).exclude(paid_amount__gte=F("approved_amount"))
    if not partly_paid.exists():
        problems.append("no settlement is partly paid")
    return problems


def claim_problems() -> list[str]:
    """Which states of a claim and of a performance agreement the demo does not show."""
    problems = []
    present = set(Claim.objects.values_list("status", flat=True).distinct())
    for status in Claim.Status.values:
        if status not in present:
            problems.append(f"no claim is {status}")
    present = set(PerformanceAgreement.objects.values_list("status", flat=True).distinct())
    for status in PerformanceAgreement.Status.values:
        if status not in present:
            problems.append(f"no performance agreement is {status}")
    return problems
