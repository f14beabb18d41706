"""What every detector shares: the period, the candidate flag, the thresholds,
and the queries over the period's charges."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from oversight.models import AnomalyFlag, DetectorSettings
from programs.models import Program
from vouchers.models import Redemption, Voucher

Detector = AnomalyFlag.Detector

#: Pattern detectors look at no less than this many days.
PATTERN_WINDOW_DAYS = 30
#: Office hours (China time) against which night usage is judged.
OFFICE_HOURS = (8, 20)
#: Share of an enterprise's non-night charges that must fall in office hours.
OFFICE_SHARE = Decimal("0.90")
#: Non-night charges needed before an enterprise's usual hours are known.
NIGHT_MIN_DAYTIME = 5
#: How many redemption ids evidence lists at most.
MAX_IDS = 50
#: Decided settlements of a platform and program needed before its usual
#: rejected share is known, and how many of the latest ones give it.
REJECTED_MIN_HISTORY = 2
REJECTED_HISTORY = 12


@dataclass(frozen=True)
class Period:
    """Calendar days (China time) from ``start`` to ``end``, both inclusive."""

    start: datetime.date
    end: datetime.date

    @classmethod
    def ending(cls, day: datetime.date, days: int = 1) -> Period:
        return cls(day - datetime.timedelta(days=max(days, 1) - 1), day)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def window(self, days: int) -> Period:
        """This period, widened backwards to at least ``days`` days."""
        if self.days >= days:
            return self
        return Period.ending(self.end, days)

    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        """The first moment of ``start`` and the first moment after ``end``."""
        return day_start(self.start), day_start(self.end + datetime.timedelta(days=1))

    def year(self) -> Period:
        return Period(datetime.date(self.end.year, 1, 1), datetime.date(self.end.year, 12, 31))


def day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def local_day(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date()


@dataclass
class Candidate:
    """A flag a detector proposes: subject, period, measured value and evidence."""

    detector: str
    period: Period
    score: Decimal
    evidence: dict[str, Any]
    # Filled by for_voucher() for flags about one voucher.
    district_id: int = 0
    subject: str = ""
    program_id: int | None = None
    enterprise_id: int | None = None
    voucher_id: int | None = None
    platform_id: int | None = None

    def for_voucher(self, voucher: Voucher, rows: Iterable[Redemption] = ()) -> Candidate:
        """Name the voucher, its program and enterprise, and the platform when
        every charge involved was made on one; the district and subject
        default to the voucher's program district and the voucher itself."""
        self.district_id = self.district_id or voucher.program.district_id
        self.subject = self.subject or f"voucher:{voucher.pk}"
        self.program_id = voucher.program_id
        self.enterprise_id = voucher.enterprise_id
        self.voucher_id = voucher.pk
        platforms = {r.platform_id for r in rows}
        if self.platform_id is None and len(platforms) == 1:
            self.platform_id = platforms.pop()
        return self


class Thresholds:
    """Each program's detector settings, loaded once per run (defaults when none)."""

    def __init__(self, rows: Iterable[DetectorSettings] | None = None) -> None:
        if rows is None:
            rows = DetectorSettings.objects.all()
        self._rows = {row.program_id: row for row in rows}
        self._default = DetectorSettings()

    def __call__(self, program_id: int) -> DetectorSettings:
        return self._rows.get(program_id, self._default)


def thresholds_or_default(thresholds: Thresholds | None) -> Thresholds:
    return thresholds if thresholds is not None else Thresholds()


def as_text(value: Decimal | int | None) -> str | None:
    """A number as plain text for the evidence (JSON has no decimals)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def as_ratio(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"))


def ids_of(rows: Iterable[Any]) -> list[int]:
    return [r if isinstance(r, int) else r.pk for r in rows][:MAX_IDS]


def charges_in(period: Period) -> QuerySet[Redemption]:
    """The period's charges that still stand (fully reversed ones are left out)."""
    start, end = period.bounds()
    return (
        Redemption.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .exclude(status=Redemption.Status.REVERSED)
        .select_related("voucher__program", "voucher__enterprise", "platform")
        .order_by("occurred_at", "id")
    )


def by_voucher(redemptions: Iterable[Redemption]) -> dict[Voucher, list[Redemption]]:
    grouped: dict[int, list[Redemption]] = defaultdict(list)
    vouchers: dict[int, Voucher] = {}
    for r in redemptions:
        grouped[r.voucher_id].append(r)
        vouchers[r.voucher_id] = r.voucher
    return {vouchers[pk]: rows for pk, rows in grouped.items()}


def bill_of(redemption: Redemption) -> Decimal:
    """What the platform billed: yuan for CNY programs, points for POINTS programs."""
    if redemption.voucher.unit == Program.Unit.POINTS:
        return Decimal(redemption.points_used or 0)
    return redemption.billed_amount or Decimal("0")


def daily_totals(
    vouchers: Iterable[int], start: datetime.date, end: datetime.date, value: Any
) -> dict:
    """{voucher id: {day: total}} of ``value`` over the days ``start``…``end``."""
    qs = (
        Redemption.objects.filter(
            voucher_id__in=list(vouchers),
            occurred_at__gte=day_start(start),
            occurred_at__lt=day_start(end + datetime.timedelta(days=1)),
        )
        .exclude(status=Redemption.Status.REVERSED)
        .annotate(day=TruncDate("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values("voucher_id", "day")
        .annotate(total=Sum(value))
    )
    totals: dict[int, dict[datetime.date, Decimal]] = defaultdict(dict)
    for row in qs:
        totals[row["voucher_id"]][row["day"]] = Decimal(row["total"] or 0)
    return totals
