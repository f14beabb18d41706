"""Amounts, rates and sums as people read them, the same on every page, PDF,
e-mail and admin column (the template filters of ``common/templatetags``).

An amount is in yuan ("CNY") or in points ("POINTS"): yuan to the fen with
the ¥ sign and a true minus sign, points whole, thousands grouped.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import translation
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
    """0.3 → "30 %", 0.125 → "12.5 %"."""
    if value is None:
        return "—"
    share = Decimal(value) * 100
    text = f"{share:.1f}".rstrip("0").rstrip(".")
    return f"{text} %"


def money(value: Any) -> str:
    """1234567.5 → "1,234,567.50" (no unit, as in a refusal's text); empty stays "—"."""
    if value is None or value == "":
        return "—"
    try:
        return f"{Decimal(value):,.2f}"
    except (InvalidOperation, ValueError, TypeError):
        return str(value)


def round_amount(value: Any) -> str:
    """A stated sum in yuan as officials read it: "¥5,000,000" in English; in
    Chinese from ten thousand up in 万元 ("500 万元", "123.45 万元"), below it
    "3,000 元". Fen only when there are any."""
    if value is None or value == "":
        return "—"
    number = Decimal(value)
    sign = "−" if number < 0 else ""
    number = abs(number)
    chinese = (translation.get_language() or "").lower().startswith("zh")
    if chinese and number >= 10_000:
        wan = number / 10_000
        text = f"{wan:,.4f}".rstrip("0").rstrip(".")
        return _("%(n)s ten-thousand yuan") % {"n": sign + text}
    whole = number == number.to_integral()
    text = f"{number:,.0f}" if whole else f"{number:,.2f}"
    if chinese:
        return _("%(n)s yuan") % {"n": sign + text}
    return f"{sign}¥{text}"


def unit_name(unit: str) -> str:
    """A unit code as a word in a heading: "CNY" → "yuan" (元), "POINTS" → "points" (点数)."""
    names = {"CNY": _("yuan"), "POINTS": _("points")}
    return names.get(unit, unit)
