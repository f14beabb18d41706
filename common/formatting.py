"""Amounts, rates and sums as people read them, the same on every page, PDF,
e-mail and admin column (the template filters of ``common/templatetags``).

An amount is in yuan ("CNY") or in points ("POINTS"): yuan to the fen with
the ¥ sign and a true minus sign, points whole, thousands grouped.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

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


def amount_in_words(value: Any, unit: str = "CNY") -> str:
    """An amount as a sentence states it: in Chinese, whole 万 of yuan in 万元
    ("50 万元", "12.5 万元"), as Chinese texts write limits; otherwise as
    :func:`amount` ("¥500,000.00", "250,000 points")."""
    if value is None or value == "":
        return "—"
    number = Decimal(value)
    if unit == "CNY" and (get_language() or "").startswith("zh") and number >= 10000:
        wan = number / 10000
        if wan == wan.quantize(Decimal("0.01")):
            text = f"{wan:,.2f}".rstrip("0").rstrip(".")
            return f"{text} 万元"
    return amount(number, unit)
