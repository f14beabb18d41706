"""Template filters for amounts, rates, sums and dates (see :mod:`common.formatting`).

Templates load this library as ``formatting``, or by its older names
``voucher_tags`` and ``money`` (``TEMPLATES`` options in settings).
"""

from __future__ import annotations

from django import template

from common import formatting

register = template.Library()

register.filter("amount", formatting.amount)
register.filter("signed_amount", formatting.signed_amount)
register.filter("rate", formatting.rate)
register.filter("money", formatting.money)
register.filter("compact_amount", formatting.compact_amount)
register.filter("day", formatting.date)
register.filter("moment", formatting.moment)


@register.filter
def until(start: object, end: object) -> str:
    """``{{ start|until:end }}``: a span of days (``formatting.period``)."""
    return formatting.period(start, end)


register.filter("unit_name", formatting.unit_name)
