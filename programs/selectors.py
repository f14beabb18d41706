"""Reads of programs: the public list, acceptance, budget and projection."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import District
from common import formatting

from .budget import figure
from .models import Program
from .phasedown import exit_date, rate_in_force, steps_of


def program_list_public() -> QuerySet[Program]:
    """Programs anyone may see: open ones, with their district and platforms."""
    return (
        Program.objects.filter(status=Program.Status.OPEN)
        .select_related("district")
        .prefetch_related("platforms")
        .order_by("district__code", "kind", "name")
    )


def programs_by_district(programs: QuerySet[Program]) -> list[tuple[District, list[Program]]]:
    """Group programs (already ordered by district) under their district."""
    return [
        (district, list(group)) for district, group in groupby(programs, key=lambda p: p.district)
    ]


def program_is_accepting(program: Program, *, today: Any = None) -> bool:
    """True when the program is open and today is inside its application window."""
    today = today or timezone.localdate()
    return (
        program.status == Program.Status.OPEN
        and program.application_opens_on <= today <= program.application_closes_on
    )


def program_get_published(*, pk: int) -> Program:
    """A program enterprises may read (any but a draft), with what its page
    shows; ``Program.DoesNotExist`` for a draft or an unknown id."""
    return (
        Program.objects.exclude(status=Program.Status.DRAFT)
        .select_related("district", "rule_set")
        .prefetch_related("platforms", "phase_steps", "rule_set__nodes")
        .get(pk=pk)
    )


def program_not_accepting_reason(program: Program, *, today: Any = None) -> str:
    """Why the program takes no applications today; empty when it does
    (the same test as :func:`program_is_accepting`)."""
    today = today or timezone.localdate()
    if program.status == Program.Status.PAUSED:
        return _("The district has paused this program; it takes no applications for now.")
    if program.status != Program.Status.OPEN:
        return _("This program is closed; it takes no more applications.")
    if today < program.application_opens_on:
        return _("Applications open on %(date)s.") % {
            "date": formatting.date(program.application_opens_on)
        }
    if today > program.application_closes_on:
        return _("Applications closed on %(date)s.") % {
            "date": formatting.date(program.application_closes_on)
        }
    return ""


@dataclass(frozen=True)
class BudgetFigures:
    total: Decimal
    reserved: Decimal
    issued: Decimal
    redeemed: Decimal
    returned: Decimal
    committed: Decimal
    remaining: Decimal
    approved_count: int
    pending_amount: Decimal
    # Paying the platforms (settlements): owed and not yet approved, approved, paid.
    settlement_owed: Decimal = Decimal("0")
    settlement_approved: Decimal = Decimal("0")
    settlement_paid: Decimal = Decimal("0")
    # Reimbursement claims: asked for and not yet decided, approved, paid.
    claims_pending: Decimal = Decimal("0")
    claims_approved: Decimal = Decimal("0")
    claims_paid: Decimal = Decimal("0")


def program_budget(*, program: Program) -> BudgetFigures:
    """The program's budget figures from its counters, with what its
    applications ask for and what was charged to its vouchers (figures the
    applications and vouchers apps provide, see :mod:`programs.budget`)."""
    zero = Decimal("0")
    # Paying the platforms (the settlements app's three figures, one query).
    settled = figure("settlements", program, {})
    claimed = figure("claims", program, {})
    return BudgetFigures(
        total=program.total_budget,
        reserved=program.reserved_amount,
        issued=program.issued_amount,
        redeemed=Decimal(figure("redeemed", program, Decimal("0"))),
        returned=program.returned_amount,
        committed=program.committed_amount,
        remaining=program.remaining_amount,
        approved_count=int(figure("approved_count", program, 0)),
        pending_amount=Decimal(figure("pending_amount", program, Decimal("0"))),
        settlement_owed=settled.get("owed", zero),
        settlement_approved=settled.get("approved", zero),
        settlement_paid=settled.get("paid", zero),
        claims_pending=claimed.get("pending", zero),
        claims_approved=claimed.get("approved", zero),
        claims_paid=claimed.get("paid", zero),
    )


@dataclass(frozen=True)
class ProjectionYear:
    year: int
    average_rate: Decimal
    cost: Decimal
    cumulative: Decimal
    remaining_after: Decimal


def program_projection(
    *, program: Program, today: datetime.date | None = None
) -> tuple[Decimal, list[ProjectionYear]]:
    """Projected budget burn per calendar year under the phase-down schedule.

    The current uptake is what the program committed per day since its
    window opened. Vouchers cover a share (the rate) of the bills they pay,
    so the same demand for compute costs the program less as the rate steps
    down: each future day costs ``daily bills × rate in force that day``,
    with daily bills = daily uptake ÷ today's rate. Returns the daily uptake
    and one row per year until the exit (at most ten years), capped by the
    remaining budget.
    """
    today = today or timezone.localdate()
    steps = steps_of(program)
    started = program.application_opens_on
    days_running = max((today - started).days + 1, 1)
    daily_uptake = program.committed_amount / days_running
    rate_now = rate_in_force(program, on=today, steps=steps)
    if daily_uptake == 0 or rate_now == 0:
        return daily_uptake, []
    daily_bills = daily_uptake / rate_now
    exit_on = exit_date(steps)
    last_year = exit_on.year if exit_on else today.year + 4
    rows: list[ProjectionYear] = []
    cumulative = program.committed_amount
    remaining = program.remaining_amount
    for year in range(today.year, min(last_year, today.year + 9) + 1):
        start = max(datetime.date(year, 1, 1), today + datetime.timedelta(days=1))
        end = datetime.date(year, 12, 31)
        if exit_on:
            end = min(end, exit_on - datetime.timedelta(days=1))
        if start > end:
            continue
        total_rate = Decimal("0")
        day = start
        days = 0
        while day <= end:
            total_rate += rate_in_force(program, on=day, steps=steps)
            day += datetime.timedelta(days=1)
            days += 1
        cost = min((daily_bills * total_rate).quantize(Decimal("0.01")), remaining)
        remaining -= cost
        cumulative += cost
        rows.append(
            ProjectionYear(
                year=year,
                average_rate=(total_rate / days).quantize(Decimal("0.0001")),
                cost=cost,
                cumulative=cumulative,
                remaining_after=remaining,
            )
        )
    return daily_uptake.quantize(Decimal("0.01")), rows
