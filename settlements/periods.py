"""Settlement periods: calendar months ("2026-11") and quarters ("2026-Q4")
in China Standard Time, whatever the UTC date."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.utils import timezone

MONTH = "month"
QUARTER = "quarter"

_MONTH_RE = re.compile(r"\A([0-9]{4})-(0[1-9]|1[0-2])\Z")
_QUARTER_RE = re.compile(r"\A([0-9]{4})-Q([1-4])\Z")


@dataclass(frozen=True, order=True)
class Period:
    """A settlement period: its first day and the first day after it (local dates)."""

    first_day: datetime.date
    next_first_day: datetime.date
    kind: str

    @property
    def label(self) -> str:
        if self.kind == QUARTER:
            return f"{self.first_day.year}-Q{(self.first_day.month - 1) // 3 + 1}"
        return f"{self.first_day.year}-{self.first_day.month:02d}"

    @property
    def last_day(self) -> datetime.date:
        return self.next_first_day - datetime.timedelta(days=1)

    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        """The first instant of the period and of the next one (aware, Shanghai)."""
        tz = timezone.get_default_timezone()
        start = datetime.datetime.combine(self.first_day, datetime.time(), tzinfo=tz)
        end = datetime.datetime.combine(self.next_first_day, datetime.time(), tzinfo=tz)
        return start, end

    def has_ended(self, now: datetime.datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.bounds()[1]

    def following(self) -> Period:
        return period_of(self.next_first_day, self.kind)


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def period_of(day: datetime.date, kind: str) -> Period:
    """The period of ``kind`` that holds the local date ``day``."""
    if kind == QUARTER:
        first = datetime.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        return Period(first, _add_months(first, 3), QUARTER)
    first = day.replace(day=1)
    return Period(first, _add_months(first, 1), MONTH)


def period_at(moment: datetime.datetime, kind: str) -> Period:
    """The period that holds the instant ``moment`` (its local date in Shanghai)."""
    return period_of(timezone.localtime(moment).date(), kind)


def parse_period(text: str) -> Period | None:
    """ "2026-11" → that month, "2026-Q4" → that quarter; None for anything else."""
    if not isinstance(text, str):
        return None
    # Years a settlement can have (and whose next period is a date).
    if not text[:4].isascii() or not "2000" <= text[:4] <= "2999":
        return None
    match = _MONTH_RE.match(text)
    if match:
        return period_of(datetime.date(int(match[1]), int(match[2]), 1), MONTH)
    match = _QUARTER_RE.match(text)
    if match:
        return period_of(datetime.date(int(match[1]), (int(match[2]) - 1) * 3 + 1, 1), QUARTER)
    return None
