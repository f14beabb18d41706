"""Amounts, rates, sums and dates as people read them, the same on every page,
PDF, e-mail and admin column (the template filters of ``common/templatetags``).

The conventions, one per language:

- An amount is in yuan ("CNY") or in points ("POINTS"): yuan to the fen with
  the ¥ sign and a true minus sign, points whole, thousands grouped by commas
  in both languages ("¥1,234.50").
- A large sum where officials expect it (budgets, caps, totals:
  ``compact_amount``) is written in 万元 / 亿元 in Chinese ("500 万元",
  "1.4 亿元") and in millions / billions in English ("¥5 million"), but only
  when that loses nothing; otherwise it is the full amount.
- A rate is a percentage without a space and without trailing zeros ("30%",
  "12.5%"), as both languages write it.
- A date is written as Chinese officials write it, "2026年12月3日", and in
  English with the month as a word, "3 Dec 2026", never "03/12/2026"; a
  moment adds the 24-hour time in Asia/Shanghai ("2026年12月3日 08:36",
  "3 Dec 2026, 08:36"). The formats live in ``config/formats``, so Django's
  own ``date`` filter and the admin write them the same way. Machine-read
  places (CSV cells, ``<time datetime>``, form inputs, query strings) keep
  ISO 8601.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _


def amount(value: Any, unit: str = "CNY") -> str:
    """1234.5 → "¥1,234.50" for yuan, "250,000 points" for points."""
    if value is None or value == "":
        return "—"
    number = Decimal(value)
    if unit == "POINTS":
        return _("%(n)s points") % {"n": f"{number:,.0f}"}
    sign = "−" if number < 0 else ""
    return f"{sign}¥{abs(number):,.2f}"


def signed_amount(value: Any, unit: str = "CNY") -> str:
    """Like ``amount`` with an explicit + for increases; empty for zero."""
    if value is None:
        return ""
    number = Decimal(value)
    if number == 0:
        return ""
    return ("+" if number > 0 else "") + amount(number, unit)


def rate(value: Any) -> str:
    """0.3 → "30%", 0.125 → "12.5%", 0.0625 → "6.25%"."""
    if value is None or value == "":
        return "—"
    return f"{_plain(Decimal(value) * 100)}%"


def money(value: Any) -> str:
    """1234567.5 → "1,234,567.50" (no unit, as in a refusal's text); empty stays "—"."""
    if value is None or value == "":
        return "—"
    try:
        return f"{Decimal(value):,.2f}"
    except (InvalidOperation, ValueError, TypeError):
        return str(value)


def _plain(number: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 12.50 → "12.5", 1E+2 → "100"."""
    text = f"{number:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _grouped(number: Decimal) -> str:
    """Thousands grouped, the decimals as they are: 1234.5 → "1,234.5"."""
    whole, _dot, fraction = _plain(abs(number)).partition(".")
    return f"{int(whole):,}" + (f".{fraction}" if fraction else "")


# (divisor, Chinese suffix for yuan, for points) from the largest; and the
# English steps. A step applies only when the sum written in it needs at most
# ``_STEP_DECIMALS`` decimals: nothing is rounded away.
_ZH_STEPS = ((Decimal(10) ** 8, "亿元", "亿点"), (Decimal(10) ** 4, "万元", "万点"))
_EN_STEPS = (
    (Decimal(10) ** 9, "billion"),
    (Decimal(10) ** 6, "million"),
)
_STEP_DECIMALS = 4


def _in_step(number: Decimal, divisor: Decimal) -> Decimal | None:
    if abs(number) < divisor:
        return None
    scaled = number / divisor
    if scaled != scaled.quantize(Decimal(1).scaleb(-_STEP_DECIMALS)):
        return None
    return scaled


def compact_amount(value: Any, unit: str = "CNY") -> str:
    """A large sum the way officials say it, when nothing is lost.

    zh-Hans: 5000000 → "500 万元", 140000000 → "1.4 亿元", 83676 → "8.3676 万元",
    123456.78 → "¥123,456.78"; points: "1,000 万点".
    en: 5000000 → "¥5 million", 1400000000 → "¥1.4 billion", 500000 → "¥500,000";
    points: "25 million points". Anything else is ``amount``'s full form.
    """
    if value is None or value == "":
        return "—"
    number = Decimal(value)
    sign = "−" if number < 0 else ""
    if (get_language() or settings.LANGUAGE_CODE).lower().startswith("zh"):
        for divisor, yuan, points in _ZH_STEPS:
            scaled = _in_step(number, divisor)
            if scaled is not None:
                return f"{sign}{_grouped(scaled)} {points if unit == 'POINTS' else yuan}"
        if unit != "POINTS" and number == number.to_integral_value():
            return f"{sign}{_grouped(number)} 元"
        return amount(number, unit)
    for divisor, word in _EN_STEPS:
        scaled = _in_step(number, divisor)
        if scaled is not None:
            if unit == "POINTS":
                return _("%(n)s %(step)s points") % {
                    "n": f"{sign}{_grouped(scaled)}",
                    "step": word,
                }
            return f"{sign}¥{_grouped(scaled)} {word}"
    if unit != "POINTS" and number == number.to_integral_value():
        return f"{sign}¥{_grouped(number)}"
    return amount(number, unit)


def _as_local(value: dt.datetime) -> dt.datetime:
    if timezone.is_aware(value):
        return timezone.localtime(value, timezone.get_default_timezone())
    return value


def date(value: Any) -> str:
    """A date, or a moment's date in Asia/Shanghai: "2026年12月3日" / "3 Dec 2026"."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = _as_local(value).date()
    return formats.date_format(value, "DATE_FORMAT")


def moment(value: Any) -> str:
    """A moment in Asia/Shanghai, 24-hour: "2026年12月3日 08:36" / "3 Dec 2026, 08:36".

    A plain date is written as ``date``."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        return date(value)
    return formats.date_format(_as_local(value), "DATETIME_FORMAT")


def period(start: Any, end: Any) -> str:
    """A span of days: "2026年1月1日 – 2026年12月31日" / "1 Jan 2026 – 31 Dec 2026"."""
    return f"{date(start)} – {date(end)}"


def unit_name(unit: str) -> str:
    """A unit code as a word in a heading: "CNY" → "yuan" (元), "POINTS" → "points" (点数)."""
    names = {"CNY": _("yuan"), "POINTS": _("points")}
    return names.get(unit, unit)
