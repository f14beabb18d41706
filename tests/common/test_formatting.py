"""Amounts, rates and sums are written one way, in Python and in templates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

from common.formatting import (
    amount,
    compact_amount,
    date,
    moment,
    money,
    period,
    rate,
    signed_amount,
)


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (Decimal("1234.5"), "CNY", "¥1,234.50"),
        (Decimal("-50"), "CNY", "−¥50.00"),
        ("250000", "POINTS", "250,000 points"),
        (None, "CNY", "—"),
        ("", "POINTS", "—"),
    ],
)
def test_an_amount_is_written_in_its_unit(value: object, unit: str, shown: str) -> None:
    with translation.override("en"):
        assert amount(value, unit) == shown


def test_a_signed_amount_shows_its_direction_and_hides_zero() -> None:
    assert signed_amount(Decimal("5")) == "+¥5.00"
    assert signed_amount(Decimal("-5")) == "−¥5.00"
    assert signed_amount(Decimal("0")) == ""
    assert signed_amount(None) == ""


def test_a_rate_is_a_percentage_without_a_space_or_trailing_zeros() -> None:
    shown = (rate(Decimal("0.3")), rate(Decimal("0.125")), rate(Decimal("0.0625")), rate(None))
    assert shown == ("30%", "12.5%", "6.25%", "—")
    assert (rate(Decimal("1")), rate(Decimal("0")), rate("0.70")) == ("100%", "0%", "70%")


def test_a_sum_is_grouped_with_two_decimals() -> None:
    assert (money(Decimal("1234567.5")), money(None), money("n/a")) == ("1,234,567.50", "—", "n/a")


def test_templates_load_the_filters_by_their_old_and_new_names() -> None:
    template = Template(
        "{% load formatting %}{{ a|amount }}|{% load voucher_tags %}{{ r|rate }}|"
        "{% load money %}{{ a|money }}|{{ a|signed_amount }}"
    )
    shown = template.render(Context({"a": Decimal("1234.5"), "r": Decimal("0.3")}))
    assert shown == "¥1,234.50|30%|1,234.50|+¥1,234.50"


@pytest.mark.parametrize(
    ("value", "unit", "zh", "en"),
    [
        ("5000000", "CNY", "500 万元", "¥5 million"),
        ("140000000", "CNY", "1.4 亿元", "¥140 million"),
        ("1400000000", "CNY", "14 亿元", "¥1.4 billion"),
        ("100000000", "CNY", "1 亿元", "¥100 million"),
        ("500000", "CNY", "50 万元", "¥500,000"),
        ("83676", "CNY", "8.3676 万元", "¥83,676"),
        # Five decimals of 万 would be rounding: the full amount instead.
        ("123456.78", "CNY", "¥123,456.78", "¥123,456.78"),
        ("9999", "CNY", "9,999 元", "¥9,999"),
        ("1234.5", "CNY", "¥1,234.50", "¥1,234.50"),
        ("-2000000", "CNY", "−200 万元", "−¥2 million"),
        ("0", "CNY", "0 元", "¥0"),
        ("250000000", "POINTS", "2.5 亿点", "250 million points"),
        ("12000", "POINTS", "1.2 万点", "12,000 points"),
        (None, "CNY", "—", "—"),
    ],
)
def test_a_large_sum_is_written_in_wan_and_yi_or_millions_only_when_nothing_is_lost(
    value: object, unit: str, zh: str, en: str
) -> None:
    with translation.override("zh-hans"):
        assert compact_amount(value, unit) == zh
    with translation.override("en"):
        assert compact_amount(value, unit) == en


SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_date_is_written_as_officials_write_it_in_each_language() -> None:
    day = dt.date(2026, 3, 15)
    with translation.override("zh-hans"):
        assert date(day) == "2026年3月15日"
        assert date("2026-12-31") == "2026年12月31日"
        assert period(dt.date(2026, 1, 1), day) == "2026年1月1日 – 2026年3月15日"
    with translation.override("en"):
        assert date(day) == "15 Mar 2026"
        assert period(dt.date(2026, 1, 1), day) == "1 Jan 2026 – 15 Mar 2026"
    assert date(None) == "—"


def test_a_moment_is_written_in_shanghai_time_24_hour_whatever_the_utc_date() -> None:
    # 16:36 UTC on 2 December is 00:36 on 3 December in Shanghai.
    late_utc = dt.datetime(2026, 12, 2, 16, 36, tzinfo=dt.UTC)
    with translation.override("zh-hans"):
        assert moment(late_utc) == "2026年12月3日 00:36"
        assert date(late_utc) == "2026年12月3日"
    with translation.override("en"):
        assert moment(late_utc) == "3 Dec 2026, 00:36"
        assert date(late_utc) == "3 Dec 2026"
        assert moment(dt.datetime(2026, 12, 3, 13, 5, tzinfo=SHANGHAI)) == "3 Dec 2026, 13:05"
        assert moment(dt.date(2026, 12, 3)) == "3 Dec 2026"


def test_django_and_the_admin_write_dates_the_same_way() -> None:
    late_utc = dt.datetime(2026, 12, 2, 16, 36, tzinfo=dt.UTC)
    template = Template(
        "{% load formatting %}{{ d }}|{{ d|date }}|{{ d|day }}|{{ m|moment }}|{{ a|until:d }}"
    )
    context = Context({"d": dt.date(2026, 12, 31), "m": late_utc, "a": dt.date(2026, 1, 1)})
    with translation.override("zh-hans"):
        assert template.render(context) == (
            "2026年12月31日|2026年12月31日|2026年12月31日|2026年12月3日 00:36|"
            "2026年1月1日 – 2026年12月31日"
        )
    with translation.override("en"):
        assert template.render(context) == (
            "31 Dec 2026|31 Dec 2026|31 Dec 2026|3 Dec 2026, 00:36|1 Jan 2026 – 31 Dec 2026"
        )
