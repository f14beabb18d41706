"""Template filters for voucher amounts and rates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def amount(value: Any, unit: str = "CNY") -> str:
    """1234.5 → "¥1,234.50" for yuan, "250,000 points" for points."""
    if value is None or value == "":
        return "—"
    number = Decimal(value)
    if unit == "POINTS":
        return _("%(n)s points") % {"n": f"{number:,.0f}"}
    sign = "−" if number < 0 else ""
    return f"{sign}¥{abs(number):,.2f}"


@register.filter
def signed_amount(value: Any, unit: str = "CNY") -> str:
    """Like ``amount`` with an explicit + for increases; empty for zero."""
    if value is None:
        return ""
    number = Decimal(value)
    if number == 0:
        return ""
    return ("+" if number > 0 else "") + amount(number, unit)


@register.filter
def rate(value: Any) -> str:
    """0.3 → "30 %", 0.125 → "12.5 %"."""
    if value is None:
        return "—"
    share = Decimal(value) * 100
    text = f"{share:.1f}".rstrip("0").rstrip(".")
    return f"{text} %"
