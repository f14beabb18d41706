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
        return self._steps(["1", "0.70", "0.40", "0"], first=-335, then=30)

    def schedule_30(self) -> list[tuple[datetime.date, Decimal]]:
        """30 % cover, then yearly steps down to an exit."""
        return self._steps(["0.30", "0.20", "0.10", "0"], first=-335, then=30)

    def schedule_guiyang(self) -> list[tuple[datetime.date, Decimal]]:
        """Guiyang: 30 % from its opening day, half a year on 15 %, then exit."""
        return self._steps(["0.30", "0.15", "0"], first=-245, then=120)

    def _steps(
        self, rates: list[str], *, first: int, then: int
    ) -> list[tuple[datetime.date, Decimal]]:
        # One step behind (``first`` days ago), the next ``then`` days ahead,
        # and the rest a year apart after it.
        days = [first] + [then + 365 * i for i in range(len(rates) - 1)]
        return [(self.today + d * DAY, Decimal(r)) for d, r in zip(days, rates, strict=True)]
