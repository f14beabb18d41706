"""The demo's calendar: every date of the demo counted from the day it is seeded.

The demo must look the same whatever day it is seeded on: programs open for
applications, vouchers active, a phase-down step behind and one ahead. So no
date of the demo is a fixed year; each is an offset from "today" in
Asia/Shanghai (``timezone.localdate()``, the date the programs' rules turn
on). The offsets keep the shape of the real schemes the demo comes from
(Jianghan and Wuhan open in spring, Guiyang on 1 April, Baoding in March,
rates stepping down yearly to an exit).

Seeding again on the same day changes nothing; seeding again on a later day
moves the application windows and the phase-down schedules along with it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class DemoCalendar:
    """The demo's dates, all relative to ``today`` (a Shanghai date)."""

    today: datetime.date

    @classmethod
    def now(cls) -> DemoCalendar:
        return cls(timezone.localdate())

    @property
    def opens(self) -> datetime.date:
        """Most programs opened for applications about seven months ago."""
        return self.today - 230 * DAY

    @property
    def opens_guiyang(self) -> datetime.date:
        return self.today - 245 * DAY

    @property
    def opens_baoding(self) -> datetime.date:
        return self.today - 262 * DAY

    @property
    def closes(self) -> datetime.date:
        """Applications stay open for four more months: the demo is always open."""
        return self.today + 120 * DAY

    @property
    def year(self) -> int:
        """The program year named in the programs' titles ("2026年江汉区算力券")."""
        return self.opens.year

    def schedule_full(self) -> list[tuple[datetime.date, Decimal]]:
        """Token vouchers: full cover, then yearly steps down to an exit."""
        return self._steps(["1", "0.70", "0.40", "0"], months_behind=11, months_ahead=1)

    def schedule_30(self) -> list[tuple[datetime.date, Decimal]]:
        """30 % cover, then yearly steps down to an exit."""
        return self._steps(["0.30", "0.20", "0.10", "0"], months_behind=11, months_ahead=1)

    def schedule_guiyang(self) -> list[tuple[datetime.date, Decimal]]:
        """Guiyang: 30 % from the month it opened, 15 % a few months on, then exit."""
        return self._steps(["0.30", "0.15", "0"], months_behind=8, months_ahead=4)

    def _steps(
        self, rates: list[str], *, months_behind: int, months_ahead: int
    ) -> list[tuple[datetime.date, Decimal]]:
        # Steps start on the first of a month, as published schedules do: one
        # in force since ``months_behind`` months ago, the next on the first
        # of a month ahead (always after today), the rest a year apart.
        first = _first_of_month(self.today, -months_behind)
        ahead = _first_of_month(self.today, months_ahead)
        days = [first] + [ahead.replace(year=ahead.year + i) for i in range(len(rates) - 1)]
        return [(day, Decimal(rate)) for day, rate in zip(days, rates, strict=True)]


def _first_of_month(day: datetime.date, months: int) -> datetime.date:
    """The first day of the month ``months`` months from ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)
