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
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.db.models import Count, F, Min, Prefetch, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import District, Enterprise, localized
from accounts.scoping import scope_for, scoped
from applications.models import Application
from audit.models import AuditCheckpoint
from programs.models import PhaseStep, Program
from programs.phasedown import rate_in_force, steps_of
from programs.selectors import BudgetFigures, ProjectionYear, program_budget, program_projection
from vouchers.models import Redemption, Voucher

from .detectors import flag_summary
from .models import AnomalyFlag

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


def _net(covered: Decimal | None, reversed_amount: Decimal | None) -> Decimal:
    return (covered or ZERO) - (reversed_amount or ZERO)


def _charges(programs: Sequence[Program], period: Period | None) -> QuerySet[Redemption]:
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
class BurnMonth:
    """One month of a program: what was charged (past) or projected (future)."""

    month: datetime.date
    covered: Decimal | None
    projected: Decimal | None
    rate: Decimal


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


def _month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def _add_months(day: datetime.date, n: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + n
    return datetime.date(index // 12, index % 12 + 1, 1)


def _days_in_month(month: datetime.date) -> int:
    return (_add_months(month, 1) - month).days


def monthly_covered(
    programs: Sequence[Program], *, period: Period | None = None
) -> dict[int, dict[datetime.date, Decimal]]:
    """Net covered amounts per program and calendar month (China time), one query."""
    tz = timezone.get_default_timezone()
    rows = (
        _charges(programs, period)
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
        result[row["voucher__program_id"]][month] = _net(row["covered"], row["reversed"])
    return result


def _projected_month(
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
        month_last = min(_add_months(month, 1) - datetime.timedelta(days=1), last)
        days = (month_last - month_first).days + 1
        if days <= 0:
            return None
        return (row.cost * days / year_days).quantize(Decimal("0.01"))
    return None


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
    this_month = _month_start(today)
    first = _add_months(this_month, -months_back)
    period = Period(first, today)
    covered = monthly_covered(programs, period=period)
    burns = []
    for program in programs:
        steps = steps_of(program)
        daily, rows = program_projection(program=program, today=today)
        months = []
        for offset in range(-months_back, months_ahead + 1):
            month = _add_months(this_month, offset)
            past = offset <= 0
            months.append(
                BurnMonth(
                    month=month,
                    covered=covered.get(program.pk, {}).get(month, ZERO) if past else None,
                    projected=_projected_month(month, rows, today) if offset >= 0 else None,
                    rate=rate_in_force(program, on=today if offset == 0 else month, steps=steps),
                )
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
        _charges(programs, period)
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
                covered=_net(row["covered"], row["reversed"]),
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
    charges = _charges(programs, period).values_list(
        "usage", "covered", "reversed_amount", "voucher__program__unit"
    )
    for usage, covered, reversed_amount, unit in charges.iterator(chunk_size=2000):
        net = _net(covered, reversed_amount)
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
        _charges(programs, period)
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
                covered=_net(row["covered_sum"], row["reversed_sum"]),
            )
        )
    return result


@dataclass(frozen=True)
class DisclosureRow:
    """One recipient of a program, as published."""

    name: str
    uscc: str
    approved: Decimal
    used: Decimal


def disclosure_rows(program: Program) -> list[DisclosureRow]:
    """Every enterprise the program funded: the amount approved (approved
    applications, and vouchers issued without one) and the amount used
    (covered by its vouchers, net of reversals). Three queries."""
    approved: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for enterprise_id, amount_approved in Application.objects.filter(
        program=program, status=Application.Status.APPROVED
    ).values_list("enterprise_id", "approved_amount"):
        approved[enterprise_id] += amount_approved or ZERO
    for enterprise_id, face_value in Voucher.objects.filter(
        program=program, application__isnull=True
    ).values_list("enterprise_id", "face_value"):
        approved[enterprise_id] += face_value
    used: dict[int, Decimal] = defaultdict(lambda: ZERO)
    names: dict[int, tuple[str, str]] = {}
    for row in (
        Redemption.objects.filter(voucher__program=program)
        .values("voucher__enterprise_id")
        .annotate(covered=Sum("covered"), reversed=Sum("reversed_amount"))
        .order_by()
    ):
        used[row["voucher__enterprise_id"]] = _net(row["covered"], row["reversed"])
    for pk, name, uscc in Enterprise.objects.filter(pk__in=set(approved) | set(used)).values_list(
        "pk", "name", "uscc"
    ):
        names[pk] = (name, uscc)
    rows = [
        DisclosureRow(
            name=names[pk][0], uscc=names[pk][1], approved=approved.get(pk, ZERO), used=used[pk]
        )
        for pk in names
    ]
    return sorted(rows, key=lambda r: (-r.approved, r.uscc))


# --- Applications waiting ------------------------------------------------


@dataclass(frozen=True)
class WaitingApplication:
    pk: int
    enterprise: str
    program: Program
    status_label: str
    requested: Decimal
    submitted_at: datetime.datetime | None
    age_days: int


@dataclass
class Waiting:
    count: int = 0
    by_status: list[tuple[str, int]] = field(default_factory=list)
    buckets: list[tuple[str, int]] = field(default_factory=list)
    oldest: list[WaitingApplication] = field(default_factory=list)

    @property
    def oldest_age(self) -> int | None:
        return self.oldest[0].age_days if self.oldest else None


def applications_waiting(
    programs: Sequence[Program],
    *,
    now: datetime.datetime | None = None,
    limit: int = TOP_LIMIT,
    bucket_labels: Sequence[str] = (),
) -> Waiting:
    """Applications awaiting a decision: counts by status and by age, and the oldest.

    ``bucket_labels`` name the age buckets (one more than ``AGE_BUCKETS``),
    so the caller decides the wording; without them, the bounds are used.
    """
    now = now or timezone.now()
    by_program = {p.pk: p for p in programs}
    waiting = Application.objects.filter(program__in=list(by_program), status__in=WAITING)
    labels = dict(Application.Status.choices)
    status_counts = dict(
        waiting.values("status").annotate(n=Count("id")).order_by().values_list("status", "n")
    )
    # Ages are counted in whole days from submission; one query for all buckets.
    bounds = [now - datetime.timedelta(days=d) for d in AGE_BUCKETS]
    names = list(bucket_labels) or [
        f"< {AGE_BUCKETS[0]}",
        *(f"{a}–{b}" for a, b in itertools.pairwise(AGE_BUCKETS)),
        f"≥ {AGE_BUCKETS[-1]}",
    ]
    submitted = list(waiting.values_list("submitted_at", flat=True))
    counts = [0] * (len(AGE_BUCKETS) + 1)
    for moment in submitted:
        moment = moment or now
        index = sum(1 for bound in bounds if moment <= bound)
        counts[index] += 1
    # Only the columns shown: no enterprise row (with its personal data) is loaded.
    oldest = [
        WaitingApplication(
            pk=row["pk"],
            enterprise=row["enterprise__name"],
            program=by_program[row["program_id"]],
            status_label=str(labels.get(row["status"], row["status"])),
            requested=row["requested_amount"],
            submitted_at=row["submitted_at"],
            age_days=(now - (row["submitted_at"] or now)).days,
        )
        for row in waiting.order_by(F("submitted_at").asc(nulls_last=True), "pk").values(
            "pk", "enterprise__name", "program_id", "status", "requested_amount", "submitted_at"
        )[:limit]
    ]
    return Waiting(
        count=len(submitted),
        by_status=[(str(labels[s]), status_counts.get(s, 0)) for s in WAITING],
        buckets=list(zip(names, counts, strict=True)),
        oldest=oldest,
    )


# --- The program report ------------------------------------------------------


@dataclass(frozen=True)
class PeriodFigures:
    """What happened to a program in a period."""

    charges: int
    covered: Decimal
    reversed_amount: Decimal
    enterprises: int
    vouchers_issued: int
    issued_amount: Decimal
    applications_submitted: int
    applications_approved: int
    applications_rejected: int
    first_charge_at: datetime.datetime | None

    @property
    def net_covered(self) -> Decimal:
        return self.covered - self.reversed_amount


def period_figures(program: Program, *, period: Period) -> PeriodFigures:
    """The program's charges, issues and decisions in ``period``."""
    charged = _charges([program], period).aggregate(
        n=Count("id"),
        covered=Sum("covered"),
        reversed=Sum("reversed_amount"),
        enterprises=Count("voucher__enterprise", distinct=True),
        first=Min("created_at"),
    )
    issued = Voucher.objects.filter(
        program=program, issued_at__gte=period.start, issued_at__lt=period.end
    ).aggregate(n=Count("id"), total=Sum("face_value"))
    in_period = Application.objects.filter(program=program)
    decided = in_period.filter(decided_at__gte=period.start, decided_at__lt=period.end)
    return PeriodFigures(
        charges=charged["n"] or 0,
        covered=charged["covered"] or ZERO,
        reversed_amount=charged["reversed"] or ZERO,
        enterprises=charged["enterprises"] or 0,
        vouchers_issued=issued["n"] or 0,
        issued_amount=issued["total"] or ZERO,
        applications_submitted=in_period.filter(
            submitted_at__gte=period.start, submitted_at__lt=period.end
        ).count(),
        applications_approved=decided.filter(status=Application.Status.APPROVED).count(),
        applications_rejected=decided.filter(status=Application.Status.REJECTED).count(),
        first_charge_at=charged["first"],
    )


def latest_checkpoint() -> AuditCheckpoint | None:
    """The newest signed tree head of the audit log, which a report prints."""
    return AuditCheckpoint.objects.order_by("-tree_size", "-id").first()


@dataclass(frozen=True)
class FlagOverview:
    """The anomaly flags of a district (or of some programs): counts and the open ones."""

    open: int
    confirmed: int
    dismissed: int
    latest_open: list[Any]
    decided: list[Any]


def anomaly_flags(
    *,
    district: District,
    programs: Sequence[Program] | None = None,
    period: Period | None = None,
    limit: int = 10,
) -> FlagOverview:
    """Flags of ``district`` (limited to ``programs`` and to flags overlapping
    ``period`` when given): how many in each state, the newest open ones, and
    the latest decisions with their outcome."""
    flags = AnomalyFlag.objects.filter(district=district)
    if programs is not None:
        flags = flags.filter(program__in=[p.pk for p in programs])
    if period is not None:
        flags = flags.filter(period_start__lte=period.ends_on, period_end__gte=period.starts_on)
    counts = dict(flags.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    related = flags.select_related("program", "enterprise", "decided_by")
    latest_open = list(related.filter(status=AnomalyFlag.Status.OPEN).order_by("-pk")[:limit])
    decided = list(related.exclude(status=AnomalyFlag.Status.OPEN).order_by("-decided_at")[:limit])
    for flag in [*latest_open, *decided]:
        flag.summary = flag_summary(flag)  # type: ignore[attr-defined]
    return FlagOverview(
        open=counts.get(AnomalyFlag.Status.OPEN, 0),
        confirmed=counts.get(AnomalyFlag.Status.CONFIRMED, 0),
        dismissed=counts.get(AnomalyFlag.Status.DISMISSED, 0),
        latest_open=latest_open,
        decided=decided,
    )
