"""Budget burn over time: what was charged to a program's vouchers per month
(China time) and what the phase-down projection expects for the coming months.

The months and the projection's spread are computed here, below every page
that draws them: the program's admin page reads its own program, the
officials' dashboard (oversight) many programs with one query. What was
charged per month is a figure of the vouchers app (see :mod:`programs.budget`).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from .budget import figure
from .models import Program
from .phasedown import rate_in_force, steps_of
from .selectors import ProjectionYear, program_projection

ZERO = Decimal("0")


@dataclass(frozen=True)
class BurnMonth:
    """One month of a program: what was charged (past) or projected (future)."""

    month: datetime.date
    covered: Decimal | None
    projected: Decimal | None
    rate: Decimal


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def add_months(day: datetime.date, n: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + n
    return datetime.date(index // 12, index % 12 + 1, 1)


def days_in_month(month: datetime.date) -> int:
    return (add_months(month, 1) - month).days


def projected_month(
    month: datetime.date, rows: list[ProjectionYear], today: datetime.date
) -> Decimal | None:
    """The projection's cost for one future month: its year's cost spread
    evenly over the days the projection counts in that year (from tomorrow)."""
    for row in rows:
        if row.year != month.year:
            continue
        first = max(datetime.date(row.year, 1, 1), today + datetime.timedelta(days=1))
        last = datetime.date(row.year, 12, 31)
        year_days = (last - first).days + 1
        if year_days <= 0:
            return None
        month_first = max(month, first)
        month_last = min(add_months(month, 1) - datetime.timedelta(days=1), last)
        days = (month_last - month_first).days + 1
        if days <= 0:
            return None
        return (row.cost * days / year_days).quantize(Decimal("0.01"))
    return None


def burn_months(
    program: Program,
    *,
    covered: Mapping[datetime.date, Decimal],
    today: datetime.date,
    months_back: int = 11,
    months_ahead: int = 12,
) -> tuple[Decimal, list[ProjectionYear], list[BurnMonth]]:
    """The program's daily uptake, its projection by year and one row per
    month: ``covered`` (net charged, by first day of month) for the months up
    to this one, the projection from this month on, and the rate in force."""
    this_month = month_start(today)
    steps = steps_of(program)
    daily, rows = program_projection(program=program, today=today)
    months = []
    for offset in range(-months_back, months_ahead + 1):
        month = add_months(this_month, offset)
        months.append(
            BurnMonth(
                month=month,
                covered=covered.get(month, ZERO) if offset <= 0 else None,
                projected=projected_month(month, rows, today) if offset >= 0 else None,
                rate=rate_in_force(program, on=today if offset == 0 else month, steps=steps),
            )
        )
    return daily, rows, months


def program_burn(
    *, program: Program, today: datetime.date | None = None, months_back: int = 11
) -> list[BurnMonth]:
    """The program's burn by month, as its admin page draws it: net charged
    from the vouchers' redemptions, then the projection for a year ahead."""
    today = today or timezone.localdate()
    covered = figure("covered_by_month", program, {})
    return burn_months(program, covered=covered, today=today, months_back=months_back)[2]
