"""Phase-down schedules: the subsidy rate a program covers on a given day.

:func:`rate_in_force` is the one function everything uses (redemptions,
pages, projections, the API's ``rate_in_force`` field). Dates are calendar
days in Asia/Shanghai: a usage at 2027-01-01 00:30 +08:00 falls under the
2027 step even though it is still 2026 in UTC.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import router
from django.utils import timezone
from django.utils.translation import gettext as _

from common import formatting
from common.compiled_query import CompiledQuery

from .models import PhaseStep, Program

# Every CNY charge reads its program's steps: the query is compiled once.
_STEPS_OF_PROGRAM: CompiledQuery[PhaseStep] = CompiledQuery(
    lambda program_id: PhaseStep.objects.filter(program_id=program_id).order_by(),
    program_id=int,
)


@dataclass(frozen=True)
class Step:
    """A schedule step as plain values (for validation before saving)."""

    starts_on: datetime.date
    rate: Decimal


def local_date(moment: datetime.datetime | datetime.date) -> datetime.date:
    """The Asia/Shanghai calendar date of ``moment`` (dates pass through)."""
    if isinstance(moment, datetime.datetime):
        if timezone.is_naive(moment):
            raise ValueError("rate_in_force needs an aware datetime")
        # The programs' zone (settings.TIME_ZONE), never the zone a request
        # may have activated: and no thread-local look-up per usage record.
        return moment.astimezone(timezone.get_default_timezone()).date()
    return moment


def steps_of(program: Program) -> list[Step]:
    """The program's schedule, oldest first (uses a prefetch when present)."""
    prefetched = getattr(program, "_prefetched_objects_cache", {})
    if "phase_steps" in prefetched or program.pk is None:
        rows: Iterable[PhaseStep] = program.phase_steps.all()
    else:
        # The database the related manager would read (a report's replica).
        using = router.db_for_read(PhaseStep, instance=program)
        rows = _STEPS_OF_PROGRAM.all(using=using, program_id=program.pk)
    return sorted((Step(s.starts_on, s.rate) for s in rows), key=lambda s: s.starts_on)


def rate_in_force(
    program: Program,
    *,
    on: datetime.datetime | datetime.date,
    steps: Sequence[Step] | None = None,
) -> Decimal:
    """The share of a bill the program covers on ``on``.

    Before the first step (or with no schedule) the program's base rate
    applies; from a step's date the step's rate applies; from the exit step
    on, 0.
    """
    day = local_date(on)
    rate = program.base_rate
    for step in steps if steps is not None else steps_of(program):
        if step.starts_on <= day:
            rate = step.rate
        else:
            break
    return rate


def exit_date(steps: Iterable[Step]) -> datetime.date | None:
    """The date of the first step with rate 0, or None when there is none."""
    for step in sorted(steps, key=lambda s: s.starts_on):
        if step.rate == 0:
            return step.starts_on
    return None


def schedule_problems(base_rate: Decimal, steps: Sequence[Step]) -> list[str]:
    """Why a schedule is unacceptable, as messages; empty when it is fine.

    A schedule may only go down (never rise, from the base rate on), its
    steps may not share a date, and it must end with an exit (rate 0) after
    which nothing follows.
    """
    problems: list[str] = []
    ordered = sorted(steps, key=lambda s: s.starts_on)
    seen: set[datetime.date] = set()
    for step in ordered:
        if step.starts_on in seen:
            problems.append(
                _("Two steps start on %(date)s; each step needs its own date.")
                % {"date": formatting.date(step.starts_on)}
            )
        seen.add(step.starts_on)
    previous = base_rate
    for step in ordered:
        if step.rate > previous:
            problems.append(
                _(
                    "The rate may only go down: %(rate)s from %(date)s is higher than the "
                    "%(previous)s before it."
                )
                % {
                    "rate": f"{step.rate:.0%}",
                    "date": step.starts_on.isoformat(),
                    "previous": f"{previous:.0%}",
                }
            )
        previous = step.rate
    exit_on = exit_date(ordered)
    if exit_on is None:
        problems.append(
            _(
                "The schedule has no exit: add a final step with rate 0 on the date the program ends."
            )
        )
    elif any(s.starts_on > exit_on for s in ordered):
        problems.append(
            _("No step may follow the exit (rate 0) on %(date)s.")
            % {"date": formatting.date(exit_on)}
        )
    return problems


@dataclass(frozen=True)
class Period:
    """A stretch of the schedule with one rate, as the program page lists it.

    ``ends_on`` is the last day of the period (None: open-ended); an exit
    period has rate 0 and no end. ``current`` marks the period ``today``
    falls in (Asia/Shanghai dates throughout).
    """

    starts_on: datetime.date
    ends_on: datetime.date | None
    rate: Decimal
    is_exit: bool
    current: bool


def schedule_periods(program: Program, *, today: datetime.date | None = None) -> list[Period]:
    """The program's rates from its opening to its exit, one period per rate.

    The base rate runs from the day applications open until the day before
    the first step (left out when a step starts on or before that day); each
    step runs until the day before the next one. The period in force on
    ``today`` is the one :func:`rate_in_force` reads.
    """
    today = today or timezone.localdate()
    steps = steps_of(program)
    starts = list(steps)
    if not steps or steps[0].starts_on > program.application_opens_on:
        starts.insert(0, Step(program.application_opens_on, program.base_rate))
    periods: list[Period] = []
    for index, step in enumerate(starts):
        following = starts[index + 1] if index + 1 < len(starts) else None
        ends_on = following.starts_on - datetime.timedelta(days=1) if following else None
        in_period = step.starts_on <= today and (ends_on is None or today <= ends_on)
        periods.append(
            Period(
                starts_on=step.starts_on,
                ends_on=ends_on,
                rate=step.rate,
                is_exit=step.rate == 0,
                current=in_period,
            )
        )
        if step.rate == 0:
            break
    return periods
