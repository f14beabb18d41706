"""Reads behind the officials' dashboard, the program report and the public
disclosure: budget figures, burn over time, redemptions by platform and by
model, top recipients and the applications waiting.

Budget figures and the phase-down projection come from the vouchers app's
own selectors (:func:`vouchers.selectors.program_budget`,
:func:`vouchers.selectors.program_projection`, :func:`rate_in_force`); this
module only groups redemptions and applications. Every function takes
programs that the caller already passed through
:func:`accounts.scoping.scoped`, so nothing here widens what a user sees.

Redemptions fall into a period by the moment they were charged
(``created_at``), like the platforms' settlement statements; amounts are net
of what was later reversed.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.db.models import Count, F, Prefetch, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import District, localized
from accounts.scoping import scope_for, scoped
from applications.models import Application
from programs.burn import BurnMonth, add_months, burn_months, month_start
from programs.models import PhaseStep, Program
from programs.phasedown import rate_in_force, steps_of
from programs.selectors import BudgetFigures, ProjectionYear, program_budget
from vouchers.models import Redemption

ZERO = Decimal("0")
WAITING = [
    Application.Status.SUBMITTED,
    Application.Status.UNDER_REVIEW,
    Application.Status.AWAITING_SECOND_APPROVAL,
]
# Ages (in days) at which a waiting application moves to the next bucket.
AGE_BUCKETS = (7, 30, 90)
TOP_LIMIT = 10


# --- Periods and who sees which district -------------------------------------


@dataclass(frozen=True)
class Period:
    """Calendar days from ``starts_on`` to ``ends_on`` (both included), China time."""

    starts_on: datetime.date
    ends_on: datetime.date

    @property
    def start(self) -> datetime.datetime:
        tz = timezone.get_default_timezone()
        return datetime.datetime.combine(self.starts_on, datetime.time.min, tzinfo=tz)

    @property
    def end(self) -> datetime.datetime:
        """The first moment after the period."""
        tz = timezone.get_default_timezone()
        after = self.ends_on + datetime.timedelta(days=1)
        return datetime.datetime.combine(after, datetime.time.min, tzinfo=tz)

    @classmethod
    def default(cls, *, today: datetime.date | None = None) -> Period:
        """The current calendar year up to today."""
        today = today or timezone.localdate()
        return cls(datetime.date(today.year, 1, 1), today)


def districts_for_user(user: Any) -> QuerySet[District]:
    """The districts whose dashboard ``user`` may open (superusers: all)."""
    return scoped(District.objects.all(), user).order_by("code")


def may_read_reports(user: Any) -> bool:
    """True for superusers and officials of at least one district."""
    scope = scope_for(user)
    return scope.is_superuser or bool(scope.district_ids)


def programs_for_district(*, user: Any, district: District) -> QuerySet[Program]:
    """The district's programs that ``user`` may see, with their schedules."""
    return (
        scoped(Program.objects.filter(district=district), user)
        .select_related("district")
        .prefetch_related(Prefetch("phase_steps", queryset=PhaseStep.objects.order_by("starts_on")))
        .order_by("kind", "name", "pk")
    )


def program_for_user(*, user: Any, pk: int) -> Program | None:
    """One program, if ``user`` may see it."""
    return (
        scoped(Program.objects.filter(pk=pk), user)
        .select_related("district")
        .prefetch_related(Prefetch("phase_steps", queryset=PhaseStep.objects.order_by("starts_on")))
        .first()
    )


def net_of(covered: Decimal | None, reversed_amount: Decimal | None) -> Decimal:
    return (covered or ZERO) - (reversed_amount or ZERO)


def charges_in(programs: Sequence[Program], period: Period | None) -> QuerySet[Redemption]:
    charges = Redemption.objects.filter(voucher__program__in=[p.pk for p in programs])
    if period is not None:
        charges = charges.filter(created_at__gte=period.start, created_at__lt=period.end)
    return charges


# --- Budget ----------------------------------------------------------------


@dataclass(frozen=True)
class ProgramBudget:
    """A program with its budget figures (from ``program_budget``) and shares."""

    program: Program
    budget: BudgetFigures
    rate_today: Decimal

    @property
    def unit(self) -> str:
        return str(self.program.unit)

    @property
    def issued_unredeemed(self) -> Decimal:
        """Issued and not (yet) redeemed nor returned: still on the vouchers."""
        return max(self.budget.issued - self.budget.redeemed - self.budget.returned, ZERO)

    def share(self, value: Decimal) -> Decimal:
        if not self.budget.total:
            return ZERO
        return value / self.budget.total


def budget_by_program(
    programs: Iterable[Program], *, today: datetime.date | None = None
) -> list[ProgramBudget]:
    """Each program's budget figures, as the program's admin page shows them."""
    today = today or timezone.localdate()
    return [
        ProgramBudget(
            program=p,
            budget=program_budget(program=p),
            rate_today=rate_in_force(p, on=today, steps=steps_of(p)),
        )
        for p in programs
    ]


# --- Burn over time ----------------------------------------------------------


@dataclass(frozen=True)
class Burn:
    program: Program
    months: list[BurnMonth]
    daily_uptake: Decimal
    projection: list[ProjectionYear]

    @property
    def unit(self) -> str:
        return str(self.program.unit)

    @property
    def covered_total(self) -> Decimal:
        return sum((m.covered or ZERO for m in self.months), ZERO)


def monthly_covered(
    programs: Sequence[Program], *, period: Period | None = None
) -> dict[int, dict[datetime.date, Decimal]]:
    """Net covered amounts per program and calendar month (China time), one query."""
    tz = timezone.get_default_timezone()
    rows = (
        charges_in(programs, period)
        .annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("voucher__program_id", "month")
        .annotate(covered=Sum("covered"), reversed=Sum("reversed_amount"))
        .order_by()
    )
    result: dict[int, dict[datetime.date, Decimal]] = defaultdict(dict)
    for row in rows:
        month = row["month"]
        if isinstance(month, datetime.datetime):
            month = (
                timezone.localtime(month, tz).date() if timezone.is_aware(month) else month.date()
            )
        result[row["voucher__program_id"]][month] = net_of(row["covered"], row["reversed"])
    return result


def burn_over_time(
    programs: Sequence[Program],
    *,
    today: datetime.date | None = None,
    months_back: int = 11,
    months_ahead: int = 12,
) -> list[Burn]:
    """For each program: net covered per month for the last months, and the
    phase-down projection (``program_projection``) for the coming ones."""
    today = today or timezone.localdate()
    first = add_months(month_start(today), -months_back)
    period = Period(first, today)
    covered = monthly_covered(programs, period=period)
    burns = []
    for program in programs:
        daily, rows, months = burn_months(
            program,
            covered=covered.get(program.pk, {}),
            today=today,
            months_back=months_back,
            months_ahead=months_ahead,
        )
        burns.append(Burn(program=program, months=months, daily_uptake=daily, projection=rows))
    return burns


# --- Redemptions by platform and by model ---------------------------------


@dataclass(frozen=True)
class PlatformRow:
    platform_id: int
    name: str
    unit: str
    charges: int
    covered: Decimal


def redemptions_by_platform(
    programs: Sequence[Program], *, period: Period | None = None
) -> list[PlatformRow]:
    """Charges and net covered amounts per platform and unit, largest first."""
    rows = (
        charges_in(programs, period)
        .values("platform_id", "platform__name", "platform__name_en", "voucher__program__unit")
        .annotate(charges=Count("id"), covered=Sum("covered"), reversed=Sum("reversed_amount"))
        .order_by()
    )
    result = []
    for row in rows:
        names = SimpleNamespace(name=row["platform__name"], name_en=row["platform__name_en"])
        result.append(
            PlatformRow(
                platform_id=row["platform_id"],
                name=localized(names, "name"),
                unit=row["voucher__program__unit"],
                charges=row["charges"],
                covered=net_of(row["covered"], row["reversed"]),
            )
        )
    return sorted(result, key=lambda r: (r.unit, -r.covered, r.name))


@dataclass
class ModelRow:
    model: str
    unit: str
    charges: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    points: int = 0
    covered: Decimal = ZERO


def _line_weight(line: dict[str, Any]) -> int:
    """How much of a charge a usage line stands for: its points, else its tokens."""
    points = line.get("points")
    if isinstance(points, int) and not isinstance(points, bool) and points > 0:
        return points
    tokens = 0
    for name in ("input_tokens", "output_tokens"):
        value = line.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            tokens += value
    return tokens


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def redemptions_by_model(
    programs: Sequence[Program], *, period: Period | None = None
) -> list[ModelRow]:
    """Tokens, points and net covered amounts per model, from the usage lines.

    A charge with several lines is shared among its models by the lines'
    points (or tokens, when a line carries no points); charges without usage
    lines are counted under an empty model name.
    """
    rows: dict[tuple[str, str], ModelRow] = {}
    charges = charges_in(programs, period).values_list(
        "usage", "covered", "reversed_amount", "voucher__program__unit"
    )
    for usage, covered, reversed_amount, unit in charges.iterator(chunk_size=2000):
        net = net_of(covered, reversed_amount)
        lines = [line for line in (usage or []) if isinstance(line, dict)]
        if not lines:
            row = rows.setdefault(("", unit), ModelRow(model="", unit=unit))
            row.charges += 1
            row.covered += net
            continue
        weights = [_line_weight(line) for line in lines]
        total = sum(weights)
        seen: set[str] = set()
        for line, weight in zip(lines, weights, strict=True):
            model = str(line.get("model") or "")
            row = rows.setdefault((model, unit), ModelRow(model=model, unit=unit))
            if model not in seen:
                row.charges += 1
                seen.add(model)
            row.input_tokens += _int(line.get("input_tokens"))
            row.output_tokens += _int(line.get("output_tokens"))
            row.points += _int(line.get("points"))
            share = Decimal(weight) / total if total else Decimal(1) / len(lines)
            row.covered += (net * share).quantize(Decimal("0.01"))
    return sorted(rows.values(), key=lambda r: (r.unit, -r.covered, r.model))


# --- Recipients --------------------------------------------------------------


@dataclass(frozen=True)
class RecipientRow:
    enterprise_id: int
    name: str
    uscc: str
    unit: str
    charges: int
    covered: Decimal


def top_enterprises(
    programs: Sequence[Program], *, period: Period | None = None, limit: int = TOP_LIMIT
) -> list[RecipientRow]:
    """The enterprises whose vouchers covered the most, per unit."""
    rows = (
        charges_in(programs, period)
        .values(
            "voucher__enterprise_id",
            "voucher__enterprise__name",
            "voucher__enterprise__uscc",
            "voucher__program__unit",
        )
        .annotate(
            charges=Count("id"),
            covered_sum=Sum("covered"),
            reversed_sum=Sum("reversed_amount"),
            net=Sum(F("covered") - F("reversed_amount")),
        )
        .order_by("voucher__program__unit", "-net", "voucher__enterprise__name")
    )
    result: list[RecipientRow] = []
    per_unit: dict[str, int] = defaultdict(int)
    for row in rows:
        unit = row["voucher__program__unit"]
        if per_unit[unit] >= limit:
            continue
        per_unit[unit] += 1
        result.append(
            RecipientRow(
                enterprise_id=row["voucher__enterprise_id"],
                name=row["voucher__enterprise__name"],
                uscc=row["voucher__enterprise__uscc"],
                unit=unit,
                charges=row["charges"],
                covered=net_of(row["covered_sum"], row["reversed_sum"]),
            )
        )
    return result
