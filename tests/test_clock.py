"""Dates are Shanghai dates, whatever the hour in UTC and whatever the day.

Between 16:00 and 24:00 UTC the date in Asia/Shanghai is one day ahead of the
UTC date. Every rule that turns on a date (application windows, phase-down
steps, detection periods, statement months, the demo's calendar) must take
the Shanghai date. These tests move the application's clock (time-machine)
to either side of Shanghai midnight; ``scripts/clock-pass`` runs the whole
suite again with the clock there, months ahead.
"""

from __future__ import annotations

import ast
import datetime
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from demo.calendar import DemoCalendar
from demo.checks import demo_problems
from programs.selectors import program_is_accepting
from tests.programs.factories import ProgramFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = datetime.UTC
ROOT = Path(__file__).resolve().parent.parent
PRODUCT = [
    "accounts",
    "audit",
    "config",
    "demo",
    "eligibility",
    "oversight",
    "platforms",
    "vouchers",
]


def _utc(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- the rule, read from the source --------------------------------------------


def _product_sources() -> list[Path]:
    return [
        path
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    ]


def _calls(tree: ast.AST) -> list[tuple[str, int]]:
    """Dotted names of the calls in ``tree``: ``timezone.now().date`` and the like."""

    def dotted(node: ast.AST) -> str:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            return f"{dotted(node.value)}.{node.attr}"
        if isinstance(node, ast.Call):
            return f"{dotted(node.func)}()"
        return "?"

    return [
        (dotted(node.func), node.lineno) for node in ast.walk(tree) if isinstance(node, ast.Call)
    ]


# Each is a way to take today's date or the time that is not the Shanghai date
# of the application's clock: the UTC date, the machine's local date, or the
# database server's clock (which tests cannot move and a replica may skew).
FORBIDDEN_CALLS = {
    "timezone.now().date": "the UTC date: use timezone.localdate()",
    "datetime.date.today": "the machine's date: use timezone.localdate()",
    "date.today": "the machine's date: use timezone.localdate()",
    "datetime.datetime.today": "the machine's time: use timezone.now()",
    "datetime.datetime.utcnow": "a naive UTC time: use timezone.now()",
    "Now": "the database's clock: pass timezone.now() from the application",
}
# In SQL text: a bare now() (not a method such as ``DemoCalendar.now()``).
FORBIDDEN_SQL = re.compile(
    r"(?<![\w.])now\(\)|\bcurrent_date\b|\bcurrent_timestamp\b|\blocaltimestamp\b"
)


def test_the_product_takes_today_only_from_the_shanghai_clock_of_the_application() -> None:
    found = []
    for path in _product_sources():
        source = path.read_text(encoding="utf-8")
        for name, line in _calls(ast.parse(source)):
            if name in FORBIDDEN_CALLS:
                found.append(f"{path.relative_to(ROOT)}:{line}: {name} — {FORBIDDEN_CALLS[name]}")
        for line_no, line in enumerate(source.splitlines(), 1):
            for match in FORBIDDEN_SQL.finditer(line.lower()):
                found.append(f"{path.relative_to(ROOT)}:{line_no}: SQL {match.group()}")
    assert found == []


def test_the_rule_check_sees_what_it_looks_for() -> None:
    # Not vacuous: the same walk finds each forbidden call in a sample.
    sample = "timezone.now().date()\ndatetime.date.today()\nNow()\n"
    names = {name for name, _ in _calls(ast.parse(sample))}
    assert {"timezone.now().date", "datetime.date.today", "Now"} <= names
    assert FORBIDDEN_SQL.search("where at < now() - interval '1 day'")
    assert not FORBIDDEN_SQL.search("calendar = DemoCalendar.now()")


# --- either side of Shanghai midnight ------------------------------------------


@pytest.mark.parametrize(
    ("utc", "shanghai_date"),
    [
        (_utc(2027, 1, 31, 15, 59), datetime.date(2027, 1, 31)),
        (_utc(2027, 1, 31, 16, 1), datetime.date(2027, 2, 1)),
        (_utc(2027, 12, 31, 16, 5), datetime.date(2028, 1, 1)),
    ],
)
def test_today_is_the_shanghai_date_on_either_side_of_its_midnight(
    utc: datetime.datetime, shanghai_date: datetime.date
) -> None:
    with time_machine.travel(utc, tick=False):
        assert timezone.localdate() == shanghai_date


@pytest.mark.django_db
def test_applications_close_at_shanghai_midnight_not_at_utc_midnight() -> None:
    program = ProgramFactory(
        application_opens_on=datetime.date(2027, 1, 1),
        application_closes_on=datetime.date(2027, 3, 31),
    )
    # 23:59 on the closing day in Shanghai is 15:59 UTC: still open.
    with time_machine.travel(_utc(2027, 3, 31, 15, 59), tick=False):
        assert program_is_accepting(program)
    # 00:01 the next day in Shanghai is still 31 March in UTC: closed.
    with time_machine.travel(_utc(2027, 3, 31, 16, 1), tick=False):
        assert not program_is_accepting(program)
    # And the window opens at Shanghai midnight: 16:01 UTC the day before.
    with time_machine.travel(_utc(2026, 12, 31, 16, 1), tick=False):
        assert program_is_accepting(program)
    with time_machine.travel(_utc(2026, 12, 31, 15, 59), tick=False):
        assert not program_is_accepting(program)


# --- the demo, on any day ---------------------------------------------------------


def test_the_demo_calendar_has_a_step_behind_and_one_ahead_and_an_open_window() -> None:
    for today in [
        datetime.date(2026, 12, 2),
        datetime.date(2027, 1, 1),
        datetime.date(2031, 2, 28),
    ]:
        calendar = DemoCalendar(today)
        assert calendar.opens < today < calendar.closes
        for schedule in (
            calendar.schedule_full(),
            calendar.schedule_30(),
            calendar.schedule_guiyang(),
        ):
            days = [d for d, _ in schedule]
            assert days == sorted(days)
            assert days[0] <= today < days[1]
            assert schedule[-1][1] == 0  # every schedule ends in an exit


@pytest.mark.django_db
@pytest.mark.parametrize(
    "moment",
    [
        # Just after midnight in Shanghai, still the day before in UTC,
        # months and years ahead: the README's first command must work there.
        _utc(2027, 1, 1, 16, 5),
        _utc(2029, 2, 28, 16, 5),
    ],
    ids=["2027-01-02", "2029-03-01"],
)
def test_the_demo_seeded_on_any_day_is_alive_that_day(
    moment: datetime.datetime, settings: object
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]
    with time_machine.travel(moment, tick=True):
        call_command("seed_demo", stdout=_Sink())
        assert demo_problems() == []
        assert timezone.localdate() == moment.astimezone(SHANGHAI).date()


class _Sink:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
