"""rate_in_force and the phase-down schedule rules."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from programs.models import Program
from programs.phasedown import Step, rate_in_force, schedule_problems

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = datetime.UTC

JIANGHAN_SCHEDULE = [
    Step(datetime.date(2026, 1, 1), Decimal("0.30")),
    Step(datetime.date(2027, 1, 1), Decimal("0.20")),
    Step(datetime.date(2028, 1, 1), Decimal("0.10")),
    Step(datetime.date(2029, 1, 1), Decimal("0")),
]


def _program(rate: str = "0.30") -> Program:
    return Program(base_rate=Decimal(rate))


def test_the_rate_changes_on_the_step_date_in_shanghai_time() -> None:
    program = _program()
    last_minute_2026 = datetime.datetime(2026, 12, 31, 23, 59, tzinfo=SHANGHAI)
    first_minute_2027 = datetime.datetime(2027, 1, 1, 0, 0, tzinfo=SHANGHAI)
    assert rate_in_force(program, on=last_minute_2026, steps=JIANGHAN_SCHEDULE) == Decimal("0.30")
    assert rate_in_force(program, on=first_minute_2027, steps=JIANGHAN_SCHEDULE) == Decimal("0.20")


def test_a_utc_time_still_in_2026_counts_as_2027_when_it_is_2027_in_shanghai() -> None:
    program = _program()
    # 2026-12-31 16:30 UTC is 2027-01-01 00:30 in Shanghai.
    moment = datetime.datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
    assert rate_in_force(program, on=moment, steps=JIANGHAN_SCHEDULE) == Decimal("0.20")


def test_from_the_exit_date_the_rate_is_zero() -> None:
    program = _program()
    assert rate_in_force(program, on=datetime.date(2029, 1, 1), steps=JIANGHAN_SCHEDULE) == 0
    assert rate_in_force(program, on=datetime.date(2035, 6, 1), steps=JIANGHAN_SCHEDULE) == 0


def test_before_the_first_step_the_base_rate_applies() -> None:
    program = _program("0.25")
    assert rate_in_force(
        program, on=datetime.date(2025, 12, 31), steps=JIANGHAN_SCHEDULE
    ) == Decimal("0.25")


def test_a_descending_schedule_with_an_exit_is_accepted() -> None:
    assert schedule_problems(Decimal("0.30"), JIANGHAN_SCHEDULE) == []


def test_a_rising_schedule_is_refused_with_the_step_named() -> None:
    steps = [
        Step(datetime.date(2027, 1, 1), Decimal("0.40")),
        Step(datetime.date(2028, 1, 1), Decimal("0")),
    ]
    problems = schedule_problems(Decimal("0.30"), steps)
    assert len(problems) == 1
    assert "2027-01-01" in problems[0] and "only go down" in problems[0]


def test_a_schedule_without_an_exit_is_refused() -> None:
    steps = [Step(datetime.date(2027, 1, 1), Decimal("0.20"))]
    assert any("no exit" in p for p in schedule_problems(Decimal("0.30"), steps))


def test_steps_on_the_same_date_are_refused() -> None:
    steps = [
        Step(datetime.date(2027, 1, 1), Decimal("0.20")),
        Step(datetime.date(2027, 1, 1), Decimal("0.10")),
        Step(datetime.date(2028, 1, 1), Decimal("0")),
    ]
    assert any(
        "Two steps start on 1 Jan 2027" in p for p in schedule_problems(Decimal("0.30"), steps)
    )


def test_a_step_after_the_exit_is_refused() -> None:
    steps = [
        Step(datetime.date(2028, 1, 1), Decimal("0")),
        Step(datetime.date(2029, 1, 1), Decimal("0")),
    ]
    assert any("follow the exit" in p for p in schedule_problems(Decimal("0.30"), steps))
