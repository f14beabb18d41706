"""Amounts, rates and sums are written one way, in Python and in templates."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from common.formatting import amount, money, rate, signed_amount


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


def test_a_rate_is_a_percentage_without_trailing_zeros() -> None:
    assert (rate(Decimal("0.3")), rate(Decimal("0.125")), rate(None)) == ("30 %", "12.5 %", "—")


def test_a_sum_is_grouped_with_two_decimals() -> None:
    assert (money(Decimal("1234567.5")), money(None), money("n/a")) == ("1,234,567.50", "—", "n/a")


def test_templates_load_the_filters_by_their_old_and_new_names() -> None:
    template = Template(
        "{% load formatting %}{{ a|amount }}|{% load voucher_tags %}{{ r|rate }}|"
        "{% load money %}{{ a|money }}|{{ a|signed_amount }}"
    )
    shown = template.render(Context({"a": Decimal("1234.5"), "r": Decimal("0.3")}))
    assert shown == "¥1,234.50|30 %|1,234.50|+¥1,234.50"
